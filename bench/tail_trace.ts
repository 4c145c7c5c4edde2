/**
 * What the slow messages of a traced messaging run waited for (run by hand):
 *
 *   FEDCHAT_TRACE=1 N=10000 deno task bench messaging --hops=1
 *   deno run --allow-read bench/tail_trace.ts [.tmp/trace] [THRESHOLD_MS]
 *
 * The traced run (bench/_stall_watch.ts preloaded in every node and client
 * process, --trace-gc added to their V8 flags) leaves in `.tmp/trace/`:
 * `run-1.json` (every message's sent time and latency, the processes, what
 * each printed) and `stall-PID.json` (each late turn of a 2-ms timer: when,
 * how late, the process's CPU, the JS thread's CPU and its wait for a core).
 *
 * Prints per process the GC (scavenges, mark-compacts: count, pause on the JS
 * thread) and the late turns, then, of the messages slower than the threshold
 * (10 ms), how many overlap each cause somewhere on their way, counting a
 * cause only when it lasted at least half of the message's time beyond the
 * median (a message may count under several): a scavenge or a mark-compact
 * pause, a JS section without GC (a WAL checkpoint's copy, a large batch), a
 * JS thread asleep (neither on a CPU nor waiting for one: a blocking system
 * call such as an fsync), a JS thread waiting for a core (in 1–2 or in 3+
 * processes at once: the machine was full). When the phase fell behind
 * (p50 of many ms) the figures say little: everything overlaps everything.
 *
 * A copy of the code instrumented by hand may print sections of its own, one
 * line each, `TRACE <label> <start: wall ms> <ms>` (e.g. around the WAL
 * checkpoint's statements: `performance.timeOrigin + performance.now()` at
 * the start); they are listed per process and count as a cause under their
 * label, as a GC pause does.
 *
 * Last, the sender's side: the bench's open loop runs in alice's process and
 * sends what is due when its 1-ms timer runs, so when alice's event loop was
 * held, the messages due meanwhile leave together in one turn (a burst) and
 * queue behind each other on every process of their way. Prints how many of
 * the slow messages (and of the slowest 1 %) left in a burst of 4 or more or
 * after a gap of 4 ms or more at the sender, and what held alice's loop in
 * those gaps (the largest of its late turns' GC, JS, wait for a core, sleep).
 */
// deno-lint-ignore-file no-console

interface Gc {
  start: number;
  end: number;
  ms: number;
  kind: "scavenge" | "mark-compact";
}
/** A section an instrumented copy printed as `TRACE <label> <start wall ms> <ms>`. */
interface Marked {
  start: number;
  end: number;
  ms: number;
  label: string;
}
interface Stall {
  start: number;
  end: number;
  lateMs: number;
  jsCpuMs: number;
  coreWaitMs: number;
}

const dir = Deno.args[0] ?? ".tmp/trace";
const threshold = Number(Deno.args[1] ?? 10);
const files = [...Deno.readDirSync(dir)].map((e) => e.name);
const runName = files.find((f) => /^run-\d+\.json$/.test(f));
if (!runName) throw new Error(`Cannot read the run: no run-N.json in "${dir}"`);
const run = JSON.parse(Deno.readTextFileSync(`${dir}/${runName}`)) as {
  procs: Array<{ role: string; pid: number }>;
  samples: number[];
  outputs: Record<string, string>;
};
const msgs: Array<[number, number]> = [];
for (let i = 0; i < run.samples.length; i += 2) msgs.push([run.samples[i], run.samples[i + 1]]);
const lat = msgs.map((m) => m[1]).sort((a, b) => a - b);
const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
const t0 = Math.min(...msgs.map((m) => m[0]));
const t1 = Math.max(...msgs.map((m) => m[0] + m[1]));
console.log(
  `${msgs.length} messages: p50 ${pct(0.5).toFixed(2)}, p90 ${pct(0.9).toFixed(2)}, p99 ${
    pct(0.99).toFixed(2)
  }, max ${lat.at(-1)?.toFixed(2)} ms`,
);

