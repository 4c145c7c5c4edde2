/**
 * The long fuzz run (`deno task fuzz`), by hand: every target for
 * `--cases` cases (default 100,000), each failure written to
 * `.tmp/fuzz-crashes/`, one summary line per target and a JSON line last.
 *
 *   deno task fuzz [--cases N] [--seed S] [--target a,b] [--budget-s N] [--verbose]
 *   deno task fuzz --target NAME --seed S --case I     (replay one case)
 *
 * Run it niced on a shared machine: `nice -n 19 deno task fuzz`.
 */
import { parseArgs } from "node:util";
import { loadCorpus, writeCrash } from "./corpus.ts";
import { basesOf, caseInput, judgeCase, runTarget, type TargetStats } from "./harness.ts";
import { TARGETS } from "./targets/mod.ts";

const CRASH_DIR = ".tmp/fuzz-crashes";
const { values } = parseArgs({
  args: Deno.args,
  options: {
    cases: { type: "string", default: "100000" },
    seed: { type: "string" },
    target: { type: "string" },
    case: { type: "string" },
    "budget-s": { type: "string" },
    verbose: { type: "boolean", default: false },
  },
});

const write = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
const seed = values.seed ?? `long-${crypto.getRandomValues(new Uint32Array(1))[0].toString(16)}`;
const names = values.target?.split(",");
const targets = TARGETS.filter((t) => !names || names.includes(t.name));
if (targets.length === 0) {
  write(`No such target; targets: ${TARGETS.map((t) => t.name).join(", ")}`);
  Deno.exit(2);
}

if (values.case !== undefined) {
  const t = targets[0];
  const { bases, maxBytes } = await basesOf(t, [...(await loadCorpus(t.name)).values()]);
  const input = caseInput(t, bases, maxBytes, seed, Number(values.case));
  const r = await judgeCase(t, input);
  write(`${t.name} case ${values.case}: ${input.length} bytes ${input.toHex()}`);
  write(
    r.failure
      ? `FAIL ${r.failure.kind}: ${r.failure.message}`
      : `ok (${r.accepted ? "accepted" : "rejected"}: ${r.error})`,
  );
  Deno.exit(r.failure ? 1 : 0);
}

const cases = Number(values.cases);
const budgetMs = values["budget-s"] ? Number(values["budget-s"]) * 1000 : Infinity;
write(`fuzz: seed ${seed}, ${cases} cases per target, ${targets.length} targets`);
const all: TargetStats[] = [];
const started = performance.now();
for (const t of targets) {
  const corpus = [...(await loadCorpus(t.name)).values()];
  const stats = await runTarget(t, {
    seed,
    cases,
    corpus,
    budgetMs,
    maxFailures: 20,
    onFailure: async (f) => {
      const path = await writeCrash(CRASH_DIR, f);
      if (!f.known) write(`  FAIL ${f.target} case ${f.index} ${f.kind}: ${f.message} -> ${path}`);
    },
  });
  all.push(stats);
  if (values.verbose) {
    const top = [...stats.errors].sort((a, b) => b[1] - a[1]).slice(0, 12);
    for (const [shape, n] of top) write(`    ${String(n).padStart(7)}  ${shape}`);
  }
  const known = [...stats.knownHits].map(([id, n]) => `${id}×${n}`).join(" ");
  write(
    `${t.name.padEnd(20)} ${String(stats.cases).padStart(7)} cases ${
      (stats.elapsedMs / 1000).toFixed(1).padStart(6)
    } s  accepted ${String(stats.accepted).padStart(6)}  errors ${
      String(stats.errors.size).padStart(3)
    }  alloc ×${stats.maxAllocRatio.toFixed(1).padStart(6)} (${stats.maxAlloc.bytes} B)  slowest ${
      stats.slowest.ms.toFixed(1)
    } ms (${stats.slowest.inputBytes} B)  failures ${stats.failures.length}${
      known ? `  known ${known}` : ""
    }`,
  );
}
const failures = all.reduce((n, s) => n + s.failures.length, 0);
write(JSON.stringify({
  seed,
  seconds: Math.round((performance.now() - started) / 100) / 10,
  cases: all.reduce((n, s) => n + s.cases, 0),
  failures,
  targets: Object.fromEntries(all.map((s) => [s.target, {
    cases: s.cases,
    accepted: s.accepted,
    distinctErrors: s.errors.size,
    maxAllocRatio: Math.round(s.maxAllocRatio * 10) / 10,
    maxAllocBytes: s.maxAlloc.bytes,
    slowestMs: Math.round(s.slowest.ms * 10) / 10,
    seconds: Math.round(s.elapsedMs / 100) / 10,
    failures: s.failures.length,
    known: Object.fromEntries(s.knownHits),
  }])),
}));
Deno.exit(failures > 0 ? 1 : 0);
