/**
 * The group's home node (its hub) orders commits and fans messages out, so it
 * must know the member list, but it holds no group keys. After every commit the
 * committer hands it this "hub info": the new epoch's members, each with its
 * fedchat credential binding, signed by the committer's MLS leaf key.
 *
 *   version u8 = 1 | groupId: u16 len | epoch u64 | name: u16 len + UTF-8
 *   | home node: u16 len + UTF-8 | signer leaf u32 | count u16
 *   | count × (leaf u32 | leaf signature key [32] | credential: u16 len)
 *   | signature [64]
 *
 *   signature = Ed25519(signer's leaf key, "fedchat/v1/group-hub-info\0" | all before it)
 *
 * What it proves: a holder of a leaf key listed in it, whose credential binds
 * that key to an address and identity, signed this list. Whether the signer
 * was a member of the previous epoch is the hub's check (its last accepted
 * hub info lists the signer's leaf key); whether the list matches the commit
 * the hub cannot check (commits are encrypted), so a lying member can misdirect
 * the fan-out (availability) but not read or forge messages.
 */
import { ByteReader, ByteWriter } from "./byte_codec.ts";
import { concat, utf8 } from "./_bytes.ts";
import {
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  ed25519Sign,
  ed25519Verify,
  importEd25519PrivateKey,
  importEd25519PublicKey,
} from "./ed25519.ts";
import { CodecError, StateError, VerifyError } from "./errors.ts";
import {
  decodeGroupCredential,
  type GroupMember,
  MAX_GROUP_CREDENTIAL_BYTES,
  verifyGroupCredential,
} from "./group_credential.ts";
import {
  type GroupState,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_NAME_BYTES,
  MAX_HOME_NODE_BYTES,
  mlsOf,
} from "./group_state.ts";

/** Version byte of the hub info. */
export const GROUP_HUB_INFO_VERSION = 1;
/** Largest encoded hub info. */
export const MAX_GROUP_HUB_INFO_BYTES = 1 + 2 + 255 + 8 + 2 + MAX_GROUP_NAME_BYTES + 2 +
  MAX_HOME_NODE_BYTES + 4 + 2 +
  MAX_GROUP_MEMBERS * (4 + ED25519_PUBLIC_KEY_BYTES + 2 + MAX_GROUP_CREDENTIAL_BYTES) +
  ED25519_SIGNATURE_BYTES;

const LABEL = utf8("fedchat/v1/group-hub-info\0");

/** A member as listed in a hub info. */
export interface HubMember extends GroupMember {
  /** The member's MLS leaf signature key (32 bytes), bound by its credential. */
  readonly signatureKey: Uint8Array;
}

/** A verified hub info. */
export interface GroupHubInfo {
  readonly groupId: Uint8Array;
  readonly epoch: number;
  readonly name: string;
  readonly homeNode: string;
  /** The member who signed it (the committer, or the creator at epoch 0). */
  readonly signer: HubMember;
  /** Every member of the epoch, by leaf index. */
  readonly members: readonly HubMember[];
}

/**
 * Builds the signed hub info of `state`'s epoch; commits return it already.
 *
 * @throws {StateError} not a member any more
 */
export async function createGroupHubInfo(state: GroupState): Promise<Uint8Array> {
  const mls = mlsOf(state);
  if (state.self === null) throw new StateError("Cannot sign hub info: not a member");
  const w = new ByteWriter()
    .u8(GROUP_HUB_INFO_VERSION)
    .bytes16(state.groupId)
    .u64(state.epoch)
    .str16(state.name)
    .str16(state.homeNode)
    .u32(state.self.leafIndex)
    .u16(state.members.length);
  for (const m of state.members) {
    const node = mls.ratchetTree[m.leafIndex * 2];
    if (node?.nodeType !== "leaf" || node.leaf.credential.credentialType !== "basic") {
      throw new VerifyError("Cannot sign hub info: tree and members disagree");
    }
    w.u32(m.leafIndex).raw(node.leaf.signaturePublicKey).bytes16(node.leaf.credential.identity);
  }
  const body = w.finish();
  const key = await importEd25519PrivateKey(mls.signaturePrivateKey);
  return concat(body, await ed25519Sign(key, concat(LABEL, body)));
}

/**
 * Decodes and verifies a hub info: the signature by the signer's listed leaf
 * key, and every member's credential binding (two Ed25519 verifications per
 * member: about 100 ms for 100 members measured under shared load — verify
 * once per accepted commit).
 *
 * @throws {VerifyError} malformed, a bad signature or binding, or an inconsistent list
 */
export async function readGroupHubInfo(bytes: Uint8Array): Promise<GroupHubInfo> {
  let info: GroupHubInfo, body: Uint8Array, signature: Uint8Array, credentials: Uint8Array[];
  try {
    ({ info, body, signature, credentials } = decodeHubInfo(bytes));
  } catch (cause) {
    throw new VerifyError("Cannot read hub info: malformed", { cause });
  }
  const key = await importEd25519PublicKey(info.signer.signatureKey);
  if (!(await ed25519Verify(key, signature, concat(LABEL, body)))) {
    throw new VerifyError("Cannot read hub info: bad signature");
  }
  for (const [i, m] of info.members.entries()) {
    await verifyGroupCredential(decodeGroupCredential(credentials[i]), m.signatureKey).catch(
      (cause) => {
        throw new VerifyError("Cannot read hub info: bad credential", { cause });
      },
    );
  }
  return info;
}

function decodeHubInfo(
  bytes: Uint8Array,
): { info: GroupHubInfo; body: Uint8Array; signature: Uint8Array; credentials: Uint8Array[] } {
  const r = new ByteReader(bytes, "hub info");
  if (r.remaining > MAX_GROUP_HUB_INFO_BYTES) {
    throw new CodecError("Cannot decode hub info: too long");
  }
  const version = r.u8();
  if (version !== GROUP_HUB_INFO_VERSION) {
    throw new CodecError(`Cannot decode hub info: unknown version "${version}"`);
  }
  const groupId = r.bytes16(255);
  const epoch = r.u64();
  const name = r.str16(MAX_GROUP_NAME_BYTES);
  const homeNode = r.str16(MAX_HOME_NODE_BYTES);
  const signerLeaf = r.u32();
  const count = r.u16();
  if (count === 0 || count > MAX_GROUP_MEMBERS) {
    throw new CodecError("Cannot decode hub info: member count out of range");
  }
  const members: HubMember[] = [];
  const credentials: Uint8Array[] = [];
  let last = -1;
  for (let i = 0; i < count; i++) {
    const leafIndex = r.u32();
    if (leafIndex <= last) throw new CodecError("Cannot decode hub info: leaves out of order");
    last = leafIndex;
    const signatureKey = r.raw(ED25519_PUBLIC_KEY_BYTES);
    const raw = r.bytes16(MAX_GROUP_CREDENTIAL_BYTES);
    const c = decodeGroupCredential(raw);
    const m: HubMember = { address: c.address, identity: c.identity, leafIndex, signatureKey };
    members.push(m);
    credentials.push(raw);
  }
  const bodyLength = r.offset;
  const signature = r.raw(ED25519_SIGNATURE_BYTES);
  r.end();
  const signer = members.find((m) => m.leafIndex === signerLeaf);
  if (signer === undefined) throw new CodecError("Cannot decode hub info: signer not listed");
  if (new Set(members.map((m) => m.address)).size !== members.length) {
    throw new CodecError("Cannot decode hub info: an address is listed twice");
  }
  return {
    info: { groupId, epoch, name, homeNode, signer, members },
    body: bytes.slice(0, bodyLength),
    signature,
    credentials,
  };
}
