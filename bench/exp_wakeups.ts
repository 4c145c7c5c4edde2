/**
 * Experiment behind docs/PERF_NOTES.md (branch `flushpace`, run by hand): what
 * one wake-up of an idle process costs in CPU on this machine, the floor under
 * every message that travels alone (at 1,000 msg/s each process of a message's
 * path wakes at least once per message).
 *
 *   deno run -A bench/exp_wakeups.ts [n=1000]
 *
 * Cases, each CPU (user + system, all threads) per iteration, in this process:
 * - a timer loop (`setTimeout(gap)`), for gaps of 0, 0.2, 0.5, 1, 2 and 5 ms;
 * - a ping-pong over loopback TCP with a child process that echoes, back to
 *   back and with a 2 ms timer between round trips (a write that wakes an
 *   idle peer, and a read that wakes this one).
 * JSON line per case, then one summary line.
 */
// deno-lint-ignore-file no-console
import process from "node:process";

const SELF = new URL(import.meta.url).pathname;
const N = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function echo(): Promise<void> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log((l.addr as Deno.NetAddr).port);
  const c = await l.accept();
  c.setNoDelay(true);
  const b = new Uint8Array(4096);
  for (;;) {
    const r = await c.read(b);
    if (r === null) return;
    await c.write(b.subarray(0, r));
  }
}

async function timerLoop(gapMs: number): Promise<number> {
  const t0 = cpuUs();
  for (let i = 0; i < N; i++) await sleep(gapMs);
  return (cpuUs() - t0) / N;
}

async function pingPong(gapMs: number): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SELF, "--echo"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  const port = Number(new TextDecoder().decode(value).trim());
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  c.setNoDelay(true);
  const msg = new Uint8Array(300), b = new Uint8Array(4096);
  for (let i = 0; i < 50; i++) {
    await c.write(msg);
    await c.read(b);
  }
  const t0 = cpuUs();
  for (let i = 0; i < N; i++) {
    await c.write(msg);
    await c.read(b);
    if (gapMs > 0) await sleep(gapMs);
  }
  const us = (cpuUs() - t0) / N;
  c.close();
  reader.releaseLock();
  await child.stdout.cancel();
  await child.status;
  return us;
}

if (Deno.args.includes("--echo")) {
  await echo();
} else {
  const out: Record<string, number> = {};
  for (const gap of [0, 0.2, 0.5, 1, 2, 5]) {
    const us = Math.round(await timerLoop(gap));
    out[`timer ${gap} ms`] = us;
    console.log(JSON.stringify({ case: "timer loop", gapMs: gap, cpuUsPerIteration: us }));
  }
  for (const gap of [0, 2]) {
    const us = Math.round(await pingPong(gap));
    out[`ping-pong gap ${gap} ms`] = us;
    console.log(
      JSON.stringify({ case: "loopback TCP ping-pong", gapMs: gap, cpuUsPerRoundTrip: us }),
    );
  }
  console.log(JSON.stringify({ bench: "exp_wakeups", n: N, cpuUs: out }));
}
