/**
 * SHA-256, HMAC-SHA-256 and HKDF-SHA-256 for small inputs, synchronous: each
 * WebCrypto call costs tens of microseconds of thread hand-off, and the
 * ratchet derives several keys per message. The work is done by the audited
 * `@noble/hashes` (no I/O, runs in Deno and browsers); this file only gives
 * the shapes lib/e2e uses. Checked against RFC 4231/5869 vectors and against
 * WebCrypto in sha256_test.ts and vectors_test.ts.
 *
 * HMAC (and HKDF on it) drives @noble's SHA-256 compression function itself
 * (RFC 2104 over FIPS 180-4 §5.1.1 padding) instead of @noble's `hmac`: that
 * makes four hash objects, their buffers and views per key and per tag, about
 * 6 KB of garbage per ratchet chain step and 5 KB per message-key expansion,
 * which were most of the ratchet's cost and of the clients' GC
 * (docs/PERF_NOTES.md, branch `clientturn`). Here a key costs its two padded
 * states (8 words each) and a tag its 32 bytes.
 */
import { _SHA256, sha256 as nobleSha256 } from "@noble/hashes/sha2.js";

/** Digest length in bytes. */
export const SHA256_BYTES = 32;

type Hasher = ReturnType<typeof nobleSha256.create>;

/** Incremental SHA-256 (FIPS 180-4). */
export class Sha256 {
  #h: Hasher = nobleSha256.create();
  #done = false;

  /** Feeds more input; not allowed after {@linkcode Sha256.digest}. */
  update(data: Uint8Array): this {
    if (this.#done) throw new TypeError("Cannot update SHA-256: digest() was called");
    this.#h.update(data);
    return this;
  }

  /** The digest; the hash cannot be used afterwards. */
  digest(): Uint8Array {
    if (this.#done) throw new TypeError("Cannot digest SHA-256 twice");
    this.#done = true;
    return this.#h.digest();
  }
}

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = nobleSha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

const BLOCK_BYTES = 64;

/**
 * @noble's SHA-256 compression function on states held outside it. Shared by
 * every key: it keeps nothing between calls (each call sets the state it
 * starts from), and the code using it is synchronous.
 */
class Compressor extends _SHA256 {
  /** The initial hash value H(0) (FIPS 180-4 §5.3.3). */
  readonly iv: Int32Array = Int32Array.from(this.get());
  /** One message block being filled, and its view. */
  readonly scratch = new Uint8Array(BLOCK_BYTES);
  readonly scratchView = new DataView(this.scratch.buffer);
  /** The state being worked on. */
  readonly state = new Int32Array(8);

  /**
   * `out` (its 8 words from `outAt`) = compress(`from`, the 64 bytes of `view`
   * at `offset`). `out` may be `from`.
   */
  compress(from: Int32Array, view: DataView, offset: number, out: Int32Array, outAt = 0): void {
    this.set(from[0], from[1], from[2], from[3], from[4], from[5], from[6], from[7]);
    this.process(view, offset);
    out[outAt] = this.A;
    out[outAt + 1] = this.B;
    out[outAt + 2] = this.C;
    out[outAt + 3] = this.D;
    out[outAt + 4] = this.E;
    out[outAt + 5] = this.F;
    out[outAt + 6] = this.G;
    out[outAt + 7] = this.H;
  }

  /** Clears the block and the compressor's own state (they held key material). */
  wipe(): void {
    this.scratch.fill(0);
    this.state.fill(0);
    this.set(0, 0, 0, 0, 0, 0, 0, 0);
  }
}

const COMPRESSOR = new Compressor();

/**
 * Hashes `parts` (at most `partBytes` of each) into `state`, which has
 * `prefixBytes` hashed already, pads and finishes (FIPS 180-4 §5.1.1), and
 * writes the digest to `out` from `outAt` (which may be the input: it is read
 * first).
 */
function finish(
  state: Int32Array,
  prefixBytes: number,
  parts: readonly Uint8Array[],
  out: Uint8Array,
  partBytes = Infinity,
  outAt = 0,
): void {
  const c = COMPRESSOR;
  const block = c.scratch;
  let fill = 0;
  let total = prefixBytes;
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p];
    const length = Math.min(part.length, partBytes);
    total += length;
    let at = 0;
    if (fill === 0 && length >= BLOCK_BYTES) {
      const view = new DataView(part.buffer, part.byteOffset, length);
      for (; at + BLOCK_BYTES <= length; at += BLOCK_BYTES) {
        c.compress(state, view, at, state);
      }
    }
    // Byte by byte: the inputs here are a few dozen bytes, where a view per part costs more.
    for (; at < length; at++) {
      block[fill++] = part[at];
      if (fill === BLOCK_BYTES) {
        c.compress(state, c.scratchView, 0, state);
        fill = 0;
      }
    }
  }
  block[fill++] = 0x80;
  if (fill > BLOCK_BYTES - 8) {
    block.fill(0, fill);
    c.compress(state, c.scratchView, 0, state);
    fill = 0;
  }
  block.fill(0, fill, BLOCK_BYTES - 8);
  // The length in bits, 64-bit big-endian; inputs here stay far below 2^53 bits.
  const bits = total * 8;
  c.scratchView.setUint32(BLOCK_BYTES - 8, Math.floor(bits / 2 ** 32), false);
  c.scratchView.setUint32(BLOCK_BYTES - 4, bits >>> 0, false);
  c.compress(state, c.scratchView, 0, state);
  for (let i = 0, o = outAt; i < 8; i++) {
    const w = state[i];
    out[o++] = w >>> 24;
    out[o++] = w >>> 16;
    out[o++] = w >>> 8;
    out[o++] = w;
  }
}

