import assert from "node:assert/strict";
import process from "node:process";
import { CodecError } from "../../lib/e2e/mod.ts";
import { EnvelopeError } from "../../lib/protocol/mod.ts";
import { formatHexFile, parseHexFile } from "./corpus.ts";
import {
  caseInput,
  type FuzzTarget,
  isEngineError,
  rejects,
  retainedBytes,
  runCase,
  runTarget,
} from "./harness.ts";
import { mutateBytes, mutateJson } from "./mutate.ts";
import { Prng } from "./prng.ts";

// A tiny format for planted decoders: u8 version = 1 | u8 n | n bytes.
function good(input: Uint8Array): Uint8Array {
  if (input.length < 2 || input[0] !== 1) throw new CodecError("Cannot decode: bad head");
  const n = input[1];
  if (input.length !== 2 + n) throw new CodecError("Cannot decode: bad length");
  return input.slice(2);
}

const SEEDS = [Uint8Array.of(1, 3, 7, 8, 9), Uint8Array.of(1, 0), Uint8Array.of(1, 1, 0xff)];

const planted = (name: string, decode: (b: Uint8Array) => unknown): FuzzTarget => ({
  name,
  owner: "test",
  errors: "CodecError",
  decode,
  allowed: rejects(CodecError),
  seeds: () => SEEDS,
});

Deno.test("Prng: a seed gives one sequence; ints stay in range", () => {
  const a = new Prng("s"), b = new Prng("s"), c = new Prng("t");
  const seqA = Array.from({ length: 50 }, () => a.u32());
  assert.deepEqual(seqA, Array.from({ length: 50 }, () => b.u32()));
  assert.notDeepEqual(seqA, Array.from({ length: 50 }, () => c.u32()));
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const n = a.int(7);
    assert.ok(Number.isInteger(n) && n >= 0 && n < 7);
    seen.add(n);
    assert.ok(a.length(100) <= 100);
  }
  assert.equal(seen.size, 7);
});

Deno.test("caseInput() is a pure function of seed and case number", () => {
  const t = planted("good", good);
  for (let i = 0; i < 50; i++) {
    assert.deepEqual(caseInput(t, SEEDS, 64, "x", i), caseInput(t, SEEDS, 64, "x", i));
  }
  assert.notDeepEqual(
    Array.from({ length: 20 }, (_, i) => caseInput(t, SEEDS, 64, "x", i)),
    Array.from({ length: 20 }, (_, i) => caseInput(t, SEEDS, 64, "y", i)),
  );
});

Deno.test("mutators never change their input and respect the size cap", () => {
  const rng = new Prng("m");
  const input = Uint8Array.of(1, 0, 2, 0x61, 0x62, 0, 0, 0, 3, 1, 2, 3);
  const copy = input.slice();
  const json = new TextEncoder().encode('{"kind":"send","text":"hi"}');
  let changed = 0;
  for (let i = 0; i < 2000; i++) {
    const ctx = { rng, others: SEEDS, dictionary: [Uint8Array.of(0xab)], maxBytes: 40 };
    const out = mutateBytes(input, ctx);
    assert.ok(out.length <= 40);
    if (out.length !== input.length || out.some((b, j) => b !== input[j])) changed++;
    assert.ok(mutateJson(json, ctx, ["kind"]).length <= 40);
  }
  assert.deepEqual(input, copy);
  assert.ok(changed > 1800, `${changed} of 2000 mutations changed the input`);
});

Deno.test("the harness passes a well-behaved decoder", async () => {
  const stats = await runTarget(planted("good", good), { seed: "h", cases: 500 });
  assert.deepEqual(stats.failures, []);
  assert.ok(stats.accepted > 10 && stats.accepted < 490, `${stats.accepted} accepted`);
  assert.ok(stats.errors.size >= 2);
});

Deno.test("the harness catches a decoder that throws a TypeError on a crafted input", async () => {
  // Trusts the length byte: past the end there is no item, and a property of undefined is read.
  const bad = (input: Uint8Array) => {
    if (input.length < 2 || input[0] !== 1) throw new CodecError("Cannot decode: bad head");
    const items = Array.from(input.subarray(2), (b) => ({ v: b }));
    if (input[1] > 0 && items[input[1] - 1].v > 0xff) throw new CodecError("Cannot decode: big");
    return good(input);
  };
  const stats = await runTarget(planted("bad-type", bad), { seed: "h", cases: 500 });
  assert.ok(stats.failures.length > 0, "no failure found");
  const f = stats.failures[0];
  assert.equal(f.kind, "error");
  assert.match(f.message, /TypeError: Cannot read properties of undefined/);
  await assert.rejects(async () => await bad(f.input), TypeError);
});

