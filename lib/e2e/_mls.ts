// X-Wing is imported by `import()` below; this makes it a root of the type graph as the static
// import that was here did, or ts-mls's types do not resolve under deno.browser.json (which has
// no lock file). Same version as deno.json's import map.
/// <reference types="npm:@hpke/hybridkem-x-wing@0.7.0" />
/**
 * The one place lib/e2e touches ts-mls (RFC 9420): the ciphersuite, its
 * implementation with our injected randomness, the client configuration (limits,
 * padding, the credential check) and the MLS wire codec. Everything else in
 * lib/e2e and the rest of fedchat sees only fedchat types.
 *
 * ts-mls is imported by deep paths (`ts-mls/<module>.js`), never through its
 * index: the index also loads ts-mls's all-noble crypto provider, which imports
 * `@noble/hashes` without declaring it, so it does not resolve from Deno's npm
 * cache. The default provider used here runs on WebCrypto (SHA-512, HKDF,
 * AES-256-GCM, Ed25519) plus `@hpke/hybridkem-x-wing` (pure TypeScript X-Wing).
 *
 * The provider and X-Wing (HPKE, ML-KEM: about 3 MiB of a process's memory) are
 * loaded by `import()` when the first full suite is made: checking a key
 * package needs only signatures and a hash ({@linkcode mlsVerifier}), so a
 * node that checks its users' key packages never loads them (issue 13).
 */
import type { ClientConfig } from "ts-mls/clientConfig.js";
import type { ClientState } from "ts-mls/clientState.js";
import type { Capabilities } from "ts-mls/capabilities.js";
import type { Credential } from "ts-mls/credential.js";
import {
  type CiphersuiteImpl,
  type CiphersuiteName,
  getCiphersuiteFromName,
} from "ts-mls/crypto/ciphersuite.js";
import type { Hash } from "ts-mls/crypto/hash.js";
import type { Signature } from "ts-mls/crypto/signature.js";
import { makeHashImpl } from "ts-mls/crypto/implementation/default/makeHashImpl.js";
import { makeNobleSignatureImpl } from "ts-mls/crypto/implementation/default/makeNobleSignatureImpl.js";
import { decodeMlsMessage, encodeMlsMessage, type MLSMessage } from "ts-mls/message.js";
import { CodecError } from "./errors.ts";
import type { Random } from "./random.ts";

export type { ClientState, Credential };
export type { KeyPackage, PrivateKeyPackage } from "ts-mls/keyPackage.js";
export type { LeafNode } from "ts-mls/leafNode.js";
export type { MLSMessage };

/**
 * MLS_256_XWING_AES256GCM_SHA512_Ed25519 (ts-mls code point 83): X-Wing
 * (X25519 + ML-KEM-768 hybrid KEM) for HPKE, AES-256-GCM, SHA-512, Ed25519.
 */
export const CIPHERSUITE: CiphersuiteName = "MLS_256_XWING_AES256GCM_SHA512_Ed25519";
/** Its 16-bit code point, bound into credentials. */
export const CIPHERSUITE_ID = 83;

/** MLS extension type (private-use range, RFC 9420 §17.3) of the fedchat group context. */
export const GROUP_CONTEXT_EXTENSION = 0xf0c1;
/** MLS extension type (private-use range) marking a last-resort key package. */
export const LAST_RESORT_EXTENSION = 0xf0c2;

/** Seed length of an X-Wing key pair derived with HPKE DeriveKeyPair. */
const HPKE_IKM_BYTES = 32;

/** Limits that the MLS layer enforces through ts-mls's configuration. */
export interface MlsLimits {
  /** Past epochs whose application messages can still be read. */
  readonly epochWindow: number;
  /** Most steps a sender's ratchet is moved forward by one message. */
  readonly maxForwardSteps: number;
  /** Most unused message keys kept per sender per epoch (out-of-order window). */
  readonly maxSkippedKeys: number;
}

/** Capabilities of every fedchat leaf: this one suite, basic credentials, our extensions. */
export function fedchatCapabilities(): Capabilities {
  // Built here, not with ts-mls's defaultCapabilities(), which adds GREASE values drawn
  // from Math.random and would make key packages depend on uninjected randomness.
  return {
    versions: ["mls10"],
    ciphersuites: [CIPHERSUITE],
    extensions: [GROUP_CONTEXT_EXTENSION, LAST_RESORT_EXTENSION],
    proposals: [],
    credentials: ["basic"],
  };
}