/**
 * Writes SHA-256 of the concatenation of `parts` to `out` (its first 32
 * bytes), allocating nothing for parts that start inside a block (a part of
 * 64 bytes or more at a block's start gets one view): for hashes of a few
 * hundred bytes run per message (the Merkle leaves and nodes of provenance),
 * where a @noble hash object costs a view per part, a view and an array per
 * digest and a BigInt, about 1 KB of garbage per hash.
 */
export function sha256Into(out: Uint8Array, parts: readonly Uint8Array[]): void {
  if (out.length < SHA256_BYTES) throw new RangeError("Cannot write SHA-256: output too short");
  const state = COMPRESSOR.state;
  state.set(COMPRESSOR.iv);
  finish(state, 0, parts, out);
}

/**
 * `states` (8 words from `at`) = the compression of (`key` zero-padded to a
 * block) XOR `pad` (RFC 2104 §2).
 */
function padded(key: Uint8Array, pad: number, states: Int32Array, at: number): void {
  const c = COMPRESSOR;
  c.scratch.fill(pad);
  for (let i = 0; i < key.length; i++) c.scratch[i] ^= key[i];
  c.compress(c.iv, c.scratchView, 0, states, at);
}

/** The one part of an HMAC's outer hash (its inner digest), reused: set, hashed, let go. */
const EMPTY = new Uint8Array(0);
const INNER_DIGEST: Uint8Array[] = [EMPTY];

/** HMAC-SHA-256 (RFC 2104) under one key, for several tags with the pads hashed once. */
export class HmacSha256 {
  /** The states after hashing K ^ ipad (words 0-7) and K ^ opad (8-15), one block each. */
  #states = new Int32Array(16);

