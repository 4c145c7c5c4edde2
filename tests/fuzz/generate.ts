/**
 * Random inputs from scratch: bytes, JSON values and text built from a
 * target's dictionary. Sizes are log-uniform up to the target's maximum.
 */
import type { Prng } from "./prng.ts";

/** Integers that sit on the edges of u8 … u64, signed and unsigned. */
export const BOUNDARY_INTS: readonly bigint[] = [
  0n,
  1n,
  2n,
  0x7en,
  0x7fn,
  0x80n,
  0xffn,
  0x100n,
  0x7fffn,
  0x8000n,
  0xfffen,
  0xffffn,
  0x10000n,
  0x7fff_ffffn,
  0x8000_0000n,
  0xffff_ffffn,
  0x1_0000_0000n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 63n,
  2n ** 64n - 1n,
];

/** Random bytes; a quarter of the time from a small alphabet, so structure repeats. */
export function randomBytes(rng: Prng, maxBytes: number): Uint8Array {
  const n = rng.length(maxBytes);
  if (!rng.chance(0.25)) return rng.bytes(n);
  const alphabet = rng.bytes(1 + rng.int(4));
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.pick([...alphabet, 0, 0xff]);
  return out;
}

const STRINGS = [
  "",
  "a",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "kind",
  "type",
  "cmd",
  "args",
  "bob@bob",
  "alice",
  "\u0000",
  "\ud800",
  "\u202e",
  "é",
  "😀",
  "x".repeat(33),
  "../../etc/passwd",
  "NaN",
];

const NUMBERS = [0, -0, 1, -1, 0.5, 1e308, -1e308, 2 ** 53, 2 ** 53 - 1, 65535, 65536, 4294967296];

/** Sets an own property, even `__proto__` (which plain assignment would treat as the prototype). */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A random JSON value (what `JSON.parse` can return), at most `depth` levels deep. */
export function randomJson(rng: Prng, depth = 4, keys: readonly string[] = []): unknown {
  const choice = rng.int(depth > 0 ? 9 : 6);
  switch (choice) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.chance(0.5) ? rng.pick(NUMBERS) : rng.int(100_000) - 50_000;
    case 3:
      return rng.chance(0.5) ? rng.pick(STRINGS) : randomString(rng, 40);
    case 4:
      return rng.chance(0.5) && keys.length > 0 ? rng.pick(keys) : randomString(rng, 8);
    case 5:
      return "x".repeat(rng.length(20_000));
    case 6:
    case 7: {
      const out: Record<string, unknown> = {};
      const n = rng.int(6);
      for (let i = 0; i < n; i++) {
        const key = rng.chance(0.7) && keys.length > 0 ? rng.pick(keys) : rng.pick(STRINGS);
        setOwn(out, key, randomJson(rng, depth - 1, keys));
      }
      return out;
    }
    default: {
      const n = rng.int(5);
      return Array.from({ length: n }, () => randomJson(rng, depth - 1, keys));
    }
  }
}

/** A random string of up to `max` UTF-16 units, mixing ASCII, controls and surrogates. */
export function randomString(rng: Prng, max: number): string {
  const n = rng.length(max);
  let s = "";
  for (let i = 0; i < n; i++) {
    const r = rng.int(10);
    s += String.fromCharCode(
      r < 6 ? 0x20 + rng.int(0x5f) : r < 7 ? rng.int(0x20) : r < 8 ? 0xd800 + rng.int(0x800) : rng
        .int(0x10000),
    );
  }
  return s;
}

/** JSON text: a random value, sometimes deeply nested or with a random byte changed. */
export function randomJsonText(rng: Prng, keys: readonly string[] = []): string {
  const r = rng.int(10);
  if (r === 0) {
    const depth = rng.length(20_000);
    return "[".repeat(depth) + "]".repeat(rng.chance(0.5) ? depth : 0);
  }
  if (r === 1) {
    const depth = rng.length(5_000);
    return '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
  }
  return JSON.stringify(randomJson(rng, 5, keys)) ?? "null";
}

/** Text assembled from `dictionary` words, random characters and line breaks. */
export function randomText(rng: Prng, dictionary: readonly string[], maxChars: number): string {
  const target = rng.length(maxChars);
  let s = "";
  while (s.length < target) {
    const r = rng.int(10);
    if (r < 6 && dictionary.length > 0) s += rng.pick(dictionary);
    else if (r < 8) s += rng.pick(["\n", "\r\n", " ", "\t", "=", "[", "]", ";", "#", '"']);
    else s += randomString(rng, 8);
  }
  return s.slice(0, maxChars);
}
