/**
 * A group invitation: what an invitee sees in its request list before it
 * decides, signed by the inviter's fedchat identity so no node can change it.
 * It rides with the commit that adds the invitee (the home node fans it out
 * with the Welcome); the Welcome is opened only if the invitee accepts.
 *
 *   u8 version=1 | str16 inviter | str16 invitee | str16 home | [16] groupId | str16 name
 *   | u64 epoch | u64 createdAtMs | [32] welcomeHash
 *   | u16 n × str16 admin | u16 m × str16 joined member
 *   | PublicIdentity(inviter) [129] | [64] signature
 *
 *   signature = Ed25519(inviter identity, "fedchat/v1/group-invitation\0" | every byte before it)
 *   welcomeHash = SHA-256(the Welcome's bytes)
 *
 * `admins` are the group's admins as the inviter knows them (the invitee
 * takes them from here: admin rights are not in the MLS state), `joined`
 * the members who have joined (the others are invited and have not answered).
 */
import * as e2e from "../e2e/mod.ts";
import { toAddress, toNodeId } from "../ids.ts";

const VERSION = 1;
const LABEL = new TextEncoder().encode("fedchat/v1/group-invitation\0");
/** Largest encoded invitation. */
export const MAX_INVITATION_BYTES = 2048;
const MAX_LISTED = 256;

/** The fields of an invitation. */
export interface InvitationFields {
  inviter: string;
  invitee: string;
  home: string;
  groupId: Uint8Array;
  name: string;
  /** The epoch the invitee joins at. */
  epoch: number;
  /** The inviter's clock. */
  createdAtMs: number;
  welcomeHash: Uint8Array;
  admins: string[];
  joined: string[];
}

/** A verified invitation. */
export interface GroupInvitation extends InvitationFields {
  inviterIdentity: e2e.PublicIdentity;
  /** The encoded invitation (what the client keeps). */
  bytes: Uint8Array;
}

/** SHA-256 of a Welcome, as invitations name it. */
export async function welcomeHash(welcome: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(welcome)));
}

function body(f: InvitationFields, identity: e2e.PublicIdentity): Uint8Array {
  if (f.groupId.length !== 16 || f.welcomeHash.length !== 32) {
    throw new RangeError("Cannot encode invitation: bad group id or hash");
  }
  if (f.admins.length > MAX_LISTED || f.joined.length > MAX_LISTED) {
    throw new RangeError("Cannot encode invitation: too many names");
  }
  const w = new e2e.ByteWriter().u8(VERSION).str16(f.inviter).str16(f.invitee).str16(f.home)
    .raw(f.groupId).str16(f.name).u64(f.epoch).u64(f.createdAtMs).raw(f.welcomeHash)
    .u16(f.admins.length);
  for (const a of f.admins) w.str16(a);
  w.u16(f.joined.length);
  for (const a of f.joined) w.str16(a);
  return w.raw(e2e.encodePublicIdentity(identity)).finish();
}

/** Makes and signs an invitation with the inviter's identity. */
export async function signInvitation(
  f: InvitationFields,
  identity: e2e.IdentityKeyPair,
): Promise<Uint8Array> {
  const b = body(f, identity.publicIdentity);
  const sig = await e2e.signWithIdentity(identity, new Uint8Array([...LABEL, ...b]));
  return new Uint8Array([...b, ...sig]);
}

/**
 * Decodes an invitation and verifies its signature by the identity it carries.
 *
 * @throws {e2e.CodecError} malformed; {e2e.VerifyError} a bad signature or key
 */
export async function readInvitation(bytes: Uint8Array): Promise<GroupInvitation> {
  if (bytes.length > MAX_INVITATION_BYTES) {
    throw new e2e.CodecError("Cannot read invitation: too long");
  }
  let f: InvitationFields;
  let identityBytes: Uint8Array;
  let signed: number;
  try {
    const r = new e2e.ByteReader(bytes, "invitation");
    if (r.u8("version") !== VERSION) throw new e2e.CodecError("unknown version");
    const inviter = toAddress(r.str16(80, "inviter"));
    const invitee = toAddress(r.str16(80, "invitee"));
    const home = toNodeId(r.str16(32, "home"));
    const groupId = r.raw(16, "group id");
    const name = r.str16(256, "name");
    const epoch = r.u64("epoch");
    const createdAtMs = r.u64("createdAtMs");
    const hash = r.raw(32, "welcome hash");
    const list = () => {
      const n = r.u16("count");
      if (n > MAX_LISTED) throw new e2e.CodecError("too many names");
      return Array.from({ length: n }, () => toAddress(r.str16(80, "address")) as string);
    };
    const admins = list();
    const joined = list();
    identityBytes = r.raw(e2e.PUBLIC_IDENTITY_BYTES, "identity");
    signed = r.offset;
    r.raw(64, "signature");
    r.end();
    f = {
      inviter,
      invitee,
      home,
      groupId,
      name,
      epoch,
      createdAtMs,
      welcomeHash: hash,
      admins,
      joined,
    };
  } catch (e) {
    if (e instanceof e2e.CodecError) throw e;
    throw new e2e.CodecError(`Cannot read invitation: ${(e as Error).message}`, { cause: e });
  }
  const identity = await e2e.importPublicIdentity(identityBytes);
  await e2e.verifyByIdentity(
    identity,
    new Uint8Array([...LABEL, ...bytes.subarray(0, signed)]),
    bytes.subarray(signed),
  );
  return { ...f, inviterIdentity: identity, bytes };
}
