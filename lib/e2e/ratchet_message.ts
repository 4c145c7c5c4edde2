/**
 * The Double Ratchet message on the wire (Double Ratchet §3.4 header + AEAD output):
 *
 *   version u8 = 1 | dh [32] | pn u32 | n u32 | AES-256-GCM ciphertext || tag [>= 16]
 *
 * The first 41 bytes are the header; they are part of the associated data.
 */
import { checkLength } from "./_bytes.ts";
import { AEAD_TAG_BYTES } from "./aead.ts";
import { CodecError } from "./errors.ts";
import { X25519_KEY_BYTES } from "./x25519.ts";

/** Version byte of ratchet messages. */
export const RATCHET_MESSAGE_VERSION = 1;
/** Header length in bytes. */
export const RATCHET_HEADER_BYTES = 1 + 32 + 4 + 4;
/** Largest plaintext a ratchet message carries (1 MiB); files go through file encryption. */
export const MAX_RATCHET_PLAINTEXT_BYTES = 1 << 20;
/** Largest encoded ratchet message. */
export const MAX_RATCHET_MESSAGE_BYTES = RATCHET_HEADER_BYTES + MAX_RATCHET_PLAINTEXT_BYTES +
  AEAD_TAG_BYTES;

/** Double Ratchet §3.4 HEADER(dh_pair, pn, n). */
export interface RatchetHeader {
  /** Sender's current ratchet public key. */
  readonly dh: Uint8Array;
  /** Number of messages in the sender's previous sending chain. */
  readonly pn: number;
  /** Message number in the current sending chain. */
  readonly n: number;
}

/** A decoded ratchet message. */
export interface RatchetMessage {
  readonly header: RatchetHeader;
  /** The encoded header, exactly as received (authenticated as associated data). */
  readonly headerBytes: Uint8Array;
  /** Ciphertext followed by the 16-byte tag. */
  readonly sealed: Uint8Array;
}

/** Encodes a header (41 bytes). */
export function encodeRatchetHeader(header: RatchetHeader): Uint8Array {
  const out = new Uint8Array(RATCHET_HEADER_BYTES);
  out[0] = RATCHET_MESSAGE_VERSION;
  out.set(checkLength(header.dh, X25519_KEY_BYTES, "ratchet key"), 1);
  putU32(out, 1 + X25519_KEY_BYTES, header.pn, "pn");
  putU32(out, 5 + X25519_KEY_BYTES, header.n, "n");
  return out;
}

/** Big-endian, as ByteWriter's u32 (one message a call: no writer and view per header). */
function putU32(out: Uint8Array, at: number, value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`Cannot encode ${what}: ${value} is not an integer from 0 to 4294967295`);
  }
  out[at] = value >>> 24;
  out[at + 1] = value >>> 16;
  out[at + 2] = value >>> 8;
  out[at + 3] = value;
}

/**
 * Decodes a ratchet message. The header's key, the header bytes and the
 * sealed part are views into `bytes` (no copies: the ratchet reads them once
 * and copies what it keeps); do not change `bytes` while using them.
 *
 * @throws {CodecError} too short, too long or unknown version
 */
export function decodeRatchetMessage(bytes: Uint8Array): RatchetMessage {
  if (!(bytes instanceof Uint8Array)) {
    throw new CodecError("Cannot decode ratchet message: not bytes");
  }
  if (bytes.length > MAX_RATCHET_MESSAGE_BYTES) {
    throw new CodecError("Cannot decode ratchet message: too long");
  }
  if (bytes.length < RATCHET_HEADER_BYTES + AEAD_TAG_BYTES) {
    throw new CodecError("Cannot decode ratchet message: too short");
  }
  const version = bytes[0];
  if (version !== RATCHET_MESSAGE_VERSION) {
    throw new CodecError(`Cannot decode ratchet message: unknown version "${version}"`);
  }
  const header = {
    dh: bytes.subarray(1, 1 + X25519_KEY_BYTES),
    pn: getU32(bytes, 1 + X25519_KEY_BYTES),
    n: getU32(bytes, 5 + X25519_KEY_BYTES),
  };
  return {
    header,
    headerBytes: bytes.subarray(0, RATCHET_HEADER_BYTES),
    sealed: bytes.subarray(RATCHET_HEADER_BYTES),
  };
}

function getU32(bytes: Uint8Array, at: number): number {
  return (bytes[at] * 0x100_0000) + ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]);
}
