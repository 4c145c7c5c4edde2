/**
 * How an MLS leaf is bound to a fedchat user: the leaf's credential is an MLS
 * basic credential (RFC 9420 §5.3) whose `identity` is this binding, signed by
 * the user's fedchat identity key (identity.ts), so every group member has an
 * address and the same {@linkcode PublicIdentity} its 1:1 chats pin and show a
 * safety number for.
 *
 *   version u8 = 1 | address: u16 len + UTF-8 | identity [129] (identity.ts)
 *   | notBeforeMs u64 | notAfterMs u64 | signature [64]
 *
 *   signature = Ed25519(identity signing key, "fedchat/v1/mls-credential\0"
 *               | ciphersuite u16 | leaf signature key [32] | every field above but the signature)
 *
 * The leaf's own MLS signature key is fresh for each key package; the binding
 * ties it to the long-term identity without ever signing MLS structures with
 * the identity key. The lifetime is fedchat's key package lifetime, checked
 * against the caller's clock when a key package is read; leaves already in a
 * group are not expired by it.
 */
import { ByteReader, ByteWriter } from "./byte_codec.ts";
import { checkLength, concat, utf8 } from "./_bytes.ts";
import { CIPHERSUITE_ID } from "./_mls.ts";
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES } from "./ed25519.ts";
import { CodecError, VerifyError } from "./errors.ts";
import {
  encodePublicIdentity,
  type IdentityKeyPair,
  PUBLIC_IDENTITY_BYTES,
  type PublicIdentity,
  readPublicIdentity,
  signWithIdentity,
  verifyByIdentity,
  verifyPublicIdentity,
} from "./identity.ts";
import { MAX_ADDRESS_BYTES } from "./ratchet_state.ts";

/** Version byte of the credential binding. */
export const GROUP_CREDENTIAL_VERSION = 1;
/** Largest encoded credential binding. */
export const MAX_GROUP_CREDENTIAL_BYTES = 1 + 2 + MAX_ADDRESS_BYTES + PUBLIC_IDENTITY_BYTES + 8 +
  8 + ED25519_SIGNATURE_BYTES;

const LABEL = utf8("fedchat/v1/mls-credential\0");
const ADDRESS = /^[^@\s]+@[^@\s]+$/;

/** A group member: who holds a leaf of the group's tree. */
export interface GroupMember {
  /** The fedchat address, `name@node`. */
  readonly address: string;
  /** The user's fedchat identity (the one 1:1 chats pin; input to the safety number). */
  readonly identity: PublicIdentity;
  /** The member's leaf index in the group (stable while it is a member). */
  readonly leafIndex: number;
}

/** A decoded credential binding. */
export interface GroupCredential {
  readonly address: string;
  readonly identity: PublicIdentity;
  /** Start of the key package's fedchat lifetime, ms since the Unix epoch. */
  readonly notBeforeMs: number;
  /** End of that lifetime, ms since the Unix epoch. */
  readonly notAfterMs: number;
  readonly signature: Uint8Array;
}

/**
 * Checks a fedchat address of the form `name@node`.
 *
 * @throws {CodecError} not of that form, or longer than MAX_ADDRESS_BYTES
 */
export function checkGroupAddress(address: unknown): string {
  if (
    typeof address !== "string" || utf8(address).length > MAX_ADDRESS_BYTES ||
    !ADDRESS.test(address)
  ) {
    throw new CodecError("Cannot use address: expected name@node");
  }
  return address;
}

function encodeUnsigned(c: Omit<GroupCredential, "signature">): Uint8Array {
  return new ByteWriter()
    .u8(GROUP_CREDENTIAL_VERSION)
    .str16(checkGroupAddress(c.address))
    .raw(encodePublicIdentity(c.identity))
    .u64(c.notBeforeMs)
    .u64(c.notAfterMs)
    .finish();
}

function signedContent(unsigned: Uint8Array, signatureKey: Uint8Array): Uint8Array {
  const suite = new ByteWriter().u16(CIPHERSUITE_ID).finish();
  return concat(
    LABEL,
    suite,
    checkLength(signatureKey, ED25519_PUBLIC_KEY_BYTES, "leaf signature key"),
    unsigned,
  );
}

/** Signs a binding of `signatureKey` to `address` and `identity`; returns its encoding. */
export async function signGroupCredential(
  identity: IdentityKeyPair,
  fields: { address: string; notBeforeMs: number; notAfterMs: number; signatureKey: Uint8Array },
): Promise<Uint8Array> {
  const unsigned = encodeUnsigned({
    address: fields.address,
    identity: identity.publicIdentity,
    notBeforeMs: fields.notBeforeMs,
    notAfterMs: fields.notAfterMs,
  });
  const signature = await signWithIdentity(
    identity,
    signedContent(unsigned, fields.signatureKey),
  );
  return concat(unsigned, signature);
}

/**
 * Decodes a binding; structure only.
 *
 * @throws {CodecError} too long, truncated, unknown version, bad address or trailing bytes
 */
export function decodeGroupCredential(bytes: Uint8Array): GroupCredential {
  const r = new ByteReader(bytes, "group credential");
  if (r.remaining > MAX_GROUP_CREDENTIAL_BYTES) {
    throw new CodecError("Cannot decode group credential: too long");
  }
  const version = r.u8();
  if (version !== GROUP_CREDENTIAL_VERSION) {
    throw new CodecError(`Cannot decode group credential: unknown version "${version}"`);
  }
  const address = checkGroupAddress(r.str16(MAX_ADDRESS_BYTES));
  const identity = readPublicIdentity(r);
  const notBeforeMs = r.u64();
  const notAfterMs = r.u64();
  const signature = r.raw(ED25519_SIGNATURE_BYTES);
  r.end();
  return { address, identity, notBeforeMs, notAfterMs, signature };
}

/**
 * Verifies a binding for the leaf signature key `signatureKey`: the identity
 * is well formed and self-signed, and it signed this address, lifetime and key.
 * Three Ed25519 verifications' worth of work at most (one for the identity,
 * one for the binding).
 *
 * @throws {VerifyError} a signature or key is refused
 */
export async function verifyGroupCredential(
  credential: GroupCredential,
  signatureKey: Uint8Array,
): Promise<void> {
  await verifyPublicIdentity(credential.identity);
  await verifyByIdentity(
    credential.identity,
    signedContent(encodeUnsigned(credential), signatureKey),
    credential.signature,
  );
  if (credential.notAfterMs < credential.notBeforeMs) {
    throw new VerifyError("Cannot verify group credential: lifetime ends before it starts");
  }
}
