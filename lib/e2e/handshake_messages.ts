/**
 * Wire encodings of the chat handshake (see handshake.ts for the protocol).
 *
 *   ChatRequest    = version u8 = 2 | kind u8 = 1 | from | to | createdAtMs u64 | nonce [16]
 *                    | identity [129] | ephemeralKey [32] | kemEncapsulationKey [1184]
 *                    | sealedIntro (u16 len + 0 to 4,145 bytes) | signature [64]
 *   ChatAcceptance = version u8 = 1 | kind u8 = 2 | from | to | requestHash [32]
 *                    | identity [129] | ephemeralKey [32] | kemCiphertext [1088]
 *                    | confirmation [32] | signature [64]
 *   HandshakeConfirm = version u8 = 1 | kind u8 = 3 | requestHash [32] | confirmation [32]
 *   PendingChatRequest (local, secret) = version u8 = 1 | kind u8 = 0x81
 *                    | ephemeralPrivateKey [32] | kemSeed [64] | request (u16 len + bytes)
 *
 * from / to are addresses (u16 length + UTF-8, 1 to 320 bytes). Each signature covers
 * a label and every byte before it: in a request that includes the sealed intro (so
 * no relay can swap it), the sender's clock and a random nonce (so a receiver can
 * judge freshness and remember what it has seen). Version 1 requests (no intro,
 * time or nonce under the signature) are no longer decoded.
 */
import { ByteReader, ByteWriter } from "./byte_codec.ts";
import { checkLength } from "./_bytes.ts";
import { ED25519_SIGNATURE_BYTES } from "./ed25519.ts";
import { CodecError } from "./errors.ts";
import { encodePublicIdentity, type PublicIdentity, readPublicIdentity } from "./identity.ts";
import {
  MLKEM768_CIPHERTEXT_BYTES,
  MLKEM768_ENCAPSULATION_KEY_BYTES,
  MLKEM768_SEED_BYTES,
} from "./mlkem.ts";
import { MAX_INTRO_BYTES } from "./intro_seal.ts";
import { MAX_ADDRESS_BYTES } from "./ratchet_state.ts";
import { X25519_KEY_BYTES } from "./x25519.ts";

/** Version byte of acceptances, confirmations and stored pending requests. */
export const HANDSHAKE_VERSION = 1;
/** Version byte of chat requests. */
export const CHAT_REQUEST_VERSION = 2;
/** Bytes of a request's nonce. */
export const CHAT_REQUEST_NONCE_BYTES = 16;
/** Largest sealed intro a request carries (intro_seal.ts: version, key, intro, tag). */
export const MAX_SEALED_INTRO_BYTES = 1 + 32 + MAX_INTRO_BYTES + 16;
/** Largest encoded chat request. */
export const MAX_CHAT_REQUEST_BYTES = 2 + 2 * (2 + MAX_ADDRESS_BYTES) + 8 +
  CHAT_REQUEST_NONCE_BYTES + 129 + 32 + 1184 + 2 + MAX_SEALED_INTRO_BYTES + 64;
/** Largest encoded chat acceptance. */
export const MAX_CHAT_ACCEPTANCE_BYTES = 2 + 2 * (2 + MAX_ADDRESS_BYTES) + 32 + 129 + 32 + 1088 +
  32 + 64;

const KIND_REQUEST = 1;
const KIND_ACCEPTANCE = 2;
const KIND_CONFIRM = 3;
const KIND_PENDING = 0x81;

/** The fields of a chat request. */
export interface ChatRequestFields {
  readonly from: string;
  readonly to: string;
  /** The sender's clock when it made the request (judged by the receiver, never trusted). */
  readonly createdAtMs: number;
  /** 16 random bytes: two requests never sign the same bytes. */
  readonly nonce: Uint8Array;
  readonly identity: PublicIdentity;
  readonly ephemeralKey: Uint8Array;
  readonly kemEncapsulationKey: Uint8Array;
  /** The intro sealed to the recipient (intro_seal.ts); may be empty. */
  readonly sealedIntro: Uint8Array;
}

/** A decoded chat request; `signed` is the exact byte range the signature covers. */
export interface ChatRequestMessage extends ChatRequestFields {
  readonly signature: Uint8Array;
  readonly signed: Uint8Array;
  readonly bytes: Uint8Array;
}

/** The fields of a chat acceptance. */
export interface ChatAcceptanceFields {
  readonly from: string;
  readonly to: string;
  readonly requestHash: Uint8Array;
  readonly identity: PublicIdentity;
  readonly ephemeralKey: Uint8Array;
  readonly kemCiphertext: Uint8Array;
}

