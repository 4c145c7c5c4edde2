/**
 * An identity stored under a passphrase: PBKDF2-HMAC-SHA-256 (RFC 8018 §5.2) with
 * 600,000 iterations by default (OWASP 2023 guidance for PBKDF2-SHA-256) and a
 * 16-byte random salt, then AES-256-GCM. Byte layout (version 1):
 *
 *   version u8 = 1 | kdf u8 = 1 (PBKDF2-SHA-256) | iterations u32 | salt [16] | nonce [12]
 *   | AES-256-GCM(encodeIdentityKeyPair) [194 + 16]
 *
 * The 34 header bytes are the associated data, so a changed cost or salt fails.
 */
import { ByteReader, ByteWriter } from "./byte_codec.ts";
import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES, WEBCRYPTO_AEAD } from "./aead.ts";
import { CodecError, DecryptError } from "./errors.ts";
import {
  decodeIdentityKeyPair,
  encodeIdentityKeyPair,
  IDENTITY_KEY_PAIR_BYTES,
  type IdentityKeyPair,
} from "./identity.ts";
import { type Random, SYSTEM_RANDOM } from "./random.ts";

/** Version byte of a sealed identity. */
export const SEALED_IDENTITY_VERSION = 1;
/** Default PBKDF2 iteration count. */
export const DEFAULT_PBKDF2_ITERATIONS = 600_000;
/** Lowest accepted iteration count (tests only go this low). */
export const MIN_PBKDF2_ITERATIONS = 1_000;
/** Highest accepted iteration count, so a stored file cannot stall the opener. */
export const MAX_PBKDF2_ITERATIONS = 10_000_000;
/** Encoded length of a sealed identity. */
export const SEALED_IDENTITY_BYTES = 34 + IDENTITY_KEY_PAIR_BYTES + AEAD_TAG_BYTES;

const KDF_PBKDF2_SHA256 = 1;
const SALT_BYTES = 16;

/** Options of {@linkcode sealIdentity}. */
export interface SealIdentityOptions {
  /** The passphrase; NFC-normalised, then UTF-8. */
  passphrase: string;
  /** PBKDF2 iterations, default {@linkcode DEFAULT_PBKDF2_ITERATIONS}. */
  iterations?: number;
  /** Randomness for salt and nonce. */
  random?: Random;
}

async function deriveKey(passphrase: string, salt: Uint8Array, iterations: number) {
  const secret = new TextEncoder().encode(passphrase.normalize("NFC"));
  const base = await crypto.subtle.importKey("raw", secret, { name: "PBKDF2" }, false, [
    "deriveBits",
  ]);
  const params = { name: "PBKDF2", hash: "SHA-256", salt: salt as BufferSource, iterations };
  return new Uint8Array(await crypto.subtle.deriveBits(params, base, 256));
}

function checkIterations(iterations: number): void {
  if (
    !Number.isInteger(iterations) || iterations < MIN_PBKDF2_ITERATIONS ||
    iterations > MAX_PBKDF2_ITERATIONS
  ) {
    throw new RangeError(
      `Cannot use PBKDF2 iterations "${iterations}": expected ${MIN_PBKDF2_ITERATIONS} to ${MAX_PBKDF2_ITERATIONS}`,
    );
  }
}

/** Encrypts an identity under a passphrase. */
export async function sealIdentity(
  identity: IdentityKeyPair,
  { passphrase, iterations = DEFAULT_PBKDF2_ITERATIONS, random = SYSTEM_RANDOM }:
    SealIdentityOptions,
): Promise<Uint8Array> {
  checkIterations(iterations);
  const salt = random.bytes(SALT_BYTES);
  const nonce = random.bytes(AEAD_NONCE_BYTES);
  const header = new ByteWriter().u8(SEALED_IDENTITY_VERSION).u8(KDF_PBKDF2_SHA256).u32(iterations)
    .raw(salt).raw(nonce).finish();
  const key = await deriveKey(passphrase, salt, iterations);
  const plaintext = encodeIdentityKeyPair(identity);
  const sealed = await WEBCRYPTO_AEAD.seal(key, nonce, plaintext, header);
  key.fill(0);
  plaintext.fill(0);
  return new ByteWriter().raw(header).raw(sealed).finish();
}

/** A sealed identity's fields, read before any passphrase is tried. */
export interface SealedIdentity {
  /** PBKDF2 iterations, within the accepted range. */
  readonly iterations: number;
  readonly salt: Uint8Array;
  readonly nonce: Uint8Array;
  /** The 34 header bytes: the AEAD's associated data. */
  readonly header: Uint8Array;
  /** AES-256-GCM ciphertext and tag. */
  readonly body: Uint8Array;
}

/**
 * Decodes a sealed identity's layout; derives no key.
 *
 * @throws {CodecError} wrong length, version, KDF or cost
 */
export function decodeSealedIdentity(sealed: Uint8Array): SealedIdentity {
  const reader = new ByteReader(sealed, "sealed identity");
  if (reader.remaining !== SEALED_IDENTITY_BYTES) {
    throw new CodecError(`Cannot decode sealed identity: expected ${SEALED_IDENTITY_BYTES} bytes`);
  }
  const version = reader.u8();
  if (version !== SEALED_IDENTITY_VERSION) {
    throw new CodecError(`Cannot decode sealed identity: unknown version "${version}"`);
  }
  const kdf = reader.u8();
  if (kdf !== KDF_PBKDF2_SHA256) {
    throw new CodecError(`Cannot decode sealed identity: unknown KDF "${kdf}"`);
  }
  const iterations = reader.u32();
  try {
    checkIterations(iterations);
  } catch (cause) {
    throw new CodecError("Cannot decode sealed identity: iteration count out of range", { cause });
  }
  const salt = reader.raw(SALT_BYTES);
  const nonce = reader.raw(AEAD_NONCE_BYTES);
  const header = sealed.slice(0, reader.offset);
  return { iterations, salt, nonce, header, body: reader.rest() };
}

/**
 * Decrypts a sealed identity.
 *
 * @throws {CodecError} wrong length, version, KDF or cost
 * @throws {DecryptError} wrong passphrase or altered bytes
 */
export async function openIdentity(
  sealed: Uint8Array,
  { passphrase }: { passphrase: string },
): Promise<IdentityKeyPair> {
  const { iterations, salt, nonce, header, body } = decodeSealedIdentity(sealed);
  const key = await deriveKey(passphrase, salt, iterations);
  let plaintext: Uint8Array;
  try {
    plaintext = await WEBCRYPTO_AEAD.open(key, nonce, body, header);
  } catch (cause) {
    throw new DecryptError("Cannot open identity: wrong passphrase or damaged data", { cause });
  } finally {
    key.fill(0);
  }
  try {
    return await decodeIdentityKeyPair(plaintext);
  } finally {
    plaintext.fill(0);
  }
}
