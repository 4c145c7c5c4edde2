/**
 * SHA-256, HMAC-SHA-256 and HKDF-SHA-256 for small inputs, synchronous: each
 * WebCrypto call costs tens of microseconds of thread hand-off, and the
 * ratchet derives several keys per message. The work is done by the audited
 * `@noble/hashes` (no I/O, runs in Deno and browsers); this file only gives
 * the shapes lib/e2e uses. Checked against RFC 4231/5869 vectors and against
 * WebCrypto in sha256_test.ts and vectors_test.ts.
 */
import { hmac } from "@noble/hashes/hmac.js";
import { expand, extract } from "@noble/hashes/hkdf.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";

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

/** HMAC-SHA-256 (RFC 2104) under one key, for several tags with the pads hashed once. */
export class HmacSha256 {
  #keyed: ReturnType<typeof hmac.create>;

  constructor(key: Uint8Array) {
    this.#keyed = hmac.create(nobleSha256, key);
  }

  /** The tag of the concatenation of `parts`. */
  mac(...parts: Uint8Array[]): Uint8Array {
    const h = this.#keyed.clone();
    for (const p of parts) h.update(p);
    return h.digest();
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
  const prk = extract(nobleSha256, ikm, salt && salt.length > 0 ? salt : new Uint8Array(32));
  return expand(nobleSha256, prk, info ?? new Uint8Array(0), length);
}

/** HKDF-Expand (RFC 5869 §2.3) from a pseudorandom key. */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  checkLength(length);
  return expand(nobleSha256, prk, info, length);
}
