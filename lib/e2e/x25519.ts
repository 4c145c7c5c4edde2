/**
 * X25519 (RFC 7748) on WebCrypto with raw 32-byte keys, so that keys are plain data
 * that state can store and frozen vectors can fix.
 *
 * WebCrypto imports an X25519 private key only as PKCS #8 (RFC 8410 §7), so a raw
 * key is wrapped in the fixed 16-byte PKCS #8 prefix before import.
 */
import { constantTimeEqual } from "./ed25519.ts";
import { CodecError, VerifyError } from "./errors.ts";
import { type Random, SYSTEM_RANDOM } from "./random.ts";

/** Length of X25519 private keys, public keys and shared secrets (RFC 7748 §5). */
export const X25519_KEY_BYTES = 32;

// RFC 8410 §7: SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.110 }, OCTET STRING { OCTET STRING (32) } }
const PKCS8_PREFIX = Uint8Array.from([
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
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
]);

const P = (1n << 255n) - 19n;

// u-coordinates (reduced mod p) whose points have order 1, 2, 4 or 8 on Curve25519 or
// its twist; the same set as libsodium's X25519 blocklist once p and p + 1 reduce to 0
// and 1. X25519 with any of them yields a key independent of our private scalar.
const LOW_ORDER_U: readonly bigint[] = [
  0n,
  1n,
  P - 1n,
  0x00b8495f16056286fdb1329ceb8d09da6ac49ff1fae35616aeb8413b7c7aebe0n,
  0x57119fd0dd4e22d8868e1c58c45c44045bef839c55b1d0b1248c50a3bc959c5fn,
];

/** An X25519 key pair as raw bytes. */
export interface X25519KeyPair {
  /** 32-byte private scalar (clamped by X25519 itself, RFC 7748 §5). */
  readonly privateKey: Uint8Array;
  /** 32-byte public u-coordinate. */
  readonly publicKey: Uint8Array;
}

function decodeU(raw: Uint8Array): bigint {
  // RFC 7748 §5: mask the most significant bit, then read little-endian.
  let u = 0n;
  for (let i = 31; i >= 0; i--) u = (u << 8n) | BigInt(i === 31 ? raw[i] & 0x7f : raw[i]);
  return u % P;
}

/**
 * Refuses a public key that is not 32 bytes or whose u-coordinate (top bit masked,
 * reduced mod p, so non-canonical encodings are covered) is a low-order point.
 *
 * @throws {CodecError} wrong length
 * @throws {VerifyError} low-order point
 */
export function checkX25519PublicKey(raw: Uint8Array): void {
  if (!(raw instanceof Uint8Array) || raw.length !== X25519_KEY_BYTES) {
    throw new CodecError(`Cannot import X25519 public key: expected ${X25519_KEY_BYTES} bytes`);
  }
  const u = decodeU(raw);
  // Compare all five so the time does not tell which one matched.
  let bad = false;
  for (const low of LOW_ORDER_U) bad = (u === low) || bad;
  if (bad) throw new VerifyError("Cannot import X25519 public key: low-order point");
}

function pkcs8(privateKey: Uint8Array): Uint8Array {
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== X25519_KEY_BYTES) {
    throw new CodecError(`Cannot import X25519 private key: expected ${X25519_KEY_BYTES} bytes`);
  }
  const out = new Uint8Array(PKCS8_PREFIX.length + X25519_KEY_BYTES);
  out.set(PKCS8_PREFIX);
  out.set(privateKey, PKCS8_PREFIX.length);
  return out;
}

function base64UrlToBytes(text: string): Uint8Array {
  return Uint8Array.fromBase64(text, { alphabet: "base64url" });
}

/** The public key of a raw private key (RFC 7748 §6.1: X25519(a, 9)). */
export async function x25519PublicKey(privateKey: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "pkcs8",
    pkcs8(privateKey) as BufferSource,
    { name: "X25519" },
    true,
    ["deriveBits"],
  );
  const jwk = await crypto.subtle.exportKey("jwk", key);
  if (typeof jwk.x !== "string") throw new CodecError("Cannot export X25519 public key");
  return base64UrlToBytes(jwk.x);
}

/** Makes a key pair from 32 bytes of `random`. */
export async function generateX25519KeyPair(
  random: Random = SYSTEM_RANDOM,
): Promise<X25519KeyPair> {
  const privateKey = random.bytes(X25519_KEY_BYTES);
  return { privateKey, publicKey: await x25519PublicKey(privateKey) };
}

/**
 * X25519(privateKey, publicKey) (RFC 7748 §6.1), refusing low-order peers.
 *
 * @throws {VerifyError} a low-order public key, or an all-zero shared secret
 * @throws {CodecError} wrong key length
 */
export async function x25519(privateKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array> {
  checkX25519PublicKey(publicKey);
  const [priv, pub] = await Promise.all([
    crypto.subtle.importKey("pkcs8", pkcs8(privateKey) as BufferSource, { name: "X25519" }, false, [
      "deriveBits",
    ]),
    crypto.subtle.importKey("raw", publicKey as BufferSource, { name: "X25519" }, true, []),
  ]);
  let shared: Uint8Array;
  try {
    shared = new Uint8Array(
      await crypto.subtle.deriveBits({ name: "X25519", public: pub }, priv, 256),
    );
  } catch (cause) {
    // WebCrypto throws OperationError on an all-zero result (RFC 7748 §6.1 check).
    throw new VerifyError("Cannot agree X25519 key: peer key refused", { cause });
  }
  if (constantTimeEqual(shared, new Uint8Array(X25519_KEY_BYTES))) {
    throw new VerifyError("Cannot agree X25519 key: all-zero shared secret");
  }
  return shared;
}

/** Canonical encodings of the refused u-coordinates, exported for tests. */
export const X25519_LOW_ORDER_KEYS: readonly Uint8Array[] = LOW_ORDER_U.map((u) => {
  const out = new Uint8Array(32);
  let v = u;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
});
