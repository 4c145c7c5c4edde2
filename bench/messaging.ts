/**
 * End-to-end messaging (run by hand: `deno task bench messaging`): real node
 * processes on loopback (headless, durable queues), alice's and bob's client
 * cores each in its own process, connected to their nodes over the client
 * protocol. For 1 and 3 hops it prints:
 *
 * - sustained messages/s (closed loop: WINDOW sends outstanding, N in all),
 *   with lost and duplicated counts;
 * - p50/p90/p99 latency at 1,000 msg/s offered (open loop, RATE_SECONDS);
 * - per process (every node, each client, the bench itself): RSS now, at the
 *   highest sample under load and at peak (VmRSS / VmHWM), CPU seconds and CPU
 *   µs per message in each phase; each client's V8 heap and external memory;
 * - the load average and the CPU other processes used meanwhile (the machine
 *   is shared: compare CPU per message, which load disturbs less).
 *
 * `--vs-prosody` also runs the Prosody harness (../shared/bench/prosody, or
 * PROSODY_HARNESS) in a copy under .tmp/prosody-bench when Prosody is
 * installed: the most msg/s across 1 hop (window 400) and p50/p99 at 1,000
 * msg/s, stock settings, and prints fedchat / Prosody ratios. Without
 * Prosody (or root, which the harness needs) it says why it skipped.
 *
 * Options: --hops=1,3 --vs-prosody; env N (20000), WINDOW (512),
 * RATE_SECONDS (10), RATE (1000, msg/s offered), PROSODY_SECONDS (10), PROSODY_NAGLE (on).
 * Targets: ≥ 10,000 msg/s across 1 hop, ≥ 7,000 across 3; p99 ≤ 5 ms (1 hop)
 * and ≤ 10 ms (3 hops) at 1,000 msg/s; node and client RSS ≤ 80 MiB.
 * Figures only, JSON line last; nothing is asserted about time.
 */
// deno-lint-ignore-file no-console
import { join, resolve } from "node:path";
import { link } from "../tests/_helpers/chat.ts";
import { NodeProc, tempRoot } from "../tests/_helpers/node_proc.ts";
import { ClientProc, type TagStats } from "./_client_proc.ts";
import { interval, type MachineSample, mib, round1, RssWatch, sample } from "./_proc.ts";

const REPO = resolve(new URL("..", import.meta.url).pathname);
const N = Number(Deno.env.get("N") ?? 20_000);
const WINDOW = Number(Deno.env.get("WINDOW") ?? 512);
const RATE = Number(Deno.env.get("RATE") ?? 1000);
const RATE_SECONDS = Number(Deno.env.get("RATE_SECONDS") ?? 10);
const PROSODY_SECONDS = Number(Deno.env.get("PROSODY_SECONDS") ?? 10);
const PROSODY_NAGLE = Deno.env.get("PROSODY_NAGLE") ?? "on";
/** The shared harness: `../shared` beside the clone (or beside its worktrees' folder). */
const HARNESS = Deno.env.get("PROSODY_HARNESS") ??
  [
    resolve(REPO, "..", "shared", "bench", "prosody"),
    resolve(REPO, "..", "..", "shared", "bench", "prosody"),
  ]
    .find((p) => {
      try {
        return Deno.statSync(p).isDirectory;
      } catch {
        return false;
      }
    }) ??
  resolve(REPO, "..", "shared", "bench", "prosody");
const hopsArg = Deno.args.find((a) => a.startsWith("--hops="))?.slice(7) ?? "1,3";
const HOPS = hopsArg.split(",").map(Number).filter((h) => h === 1 || h === 3) as Array<1 | 3>;
const VS_PROSODY = Deno.args.includes("--vs-prosody");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every 100 ms until true; false after `timeoutMs`. */
async function until(fn: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await sleep(100);
  }
  return false;
}

interface Proc {
  role: string;
  pid: number;
}

/** Per process figures for one phase. */
interface PhaseRow {
  role: string;
  cpuS: number;
  /** The kernel's share of cpuS, %. */
  sysPct: number;
  cpuPct: number;
  usPerMsg: number;
  rssMaxMiB: number;
}

interface Phase {
  messages: number;
  seconds: number;
  /** Start and end as /proc/uptime seconds (the clock of the CPU profiles' timestamps). */
  window: [number, number];
  loadavg1: number;
  otherCpuPct: number;
  procs: PhaseRow[];
}

