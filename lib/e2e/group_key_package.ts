/**
 * MLS key packages (RFC 9420 §10) for fedchat: one-time ones, consumed by the
 * first group that adds their owner, and one last-resort one, reused when no
 * one-time package is left. The public package travels as an MLSMessage
 * (`mls_key_package`), at most {@linkcode MAX_GROUP_KEY_PACKAGE_BYTES}. The
 * private part is stored by the client until a Welcome uses it:
 *
 *   version u8 = 1 | lastResort u8 | key package: u16 len + MLSMessage
 *   | init private key: u16 len | HPKE private key: u16 len | signature seed [32]
 */
import { ByteReader, ByteWriter } from "./byte_codec.ts";
import { copy } from "./_bytes.ts";
import {
  CIPHERSUITE,
  decodeMls,
  encodeMls,
  fedchatCapabilities,
  type KeyPackage,
  LAST_RESORT_EXTENSION,
  mlsSuite,
  mlsVerifier,
  type PrivateKeyPackage,
} from "./_mls.ts";
import { defaultLifetime } from "ts-mls/lifetime.js";
import {
  generateKeyPackageWithKey,
  makeKeyPackageRef,
  verifyKeyPackage,
} from "ts-mls/keyPackage.js";
import { verifyLeafNodeSignatureKeyPackage } from "ts-mls/leafNode.js";
import { ED25519_SEED_BYTES, ed25519PublicKey } from "./ed25519.ts";
import { CodecError, VerifyError } from "./errors.ts";
import {
  checkGroupAddress,
  decodeGroupCredential,
  type GroupCredential,
  signGroupCredential,
  verifyGroupCredential,
} from "./group_credential.ts";
import type { IdentityKeyPair, PublicIdentity } from "./identity.ts";
import { type Random, SYSTEM_RANDOM } from "./random.ts";

/** Largest encoded public key package (one is about 2.7 KiB with X-Wing keys). */
export const MAX_GROUP_KEY_PACKAGE_BYTES = 8 * 1024;
/** Version byte of the stored private part. */
export const GROUP_KEY_PACKAGE_SECRET_VERSION = 1;
/** Default lifetime of a generated key package: 30 days. */
export const DEFAULT_GROUP_KEY_PACKAGE_LIFETIME_MS = 30 * 24 * 3600 * 1000;
/** Longest lifetime a key package may claim: 90 days. */
export const MAX_GROUP_KEY_PACKAGE_LIFETIME_MS = 90 * 24 * 3600 * 1000;
/** How far in the future a key package's lifetime may start (clocks drift): 1 hour. */
export const MAX_CLOCK_SKEW_MS = 3600 * 1000;

const MAX_SECRET_BYTES = 1 + 1 + 2 + MAX_GROUP_KEY_PACKAGE_BYTES + 2 * (2 + 4096) +
  ED25519_SEED_BYTES;
// X-Wing (draft-connolly-cfrg-xwing-kem) public key: ML-KEM-768 key [1184] | X25519 key [32].
const XWING_PUBLIC_KEY_BYTES = 1216;

/** A freshly generated key package: the public half to publish, the private half to keep. */
export interface GeneratedGroupKeyPackage {
  /** The public key package (MLSMessage bytes), for the user's node to hand out. */
  readonly keyPackage: Uint8Array;
  /** The private part (secret): store it until a Welcome uses it. */
  readonly secret: Uint8Array;
  /** KeyPackageRef (RFC 9420 §5.2, 64 bytes): names this package in a Welcome. */
  readonly ref: Uint8Array;
  /** Whether this is the last-resort package. */
  readonly lastResort: boolean;
  /** End of its lifetime, ms since the Unix epoch. */
  readonly notAfterMs: number;
}

/** A received key package that passed {@linkcode readGroupKeyPackage}. */
export interface VerifiedGroupKeyPackage {
  /** Owner's address, `name@node`. */
  readonly address: string;
  /** Owner's fedchat identity (compare with the pinned one before adding). */
  readonly identity: PublicIdentity;
  /** KeyPackageRef, 64 bytes. */
  readonly ref: Uint8Array;
  readonly lastResort: boolean;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  /** The encoded key package, as received. */
  readonly bytes: Uint8Array;
}

/** Options of {@linkcode generateGroupKeyPackage}. */
export interface GenerateGroupKeyPackageOptions {
  /** The owner's fedchat identity; it signs the credential binding. */
  identity: IdentityKeyPair;
  /** The owner's address, `name@node`. */
  address: string;
  /** The caller's clock, ms since the Unix epoch: the lifetime starts here. */
  nowMs: number;
  /** Lifetime; default 30 days, at most 90. */
  lifetimeMs?: number;
  /** Marks the last-resort package (reused until replaced); default false. */
  lastResort?: boolean;
  /** Randomness for every key; default `crypto.getRandomValues`. */
  random?: Random;
}

