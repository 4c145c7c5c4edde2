/**
 * Ed25519 public-key import with the checks WebCrypto leaves out.
 *
 * Deno's and Chromium's WebCrypto import small-order Ed25519 public keys and
 * then verify forged signatures (R = identity, S = 0) under them. Every caller
 * that accepts an Ed25519 public key from outside goes through
 * {@linkcode importEd25519PublicKey}, so the refusal lives in one place.
 */
import { CodecError, VerifyError } from "./errors.ts";

/** Length of a raw Ed25519 public key (RFC 8032 §5.1.5). */
export const ED25519_PUBLIC_KEY_BYTES = 32;
/** Length of an Ed25519 signature (RFC 8032 §5.1.6). */
export const ED25519_SIGNATURE_BYTES = 64;

// p = 2^255 - 19
const P = (1n << 255n) - 19n;

// Canonical encodings of the 8 points of order dividing 8 on edwards25519
// (RFC 8032 §5.1.3 encoding): identity, order 2, two of order 4, four of order 8.
const SMALL_ORDER_HEX = [
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000080",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
];

/** The 8 small-order encodings, exported for tests. */
export const ED25519_SMALL_ORDER_KEYS: readonly Uint8Array[] = SMALL_ORDER_HEX.map(hexToBytes);

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function littleEndianY(raw: Uint8Array): bigint {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? raw[i] & 0x7f : raw[i]);
  return y;
}

/**
 * Tells whether `raw` is an acceptable Ed25519 public key encoding: 32 bytes,
 * canonical (y < p, and no sign bit on x = 0), and not one of the 8 small-order points.
 */
export function checkEd25519PublicKey(raw: Uint8Array): void {
  if (!(raw instanceof Uint8Array) || raw.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new CodecError(
      `Cannot import Ed25519 public key: expected ${ED25519_PUBLIC_KEY_BYTES} bytes`,
    );
  }
  const y = littleEndianY(raw);
  const signBit = (raw[31] & 0x80) !== 0;
  // RFC 8032 §5.1.3: y >= p is non-canonical; x = 0 (y = ±1) with the sign bit set likewise.
  if (y >= P || (signBit && (y === 1n || y === P - 1n))) {
    throw new VerifyError("Cannot import Ed25519 public key: non-canonical encoding");
  }
  for (const bad of ED25519_SMALL_ORDER_KEYS) {
    if (constantTimeEqual(bad, raw)) {
      throw new VerifyError("Cannot import Ed25519 public key: small-order point");
    }
  }
}

/**
 * Imports a raw Ed25519 public key for verification after {@linkcode checkEd25519PublicKey}.
 *
 * @throws {CodecError} wrong length
 * @throws {VerifyError} small-order, non-canonical, or refused by WebCrypto
 */
export async function importEd25519PublicKey(raw: Uint8Array): Promise<CryptoKey> {
  checkEd25519PublicKey(raw);
  try {
    return await crypto.subtle.importKey("raw", raw as BufferSource, { name: "Ed25519" }, true, [
      "verify",
    ]);
  } catch (cause) {
    throw new VerifyError("Cannot import Ed25519 public key: not a valid point", { cause });
  }
}

/**
 * Verifies an Ed25519 signature; returns false (never throws) for a bad signature
 * of the right length.
 */
export async function ed25519Verify(
  publicKey: CryptoKey,
  signature: Uint8Array,
  message: Uint8Array,
): Promise<boolean> {
  if (signature.length !== ED25519_SIGNATURE_BYTES) return false;
  return await crypto.subtle.verify(
    { name: "Ed25519" },
    publicKey,
    signature as BufferSource,
    message as BufferSource,
  );
}

/** Signs `message` with an Ed25519 private key. */
export async function ed25519Sign(privateKey: CryptoKey, message: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.sign({ name: "Ed25519" }, privateKey, message as BufferSource),
  );
}

/** Compares two byte arrays in time independent of where they differ. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

// RFC 8410 §7 PKCS #8 prefix for an Ed25519 private key (OID 1.3.101.112).
const ED25519_PKCS8_PREFIX = Uint8Array.from([
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
]);

/** Length of an Ed25519 private key seed (RFC 8032 §5.1.5). */
export const ED25519_SEED_BYTES = 32;

/**
 * Imports a 32-byte Ed25519 seed (RFC 8032 §5.1.5 private key) as a signing key,
 * through PKCS #8 since WebCrypto has no raw private import.
 *
 * @throws {CodecError} wrong length
 */
export async function importEd25519PrivateKey(
  seed: Uint8Array,
  extractable = false,
): Promise<CryptoKey> {
  if (!(seed instanceof Uint8Array) || seed.length !== ED25519_SEED_BYTES) {
    throw new CodecError(`Cannot import Ed25519 private key: expected ${ED25519_SEED_BYTES} bytes`);
  }
  const der = new Uint8Array(ED25519_PKCS8_PREFIX.length + ED25519_SEED_BYTES);
  der.set(ED25519_PKCS8_PREFIX);
  der.set(seed, ED25519_PKCS8_PREFIX.length);
  return await crypto.subtle.importKey(
    "pkcs8",
    der as BufferSource,
    { name: "Ed25519" },
    extractable,
    ["sign"],
  );
}

/** The 32-byte public key of an Ed25519 seed (RFC 8032 §5.1.5). */
export async function ed25519PublicKey(seed: Uint8Array): Promise<Uint8Array> {
  const key = await importEd25519PrivateKey(seed, true);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  if (typeof jwk.x !== "string") throw new CodecError("Cannot export Ed25519 public key");
  return Uint8Array.fromBase64(jwk.x, { alphabet: "base64url" });
}
