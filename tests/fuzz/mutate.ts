/**
 * Mutators of valid encodings: each takes bytes and returns new bytes, never
 * changing its input. Byte-level (bit flips, insert, delete, truncate,
 * extend, boundary integers, length-field corruption, splicing two inputs)
 * and, for JSON targets, structural (replace, drop or add a member).
 */
import { BOUNDARY_INTS, randomJson, randomString, setOwn } from "./generate.ts";
import type { Prng } from "./prng.ts";

/** What a mutator may draw on besides its input. */
export interface MutationContext {
  rng: Prng;
  /** Other valid inputs of the same target, for splicing. */
  others: readonly Uint8Array[];
  /** Byte strings worth inserting (keywords, magic values). */
  dictionary: readonly Uint8Array[];
  /** Largest input worth producing. */
  maxBytes: number;
}

type Mutator = (input: Uint8Array, ctx: MutationContext) => Uint8Array;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `value` big-endian in `width` bytes (wrapping). */
export function beBytes(value: bigint, width: number): Uint8Array {
  const out = new Uint8Array(width);
  let v = BigInt.asUintN(width * 8, value);
  for (let i = width - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function readBe(bytes: Uint8Array, at: number, width: number): number {
  let v = 0;
  for (let i = 0; i < width; i++) v = v * 256 + bytes[at + i];
  return v;
}

const pos = (ctx: MutationContext, input: Uint8Array, extra = 0) =>
  ctx.rng.int(input.length + extra);

const flipBit: Mutator = (input, ctx) => {
  if (input.length === 0) return ctx.rng.bytes(1);
  const out = input.slice();
  const at = pos(ctx, input);
  out[at] ^= 1 << ctx.rng.int(8);
  return out;
};

const setByte: Mutator = (input, ctx) => {
  if (input.length === 0) return ctx.rng.bytes(1);
  const out = input.slice();
  out[pos(ctx, input)] = ctx.rng.pick([0, 1, 0x7f, 0x80, 0xfe, 0xff, ctx.rng.u32() & 0xff]);
  return out;
};

const insertBytes: Mutator = (input, ctx) => {
  const at = pos(ctx, input, 1);
  return concat(input.subarray(0, at), ctx.rng.bytes(1 + ctx.rng.length(64)), input.subarray(at));
};

const deleteBytes: Mutator = (input, ctx) => {
  if (input.length === 0) return input;
  const at = pos(ctx, input);
  const n = 1 + ctx.rng.int(Math.min(64, input.length - at));
  return concat(input.subarray(0, at), input.subarray(at + n));
};

const truncate: Mutator = (input, ctx) => input.slice(0, pos(ctx, input));

const extend: Mutator = (input, ctx) => {
  const r = ctx.rng.int(3);
  const n = 1 + ctx.rng.length(Math.max(1, ctx.maxBytes - input.length));
  if (r === 0) return concat(input, ctx.rng.bytes(Math.min(n, 4096)));
  if (r === 1) return concat(input, new Uint8Array(n));
  // Repeat a piece of the input, as a list that goes on too long would.
  const from = pos(ctx, input);
  const piece = input.subarray(from, from + 1 + ctx.rng.int(64));
  const parts = [input];
  for (let total = 0; total < n && piece.length > 0; total += piece.length) parts.push(piece);
  return concat(...parts);
};

const boundaryInt: Mutator = (input, ctx) => {
  const width = ctx.rng.pick([1, 2, 4, 8]);
  if (input.length < width) return concat(input, beBytes(ctx.rng.pick(BOUNDARY_INTS), width));
  const out = input.slice();
  out.set(beBytes(ctx.rng.pick(BOUNDARY_INTS), width), ctx.rng.int(input.length - width + 1));
  return out;
};

/** Finds a u8/u16/u32 that looks like a length prefix (it fits what follows) and breaks it. */
const corruptLength: Mutator = (input, ctx) => {
  const width = ctx.rng.pick([1, 2, 4]);
  const candidates: number[] = [];
  for (let at = 0; at + width <= input.length; at++) {
    const v = readBe(input, at, width);
    if (v > 0 && at + width + v <= input.length) candidates.push(at);
  }
  if (candidates.length === 0) return boundaryInt(input, ctx);
  const at = ctx.rng.pick(candidates);
  const v = readBe(input, at, width);
  const left = input.length - at - width;
  const out = input.slice();
  const choice = ctx.rng.pick([0, 1, v - 1, v + 1, left, left + 1, 2 ** (8 * width) - 1, v * 2]);
  out.set(beBytes(BigInt(Math.max(0, choice)), width), at);
  return out;
};

const splice: Mutator = (input, ctx) => {
  if (ctx.others.length === 0) return flipBit(input, ctx);
  const other = ctx.rng.pick(ctx.others);
  return concat(
    input.subarray(0, pos(ctx, input, 1)),
    other.subarray(ctx.rng.int(other.length + 1)),
  );
};

const duplicateRange: Mutator = (input, ctx) => {
  if (input.length === 0) return input;
  const at = pos(ctx, input);
  const piece = input.subarray(at, at + 1 + ctx.rng.int(32));
  const to = pos(ctx, input, 1);
  return concat(input.subarray(0, to), piece, input.subarray(to));
};

const insertWord: Mutator = (input, ctx) => {
  if (ctx.dictionary.length === 0) return insertBytes(input, ctx);
  const at = pos(ctx, input, 1);
  const word = ctx.rng.pick(ctx.dictionary);
  if (ctx.rng.chance(0.5)) return concat(input.subarray(0, at), word, input.subarray(at));
  return concat(
    input.subarray(0, at),
    word,
    input.subarray(Math.min(input.length, at + word.length)),
  );
};

const BYTE_MUTATORS: readonly Mutator[] = [
  flipBit,
  setByte,
  insertBytes,
  deleteBytes,
  truncate,
  extend,
  boundaryInt,
  corruptLength,
  corruptLength,
  splice,
  duplicateRange,
  insertWord,
];

/** One to four byte-level mutations of `input`, capped at `ctx.maxBytes`. */
export function mutateBytes(input: Uint8Array, ctx: MutationContext): Uint8Array {
  let out = input;
  const rounds = 1 + (ctx.rng.chance(0.5) ? 0 : ctx.rng.int(4));
  for (let i = 0; i < rounds; i++) out = ctx.rng.pick(BYTE_MUTATORS)(out, ctx);
  return out.length > ctx.maxBytes ? out.slice(0, ctx.maxBytes) : out;
}

// Structural JSON mutation: pick a node and replace, drop, add or retype it.
function mutateValue(v: unknown, ctx: MutationContext, keys: readonly string[]): unknown {
  const { rng } = ctx;
  if (rng.chance(0.3) || v === null || typeof v !== "object") {
    const r = rng.int(6);
    if (r === 0) return randomJson(rng, 3, keys);
    if (r === 1) return typeof v === "string" ? v + randomString(rng, 40) : JSON.stringify(v);
    if (r === 2) return typeof v === "number" ? rng.pick([v + 1, v - 1, -v, v * 1e6, v + 0.5]) : 0;
    if (r === 3) return [v];
    if (r === 4) return { v };
    return typeof v === "string" ? v.repeat(1 + rng.int(200)) : null;
  }
  if (Array.isArray(v)) {
    const out = v.slice();
    if (out.length > 0 && rng.chance(0.6)) {
      const i = rng.int(out.length);
      out[i] = mutateValue(out[i], ctx, keys);
    } else if (rng.chance(0.5)) out.push(randomJson(rng, 2, keys));
    else out.splice(rng.int(out.length + 1), 1);
    return out;
  }
  const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
  const names = Object.keys(out);
  const r = rng.int(4);
  if (r <= 1 && names.length > 0) {
    const k = rng.pick(names);
    setOwn(out, k, mutateValue(out[k], ctx, keys));
  } else if (r === 2 && names.length > 0) delete out[rng.pick(names)];
  else {
    setOwn(
      out,
      keys.length > 0 && rng.chance(0.7) ? rng.pick(keys) : "__proto__",
      randomJson(rng, 2),
    );
  }
  return out;
}

/** A structural mutation of JSON text (falls back to bytes when it does not parse). */
export function mutateJson(
  input: Uint8Array,
  ctx: MutationContext,
  keys: readonly string[],
): Uint8Array {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(input));
  } catch {
    return mutateBytes(input, ctx);
  }
  const rounds = 1 + ctx.rng.int(3);
  for (let i = 0; i < rounds; i++) value = mutateValue(value, ctx, keys);
  const out = new TextEncoder().encode(JSON.stringify(value) ?? "null");
  // Repeated strings can outgrow the target's maximum: cut, as a sender's limit would.
  return out.length > ctx.maxBytes ? out.slice(0, ctx.maxBytes) : out;
}