/**
 * The ciphersuite with `random` behind every choice ts-mls lets us make: its Rng
 * (path secrets, epoch secrets, reuse guards) and HPKE key generation (as
 * DeriveKeyPair from random bytes). HPKE encapsulation (X-Wing's own ephemeral
 * randomness) and nothing else stays outside `random`.
 */
export async function mlsSuite(random: Random): Promise<CiphersuiteImpl> {
  const [{ defaultCryptoProvider }] = await Promise.all([
    import("ts-mls/crypto/implementation/default/provider.js"),
    // ts-mls loads X-Wing with a dynamic import of this optional peer dependency;
    // importing it here puts it in the module graph, so Deno resolves the peer and
    // bundlers include it.
    import("@hpke/hybridkem-x-wing"),
  ]);
  const base = await defaultCryptoProvider.getCiphersuiteImpl(getCiphersuiteFromName(CIPHERSUITE));
  return {
    ...base,
    rng: { randomBytes: (n: number) => random.bytes(n) },
    hpke: {
      ...base.hpke,
      generateKeyPair: () => base.hpke.deriveKeyPair(random.bytes(HPKE_IKM_BYTES)),
    },
  };
}

/**
 * What checking signed MLS objects needs of the suite: its signature scheme
 * (Ed25519) and hash (SHA-512), both on WebCrypto, as {@linkcode mlsSuite} has
 * them; no HPKE, so neither X-Wing nor ML-KEM is loaded.
 */
export async function mlsVerifier(): Promise<{ signature: Signature; hash: Hash }> {
  const suite = getCiphersuiteFromName(CIPHERSUITE);
  return {
    signature: await makeNobleSignatureImpl(suite.signature),
    hash: makeHashImpl(crypto.subtle, suite.hash),
  };
}

/** ts-mls client configuration: our limits, padding, and `checkCredential` on every leaf. */
export function mlsClientConfig(
  limits: MlsLimits,
  checkCredential: (credential: Credential, signatureKey: Uint8Array) => Promise<boolean>,
): ClientConfig {
  return {
    keyRetentionConfig: {
      retainKeysForEpochs: limits.epochWindow,
      maximumForwardRatchetSteps: limits.maxForwardSteps,
      retainKeysForGenerations: limits.maxSkippedKeys,
    },
    // ts-mls checks a key package's lifetime against Date.now() when it commits an
    // Add; fedchat checks its own lifetime (in the credential) against the caller's
    // time instead, and leaves the MLS lifetime field wide open.
    lifetimeConfig: { maximumTotalLifetime: 2n ** 63n - 1n, validateLifetimeOnReceive: false },
    keyPackageEqualityConfig: {
      compareKeyPackages: (a, b) =>
        equalBytes(a.leafNode.signaturePublicKey, b.leafNode.signaturePublicKey),
      compareKeyPackageToLeafNode: (a, b) =>
        equalBytes(a.leafNode.signaturePublicKey, b.signaturePublicKey),
    },
    // RFC 9420 §12.1.7: hide lengths below 256 bytes.
    paddingConfig: { kind: "padUntilLength", padUntilLength: 256 },
    authService: { validateCredential: checkCredential },
  };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Encodes an MLSMessage (RFC 9420 §6). */
export function encodeMls(message: MLSMessage): Uint8Array {
  return encodeMlsMessage(message);
}

/**
 * Decodes an MLSMessage (RFC 9420 §6) of at most `maxBytes`, refusing trailing bytes.
 *
 * @throws {CodecError} too long, malformed or not the whole input
 */
export function decodeMls(bytes: Uint8Array, maxBytes: number, what: string): MLSMessage {
  if (!(bytes instanceof Uint8Array)) throw new CodecError(`Cannot decode ${what}: not bytes`);
  if (bytes.length > maxBytes) throw new CodecError(`Cannot decode ${what}: too long`);
  let decoded: [MLSMessage, number] | undefined;
  try {
    decoded = decodeMlsMessage(bytes, 0);
  } catch (cause) {
    throw new CodecError(`Cannot decode ${what}: malformed`, { cause });
  }
  if (decoded === undefined) throw new CodecError(`Cannot decode ${what}: malformed`);
  if (decoded[1] !== bytes.length) throw new CodecError(`Cannot decode ${what}: trailing bytes`);
  return decoded[0];
}
