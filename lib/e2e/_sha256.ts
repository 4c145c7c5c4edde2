/**
 * SHA-256 (FIPS 180-4), HMAC-SHA-256 (RFC 2104) and HKDF-SHA-256 (RFC 5869) in plain
 * TypeScript. WebCrypto offers all three, but each call is an asynchronous round trip
 * of tens of microseconds; the ratchet derives several small keys per message, and an
 * in-process hash of 64-byte blocks costs about a microsecond. SHA-256 uses only
 * additions, rotations and logic on 32-bit words, so it has no secret-dependent
 * branches or table lookups. Checked against WebCrypto and the RFC 5869 vectors.
 */

// FIPS 180-4 §4.2.2
const K = Int32Array.from([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);

// FIPS 180-4 §5.3.3
const IV = Int32Array.from([
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
]);

// Message-schedule scratch for compress(). Not state: every call writes all 64 words
// before reading them, and JavaScript runs compress() to completion on one thread.
const W = new Int32Array(64);

/** Length of a SHA-256 digest and of an HMAC-SHA-256 tag. */
export const SHA256_BYTES = 32;

/** Incremental SHA-256. */
export class Sha256 {
  #h = IV.slice();
  #block = new Uint8Array(64);
  #blockLength = 0;
  #totalBytes = 0;
  #done = false;

  /** A copy of the running state, to hash several messages sharing a prefix. */
  clone(): Sha256 {
    const c = new Sha256();
    c.#h.set(this.#h);
    c.#block.set(this.#block);
    c.#blockLength = this.#blockLength;
    c.#totalBytes = this.#totalBytes;
    c.#done = this.#done;
    return c;
  }

  /** Feeds `data`; returns this for chaining. */
  update(data: Uint8Array): this {
    if (this.#done) throw new TypeError("Cannot update SHA-256: digest already taken");
    let i = 0;
    this.#totalBytes += data.length;
    if (this.#blockLength > 0) {
      const take = Math.min(64 - this.#blockLength, data.length);
      this.#block.set(data.subarray(0, take), this.#blockLength);
      this.#blockLength += take;
      i = take;
      if (this.#blockLength < 64) return this;
      compress(this.#h, this.#block, 0);
      this.#blockLength = 0;
    }
    for (; i + 64 <= data.length; i += 64) compress(this.#h, data, i);
    if (i < data.length) {
      this.#block.set(data.subarray(i), 0);
      this.#blockLength = data.length - i;
    }
    return this;
  }

  /** Finishes and returns the 32-byte digest. */
  digest(): Uint8Array {
    if (this.#done) throw new TypeError("Cannot finish SHA-256: digest already taken");
    this.#done = true;
    // FIPS 180-4 §5.1.1: a 1 bit, zeros, then the length in bits as 64 bits.
    const block = this.#block;
    block.fill(0, this.#blockLength);
    block[this.#blockLength] = 0x80;
    if (this.#blockLength >= 56) {
      compress(this.#h, block, 0);
      block.fill(0);
    }
    const bitsHigh = Math.floor(this.#totalBytes / 0x20000000);
    const bitsLow = (this.#totalBytes << 3) >>> 0;
    block[56] = bitsHigh >>> 24;
    block[57] = bitsHigh >>> 16;
    block[58] = bitsHigh >>> 8;
    block[59] = bitsHigh;
    block[60] = bitsLow >>> 24;
    block[61] = bitsLow >>> 16;
    block[62] = bitsLow >>> 8;
    block[63] = bitsLow;
    compress(this.#h, block, 0);
    const out = new Uint8Array(32);
    for (let j = 0; j < 8; j++) {
      const v = this.#h[j];
      out[j * 4] = v >>> 24;
      out[j * 4 + 1] = v >>> 16;
      out[j * 4 + 2] = v >>> 8;
      out[j * 4 + 3] = v;
    }
    return out;
  }
}

function compress(h: Int32Array, data: Uint8Array, offset: number): void {
  const w = W;
  for (let t = 0; t < 16; t++) {
    const o = offset + t * 4;
    w[t] = (data[o] << 24) | (data[o + 1] << 16) | (data[o + 2] << 8) | data[o + 3];
  }
  for (let t = 16; t < 64; t++) {
    const x = w[t - 15];
    const y = w[t - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
  }
  let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (hh + S1 + ch + K[t] + w[t]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0] + a) | 0;
  h[1] = (h[1] + b) | 0;
  h[2] = (h[2] + c) | 0;
  h[3] = (h[3] + d) | 0;
  h[4] = (h[4] + e) | 0;
  h[5] = (h[5] + f) | 0;
  h[6] = (h[6] + g) | 0;
  h[7] = (h[7] + hh) | 0;
}

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = new Sha256();
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HMAC-SHA-256 (RFC 2104) under one key, for several tags with the pads hashed once. */
export class HmacSha256 {
  #key: Uint8Array;
  #inner = IV.slice();
  #outer = IV.slice();
  #state = new Int32Array(8);
  #block = new Uint8Array(64);

  constructor(key: Uint8Array) {
    const k = new Uint8Array(64);
    k.set(key.length > 64 ? sha256(key) : key);
    this.#key = k.slice();
    const pad = this.#block;
    for (let i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
    compress(this.#inner, pad, 0);
    for (let i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
    compress(this.#outer, pad, 0);
    k.fill(0);
  }

  /** The tag of the concatenation of `parts`. */
  mac(...parts: Uint8Array[]): Uint8Array {
    let length = 0;
    for (const p of parts) length += p.length;
    if (length > 55) return this.#macLong(parts);
    // Fast path: the message fits in the inner hash's single final block
    // (FIPS 180-4 §5.1.1 padding written in place), and the outer hash is one block.
    const block = this.#block;
    const state = this.#state;
    block.fill(0);
    let offset = 0;
    for (const p of parts) {
      block.set(p, offset);
      offset += p.length;
    }
    block[offset] = 0x80;
    const innerBits = (64 + length) * 8;
    block[62] = innerBits >>> 8;
    block[63] = innerBits & 0xff;
    state.set(this.#inner);
    compress(state, block, 0);
    block.fill(0);
    writeState(state, block);
    block[32] = 0x80;
    block[62] = (96 * 8) >>> 8; // 64-byte pad block + 32-byte inner digest
    state.set(this.#outer);
    compress(state, block, 0);
    const out = new Uint8Array(32);
    writeState(state, out);
    return out;
  }

  #macLong(parts: Uint8Array[]): Uint8Array {
    const k = this.#key;
    const pad = new Uint8Array(64);
    for (let i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
    const inner = new Sha256().update(pad);
    for (const p of parts) inner.update(p);
    for (let i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
    return new Sha256().update(pad).update(inner.digest()).digest();
  }
}

function writeState(h: Int32Array, out: Uint8Array): void {
  for (let j = 0; j < 8; j++) {
    const v = h[j];
    out[j * 4] = v >>> 24;
    out[j * 4 + 1] = v >>> 16;
    out[j * 4 + 2] = v >>> 8;
    out[j * 4 + 3] = v;
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

/** HKDF-SHA-256 extract-then-expand (RFC 5869 §2.2, §2.3). */
export function hkdfSha256({ ikm, salt, info, length }: HkdfOptions): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * 32) {
    throw new RangeError(`Cannot derive HKDF output: length "${length}" out of range`);
  }
  const prk = hmacSha256(salt && salt.length > 0 ? salt : new Uint8Array(32), ikm);
  return hkdfExpand(prk, info ?? new Uint8Array(0), length);
}

/** HKDF-Expand (RFC 5869 §2.3) from a pseudorandom key. */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const hmac = new HmacSha256(prk);
  const out = new Uint8Array(length);
  let previous = new Uint8Array(0);
  for (let i = 1, offset = 0; offset < length; i++) {
    previous = hmac.mac(previous, info, Uint8Array.of(i)) as Uint8Array<ArrayBuffer>;
    out.set(previous.subarray(0, Math.min(32, length - offset)), offset);
    offset += 32;
  }
  return out;
}
