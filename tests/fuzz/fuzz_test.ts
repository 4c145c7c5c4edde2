/**
 * The fixed-seed share of the fuzzer in `deno task test`: every target's
 * regression corpus, then a few hundred generated cases with a fixed seed.
 * The long run is `deno task fuzz` (tests/fuzz/fuzz.ts).
 */
import assert from "node:assert/strict";
import { loadCorpus, writeCrash } from "./corpus.ts";
import { formatFailure, runCase, runTarget } from "./harness.ts";
import { TARGETS } from "./targets/mod.ts";

const SEED = "fixed-1";
const CASES = 300;

Deno.test("fuzz: target names are unique and every corpus folder names a target", async () => {
  const names = TARGETS.map((t) => t.name);
  assert.equal(new Set(names).size, names.length);
  for await (const e of Deno.readDir(new URL("./corpus/", import.meta.url))) {
    if (e.isDirectory) assert.ok(names.includes(e.name), `corpus/${e.name} names no target`);
  }
});

for (const target of TARGETS) {
  const cases = Math.round(CASES * (target.share ?? 1));
  Deno.test(`fuzz ${target.name}: its seeds decode, then corpus and ${cases} fixed-seed cases keep the rule`, async () => {
    for (const seed of await target.seeds()) {
      const r = await runCase(target, seed);
      assert.ok(r.accepted, `seed ${seed.toHex().slice(0, 80)} refused: ${r.error}`);
      assert.equal(r.failure, undefined, r.failure?.message);
    }
    const corpus = [...(await loadCorpus(target.name)).values()];
    const stats = await runTarget(target, { seed: SEED, cases, corpus });
    for (const f of stats.failures) await writeCrash(".tmp/fuzz-crashes", f);
    assert.deepEqual(stats.failures.map(formatFailure), []);
    assert.equal(stats.cases, corpus.length + cases);
  });
}
