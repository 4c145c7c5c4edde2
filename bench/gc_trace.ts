/**
 * What V8's collections cost per message in one phase of a traced messaging
 * run (run by hand):
 *
 *   mkdir -p .tmp/trace
 *   FEDCHAT_TRACE=1 FEDCHAT_TRACE_V8_FLAGS=--trace-gc-nvp N=10000 \
 *     deno task bench messaging --hops=1 > .tmp/trace/bench.out
 *   deno run --allow-read --allow-run=cat bench/gc_trace.ts [.tmp/trace] [--phase=rate]
 *
 * The traced run (tests/_helpers/v8_flags.ts: FEDCHAT_TRACE_V8_FLAGS replaces
 * `--trace-gc` in the traced processes' flags) leaves each process's output in
 * `run-1.json` and its time origin in `stall-PID.json`; the bench's JSON line
 * (in `bench.out`) gives the phase's window and messages. `--trace-gc-nvp`
 * prints one JSON object per collection, ending at "ms since the isolate
 * started". Per process and kind (`s` scavenge, `mc` mark-compact, `mms`
 * minor mark-sweep), per message: the pause on the JS thread, the time V8's
 * helper threads spent on it (the `background.*` scopes: parallel scavenging,
 * concurrent marking and sweeping; not in a CPU profile's "(garbage
 * collector)", which samples the JS thread only), bytes promoted to the old
 * generation and copied within the young one, and bytes allocated between
 * collections. Figures only.
 */
// deno-lint-ignore-file no-console

interface Nvp {
  gc: string;
  pause: number;
  allocated?: number;
  promoted?: number;
  new_space_survived?: number;
  [scope: string]: number | string | boolean | undefined;
}

interface PhaseJson {
  messages: number;
  seconds: number;
  window: [number, number];
  loadavg1: number;
  otherCpuPct: number;
  procs: Array<{ role: string; usPerMsg: number }>;
}

const dir = Deno.args.find((a) => !a.startsWith("--")) ?? ".tmp/trace";
const phaseName = Deno.args.find((a) => a.startsWith("--phase="))?.slice(8) ?? "burst";
const run = JSON.parse(Deno.readTextFileSync(`${dir}/run-1.json`)) as {
  procs: Array<{ role: string; pid: number }>;
  outputs: Record<string, string>;
};
const benchLine = Deno.readTextFileSync(`${dir}/bench.out`).split("\n")
  .findLast((l) => l.startsWith('{"bench"'));
if (!benchLine) throw new Error(`No bench JSON line in ${dir}/bench.out`);
const result = JSON.parse(benchLine).results[0];
const phase: PhaseJson = phaseName === "rate" ? result.ratePhase : result.burstPhase;
// The phase's window is in /proc/uptime seconds; V8's times count from each process's start.
// (Deno reads /proc only with every permission; `cat` needs one.)
const uptime = await new Deno.Command("cat", { args: ["/proc/uptime"] }).output();
const uptimeS = Number(new TextDecoder().decode(uptime.stdout).split(" ")[0]);
const wallOfUptime = Date.now() - uptimeS * 1000;
const [from, to] = phase.window.map((s) => wallOfUptime + s * 1000);
const n = phase.messages;
console.log(
  `${phaseName}: ${n} messages in ${phase.seconds} s, load ${phase.loadavg1}, ` +
    `other processes ${phase.otherCpuPct} %`,
);

const LINE = /\]\s+(\d+) ms: GC: (\{[^\n]*?\})(?=\n|$)/g;
const per = (x: number) => (x / n).toFixed(0).padStart(5);
for (const p of run.procs) {
  const out = run.outputs[p.pid];
  let origin: number;
  try {
    origin = JSON.parse(Deno.readTextFileSync(`${dir}/stall-${p.pid}.json`)).origin;
  } catch {
    continue; // the bench process itself
  }
  const byKind = new Map<string, Nvp[]>();
  let unreadable = 0;
  for (const m of out.matchAll(LINE)) {
    const end = origin + Number(m[1]);
    if (end < from || end > to) continue;
    let g: Nvp;
    try {
      g = JSON.parse(m[2]);
    } catch {
      unreadable++; // another writer's bytes inside the line
      continue;
    }
    byKind.set(g.gc, [...(byKind.get(g.gc) ?? []), g]);
  }
  const cpu = phase.procs.find((q) => q.role === p.role)?.usPerMsg;
  console.log(
    `  ${p.role} (CPU ${cpu} µs/msg${unreadable ? `, ${unreadable} lines unreadable` : ""})`,
  );
  for (const [kind, gs] of byKind) {
    const sum = (f: (g: Nvp) => number) => gs.reduce((s, g) => s + f(g), 0);
    const background = (g: Nvp) =>
      Object.entries(g).reduce(
        (s, [k, v]) => s + (k.startsWith("background.") && typeof v === "number" ? v : 0),
        0,
      );
    const pauses = gs.map((g) => g.pause).sort((a, b) => a - b);
    console.log(
      `    ${kind.padEnd(3)} ${String(gs.length).padStart(4)} (${
        (gs.length * 1000 / n).toFixed(1)
      } ` +
        `per 1k msgs), µs/msg: pause ${per(sum((g) => g.pause) * 1000)}, helper threads ` +
        `${per(sum(background) * 1000)}; B/msg: promoted ${per(sum((g) => g.promoted ?? 0))}, ` +
        `copied young ${per(sum((g) => g.new_space_survived ?? 0))}, allocated ` +
        `${per(sum((g) => g.allocated ?? 0))}; pause ms p50 ${
          pauses[Math.floor(pauses.length / 2)].toFixed(2)
        }, p90 ${pauses[Math.floor(pauses.length * 0.9)].toFixed(2)}, max ${
          pauses.at(-1)!.toFixed(2)
        }`,
    );
  }
}
