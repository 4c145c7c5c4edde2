/**
 * The Double Ratchet message on the wire (Double Ratchet §3.4 header + AEAD output):
 *
 *   version u8 = 1 | dh [32] | pn u32 | n u32 | AES-256-GCM ciphertext || tag [>= 16]
 *
 * The first 41 bytes are the header; they are part of the associated data.
 */
import { ByteReader, ByteWriter } from "./byte_codec.ts";
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
  // Sized exactly: finish() hands out the writer's buffer, no copy.
  return new ByteWriter(RATCHET_HEADER_BYTES)
    .u8(RATCHET_MESSAGE_VERSION)
    .raw(checkLength(header.dh, X25519_KEY_BYTES, "ratchet key"))
    .u32(header.pn)
    .u32(header.n)
    .finish();
}

/**
 * Decodes a ratchet message. The header's key, the header bytes and the
 * sealed part are views into `bytes` (no copies: the ratchet reads them once
 * and copies what it keeps); do not change `bytes` while using them.
 *
 * @throws {CodecError} too short, too long or unknown version
 */
export function decodeRatchetMessage(bytes: Uint8Array): RatchetMessage {
  const reader = new ByteReader(bytes, "ratchet message");
  if (reader.remaining > MAX_RATCHET_MESSAGE_BYTES) {
    throw new CodecError("Cannot decode ratchet message: too long");
  }
  if (reader.remaining < RATCHET_HEADER_BYTES + AEAD_TAG_BYTES) {
    throw new CodecError("Cannot decode ratchet message: too short");
  }
  const version = reader.u8();
  if (version !== RATCHET_MESSAGE_VERSION) {
    throw new CodecError(`Cannot decode ratchet message: unknown version "${version}"`);
  }
  const header = { dh: reader.rawView(X25519_KEY_BYTES), pn: reader.u32(), n: reader.u32() };
  return {
    header,
    headerBytes: bytes.subarray(0, RATCHET_HEADER_BYTES),
    sealed: reader.rawView(reader.remaining),
  };
}