function phase(
  procs: Proc[],
  a: MachineSample,
  b: MachineSample,
  rss: Map<number, number>,
  n: number,
): Phase {
  const iv = interval(a, b);
  return {
    messages: n,
    seconds: round1(iv.seconds),
    window: [a.uptimeS, b.uptimeS],
    loadavg1: iv.loadavg1,
    otherCpuPct: iv.otherPct,
    procs: procs.map((p) => {
      const cpu = iv.cpuS.get(p.pid) ?? 0;
      return {
        role: p.role,
        cpuS: Math.round(cpu * 100) / 100,
        sysPct: cpu > 0 ? Math.round(((iv.sysS.get(p.pid) ?? 0) / cpu) * 100) : 0,
        cpuPct: round1((cpu / iv.seconds) * 100),
        usPerMsg: Math.round((cpu / n) * 1e6),
        rssMaxMiB: mib(Math.max(rss.get(p.pid) ?? 0, b.procs.get(p.pid)?.rssKiB ?? 0)),
      };
    }),
  };
}

async function scenario(hops: 1 | 3) {
  const root = await tempRoot(`bench-msg-${hops}`);
  const ids = hops === 1 ? ["na", "nb"] : ["na", "r1", "r2", "nd"];
  const nodes = await Promise.all(ids.map((id) => NodeProc.create({ id, root, open: true })));
  const clients: ClientProc[] = [];
  try {
    for (let i = 0; i + 1 < nodes.length; i++) await link(nodes[i], nodes[i + 1]);
    const first = nodes[0];
    const last = nodes[nodes.length - 1];
    const aliceAddr = `alice@${first.id}`;
    const bobAddr = `bob@${last.id}`;
    const start = async (name: string, node: NodeProc) => {
      const added = await node.addUser(name);
      return await ClientProc.start({
        name,
        dir: join(root, `${name}-client`),
        address: `${name}@${node.id}`,
        host: "127.0.0.1",
        port: node.port,
        nodeId: node.id,
        enrollCode: added.code,
      });
    };
    const alice = await start("alice", first);
    clients.push(alice);
    const bob = await start("bob", last);
    clients.push(bob);
    await alice.call("request", { to: bobAddr });
    await bob.call("waitRequest");
    await bob.call("accept", { from: aliceAddr });
    await alice.call("waitAccepted");

    const procs: Proc[] = [
      ...nodes.map((n) => ({ role: `node ${n.id}`, pid: n.pid! })),
      { role: "client alice", pid: alice.pid },
      { role: "client bob", pid: bob.pid },
      { role: "bench", pid: Deno.pid },
    ];
    const pids = procs.map((p) => p.pid);
    const count = async (tag: string) => {
      const [b, a] = await Promise.all([
        bob.call<{ received: number }>("count", { tag }),
        alice.call<{ delivered: number }>("count", { tag }),
      ]);
      return { received: b.received, delivered: a.delivered };
    };
    /** Waits until bob has `n` of `tag` and alice has heard "delivered" for all of them. */
    const settle = async (tag: string, n: number) => {
      const got = await until(async () => (await count(tag)).received >= n, 600_000);
      const acked = await until(async () => (await count(tag)).delivered >= n, 60_000);
      return { got, acked };
    };

    // RSS with the chat set up and no traffic yet, then a warm-up: JIT, the link, SQLite pages.
    const fresh = await sample(pids);
    await alice.call("burst", { to: bobAddr, tag: "w", n: 500, window: 64 });
    await settle("w", 500);
    const idle0 = await sample(pids);
    await sleep(2000);
    const idle1 = await sample(pids);
    const idle = interval(idle0, idle1);

    // Sustained throughput.
    const t0 = await sample(pids);
    let watch = new RssWatch(pids);
    const burst = await alice.call<{ startMs: number; endMs: number }>("burst", {
      to: bobAddr,
      tag: "t",
      n: N,
      window: WINDOW,
    });
    const burstDone = await settle("t", N);
    const t1 = await sample(pids);
    const burstPhase = phase(procs, t0, t1, watch.stop(), N);
    const tStats = await bob.call<TagStats>("stats", { tag: "t" });
    const throughput = Math.round(N / ((tStats.lastMs - burst.startMs) / 1000));

    // Latency at 1,000 msg/s offered; client memory sampled halfway.
    await sleep(1000);
    const r0 = await sample(pids);
    watch = new RssWatch(pids);
    const memory = sleep((RATE_SECONDS * 1000) / 2).then(() =>
      Promise.all([alice.call<Deno.MemoryUsage>("memory"), bob.call<Deno.MemoryUsage>("memory")])
    );
    // Each node's V8 heap and external memory, halfway too (admin `memory`).
    const nodeMemory = sleep((RATE_SECONDS * 1000) / 2).then(() =>
      Promise.all(nodes.map((n) => n.admin("memory") as Promise<Deno.MemoryUsage>))
    );
    const rate = await alice.call<{ sent: number }>("rate", {
      to: bobAddr,
      tag: "l",
      rate: RATE,
      seconds: RATE_SECONDS,
    });
    const rateDone = await settle("l", rate.sent);
    const r1 = await sample(pids);
    const ratePhase = phase(procs, r0, r1, watch.stop(), rate.sent);
    const lStats = await bob.call<TagStats>("stats", { tag: "l" });
    const [aliceMem, bobMem] = await memory;
    const nodeMems = await nodeMemory;

    const rows = procs.map((p) => {
      const s = r1.procs.get(p.pid)!;
      return {
        role: p.role,
        pid: p.pid,
        rssMiB: mib(s.rssKiB),
        peakMiB: mib(s.hwmKiB),
        anonMiB: mib(s.anonKiB),
        fileMiB: mib(s.fileKiB),
        shmemMiB: mib(s.shmemKiB),
        freshMiB: mib(fresh.procs.get(p.pid)!.rssKiB),
        idleMiB: mib(idle1.procs.get(p.pid)!.rssKiB),
        idleCpuPct: round1(((idle.cpuS.get(p.pid) ?? 0) / idle.seconds) * 100),
      };
    });
    // With FEDCHAT_V8_FLAGS=--max-semi-space-size=1,--trace-gc, each node prints its V8 heap
    // after every GC.
    const nodeHeap = Object.fromEntries(nodes.map((n) => [n.id, lastGcHeap(n.output)]));
    const heap = (m: Deno.MemoryUsage) => ({
      rssMiB: mib(m.rss / 1024),
      heapUsedMiB: mib(m.heapUsed / 1024),
      heapTotalMiB: mib(m.heapTotal / 1024),
      externalMiB: mib(m.external / 1024),
    });
    return {
      hops,
      messages: N,
      window: WINDOW,
      throughput,
      lost: N - tStats.received,
      duplicates: tStats.duplicates,
      allDeliveredNoticed: burstDone.acked,
      burstLatencyMs: tStats.latencyMs,
      rate: {
        offered: RATE,
        seconds: RATE_SECONDS,
        sent: rate.sent,
        lost: rate.sent - lStats.received,
        duplicates: lStats.duplicates,
        allDeliveredNoticed: rateDone.acked,
        latencyMs: lStats.latencyMs,
      },
      processes: rows,
      burstPhase,
      ratePhase,
      clientMemoryAtRate: { alice: heap(aliceMem), bob: heap(bobMem) },
      nodeMemoryAtRate: Object.fromEntries(nodes.map((n, i) => [n.id, heap(nodeMems[i])])),
      nodeHeapAfterLastGc: nodeHeap,
    };
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

type Result = Awaited<ReturnType<typeof scenario>>;

/** The V8 heap (used and committed, MiB) after the last GC a --trace-gc process printed. */
function lastGcHeap(output: string): { usedMiB: number; committedMiB: number } | null {
  const all = [...output.matchAll(/-> (\d+\.\d+) \((\d+\.\d+)\) MB/g)];
  const m = all.at(-1);
  return m ? { usedMiB: Number(m[1]), committedMiB: Number(m[2]) } : null;
}

function print(r: Result): void {
  const b = r.burstPhase, l = r.ratePhase;
  console.log(
    `${r.hops} hop(s): ${r.throughput} msg/s sustained (${r.messages} messages, window ${r.window}, ` +
      `${r.lost} lost, ${r.duplicates} duplicated; load ${b.loadavg1}, other processes ${b.otherCpuPct}% CPU)`,
  );
  console.log(
    `  at ${r.rate.offered} msg/s for ${r.rate.seconds} s: p50 ${r.rate.latencyMs.p50} ms, ` +
      `p90 ${r.rate.latencyMs.p90} ms, p99 ${r.rate.latencyMs.p99} ms, max ${r.rate.latencyMs.max} ms ` +
      `(${r.rate.lost} lost, ${r.rate.duplicates} duplicated; load ${l.loadavg1}, other processes ${l.otherCpuPct}% CPU)`,
  );
  const pad = (s: string | number, w: number) => String(s).padStart(w);
  console.log(
    `  ${"process".padEnd(13)} ${pad("RSS", 6)} ${pad("peak", 6)} ${pad("max@max", 8)} ${
      pad("max@1k", 7)
    } ${pad("CPU s@max", 10)} ${pad("µs/msg@max", 11)} ${pad("CPU%@1k", 8)} ${
      pad("µs/msg@1k", 10)
    } ${pad("sys%@max", 9)} ${pad("idle CPU%", 10)}`,
  );
  for (const [i, p] of r.processes.entries()) {
    const pb = b.procs[i], pl = l.procs[i];
    console.log(
      `  ${p.role.padEnd(13)} ${pad(p.rssMiB, 6)} ${pad(p.peakMiB, 6)} ${pad(pb.rssMaxMiB, 8)} ${
        pad(pl.rssMaxMiB, 7)
      } ${pad(pb.cpuS, 10)} ${pad(pb.usPerMsg, 11)} ${pad(pl.cpuPct, 8)} ${pad(pl.usPerMsg, 10)} ${
        pad(pb.sysPct, 9)
      } ${pad(p.idleCpuPct, 10)}`,
    );
  }
  const sum = (ph: Phase) =>
    ph.procs.filter((p) => p.role !== "bench").reduce((s, p) => s + p.usPerMsg, 0);
  console.log(
    `  all fedchat processes: ${sum(b)} µs CPU per message at max, ${sum(l)} µs at 1,000 msg/s ` +
      `(MiB: RSS now, peak VmHWM, highest sample at max and at 1k; sys%: kernel share of the CPU)`,
  );
  console.log(
    `  RSS before traffic / after a 500-message warm-up: ${
      r.processes.map((p) => `${p.role} ${p.freshMiB}/${p.idleMiB}`).join(", ")
    } MiB`,
  );
  console.log(
    `  RSS now = anonymous + file-backed + shared: ${
      r.processes.map((p) => `${p.role} ${p.anonMiB}+${p.fileMiB}+${p.shmemMiB}`).join(", ")
    }`,
  );
  for (const [node, h] of Object.entries(r.nodeHeapAfterLastGc)) {
    if (h) {
      console.log(
        `  node ${node} V8 heap after its last GC: ${h.usedMiB} used of ${h.committedMiB} MB`,
      );
    }
  }
  for (const [who, m] of Object.entries(r.clientMemoryAtRate)) {
    console.log(
      `  client ${who} at 1k: rss ${m.rssMiB} MiB, V8 heap used ${m.heapUsedMiB} of ${m.heapTotalMiB} MiB, external ${m.externalMiB} MiB`,
    );
  }
  for (const [who, m] of Object.entries(r.nodeMemoryAtRate)) {
    console.log(
      `  node ${who} at 1k: rss ${m.rssMiB} MiB, V8 heap used ${m.heapUsedMiB} of ${m.heapTotalMiB} MiB, external ${m.externalMiB} MiB`,
    );
  }
}

// ---- Prosody, the same measurement (../shared/bench/prosody) ----

async function sh(
  cmd: string,
  cwd: string,
  timeoutS = 300,
): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command("timeout", {
    args: [String(timeoutS), "bash", "-c", cmd],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout) + d.decode(r.stderr) };
}

async function prosodySkipReason(): Promise<string | null> {
  if ((await sh("command -v prosody", REPO)).code !== 0) {
    return "Prosody is not installed (see ../shared/bench/prosody/README.md)";
  }
  if ((await sh("command -v node", REPO)).code !== 0) return "node is not installed";
  if (Deno.uid() !== 0) {
    return "the harness runs Prosody as user prosody through setpriv: needs root";
  }
  try {
    await Deno.stat(join(HARNESS, "bench.mjs"));
  } catch {
    return `no Prosody harness at ${HARNESS} (set PROSODY_HARNESS)`;
  }
  if ((await sh("ss -ltn | grep -qE '127\\.0\\.0\\.[23]:5222 '", REPO)).code === 0) {
    return "something already listens on 127.0.0.2/3:5222 (another Prosody run?)";
  }
  return null;
}

interface ProsodyRun {
  delivered_per_s: number;
  lat_ms: { p50: number; p90: number; p99: number; max: number };
  cpu_pct: { a: number; b: number; client_node: number; other_processes: number };
  rss_kB: { a_peak: number; b_peak: number };
  lost_total_after_drain: number;
  loadavg_1m: number;
}

async function prosody(): Promise<
  { skipped: string } | { nagle: string; seconds: number; max: ProsodyRun; rate1000: ProsodyRun }
> {
  const why = await prosodySkipReason();
  if (why) return { skipped: why };
  const dir = join(REPO, ".tmp", "prosody-bench");
  const prep = await sh(
    `set -e; if [ ! -f bench.mjs ]; then cp -r "${HARNESS}"/. . && chmod -R u+w .; fi
     [ -d node_modules ] || npm install --no-audit --no-fund >/dev/null 2>&1
     ./gen_certs.sh >/dev/null; ./servers.sh users >/dev/null 2>&1 || true`,
    await Deno.mkdir(dir, { recursive: true }).then(() => dir),
  );
  if (prep.code !== 0) return { skipped: `harness setup failed: ${prep.out.slice(-500)}` };
  const run = async (args: string): Promise<ProsodyRun> => {
    await sh(
      `./servers.sh stop; ./servers.sh clean-offline; NAGLE=${PROSODY_NAGLE} ./servers.sh start; sleep 2`,
      dir,
    );
    try {
      const r = await sh(
        `node bench.mjs ${args} --duration ${PROSODY_SECONDS} --warmup 2`,
        dir,
        180,
      );
      const line = r.out.trim().split("\n").reverse().find((l) => l.startsWith("{"));
      if (!line) throw new Error(`Prosody harness printed no result: ${r.out.slice(-500)}`);
      return JSON.parse(line);
    } finally {
      await sh("./servers.sh stop", dir);
    }
  };
  try {
    const max = await run("max --window 400");
    const rate1000 = await run("rate --rate 1000");
    return { nagle: PROSODY_NAGLE, seconds: PROSODY_SECONDS, max, rate1000 };
  } catch (e) {
    // The fedchat figures above stand; say why the reference is missing (Prosody without
    // lua-unbound, for one, never delivers the warm-up message).
    return { skipped: `the harness failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}

// ---- main ----

const results: Result[] = [];
for (const hops of HOPS) {
  const r = await scenario(hops);
  print(r);
  results.push(r);
}

let vsProsody: unknown = undefined;
if (VS_PROSODY) {
  const p = await prosody();
  if ("skipped" in p) {
    console.log(`Prosody: skipped (${p.skipped})`);
    vsProsody = p;
  } else {
    const m = p.max, l = p.rate1000;
    const perMsg = (pct: number, rate: number) => Math.round((pct / 100 / rate) * 1e6);
    console.log(
      `Prosody 0.12 (nagle ${p.nagle}, ${p.seconds} s): ${m.delivered_per_s} msg/s max (window 400; ` +
        `CPU A ${m.cpu_pct.a}% B ${m.cpu_pct.b}% = ${
          perMsg(m.cpu_pct.a + m.cpu_pct.b, m.delivered_per_s)
        } µs/msg; other ${m.cpu_pct.other_processes}%, load ${m.loadavg_1m}); ` +
        `at 1,000 msg/s p50 ${l.lat_ms.p50} ms, p99 ${l.lat_ms.p99} ms (CPU A ${l.cpu_pct.a}% B ${l.cpu_pct.b}%; ` +
        `other ${l.cpu_pct.other_processes}%, load ${l.loadavg_1m}); RSS peak A ${
          mib(m.rss_kB.a_peak)
        } B ${mib(m.rss_kB.b_peak)} MiB`,
    );
    const one = results.find((r) => r.hops === 1);
    const ratio = one
      ? {
        throughput: Math.round((one.throughput / m.delivered_per_s) * 100) / 100,
        p50: Math.round((one.rate.latencyMs.p50 / l.lat_ms.p50) * 100) / 100,
        p99: Math.round((one.rate.latencyMs.p99 / l.lat_ms.p99) * 100) / 100,
      }
      : null;
    if (ratio) {
      console.log(
        `fedchat / Prosody, 1 hop: throughput ×${ratio.throughput}; at 1,000 msg/s p50 ×${ratio.p50}, p99 ×${ratio.p99}`,
      );
    }
    vsProsody = { ...p, ratio };
  }
}

console.log(
  JSON.stringify({
    bench: "messaging",
    results,
    ...(vsProsody ? { prosody: vsProsody } : {}),
    targets: {
      msgPerSec1Hop: 10_000,
      msgPerSec3Hops: 7_000,
      p99Ms1Hop: 5,
      p99Ms3Hops: 10,
      nodeRssMiB: 80,
      clientRssMiB: 80,
    },
  }),
);