/**
 * Generates a key package: a fresh Ed25519 leaf signature key bound to the
 * identity, and fresh X-Wing init and leaf keys.
 *
 * @throws {RangeError} lifetime out of range
 * @throws {CodecError} the address is not `name@node`
 */
export async function generateGroupKeyPackage(
  {
    identity,
    address,
    nowMs,
    lifetimeMs = DEFAULT_GROUP_KEY_PACKAGE_LIFETIME_MS,
    lastResort = false,
    random = SYSTEM_RANDOM,
  }: GenerateGroupKeyPackageOptions,
): Promise<GeneratedGroupKeyPackage> {
  checkGroupAddress(address);
  if (!Number.isSafeInteger(nowMs) || nowMs < 0) {
    throw new RangeError("Cannot generate key package: nowMs is not a time");
  }
  if (
    !Number.isSafeInteger(lifetimeMs) || lifetimeMs <= 0 ||
    lifetimeMs > MAX_GROUP_KEY_PACKAGE_LIFETIME_MS
  ) {
    throw new RangeError("Cannot generate key package: lifetime out of range");
  }
  const cs = await mlsSuite(random);
  const signKey = random.bytes(ED25519_SEED_BYTES);
  const publicKey = await ed25519PublicKey(signKey);
  const notAfterMs = nowMs + lifetimeMs;
  const binding = await signGroupCredential(identity, {
    address,
    notBeforeMs: nowMs,
    notAfterMs,
    signatureKey: publicKey,
  });
  const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
    { credentialType: "basic", identity: binding },
    fedchatCapabilities(),
    defaultLifetime,
    lastResort ? [{ extensionType: LAST_RESORT_EXTENSION, extensionData: new Uint8Array() }] : [],
    { signKey, publicKey },
    cs,
  );
  const keyPackage = encodeMls({
    version: "mls10",
    wireformat: "mls_key_package",
    keyPackage: publicPackage,
  });
  return {
    keyPackage,
    secret: encodeSecret(keyPackage, privatePackage, lastResort),
    ref: await makeKeyPackageRef(publicPackage, cs.hash),
    lastResort,
    notAfterMs,
  };
}

function encodeSecret(
  keyPackage: Uint8Array,
  p: PrivateKeyPackage,
  lastResort: boolean,
): Uint8Array {
  return new ByteWriter()
    .u8(GROUP_KEY_PACKAGE_SECRET_VERSION)
    .u8(lastResort ? 1 : 0)
    .bytes16(keyPackage)
    .bytes16(p.initPrivateKey)
    .bytes16(p.hpkePrivateKey)
    .raw(p.signaturePrivateKey)
    .finish();
}

/** A stored private key package, decoded (internal to lib/e2e). */
export interface KeyPackageSecret {
  readonly keyPackage: KeyPackage;
  readonly privatePackage: PrivateKeyPackage;
  readonly lastResort: boolean;
}

/**
 * Decodes the stored private part of a key package.
 *
 * @throws {CodecError} too long, truncated, unknown version or malformed package
 */
export function decodeKeyPackageSecret(bytes: Uint8Array): KeyPackageSecret {
  const r = new ByteReader(bytes, "key package secret");
  if (r.remaining > MAX_SECRET_BYTES) {
    throw new CodecError("Cannot decode key package secret: too long");
  }
  const version = r.u8();
  if (version !== GROUP_KEY_PACKAGE_SECRET_VERSION) {
    throw new CodecError(`Cannot decode key package secret: unknown version "${version}"`);
  }
  const flag = r.u8();
  if (flag > 1) throw new CodecError("Cannot decode key package secret: bad flag");
  const message = decodeMls(
    r.bytes16(MAX_GROUP_KEY_PACKAGE_BYTES),
    MAX_GROUP_KEY_PACKAGE_BYTES,
    "key package",
  );
  if (message.wireformat !== "mls_key_package") {
    throw new CodecError("Cannot decode key package secret: not a key package");
  }
  const privatePackage = {
    initPrivateKey: r.bytes16(4096),
    hpkePrivateKey: r.bytes16(4096),
    signaturePrivateKey: r.raw(ED25519_SEED_BYTES),
  };
  r.end();
  return { keyPackage: message.keyPackage, privatePackage, lastResort: flag === 1 };
}

/** Decoded key package and its credential, structure checked (internal). */
export interface DecodedKeyPackage {
  readonly keyPackage: KeyPackage;
  readonly credential: GroupCredential;
  readonly lastResort: boolean;
}

