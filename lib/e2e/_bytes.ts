/**
 * Byte helpers shared inside lib/e2e: hex, UTF-8, concatenation, and a reader and
 * writer for the length-checked binary encodings. Private to the folder.
 */
import { CodecError } from "./errors.ts";

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder("utf-8", { fatal: true });

/** Encodes a string as UTF-8. */
export function utf8(text: string): Uint8Array {
  return ENCODER.encode(text);
}

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += bytes[i].toString(16).padStart(2, "0");
  return out;
}

/** Parses lowercase or uppercase hex; throws CodecError on odd length or bad digits. */
export function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new CodecError("Cannot decode hex: expected an even number of hex digits");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Concatenates byte arrays into a new array. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** A fresh copy, so stored state never aliases a caller's buffer. */
export function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/** Appends fixed-width big-endian integers and length-prefixed fields. */
export class ByteWriter {
  #parts: Uint8Array[] = [];

  u8(value: number): this {
    this.#parts.push(Uint8Array.of(value & 0xff));
    return this;
  }

  u16(value: number): this {
    this.#parts.push(Uint8Array.of((value >>> 8) & 0xff, value & 0xff));
    return this;
  }

  u32(value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0);
    this.#parts.push(b);
    return this;
  }

  /** A non-negative safe integer as 8 bytes. */
  u64(value: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(value));
    this.#parts.push(b);
    return this;
  }

  bytes(value: Uint8Array): this {
    this.#parts.push(value);
    return this;
  }

  /** A u16 length then the bytes. */
  bytes16(value: Uint8Array): this {
    if (value.length > 0xffff) throw new RangeError("Cannot encode field: longer than 65535 bytes");
    return this.u16(value.length).bytes(value);
  }

  /** A u16 length then the UTF-8 bytes. */
  string16(value: string): this {
    return this.bytes16(utf8(value));
  }

  finish(): Uint8Array {
    return concat(...this.#parts);
  }
}

/** Reads what {@linkcode ByteWriter} wrote; every read checks the remaining length. */
export class ByteReader {
  #bytes: Uint8Array;
  #view: DataView;
  #offset = 0;
  #what: string;

  constructor(bytes: Uint8Array, what: string) {
    if (!(bytes instanceof Uint8Array)) throw new CodecError(`Cannot decode ${what}: not bytes`);
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#what = what;
  }

  get offset(): number {
    return this.#offset;
  }

  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  #need(n: number): void {
    if (this.remaining < n) throw new CodecError(`Cannot decode ${this.#what}: truncated`);
  }

  u8(): number {
    this.#need(1);
    return this.#bytes[this.#offset++];
  }

  u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.#offset);
    this.#offset += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#offset);
    this.#offset += 4;
    return v;
  }

  u64(): number {
    this.#need(8);
    const v = this.#view.getBigUint64(this.#offset);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new CodecError(`Cannot decode ${this.#what}: integer too large`);
    }
    this.#offset += 8;
    return Number(v);
  }

  /** Exactly `n` bytes, copied. */
  bytes(n: number): Uint8Array {
    this.#need(n);
    const out = this.#bytes.slice(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }

  bytes16(maxBytes: number): Uint8Array {
    const n = this.u16();
    if (n > maxBytes) throw new CodecError(`Cannot decode ${this.#what}: field too long`);
    return this.bytes(n);
  }

  string16(maxBytes: number): string {
    const raw = this.bytes16(maxBytes);
    try {
      return DECODER.decode(raw);
    } catch (cause) {
      throw new CodecError(`Cannot decode ${this.#what}: invalid UTF-8`, { cause });
    }
  }

  /** The rest of the input, copied. */
  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }

  /** Throws unless every byte was consumed. */
  end(): void {
    if (this.remaining !== 0) throw new CodecError(`Cannot decode ${this.#what}: trailing bytes`);
  }
}

/** Checks `value` is a Uint8Array of exactly `length` bytes, else throws CodecError. */
export function checkLength(value: unknown, length: number, what: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new CodecError(`Cannot use ${what}: expected ${length} bytes`);
  }
  return value;
}
