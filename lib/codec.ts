/**
 * A small binary codec for wire and stored types: a writer, and a reader that
 * checks every length against what is left and against a cap, so a length from
 * the wire is never trusted.
 */

/** Bytes that do not decode; `field` names where. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecodeError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Appends fields to a growing buffer. */
export class ByteWriter {
  #buf = new Uint8Array(256);
  #len = 0;

  #ensure(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  u8(v: number): this {
    this.#ensure(1);
    this.#buf[this.#len++] = v;
    return this;
  }

  u16(v: number): this {
    this.#ensure(2);
    new DataView(this.#buf.buffer).setUint16(this.#len, v);
    this.#len += 2;
    return this;
  }

  u32(v: number): this {
    this.#ensure(4);
    new DataView(this.#buf.buffer).setUint32(this.#len, v);
    this.#len += 4;
    return this;
  }

  /** An unsigned integer up to 2^53 - 1, as 8 bytes. */
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`Cannot encode u64 ${v}`);
    this.#ensure(8);
    new DataView(this.#buf.buffer).setBigUint64(this.#len, BigInt(v));
    this.#len += 8;
    return this;
  }

  /** Raw bytes of a length both sides know. */
  fixed(bytes: Uint8Array): this {
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
    return this;
  }

  /** Bytes with a u32 length prefix. */
  bytes(bytes: Uint8Array): this {
    return this.u32(bytes.length).fixed(bytes);
  }

  /** UTF-8 string with a u16 length prefix. */
  str(s: string): this {
    const b = encoder.encode(s);
    if (b.length > 0xffff) throw new RangeError("Cannot encode string: longer than 65535 bytes");
    return this.u16(b.length).fixed(b);
  }

  /** The bytes written so far (a copy). */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** Reads fields from bytes, checking every length. */
export class ByteReader {
  #buf: Uint8Array;
  #at = 0;
  #view: DataView;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  #take(n: number, field: string): number {
    if (n > this.#buf.length - this.#at) {
      throw new DecodeError(`Cannot decode ${field}: truncated`);
    }
    const at = this.#at;
    this.#at += n;
    return at;
  }

  u8(field: string): number {
    return this.#buf[this.#take(1, field)];
  }

  u16(field: string): number {
    return this.#view.getUint16(this.#take(2, field));
  }

  u32(field: string): number {
    return this.#view.getUint32(this.#take(4, field));
  }

  u64(field: string): number {
    const v = this.#view.getBigUint64(this.#take(8, field));
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new DecodeError(`Cannot decode ${field}: too large`);
    }
    return Number(v);
  }

  fixed(n: number, field: string): Uint8Array {
    const at = this.#take(n, field);
    return this.#buf.slice(at, at + n);
  }

  /**
   * Length-prefixed bytes, at most `max`, as a view into the input (no copy):
   * for large fields such as envelope bodies. Mutating the input changes it.
   */
  bytesView(max: number, field: string): Uint8Array {
    const n = this.u32(field);
    if (n > max) throw new DecodeError(`Cannot decode ${field}: ${n} bytes exceeds ${max}`);
    const at = this.#take(n, field);
    return this.#buf.subarray(at, at + n);
  }

  /** Length-prefixed bytes, at most `max`. */
  bytes(max: number, field: string): Uint8Array {
    const n = this.u32(field);
    if (n > max) throw new DecodeError(`Cannot decode ${field}: ${n} bytes exceeds ${max}`);
    return this.fixed(n, field);
  }

  /** Length-prefixed UTF-8, at most `maxBytes`. */
  str(maxBytes: number, field: string): string {
    const n = this.u16(field);
    if (n > maxBytes) throw new DecodeError(`Cannot decode ${field}: longer than ${maxBytes}`);
    const at = this.#take(n, field);
    try {
      return decoder.decode(this.#buf.subarray(at, at + n));
    } catch {
      throw new DecodeError(`Cannot decode ${field}: not UTF-8`);
    }
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.#buf.length - this.#at;
  }

  /** Everything not yet read. */
  rest(): Uint8Array {
    const out = this.#buf.subarray(this.#at);
    this.#at = this.#buf.length;
    return out;
  }

  /** Throws unless every byte was read. */
  end(what: string): void {
    if (this.#at !== this.#buf.length) {
      throw new DecodeError(`Cannot decode ${what}: ${this.remaining} trailing bytes`);
    }
  }
}