const GC_LINE =
  /\[(\d+):0x[0-9a-f]+\]\s+(\d+) ms: ([A-Za-z -]+?) [\d.]+ \([\d.]+\) -> [\d.]+ \([\d.]+\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms/g;
const MARK_LINE = /^TRACE (\S+) ([\d.]+) ([\d.]+)$/gm;
const procs: Array<{ role: string; gcs: Gc[]; stalls: Stall[]; marks: Marked[] }> = [];
for (const p of run.procs) {
  const name = `stall-${p.pid}.json`;
  if (!files.includes(name)) continue;
  const w = JSON.parse(Deno.readTextFileSync(`${dir}/${name}`)) as {
    origin: number;
    stalls: number[];
  };
  const stalls: Stall[] = [];
  for (let i = 0; i < w.stalls.length; i += 5) {
    const [at, lateMs, , jsCpuMs, coreWaitMs] = w.stalls.slice(i, i + 5);
    if (at > t0 && at < t1) {
      stalls.push({ start: at, end: at + lateMs, lateMs, jsCpuMs, coreWaitMs });
    }
  }
  const gcs: Gc[] = [];
  for (const m of (run.outputs[p.pid] ?? "").matchAll(GC_LINE)) {
    if (Number(m[1]) !== p.pid) continue;
    // V8 prints when the collection ends, in ms since the isolate started.
    const end = w.origin + Number(m[2]), ms = Number(m[4]);
    if (end < t0 || end > t1) continue;
    const kind = m[3].includes("Scavenge") ? "scavenge" : "mark-compact";
    gcs.push({ start: end - ms, end, ms, kind });
  }
  const marks: Marked[] = [];
  for (const m of (run.outputs[p.pid] ?? "").matchAll(MARK_LINE)) {
    const start = Number(m[2]), ms = Number(m[3]);
    if (start + ms > t0 && start < t1) marks.push({ start, end: start + ms, ms, label: m[1] });
  }
  procs.push({ role: p.role, gcs, stalls, marks });
}

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
for (const p of procs) {
  const sc = p.gcs.filter((g) => g.kind === "scavenge");
  const mc = p.gcs.filter((g) => g.kind === "mark-compact");
  const big = p.stalls.filter((s) => s.lateMs >= 5);
  console.log(
    `  ${p.role.padEnd(14)} scavenges ${sc.length} (${sum(sc.map((g) => g.ms)).toFixed(0)} ms, ` +
      `max ${Math.max(0, ...sc.map((g) => g.ms)).toFixed(1)}), mark-compacts ${mc.length} ` +
      `(${sum(mc.map((g) => g.ms)).toFixed(0)} ms, max ${
        Math.max(0, ...mc.map((g) => g.ms)).toFixed(1)
      }); turns ≥ 5 ms late ${big.length} (JS thread on a CPU ${
        sum(big.map((s) => s.jsCpuMs)).toFixed(0)
      } ms, waiting for one ${sum(big.map((s) => s.coreWaitMs)).toFixed(0)} ms of ${
        sum(big.map((s) => s.lateMs)).toFixed(0)
      })`,
  );
}

for (const p of procs) {
  const labels = new Map<string, number[]>();
  for (const m of p.marks) labels.set(m.label, [...(labels.get(m.label) ?? []), m.ms]);
  for (const [label, ms] of labels) {
    console.log(
      `  ${p.role.padEnd(14)} ${label} ${ms.length} (${sum(ms).toFixed(0)} ms, max ${
        Math.max(...ms).toFixed(1)
      })`,
    );
  }
}

const overlaps = (a: { start: number; end: number }, from: number, to: number) =>
  a.end > from && a.start < to;
const slow = msgs.filter((m) => m[1] > threshold);
const counts = new Map<string, number>();
const combos = new Map<string, number>();
const median = pct(0.5);
for (const [sent, ms] of slow) {
  const from = sent, to = sent + ms;
  // A cause counts when it lasted at least half of what this message took beyond the median.
  const enough = Math.max(1, (ms - median) / 2);
  const causes = new Set<string>();
  let waiting = 0;
  for (const p of procs) {
    for (const g of p.gcs) {
      if (g.ms >= enough && overlaps(g, from, to)) causes.add(g.kind);
    }
    for (const s of p.stalls) {
      if (!overlaps(s, from, to)) continue;
      const gc = p.gcs.some((g) => g.ms >= 0.5 && overlaps(g, s.start - 1, s.end + 1));
      if (!gc && s.jsCpuMs >= enough) causes.add("JS section (no GC)");
      // Neither on a CPU nor waiting for one: asleep in a system call (an fsync on the JS thread).
      if (s.lateMs - s.jsCpuMs - s.coreWaitMs >= enough) causes.add("JS thread asleep (a syscall)");
    }
    for (const m of p.marks) {
      if (m.ms >= enough && overlaps(m, from, to)) causes.add(m.label);
    }
    if (p.stalls.some((s) => overlaps(s, from, to) && s.coreWaitMs >= enough)) waiting++;
  }
  if (waiting >= 1) causes.add(`waiting for a core (${waiting >= 3 ? "3+" : "1-2"} processes)`);
  for (const c of causes) counts.set(c, (counts.get(c) ?? 0) + 1);
  const key = [...causes].sort().join(" + ") || "none of these";
  combos.set(key, (combos.get(key) ?? 0) + 1);
}
console.log(`messages over ${threshold} ms: ${slow.length}; overlapping, on their way:`);
for (const [c, n] of [...counts].sort((a, b) => b[1] - a[1])) {
  console.log(
    `  ${c.padEnd(34)} ${String(n).padStart(5)} (${Math.round((100 * n) / slow.length)} %)`,
  );
}
console.log("by combination:");
for (const [c, n] of [...combos].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
  console.log(`  ${String(n).padStart(5)}  ${c}`);
}

// The sender's side: bursts after alice's event loop was held (see the module's doc).
const sender = procs.find((p) => p.role.includes("alice"));
/** Per sent time: its burst (sent times less than 0.3 ms apart) as [messages, gap before it ms]. */
const sentTimes = msgs.map((m) => m[0]).sort((a, b) => a - b);
const burstOf = new Map<number, [number, number]>();
let burst: [number, number] = [0, 0];
sentTimes.forEach((t, i) => {
  if (i === 0 || t - sentTimes[i - 1] >= 0.3) burst = [0, i === 0 ? 0 : t - sentTimes[i - 1]];
  burst[0]++;
  burstOf.set(t, burst);
});
const slowest = [...msgs].sort((a, b) => b[1] - a[1]).slice(0, Math.ceil(msgs.length / 100));
for (
  const [name, set] of [[`over ${threshold} ms`, slow], ["slowest 1 %", slowest], [
    "all",
    msgs,
  ]] as const
) {
  const inBurst = set.filter(([sent]) => burstOf.get(sent)![0] >= 4).length;
  const afterGap = set.filter(([sent]) => burstOf.get(sent)![1] >= 4).length;
  console.log(
    `sender: of ${set.length} messages ${name}, ${inBurst} (${
      Math.round((100 * inBurst) / set.length)
    } %) ` +
      `left in a burst of 4+, ${afterGap} (${
        Math.round((100 * afterGap) / set.length)
      } %) after a gap of 4+ ms`,
  );
}
if (sender) {
  const held = new Map<string, number>();
  for (let i = 1; i < sentTimes.length; i++) {
    const from = sentTimes[i - 1], to = sentTimes[i];
    if (to - from < 4) continue; // sentTimes[i] starts a burst after a gap of 4+ ms
    const late = sender.stalls.filter((s) => overlaps(s, from, to));
    const gc = sum(sender.gcs.filter((g) => overlaps(g, from, to)).map((g) => g.ms));
    const js = sum(late.map((s) => s.jsCpuMs)), wait = sum(late.map((s) => s.coreWaitMs));
    const parts: Array<[string, number]> = [
      ["GC", gc],
      ["JS without GC", js - gc],
      ["waiting for a core", wait],
      ["asleep (a syscall)", sum(late.map((s) => s.lateMs)) - js - wait],
    ];
    const cause = late.length === 0 ? "no late turn" : parts.sort((a, b) => b[1] - a[1])[0][0];
    held.set(cause, (held.get(cause) ?? 0) + 1);
  }
  console.log(
    `sender gaps of 4+ ms by what held ${sender.role}'s loop most: ` +
      [...held].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(", "),
  );
}