  constructor(key: Uint8Array) {
    // RFC 2104 §2: a key longer than the block is hashed first.
    const k = key.length > BLOCK_BYTES ? nobleSha256(key) : key;
    try {
      padded(k, 0x36, this.#states, 0);
      padded(k, 0x5c, this.#states, 8);
    } finally {
      COMPRESSOR.wipe();
    }
  }

  /** The tag of the concatenation of `parts`. */
  mac(...parts: Uint8Array[]): Uint8Array {
    const out = new Uint8Array(SHA256_BYTES);
    this.macInto(out, parts);
    return out;
  }

  /** Writes the tag of the concatenation of `parts` to `out` (32 bytes from `at`). */
  macInto(out: Uint8Array, parts: readonly Uint8Array[], at = 0): void {
    if (out.length - at < SHA256_BYTES) {
      throw new RangeError("Cannot write HMAC: output too short");
    }
    const state = COMPRESSOR.state;
    const states = this.#states;
    try {
      for (let i = 0; i < 8; i++) state[i] = states[i];
      finish(state, BLOCK_BYTES, parts, out, Infinity, at);
      for (let i = 0; i < 8; i++) state[i] = states[8 + i];
      // The inner digest is read whole before the outer one is written over it.
      INNER_DIGEST[0] = at === 0 ? out : out.subarray(at);
      finish(state, BLOCK_BYTES, INNER_DIGEST, out, SHA256_BYTES, at);
    } finally {
      INNER_DIGEST[0] = EMPTY;
      COMPRESSOR.wipe();
    }
  }
}

/** HMAC-SHA-256 (RFC 2104) of the concatenation of `parts`. */
export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  return new HmacSha256(key).mac(...parts);
}

/** Options of {@linkcode hkdfSha256}. */
export interface HkdfOptions {
  /** Input keying material. */
  ikm: Uint8Array;
  /** Salt; RFC 5869 §2.2 treats an empty salt as 32 zero bytes. */
  salt?: Uint8Array;
  /** Context and application specific information. */
  info?: Uint8Array;
  /** Output length in bytes, at most 255 * 32. */
  length: number;
}

function checkLength(length: number): void {
  if (!Number.isInteger(length) || length < 0 || length > 255 * 32) {
    throw new RangeError(`Cannot derive HKDF output: length "${length}" out of range`);
  }
}

/** HKDF-SHA-256 extract-then-expand (RFC 5869 §2.2, §2.3). */
export function hkdfSha256({ ikm, salt, info, length }: HkdfOptions): Uint8Array {
  checkLength(length);
  const prk = new HmacSha256(salt && salt.length > 0 ? salt : new Uint8Array(32)).mac(ikm);
  try {
    return hkdfExpand(prk, info ?? new Uint8Array(0), length);
  } finally {
    prk.fill(0);
  }
}

/** HKDF-Expand (RFC 5869 §2.3) from a pseudorandom key. */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  checkLength(length);
  const blocks = Math.ceil(length / SHA256_BYTES);
  const out = hkdfExpandBlocks(prk, info, new Uint8Array(blocks * SHA256_BYTES));
  if (out.length === length) return out;
  const head = out.slice(0, length);
  out.fill(0);
  return head;
}

// HKDF-Expand's parts (T(i-1), info, the counter), reused: set, hashed and let go by one call.
const COUNTER = [new Uint8Array(1)];
const FIRST_BLOCK: Uint8Array[] = [EMPTY, COUNTER[0]];
const NEXT_BLOCK: Uint8Array[] = [EMPTY, EMPTY, COUNTER[0]];

/**
 * HKDF-Expand (RFC 5869 §2.3) of as many whole 32-byte blocks as `out`
 * holds (at most 255), written to `out`; returns `out`. For a caller that
 * takes what it needs as views and wipes `out` when done, instead of a
 * trimmed copy (the ratchet's message keys: 44 bytes from 64).
 */
export function hkdfExpandBlocks(prk: Uint8Array, info: Uint8Array, out: Uint8Array): Uint8Array {
  const blocks = out.length / SHA256_BYTES;
  if (!Number.isInteger(blocks) || blocks > 255) {
    throw new RangeError(`Cannot derive HKDF output: "${out.length}" bytes is not whole blocks`);
  }
  const keyed = new HmacSha256(prk);
  const counter = COUNTER[0];
  const first = FIRST_BLOCK;
  const next = NEXT_BLOCK;
  first[0] = next[1] = info;
  // T(i) = HMAC(PRK, T(i-1) | info | i), T(0) empty.
  try {
    for (let i = 0; i < blocks; i++) {
      counter[0] = i + 1;
      if (i > 0) next[0] = out.subarray((i - 1) * SHA256_BYTES, i * SHA256_BYTES);
      keyed.macInto(out, i === 0 ? first : next, i * SHA256_BYTES);
    }
  } finally {
    first[0] = next[0] = next[1] = EMPTY;
  }
  return out;
}