/**
 * Decodes and structurally checks a key package: wire format, version, our
 * ciphersuite, capabilities, extensions, key lengths, credential encoding.
 * No signature is checked (internal; cheap).
 *
 * @throws {CodecError} anything malformed or not fedchat's
 */
export function decodeGroupKeyPackage(bytes: Uint8Array): DecodedKeyPackage {
  const message = decodeMls(bytes, MAX_GROUP_KEY_PACKAGE_BYTES, "key package");
  if (message.wireformat !== "mls_key_package" || message.version !== "mls10") {
    throw new CodecError("Cannot decode key package: not an MLS 1.0 key package");
  }
  const kp = message.keyPackage;
  if (kp.version !== "mls10" || kp.cipherSuite !== CIPHERSUITE) {
    throw new CodecError("Cannot decode key package: wrong ciphersuite");
  }
  const leaf = kp.leafNode;
  if (leaf.leafNodeSource !== "key_package" || leaf.credential.credentialType !== "basic") {
    throw new CodecError("Cannot decode key package: not a basic-credential key package leaf");
  }
  if (
    !leaf.capabilities.ciphersuites.includes(CIPHERSUITE) ||
    !leaf.capabilities.credentials.includes("basic") ||
    !leaf.capabilities.versions.includes("mls10")
  ) {
    throw new CodecError("Cannot decode key package: capabilities lack fedchat's suite");
  }
  if (
    kp.initKey.length !== XWING_PUBLIC_KEY_BYTES ||
    leaf.hpkePublicKey.length !== XWING_PUBLIC_KEY_BYTES ||
    leaf.signaturePublicKey.length !== 32
  ) {
    throw new CodecError("Cannot decode key package: wrong key length");
  }
  let lastResort = false;
  for (const e of kp.extensions) {
    if (e.extensionType === LAST_RESORT_EXTENSION && e.extensionData.length === 0 && !lastResort) {
      lastResort = true;
    } else {
      throw new CodecError("Cannot decode key package: unexpected extension");
    }
  }
  if (leaf.extensions.length !== 0) {
    throw new CodecError("Cannot decode key package: unexpected leaf extension");
  }
  const credential = decodeGroupCredential(leaf.credential.identity);
  return { keyPackage: kp, credential, lastResort };
}

/** Options of {@linkcode readGroupKeyPackage}. */
export interface ReadGroupKeyPackageOptions {
  /** The caller's clock, ms since the Unix epoch. */
  nowMs: number;
  /** If given, the address the package must belong to. */
  address?: string;
}

/**
 * Validates a received key package (RFC 9420 §10.1): size, structure, our
 * ciphersuite, fedchat lifetime at `nowMs` (with {@linkcode MAX_CLOCK_SKEW_MS}
 * for a start in the future), the credential binding to the owner's identity,
 * the leaf node and key package signatures, distinct init and leaf keys.
 * Costs: decoding is cheap; then four Ed25519 verifications.
 *
 * @throws {VerifyError} anything wrong, with the detail in `cause`
 */
export async function readGroupKeyPackage(
  bytes: Uint8Array,
  { nowMs, address }: ReadGroupKeyPackageOptions,
): Promise<VerifiedGroupKeyPackage> {
  try {
    const { keyPackage, credential, lastResort } = decodeGroupKeyPackage(bytes);
    if (address !== undefined && credential.address !== address) {
      throw new VerifyError("Cannot read key package: belongs to another address");
    }
    if (
      nowMs > credential.notAfterMs || credential.notBeforeMs > nowMs + MAX_CLOCK_SKEW_MS ||
      credential.notAfterMs - credential.notBeforeMs > MAX_GROUP_KEY_PACKAGE_LIFETIME_MS
    ) {
      throw new VerifyError("Cannot read key package: outside its lifetime");
    }
    if (equal(keyPackage.initKey, keyPackage.leafNode.hpkePublicKey)) {
      throw new VerifyError("Cannot read key package: init key equals leaf key");
    }
    const cs = await mlsVerifier();
    await verifyGroupCredential(credential, keyPackage.leafNode.signaturePublicKey);
    if (
      !(await verifyLeafNodeSignatureKeyPackage(keyPackage.leafNode, cs.signature)) ||
      !(await verifyKeyPackage(keyPackage, cs.signature))
    ) {
      throw new VerifyError("Cannot read key package: bad signature");
    }
    return {
      address: credential.address,
      identity: credential.identity,
      ref: await makeKeyPackageRef(keyPackage, cs.hash),
      lastResort,
      notBeforeMs: credential.notBeforeMs,
      notAfterMs: credential.notAfterMs,
      bytes: copy(bytes),
    };
  } catch (cause) {
    if (cause instanceof VerifyError) throw cause;
    throw new VerifyError("Cannot read key package: invalid", { cause });
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
