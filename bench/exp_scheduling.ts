/**
 * Experiment behind docs/PERF_NOTES.md (run by hand): how long "run this
 * after the current turn" takes in Deno, per way of asking. The node's group
 * commit (lib/node/committer.ts) waits with setTimeout(0) before every
 * commit, and a message waits for two commits on its way across one hop.
 *
 *   deno run bench/exp_scheduling.ts
 *
 * Prints p50/p90/p99 of the delay of 500 chained callbacks per way; JSON line last.
 */
// deno-lint-ignore-file no-console
import { setImmediate } from "node:timers";

const N = 500;

async function chain(sched: (f: () => void) => void): Promise<number[]> {
  const ds: number[] = [];
  await new Promise<void>((resolve) => {
    let n = 0;
    let last = performance.now();
    const f = () => {
      const now = performance.now();
      ds.push(now - last);
      last = now;
      if (++n < N) sched(f);
      else resolve();
    };
    sched(f);
  });
  return ds.sort((a, b) => a - b);
}

const pct = (s: number[], p: number) => Math.round(s[Math.floor(p * (s.length - 1))] * 1000) / 1000;
const results: Record<string, { p50: number; p90: number; p99: number }> = {};
const mc = new MessageChannel();
let onPort: () => void = () => {};
mc.port1.onmessage = () => onPort();
const ways: Array<[string, (f: () => void) => void]> = [
  ["setTimeout(f, 0)", (f) => setTimeout(f, 0)],
  ["setImmediate(f) (node:timers)", (f) => setImmediate(f)],
  ["MessageChannel postMessage", (f) => {
    onPort = f;
    mc.port2.postMessage(0);
  }],
  ["queueMicrotask(f)", (f) => queueMicrotask(f)],
];
for (const [name, sched] of ways) {
  const s = await chain(sched);
  results[name] = { p50: pct(s, 0.5), p90: pct(s, 0.9), p99: pct(s, 0.99) };
  console.log(
    `${name.padEnd(32)} p50 ${results[name].p50} ms, p90 ${results[name].p90} ms, p99 ${
      results[name].p99
    } ms`,
  );
}
mc.port1.close();
const load = await Deno.readTextFile("/proc/loadavg").catch(() => "");
console.log(JSON.stringify({ bench: "exp_scheduling", loadavg: load.split(" ")[0], results }));
