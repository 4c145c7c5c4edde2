/**
 * Preloaded (`--preload`) into every bench process when the bench runs with
 * FEDCHAT_TRACE_DIR (tests/_helpers/node_proc.ts, bench/_client_proc.ts): a
 * timer every PERIOD_MS measures its own lateness, the time the event loop
 * could not run it. Each late turn (≥ LATE_MS) is kept as [wall ms when it
 * was due, lateness ms, this process's CPU ms meanwhile (all threads), the JS
 * thread's CPU ms and its wait for a core (run-queue delay, /proc schedstat)], and
 * written once a second to `.tmp/trace/stall-PID.json` with the process's
 * time origin (for V8's --trace-gc times, which count from its start). CPU
 * close to the lateness: the process was busy (JS, GC, a synchronous
 * syscall that spins); near 0: it waited (for a core, or in a blocking
 * syscall such as an fsync on the JS thread). Off without the variable: the
 * module is not loaded at all.
 */
import { cpuUsage } from "node:process";

const PERIOD_MS = 2;
const LATE_MS = 2;
const FILE = `.tmp/trace/stall-${Deno.pid}.json`;

const origin = performance.timeOrigin;
const stalls: number[] = [];
let ticks = 0;
let due = performance.now() + PERIOD_MS;
let cpu = cpuUsage();
const SCHED = `/proc/${Deno.pid}/task/${Deno.pid}/schedstat`;
/** The JS thread's [ns on a CPU, ns waiting for one]. */
function sched(): [number, number] {
  const [run, wait] = Deno.readTextFileSync(SCHED).split(" ");
  return [Number(run), Number(wait)];
}
let js = sched();

function tick(): void {
  const now = performance.now();
  const late = now - due;
  const c = cpuUsage();
  const j = sched();
  ticks++;
  if (late >= LATE_MS) {
    const r = (x: number) => Math.round(x * 10) / 10;
    const cpuMs = (c.user + c.system - cpu.user - cpu.system) / 1000;
    stalls.push(
      r(origin + due),
      r(late),
      r(cpuMs),
      r((j[0] - js[0]) / 1e6),
      r((j[1] - js[1]) / 1e6),
    );
  }
  cpu = c;
  js = j;
  due = now + PERIOD_MS;
  Deno.unrefTimer(setTimeout(tick, PERIOD_MS));
}
Deno.unrefTimer(setTimeout(tick, PERIOD_MS));

function flush(): void {
  try {
    Deno.writeTextFileSync(FILE, JSON.stringify({ pid: Deno.pid, origin, ticks, stalls }));
  } catch { /* the directory may be gone at exit */ }
}
Deno.unrefTimer(setInterval(flush, 1000));
globalThis.addEventListener("unload", flush);