/** A decoded chat acceptance. */
export interface ChatAcceptanceMessage extends ChatAcceptanceFields {
  readonly confirmation: Uint8Array;
  readonly signature: Uint8Array;
  /** Bytes before the confirmation: what the transcript hash covers. */
  readonly transcriptPart: Uint8Array;
  /** Bytes before the signature: what the signature covers. */
  readonly signed: Uint8Array;
}

function checkAddress(address: unknown, what: string): string {
  const length = typeof address === "string" ? new TextEncoder().encode(address).length : 0;
  if (typeof address !== "string" || length < 1 || length > MAX_ADDRESS_BYTES) {
    throw new CodecError(`Cannot use ${what} address: expected 1 to ${MAX_ADDRESS_BYTES} bytes`);
  }
  return address;
}

function readHead(r: ByteReader, kind: number, what: string, expected = HANDSHAKE_VERSION): void {
  const version = r.u8();
  if (version !== expected) {
    throw new CodecError(`Cannot decode ${what}: unknown version "${version}"`);
  }
  const k = r.u8();
  if (k !== kind) throw new CodecError(`Cannot decode ${what}: wrong kind "${k}"`);
}

function readAddress(r: ByteReader, what: string): string {
  return checkAddress(r.str16(MAX_ADDRESS_BYTES), what);
}

/** Encodes the signed part of a chat request (everything but the signature). */
export function encodeChatRequestBody(f: ChatRequestFields): Uint8Array {
  if (f.sealedIntro.length > MAX_SEALED_INTRO_BYTES) {
    throw new RangeError(
      `Cannot encode chat request: sealed intro over ${MAX_SEALED_INTRO_BYTES} bytes`,
    );
  }
  return new ByteWriter().u8(CHAT_REQUEST_VERSION).u8(KIND_REQUEST)
    .str16(checkAddress(f.from, "sender")).str16(checkAddress(f.to, "recipient"))
    .u64(f.createdAtMs)
    .raw(checkLength(f.nonce, CHAT_REQUEST_NONCE_BYTES, "request nonce"))
    .raw(encodePublicIdentity(f.identity))
    .raw(checkLength(f.ephemeralKey, X25519_KEY_BYTES, "ephemeral key"))
    .raw(checkLength(f.kemEncapsulationKey, MLKEM768_ENCAPSULATION_KEY_BYTES, "ML-KEM key"))
    .bytes16(f.sealedIntro)
    .finish();
}

/**
 * Decodes a chat request (structure only).
 *
 * @throws {CodecError} any length, version, kind or field is wrong
 */
export function decodeChatRequest(bytes: Uint8Array): ChatRequestMessage {
  const r = new ByteReader(bytes, "chat request");
  if (r.remaining > MAX_CHAT_REQUEST_BYTES) {
    throw new CodecError("Cannot decode chat request: too long");
  }
  readHead(r, KIND_REQUEST, "chat request", CHAT_REQUEST_VERSION);
  const from = readAddress(r, "sender");
  const to = readAddress(r, "recipient");
  const createdAtMs = r.u64();
  const nonce = r.raw(CHAT_REQUEST_NONCE_BYTES);
  const identity = readPublicIdentity(r);
  const ephemeralKey = r.raw(X25519_KEY_BYTES);
  const kemEncapsulationKey = r.raw(MLKEM768_ENCAPSULATION_KEY_BYTES);
  const sealedIntro = r.bytes16(MAX_SEALED_INTRO_BYTES);
  const signed = bytes.slice(0, r.offset);
  const signature = r.raw(ED25519_SIGNATURE_BYTES);
  r.end();
  return {
    from,
    to,
    createdAtMs,
    nonce,
    identity,
    ephemeralKey,
    kemEncapsulationKey,
    sealedIntro,
    signature,
    signed,
    bytes: bytes.slice(),
  };
}

/** Encodes the part of an acceptance the transcript hash covers (up to the confirmation). */
export function encodeChatAcceptanceBody(f: ChatAcceptanceFields): Uint8Array {
  return new ByteWriter().u8(HANDSHAKE_VERSION).u8(KIND_ACCEPTANCE)
    .str16(checkAddress(f.from, "sender")).str16(checkAddress(f.to, "recipient"))
    .raw(checkLength(f.requestHash, 32, "request hash"))
    .raw(encodePublicIdentity(f.identity))
    .raw(checkLength(f.ephemeralKey, X25519_KEY_BYTES, "ephemeral key"))
    .raw(checkLength(f.kemCiphertext, MLKEM768_CIPHERTEXT_BYTES, "ML-KEM ciphertext"))
    .finish();
}

