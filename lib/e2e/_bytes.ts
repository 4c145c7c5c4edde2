/**
 * Byte helpers shared inside lib/e2e: UTF-8, concatenation, copies and length
 * checks. Private to the folder; the codec is byte_codec.ts.
 */
import { CodecError } from "./errors.ts";

const ENCODER = new TextEncoder();

/** Encodes a string as UTF-8. */
export function utf8(text: string): Uint8Array {
  return ENCODER.encode(text);
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

/** Checks `value` is a Uint8Array of exactly `length` bytes, else throws CodecError. */
export function checkLength(value: unknown, length: number, what: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new CodecError(`Cannot use ${what}: expected ${length} bytes`);
  }
  return value;
}
