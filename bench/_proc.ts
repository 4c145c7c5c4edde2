/**
 * Process figures from /proc for benchmarks: RSS now and at peak (VmRSS /
 * VmHWM), CPU time (utime + stime), the machine's busy time and load average.
 *
 * Deno refuses reads under /proc without --allow-all (NotCapable, which the
 * old messaging bench swallowed, so its RSS column printed 0). This reads them
 * directly when allowed, else with one `head` process per sample (needs only
 * --allow-run).
 */

/** One process at one moment. */
export interface ProcSample {
  pid: number;
  /** VmRSS, KiB (0 when the process is gone). */
  rssKiB: number;
  /** VmHWM (peak RSS since start), KiB. */
  hwmKiB: number;
  /** RSS split: anonymous (heaps, malloc), file-backed (the deno binary's pages), shared memory (SQLite -shm), KiB. */
  anonKiB: number;
  fileKiB: number;
  shmemKiB: number;
  /** utime + stime, seconds. */
  cpuS: number;
  /** stime alone (the kernel's share: sockets, fsync, epoll), seconds. */
  sysS: number;
}

/** The machine at one moment. */
export interface MachineSample {
  /** /proc/uptime, seconds (CLOCK_BOOTTIME: also the clock of V8 CPU profiles on this VM). */
  uptimeS: number;
  /** Busy CPU time of all cores (user+nice+system+irq+softirq+steal), seconds. */
  busyS: number;
  loadavg1: number;
  loadavg5: number;
  procs: Map<number, ProcSample>;
}

const TICK = 100; // USER_HZ on Linux

let direct: boolean | null = null;

async function readAll(paths: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (direct !== false) {
    try {
      for (const p of paths) out.set(p, await Deno.readTextFile(p).catch(notFoundAsEmpty));
      direct = true;
      return out;
    } catch (e) {
      if (direct === true) throw e;
      direct = false;
      out.clear();
    }
  }
  // `head` prints "==> path <==" before each file; a vanished process is skipped.
  const r = await new Deno.Command("head", { args: ["-n", "200", ...paths], stderr: "null" })
    .output();
  const text = new TextDecoder().decode(r.stdout);
  for (const part of text.split(/^==> /m)) {
    const nl = part.indexOf(" <==\n");
    if (nl < 0) continue;
    out.set(part.slice(0, nl), part.slice(nl + 5));
  }
  return out;
}

function notFoundAsEmpty(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "";
  throw e;
}

function kib(status: string, key: string): number {
  return Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
}

function cpuSeconds(stat: string): { cpuS: number; sysS: number } {
  if (!stat) return { cpuS: 0, sysS: 0 };
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields 14 and 15: utime, stime
  return { cpuS: (Number(f[11]) + Number(f[12])) / TICK, sysS: Number(f[12]) / TICK };
}

/** Samples the machine and the given processes. */
export async function sample(pids: number[]): Promise<MachineSample> {
  const paths = ["/proc/uptime", "/proc/stat", "/proc/loadavg"];
  for (const pid of pids) paths.push(`/proc/${pid}/status`, `/proc/${pid}/stat`);
  const files = await readAll(paths);
  const cpu = (files.get("/proc/stat") ?? "").split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
  const load = (files.get("/proc/loadavg") ?? "0 0").split(" ").map(Number);
  const procs = new Map<number, ProcSample>();
  for (const pid of pids) {
    const status = files.get(`/proc/${pid}/status`) ?? "";
    procs.set(pid, {
      pid,
      rssKiB: kib(status, "VmRSS"),
      hwmKiB: kib(status, "VmHWM"),
      anonKiB: kib(status, "RssAnon"),
      fileKiB: kib(status, "RssFile"),
      shmemKiB: kib(status, "RssShmem"),
      ...cpuSeconds(files.get(`/proc/${pid}/stat`) ?? ""),
    });
  }
  return {
    uptimeS: Number((files.get("/proc/uptime") ?? "0").split(" ")[0]),
    busyS: (cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + cpu[7]) / TICK,
    loadavg1: load[0],
    loadavg5: load[1],
    procs,
  };
}

/** What happened between two samples, per process and on the whole machine. */
export interface Interval {
  seconds: number;
  /** CPU seconds per pid. */
  cpuS: Map<number, number>;
  /** Kernel CPU seconds per pid. */
  sysS: Map<number, number>;
  /** CPU used by processes not listed, in % of one core (the machine has 200 %). */
  otherPct: number;
  loadavg1: number;
}

/** Differences between `a` and `b` (b later). */
export function interval(a: MachineSample, b: MachineSample): Interval {
  const cpuS = new Map<number, number>();
  const sysS = new Map<number, number>();
  let ours = 0;
  for (const [pid, pb] of b.procs) {
    const pa = a.procs.get(pid);
    const d = pa && pb.cpuS >= pa.cpuS ? pb.cpuS - pa.cpuS : 0;
    cpuS.set(pid, d);
    sysS.set(pid, pa && pb.sysS >= pa.sysS ? pb.sysS - pa.sysS : 0);
    ours += d;
  }
  const seconds = Math.max(1e-3, b.uptimeS - a.uptimeS);
  return {
    seconds,
    cpuS,
    sysS,
    otherPct: round1(((b.busyS - a.busyS - ours) / seconds) * 100),
    loadavg1: b.loadavg1,
  };
}

/** Polls RSS of `pids` every `everyMs` until stopped; keeps the highest VmRSS seen per pid. */
export class RssWatch {
  #max = new Map<number, number>();
  #timer: ReturnType<typeof setInterval>;
  #busy = false;
  constructor(pids: number[], everyMs = 500) {
    this.#timer = setInterval(async () => {
      if (this.#busy) return;
      this.#busy = true;
      try {
        const s = await sample(pids);
        for (const [pid, p] of s.procs) {
          this.#max.set(pid, Math.max(this.#max.get(pid) ?? 0, p.rssKiB));
        }
      } finally {
        this.#busy = false;
      }
    }, everyMs);
  }
  /** Stops polling; returns the highest VmRSS seen per pid, KiB. */
  stop(): Map<number, number> {
    clearInterval(this.#timer);
    return this.#max;
  }
}

/** One decimal. */
export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** KiB to MiB, one decimal. */
export function mib(kibValue: number): number {
  return round1(kibValue / 1024);
}