/**
 * Decodes a chat acceptance (structure only).
 *
 * @throws {CodecError} any length, version, kind or field is wrong
 */
export function decodeChatAcceptance(bytes: Uint8Array): ChatAcceptanceMessage {
  const r = new ByteReader(bytes, "chat acceptance");
  if (r.remaining > MAX_CHAT_ACCEPTANCE_BYTES) {
    throw new CodecError("Cannot decode chat acceptance: too long");
  }
  readHead(r, KIND_ACCEPTANCE, "chat acceptance");
  const from = readAddress(r, "sender");
  const to = readAddress(r, "recipient");
  const requestHash = r.raw(32);
  const identity = readPublicIdentity(r);
  const ephemeralKey = r.raw(X25519_KEY_BYTES);
  const kemCiphertext = r.raw(MLKEM768_CIPHERTEXT_BYTES);
  const transcriptPart = bytes.slice(0, r.offset);
  const confirmation = r.raw(32);
  const signed = bytes.slice(0, r.offset);
  const signature = r.raw(ED25519_SIGNATURE_BYTES);
  r.end();
  return {
    from,
    to,
    requestHash,
    identity,
    ephemeralKey,
    kemCiphertext,
    confirmation,
    signature,
    transcriptPart,
    signed,
  };
}

/** Encodes the initiator's explicit key confirmation. */
export function encodeHandshakeConfirm(
  requestHash: Uint8Array,
  confirmation: Uint8Array,
): Uint8Array {
  return new ByteWriter().u8(HANDSHAKE_VERSION).u8(KIND_CONFIRM)
    .raw(checkLength(requestHash, 32, "request hash"))
    .raw(checkLength(confirmation, 32, "confirmation")).finish();
}

/**
 * Decodes a handshake confirmation.
 *
 * @throws {CodecError} wrong length, version or kind
 */
export function decodeHandshakeConfirm(
  bytes: Uint8Array,
): { requestHash: Uint8Array; confirmation: Uint8Array } {
  const r = new ByteReader(bytes, "handshake confirmation");
  if (r.remaining !== 66) {
    throw new CodecError("Cannot decode handshake confirmation: expected 66 bytes");
  }
  readHead(r, KIND_CONFIRM, "handshake confirmation");
  const requestHash = r.raw(32);
  const confirmation = r.raw(32);
  r.end();
  return { requestHash, confirmation };
}

/** The initiator's secrets between sending a request and reading its acceptance. */
export interface PendingChatRequest {
  /** X25519 ephemeral private key, 32 bytes. */
  readonly ephemeralPrivateKey: Uint8Array;
  /** ML-KEM-768 seed, 64 bytes. */
  readonly kemSeed: Uint8Array;
  /** The encoded request as sent. */
  readonly request: Uint8Array;
}

/** Encodes a pending request for storage (secret). */
export function encodePendingChatRequest(p: PendingChatRequest): Uint8Array {
  return new ByteWriter().u8(HANDSHAKE_VERSION).u8(KIND_PENDING)
    .raw(checkLength(p.ephemeralPrivateKey, X25519_KEY_BYTES, "ephemeral private key"))
    .raw(checkLength(p.kemSeed, MLKEM768_SEED_BYTES, "ML-KEM seed"))
    .bytes16(p.request).finish();
}

/**
 * Decodes a stored pending request; checks that the request inside decodes.
 *
 * @throws {CodecError} wrong length, version or kind
 */
export function decodePendingChatRequest(bytes: Uint8Array): PendingChatRequest {
  const r = new ByteReader(bytes, "pending chat request");
  if (r.remaining > 2 + 32 + 64 + 2 + MAX_CHAT_REQUEST_BYTES) {
    throw new CodecError("Cannot decode pending chat request: too long");
  }
  readHead(r, KIND_PENDING, "pending chat request");
  const ephemeralPrivateKey = r.raw(X25519_KEY_BYTES);
  const kemSeed = r.raw(MLKEM768_SEED_BYTES);
  const request = r.bytes16(MAX_CHAT_REQUEST_BYTES);
  r.end();
  decodeChatRequest(request);
  return { ephemeralPrivateKey, kemSeed, request };
}
