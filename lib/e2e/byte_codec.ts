/**
 * The one binary codec of the project, for every wire and stored type:
 * big-endian integers and length-prefixed fields. Method names say the
 * prefix, so moving code between folders cannot change a wire format:
 *
 * | writer          | reader                    | bytes on the wire            |
 * | --------------- | ------------------------- | ---------------------------- |
 * | `raw(b)`        | `raw(n)`                  | `b` as is (length known)     |
 * | `bytes16(b)`    | `bytes16(max)`            | u16 length, then `b`         |
 * | `bytes32(b)`    | `bytes32(max)` / `…View`  | u32 length, then `b`         |
 * | `str16(s)`      | `str16(maxBytes)`         | u16 length, then UTF-8 of `s`|
 *
 * The reader checks every length against what is left and against a cap
 * before it allocates, so a length from the wire is never trusted; it throws
 * {@linkcode CodecError} naming the type and field. The writer refuses values
 * out of range (`RangeError`) instead of wrapping them.
 *
 * @example
 * ```ts
 * const bytes = new ByteWriter().u8(1).str16("alice@a").bytes32(body).finish();
 * const r = new ByteReader(bytes, "greeting");
 * const version = r.u8("version"), from = r.str16(320, "from"), b = r.bytes32(1024, "body");
 * r.end();
 * ```
 */
import { CodecError } from "./errors.ts";

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder("utf-8", { fatal: true });

function checkInt(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`Cannot encode ${what}: ${value} is not an integer from 0 to ${max}`);
  }
}

/** Results at least this large are handed out without a copy when they fill the buffer. */
const NO_COPY_MIN_BYTES = 64 * 1024;

/**
 * A writer expecting at most this many bytes starts in {@linkcode SHARED}
 * instead of a buffer of its own: the messages of every layer (inner payload,
 * ratchet header, envelope, client message, link frame) are a few hundred
 * bytes each, and a buffer per writer (with its view) was about half of what
 * encoding allocated per message (docs/PERF_NOTES.md, `msgalloc`).
 */
const SHARED_BYTES = 16 * 1024;
/** The shared buffer, and the one writer in it (null: free). */
const SHARED = new Uint8Array(SHARED_BYTES);
let sharedWriter: ByteWriter | null = null;

/**
 * Appends fields to a growing buffer. A small writer writes in one buffer
 * shared by all, which it holds until `finish()` copies its bytes out; a
 * writer made meanwhile (an encoding nested in another's arguments) takes it
 * over, moving the first writer's bytes into a buffer of its own, so a writer
 * never sees another's bytes, and one dropped unfinished (an encoding that
 * threw) only costs the next one that copy. The shared bytes are zeroed when a
 * writer leaves them: a plaintext encoded before its seal does not stay there.
 */
export class ByteWriter {
  #buf: Uint8Array;
  #len = 0;
  /** `finish()` handed out `#buf` itself: the next write copies it first. */
  #given = false;
  #initialBytes: number;

  /** `initialBytes`: the expected size; a message that fits is never copied to grow. */
  constructor(initialBytes = 256) {
    this.#initialBytes = initialBytes;
    if (initialBytes <= SHARED_BYTES) {
      if (sharedWriter !== null) sharedWriter.#leaveShared(0);
      sharedWriter = this;
      this.#buf = SHARED;
    } else {
      this.#buf = new Uint8Array(initialBytes);
    }
  }

