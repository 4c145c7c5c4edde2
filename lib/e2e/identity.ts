/**
 * A user identity: an Ed25519 signing key (RFC 8032) and an X25519 key (RFC 7748)
 * signed by it, like Signal's identity key plus signed prekey but long-lived.
 * Public part: {@linkcode PublicIdentity}, 129 bytes on the wire:
 *
 *   version u8 = 1 | signingKey [32] | dhKey [32] | signature [64]
 *
 * where signature = Ed25519(signingSeed, "fedchat/v1/identity" || 0x00 || signingKey || dhKey).
 */
import { ByteReader, ByteWriter } from "./byte_codec.ts";
import { checkLength, concat, utf8 } from "./_bytes.ts";
import {
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SEED_BYTES,
  ED25519_SIGNATURE_BYTES,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  importEd25519PrivateKey,
  importEd25519PublicKey,
} from "./ed25519.ts";
import { CodecError, VerifyError } from "./errors.ts";
import { type Random, SYSTEM_RANDOM } from "./random.ts";
import { checkX25519PublicKey, X25519_KEY_BYTES, x25519PublicKey } from "./x25519.ts";

/** Version byte of the identity encodings. */
export const IDENTITY_VERSION = 1;
/** Encoded length of a {@linkcode PublicIdentity}. */
export const PUBLIC_IDENTITY_BYTES = 1 + 32 + 32 + 64;
/** Encoded length of an {@linkcode IdentityKeyPair}. */
export const IDENTITY_KEY_PAIR_BYTES = 1 + 32 + 32 + PUBLIC_IDENTITY_BYTES;

const DH_KEY_LABEL = utf8("fedchat/v1/identity\0");

/** The public half of an identity, as published and pinned by contacts. */
export interface PublicIdentity {
  /** Ed25519 public key, 32 bytes. */
  readonly signingKey: Uint8Array;
  /** X25519 public key, 32 bytes. */
  readonly dhKey: Uint8Array;
  /** Ed25519 signature of the DH key by the signing key, 64 bytes. */
  readonly signature: Uint8Array;
}

/** A full identity: secrets as raw bytes, plus its public half. */
export interface IdentityKeyPair {
  /** Ed25519 private seed, 32 bytes. */
  readonly signingSeed: Uint8Array;
  /** X25519 private key, 32 bytes. */
  readonly dhPrivateKey: Uint8Array;
  /** The public half. */
  readonly publicIdentity: PublicIdentity;
}

/** Options of {@linkcode generateIdentity}. */
export interface GenerateIdentityOptions {
  /** Randomness; default `crypto.getRandomValues`. */
  random?: Random;
}

/** Builds an identity from 64 bytes of randomness (32 for each key). */
export async function generateIdentity(
  { random = SYSTEM_RANDOM }: GenerateIdentityOptions = {},
): Promise<IdentityKeyPair> {
  const signingSeed = random.bytes(ED25519_SEED_BYTES);
  const dhPrivateKey = random.bytes(X25519_KEY_BYTES);
  const [signingKey, dhKey] = await Promise.all([
    ed25519PublicKey(signingSeed),
    x25519PublicKey(dhPrivateKey),
  ]);
  const signature = await signWithIdentity(
    { signingSeed },
    concat(DH_KEY_LABEL, signingKey, dhKey),
  );
  return { signingSeed, dhPrivateKey, publicIdentity: { signingKey, dhKey, signature } };
}

/** Signs `message` with the identity's Ed25519 key. */
export async function signWithIdentity(
  identity: Pick<IdentityKeyPair, "signingSeed">,
  message: Uint8Array,
): Promise<Uint8Array> {
  return await ed25519Sign(await importEd25519PrivateKey(identity.signingSeed), message);
}

/**
 * Verifies `signature` over `message` by `identity`'s signing key.
 *
 * @throws {VerifyError} refused key or bad signature
 */