Deno.test("the harness catches a decoder that allocates 1 MB for a 4-byte input", async () => {
  // Reads a u32 count and allocates it before checking what is left.
  const bad = (input: Uint8Array) => {
    if (input.length === 4) {
      const n = new DataView(input.buffer, input.byteOffset).getUint32(0);
      return new Uint8Array(Math.min(n, 1 << 20));
    }
    return good(input);
  };
  const stats = await runTarget(planted("bad-alloc", bad), { seed: "h", cases: 2000 });
  assert.ok(stats.failures.length > 0, "no failure found");
  assert.equal(stats.failures[0].kind, "alloc");
  assert.equal(stats.failures[0].input.length, 4);
  // Also when the buffer is dropped before the refusal: external memory still shows it.
  const dropped = planted("bad-alloc-dropped", (input) => {
    if (input.length === 4) new Uint8Array(1 << 20).fill(1);
    return good(input);
  });
  const r = await runCase(dropped, Uint8Array.of(1, 2, 3, 4));
  assert.equal(r.failure?.kind, "alloc");
});

Deno.test("the harness catches slow cases, non-canonical acceptance, broken contracts; tolerates known issues", async () => {
  // Spins for 40 ms of CPU time on 3-byte inputs.
  const slow = planted("slow", (input) => {
    const start = process.cpuUsage();
    const spent = () => {
      const used = process.cpuUsage(start);
      return (used.user + used.system) / 1000;
    };
    while (input.length === 3 && spent() < 40) { /* busy */ }
    return good(input);
  });
  slow.timeLimitMs = 20;
  assert.equal((await runCase(slow, SEEDS[2])).failure, undefined); // runCase leaves time alone
  const stats = await runTarget(slow, { seed: "h", cases: 200, maxFailures: 1 });
  assert.equal(stats.failures[0]?.kind, "slow");

  // Ignores the version byte: two encodings of one value.
  const lax = planted("lax", (input) => good(Uint8Array.of(1, ...input.subarray(1))));
  lax.reencode = (v) => Uint8Array.of(1, (v as Uint8Array).length, ...(v as Uint8Array));
  assert.equal((await runCase(lax, Uint8Array.of(7, 1, 5))).failure?.kind, "reencode");

  const loose = planted("loose", (input) => ({ body: input.length > 3 ? "text" : good(input) }));
  loose.check = (v) =>
    (v as { body: unknown }).body instanceof Uint8Array ? null : "body is not bytes";
  assert.equal((await runCase(loose, SEEDS[0])).failure?.kind, "contract");
  assert.equal((await runCase(loose, SEEDS[2])).failure, undefined);

  const known = planted("known", (input) => {
    if (input.length === 0) throw new SyntaxError("Unexpected end of JSON input");
    return good(input);
  });
  known.known = [{ id: "empty", kind: "error", matches: (m) => m.includes("SyntaxError") }];
  const k = await runTarget(known, { seed: "h", cases: 300, corpus: [new Uint8Array(0)] });
  assert.deepEqual(k.failures, []);
  assert.ok((k.knownHits.get("empty") ?? 0) >= 1);
});

Deno.test("isEngineError() looks through causes; rejects() refuses a wrapped engine error", () => {
  const engine = new TypeError("Cannot read properties of undefined (reading 'x')");
  const wrapped = new EnvelopeError("Cannot read envelope: x", { cause: engine });
  assert.ok(isEngineError(wrapped));
  assert.ok(!rejects(EnvelopeError)(wrapped));
  assert.ok(rejects(EnvelopeError)(new EnvelopeError("Cannot read envelope: unknown kind")));
  assert.ok(!rejects(EnvelopeError)(new CodecError("Cannot decode: x")));
});

Deno.test("retainedBytes() counts strings, arrays and foreign buffers, not views of the input", () => {
  const input = new Uint8Array(1000);
  assert.ok(retainedBytes({ a: input.subarray(0, 900) }, input) < 200);
  assert.ok(retainedBytes({ a: new Uint8Array(900) }, input) >= 900);
  assert.ok(retainedBytes(["x".repeat(500)], input) >= 1000);
  assert.ok(retainedBytes(new Array(10_000), input) >= 80_000);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.ok(retainedBytes(cyclic, input) < 100);
});

Deno.test("crash files round-trip through formatHexFile() and parseHexFile()", () => {
  const input = Uint8Array.from({ length: 100 }, (_, i) => i);
  const text = formatHexFile(["target: x", "message: a\nb"], input);
  assert.match(text, /^# target: x\n# message: a b\n/);
  assert.deepEqual(parseHexFile(text), input);
});