  /** Moves this writer's bytes out of the shared buffer into one of its own, with room for `n` more. */
  #leaveShared(n: number): void {
    const next = new Uint8Array(Math.max(16, this.#initialBytes, this.#len + n));
    next.set(SHARED.subarray(0, this.#len));
    SHARED.fill(0, 0, this.#len);
    this.#buf = next;
    sharedWriter = null;
  }

  #ensure(n: number): void {
    if (this.#len + n <= this.#buf.length && !this.#given) return;
    if (this.#buf === SHARED) {
      this.#leaveShared(Math.max(n, SHARED_BYTES));
      return;
    }
    this.#given = false;
    // Doubling for small fields; a large one (a file chunk) gets exactly the room it needs.
    const size = Math.max(16, this.#buf.length * 2, this.#len + n);
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#len;
  }

  u8(value: number): this {
    checkInt(value, 0xff, "u8");
    this.#ensure(1);
    this.#buf[this.#len++] = value;
    return this;
  }

  u16(value: number): this {
    checkInt(value, 0xffff, "u16");
    this.#ensure(2);
    const b = this.#buf;
    b[this.#len++] = value >>> 8;
    b[this.#len++] = value;
    return this;
  }

  u32(value: number): this {
    checkInt(value, 0xffff_ffff, "u32");
    this.#ensure(4);
    this.#put32(value);
    return this;
  }

  /** Four bytes, big-endian, at the end (room already ensured). */
  #put32(value: number): void {
    const b = this.#buf;
    b[this.#len++] = value >>> 24;
    b[this.#len++] = value >>> 16;
    b[this.#len++] = value >>> 8;
    b[this.#len++] = value;
  }

  /** An integer from 0 to 2^53 − 1, as 8 bytes. */
  u64(value: number): this {
    checkInt(value, Number.MAX_SAFE_INTEGER, "u64");
    this.#ensure(8);
    // Two u32 halves: the same bytes as setBigUint64, without a BigInt per field.
    this.#put32(Math.floor(value / 2 ** 32));
    this.#put32(value >>> 0);
    return this;
  }

  /** Bytes with no length prefix (a fixed size both sides know, or the last field). */
  raw(bytes: Uint8Array): this {
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
    return this;
  }

  /** A u16 length, then the bytes. */
  bytes16(bytes: Uint8Array): this {
    checkInt(bytes.length, 0xffff, "field length");
    return this.u16(bytes.length).raw(bytes);
  }

  /** A u32 length, then the bytes. */
  bytes32(bytes: Uint8Array): this {
    checkInt(bytes.length, 0xffff_ffff, "field length");
    return this.u32(bytes.length).raw(bytes);
  }

  /** A u16 length, then the UTF-8 bytes of `text`. */
  str16(text: string): this {
    return this.bytes16(ENCODER.encode(text));
  }

  /**
   * The bytes written. Large messages that (nearly) fill the buffer are
   * returned without a copy, as a view of exactly that length (file chunks
   * would otherwise be copied once more per encoding), and so is a buffer
   * sized exactly for its message; the writer copies before any later
   * write, so the result never changes.
   */
  finish(): Uint8Array {
    if (this.#buf === SHARED) {
      const out = SHARED.slice(0, this.#len);
      SHARED.fill(0, 0, this.#len);
      sharedWriter = null;
      this.#buf = out;
      this.#given = true;
      return out;
    }
    if (this.#len === this.#buf.length) {
      this.#given = true;
      return this.#buf;
    }
    const slack = this.#buf.length - this.#len;
    if (this.#len < NO_COPY_MIN_BYTES || slack > this.#len / 64) {
      return this.#buf.slice(0, this.#len);
    }
    this.#given = true;
    return this.#buf.subarray(0, this.#len);
  }
}

/** Reads what {@linkcode ByteWriter} wrote; every read checks the remaining length first. */
export class ByteReader {
  #bytes: Uint8Array;
  #at = 0;
  #what: string;

  /** `what` names the type being decoded, for error messages. */
  constructor(bytes: Uint8Array, what: string) {
    if (!(bytes instanceof Uint8Array)) throw new CodecError(`Cannot decode ${what}: not bytes`);
    this.#bytes = bytes;
    this.#what = what;
  }

  /** Bytes read so far. */
  get offset(): number {
    return this.#at;
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.#bytes.length - this.#at;
  }

  #fail(field: string, why: string): never {
    throw new CodecError(`Cannot decode ${this.#what}: ${field} ${why}`);
  }

  #take(n: number, field: string): number {
    if (n > this.#bytes.length - this.#at) this.#fail(field, "is truncated");
    const at = this.#at;
    this.#at += n;
    return at;
  }

  u8(field = "u8"): number {
    return this.#bytes[this.#take(1, field)];
  }

  u16(field = "u16"): number {
    const at = this.#take(2, field);
    return (this.#bytes[at] << 8) | this.#bytes[at + 1];
  }

  u32(field = "u32"): number {
    return this.#get32(this.#take(4, field));
  }

  /** The four bytes at `at`, big-endian (already taken). */
  #get32(at: number): number {
    const b = this.#bytes;
    return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
  }

  /** An integer up to 2^53 − 1; larger ones are refused. */
  u64(field = "u64"): number {
    const at = this.#take(8, field);
    const high = this.#get32(at);
    // 2^53 - 1 is the largest: a high half above 2^21 - 1 is refused.
    if (high > 0x1f_ffff) this.#fail(field, "is too large");
    return high * 2 ** 32 + this.#get32(at + 4);
  }

  /** Exactly `n` bytes, copied. */
  raw(n: number, field = "field"): Uint8Array {
    const at = this.#take(n, field);
    return this.#bytes.slice(at, at + n);
  }

  /** Exactly `n` bytes as a view into the input (no copy; mutating the input changes it). */
  rawView(n: number, field = "field"): Uint8Array {
    const at = this.#take(n, field);
    return this.#bytes.subarray(at, at + n);
  }

  #length(prefix: number, max: number, field: string): number {
    if (prefix > max) this.#fail(field, `has ${prefix} bytes, more than ${max}`);
    return prefix;
  }

  /** A u16-prefixed field of at most `max` bytes, copied. */
  bytes16(max: number, field = "field"): Uint8Array {
    return this.raw(this.#length(this.u16(field), max, field), field);
  }

  /** A u32-prefixed field of at most `max` bytes, copied. */
  bytes32(max: number, field = "field"): Uint8Array {
    return this.raw(this.#length(this.u32(field), max, field), field);
  }

  /** A u32-prefixed field of at most `max` bytes, as a view (large bodies: no copy). */
  bytes32View(max: number, field = "field"): Uint8Array {
    return this.rawView(this.#length(this.u32(field), max, field), field);
  }

  /** A u16-prefixed UTF-8 string of at most `maxBytes`; invalid UTF-8 is refused. */
  str16(maxBytes: number, field = "string"): string {
    const bytes = this.rawView(this.#length(this.u16(field), maxBytes, field), field);
    try {
      return DECODER.decode(bytes);
    } catch (cause) {
      throw new CodecError(`Cannot decode ${this.#what}: ${field} is not UTF-8`, { cause });
    }
  }

  /** Everything not yet read, copied. */
  rest(): Uint8Array {
    return this.raw(this.remaining, "rest");
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (this.remaining !== 0) {
      throw new CodecError(`Cannot decode ${this.#what}: ${this.remaining} trailing bytes`);
    }
  }
}