export async function verifyByIdentity(
  identity: PublicIdentity,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<void> {
  const key = await importEd25519PublicKey(identity.signingKey);
  if (!(await ed25519Verify(key, signature, message))) {
    throw new VerifyError("Cannot verify signature: invalid");
  }
}

/** Encodes the public half (129 bytes). */
export function encodePublicIdentity(identity: PublicIdentity): Uint8Array {
  return new ByteWriter()
    .u8(IDENTITY_VERSION)
    .raw(checkLength(identity.signingKey, ED25519_PUBLIC_KEY_BYTES, "signing key"))
    .raw(checkLength(identity.dhKey, X25519_KEY_BYTES, "DH key"))
    .raw(checkLength(identity.signature, ED25519_SIGNATURE_BYTES, "identity signature"))
    .finish();
}

/** Reads a public identity from a {@linkcode ByteReader}; structure only. */
export function readPublicIdentity(reader: ByteReader): PublicIdentity {
  const version = reader.u8();
  if (version !== IDENTITY_VERSION) {
    throw new CodecError(`Cannot decode identity: unknown version "${version}"`);
  }
  return {
    signingKey: reader.raw(ED25519_PUBLIC_KEY_BYTES),
    dhKey: reader.raw(X25519_KEY_BYTES),
    signature: reader.raw(ED25519_SIGNATURE_BYTES),
  };
}

/**
 * Decodes the public half; checks structure only: call {@linkcode verifyPublicIdentity}
 * (or use {@linkcode importPublicIdentity}) before trusting it.
 *
 * @throws {CodecError} wrong length or version
 */
export function decodePublicIdentity(bytes: Uint8Array): PublicIdentity {
  const reader = new ByteReader(bytes, "identity");
  if (reader.remaining !== PUBLIC_IDENTITY_BYTES) {
    throw new CodecError(`Cannot decode identity: expected ${PUBLIC_IDENTITY_BYTES} bytes`);
  }
  const identity = readPublicIdentity(reader);
  reader.end();
  return identity;
}

/**
 * Checks both keys (no small-order or non-canonical Ed25519 key, no low-order
 * X25519 key) and the signature binding the DH key to the signing key.
 *
 * @throws {VerifyError} a key is refused or the signature is invalid
 */
export async function verifyPublicIdentity(identity: PublicIdentity): Promise<void> {
  checkX25519PublicKey(identity.dhKey);
  await verifyByIdentity(
    identity,
    concat(DH_KEY_LABEL, identity.signingKey, identity.dhKey),
    identity.signature,
  );
}

/** Decodes and verifies a public identity. */
export async function importPublicIdentity(bytes: Uint8Array): Promise<PublicIdentity> {
  const identity = decodePublicIdentity(bytes);
  await verifyPublicIdentity(identity);
  return identity;
}

/** Encodes a full identity (secret!): version | signingSeed | dhPrivateKey | public identity. */
export function encodeIdentityKeyPair(identity: IdentityKeyPair): Uint8Array {
  return new ByteWriter()
    .u8(IDENTITY_VERSION)
    .raw(checkLength(identity.signingSeed, ED25519_SEED_BYTES, "signing seed"))
    .raw(checkLength(identity.dhPrivateKey, X25519_KEY_BYTES, "DH private key"))
    .raw(encodePublicIdentity(identity.publicIdentity))
    .finish();
}

/**
 * Decodes a full identity and checks that the public half matches the secrets.
 *
 * @throws {CodecError} wrong length or version
 * @throws {VerifyError} the public half does not belong to the secrets
 */
export async function decodeIdentityKeyPair(bytes: Uint8Array): Promise<IdentityKeyPair> {
  const reader = new ByteReader(bytes, "identity key pair");
  if (reader.remaining !== IDENTITY_KEY_PAIR_BYTES) {
    throw new CodecError(
      `Cannot decode identity key pair: expected ${IDENTITY_KEY_PAIR_BYTES} bytes`,
    );
  }
  const version = reader.u8();
  if (version !== IDENTITY_VERSION) {
    throw new CodecError(`Cannot decode identity key pair: unknown version "${version}"`);
  }
  const signingSeed = reader.raw(ED25519_SEED_BYTES);
  const dhPrivateKey = reader.raw(X25519_KEY_BYTES);
  const publicIdentity = readPublicIdentity(reader);
  reader.end();
  const [signingKey, dhKey] = await Promise.all([
    ed25519PublicKey(signingSeed),
    x25519PublicKey(dhPrivateKey),
  ]);
  const matches = signingKey.every((b, i) => b === publicIdentity.signingKey[i]) &&
    dhKey.every((b, i) => b === publicIdentity.dhKey[i]);
  if (!matches) throw new VerifyError("Cannot decode identity key pair: public keys do not match");
  await verifyPublicIdentity(publicIdentity);
  return { signingSeed, dhPrivateKey, publicIdentity };
}
