/**
 * A client's state in one MLS group, as immutable data: a read-only fedchat
 * view (group id, epoch, name, members) over ts-mls's `ClientState`, which no
 * code outside lib/e2e can reach. Stored form, for the client's store (secret:
 * it holds the group's current keys and the leaf's signing key):
 *
 *   version u8 = 1 | RFC 9420 GroupState as ts-mls encodes it (ratchet tree,
 *   group context, key schedule, secret tree, private path, pending proposals,
 *   the past epochs' receiver keys within the epoch window)
 *
 * The fedchat group context extension (type 0xF0C1, in every GroupContext):
 *
 *   version u8 = 1 | name: u16 len + UTF-8 | home node id: u16 len + UTF-8
 */
import { ByteReader, ByteWriter } from "./byte_codec.ts";
import { copy, utf8 } from "./_bytes.ts";
import {
  CIPHERSUITE,
  type ClientState,
  type Credential,
  GROUP_CONTEXT_EXTENSION,
  type LeafNode,
  mlsClientConfig,
} from "./_mls.ts";
import {
  decodeGroupState as decodeMlsGroupState,
  encodeGroupState as encodeMlsGroupState,
} from "ts-mls/clientState.js";
import { CodecError, VerifyError } from "./errors.ts";
import {
  decodeGroupCredential,
  type GroupMember,
  verifyGroupCredential,
} from "./group_credential.ts";

/** Version byte of the stored group state. */
export const GROUP_STATE_VERSION = 1;
/** Largest stored group state accepted by {@linkcode decodeGroupState}. */
export const MAX_GROUP_STATE_BYTES = 16 * 1024 * 1024;
/** Most members (leaves) a group may have. */
export const MAX_GROUP_MEMBERS = 256;
/** Most proposals waiting for a commit. */
export const MAX_PENDING_PROPOSALS = 32;
/** Past epochs whose application messages are still readable (late delivery). */
export const GROUP_EPOCH_WINDOW = 2;
/** Most steps one message may move a sender's ratchet forward (RFC 9420 §9.1). */
export const MAX_GROUP_FORWARD_STEPS = 1000;
/** Most unused message keys kept per sender and epoch (out-of-order window). */
export const MAX_GROUP_SKIPPED_KEYS = 100;
/** Longest group name, in UTF-8 bytes. */
export const MAX_GROUP_NAME_BYTES = 256;
/** Longest home node id, in UTF-8 bytes. */
export const MAX_HOME_NODE_BYTES = 255;
/** Version byte of the fedchat group context extension. */
export const GROUP_CONTEXT_VERSION = 1;

const MLS: unique symbol = Symbol("fedchat.mls");

/** One client's state in one group. Immutable; every transition returns a new one. */
export interface GroupState {
  /** The MLS group id (16 random bytes). */
  readonly groupId: Uint8Array;
  /** Current epoch; each commit adds one. */
  readonly epoch: number;
  /** The group's name. */
  readonly name: string;
  /** Node id of the group's home node, which orders commits. */
  readonly homeNode: string;
  /** False once this client has been removed or has left. */
  readonly active: boolean;
  /** This client's own leaf; null once removed. */
  readonly self: GroupMember | null;
  /** Every member, by leaf index, this client included. */
  readonly members: readonly GroupMember[];
  /** Proposals received and waiting for a commit. */
  readonly pendingProposals: number;
  /** ts-mls's client state: only lib/e2e reads it. */
  readonly [MLS]: ClientState;
}

/** The group's name and home node, as kept in the group context. */
export interface GroupContextFields {
  readonly name: string;
  readonly homeNode: string;
}

/** Encodes the fedchat group context extension. */
export function encodeGroupContextFields(fields: GroupContextFields): Uint8Array {
  checkGroupName(fields.name);
  if (
    typeof fields.homeNode !== "string" || fields.homeNode.length === 0 ||
    utf8(fields.homeNode).length > MAX_HOME_NODE_BYTES || /[@\s]/.test(fields.homeNode)
  ) {
    throw new CodecError("Cannot use home node: expected a node id");
  }
  return new ByteWriter().u8(GROUP_CONTEXT_VERSION).str16(fields.name).str16(
    fields.homeNode,
  ).finish();
}

/**
 * Checks a group name: a string of at most {@linkcode MAX_GROUP_NAME_BYTES}.
 *
 * @throws {CodecError} not a string or too long
 */
export function checkGroupName(name: unknown): string {
  if (typeof name !== "string" || utf8(name).length > MAX_GROUP_NAME_BYTES) {
    throw new CodecError(`Cannot use group name: expected at most ${MAX_GROUP_NAME_BYTES} bytes`);
  }
  return name;
}

function decodeGroupContextFields(bytes: Uint8Array): GroupContextFields {
  const r = new ByteReader(bytes, "group context extension");
  const version = r.u8();
  if (version !== GROUP_CONTEXT_VERSION) {
    throw new CodecError(`Cannot decode group context extension: unknown version "${version}"`);
  }
  const name = r.str16(MAX_GROUP_NAME_BYTES);
  const homeNode = r.str16(MAX_HOME_NODE_BYTES);
  r.end();
  return { name, homeNode };
}

/** The fedchat fields of an MLS group context's extensions (internal). */
export function contextFields(
  extensions: readonly { extensionType: unknown; extensionData: Uint8Array }[],
): GroupContextFields {
  const ours = extensions.filter((e) => e.extensionType === GROUP_CONTEXT_EXTENSION);
  if (ours.length !== 1 || extensions.length !== 1) {
    throw new CodecError("Cannot read group context: expected exactly the fedchat extension");
  }
  return decodeGroupContextFields(ours[0].extensionData);
}

/** A member as fedchat sees a leaf node (its credential was verified when it joined). */
export function memberOfLeaf(leaf: LeafNode, leafIndex: number): GroupMember {
  if (leaf.credential.credentialType !== "basic") {
    throw new CodecError("Cannot read group member: not a basic credential");
  }
  const c = decodeGroupCredential(leaf.credential.identity);
  return { address: c.address, identity: c.identity, leafIndex };
}

/** Leaves of an MLS state as members, in leaf order (internal). */
export function membersOf(mls: ClientState): GroupMember[] {
  const out: GroupMember[] = [];
  for (let node = 0; node < mls.ratchetTree.length; node += 2) {
    const n = mls.ratchetTree[node];
    if (n?.nodeType === "leaf") out.push(memberOfLeaf(n.leaf, node / 2));
  }
  return out;
}

/**
 * ts-mls's credential check (its AuthenticationService), run on every leaf it
 * accepts: a new member's key package, a committer's new leaf, every leaf of
 * the tree in a Welcome. The leaf must carry a fedchat binding of its own
 * signature key, signed by the identity it names.
 */
export async function checkLeafCredential(
  credential: Credential,
  signatureKey: Uint8Array,
): Promise<boolean> {
  if (credential.credentialType !== "basic") return false;
  try {
    await verifyGroupCredential(decodeGroupCredential(credential.identity), signatureKey);
    return true;
  } catch (e) {
    if (e instanceof CodecError || e instanceof VerifyError) return false;
    throw e;
  }
}

/** ts-mls's client configuration with fedchat's limits (internal). */
export function groupClientConfig() {
  return mlsClientConfig({
    epochWindow: GROUP_EPOCH_WINDOW,
    maxForwardSteps: MAX_GROUP_FORWARD_STEPS,
    maxSkippedKeys: MAX_GROUP_SKIPPED_KEYS,
  }, checkLeafCredential);
}

/**
 * Wraps an MLS client state as a fedchat {@linkcode GroupState} (internal).
 * `previous`, when its tree and context are the very same objects (an
 * application message moved only the secret tree), lends its decoded view.
 */
export function wrapGroupState(mls: ClientState, previous?: GroupState): GroupState {
  const ctx = mls.groupContext;
  const before = previous?.[MLS];
  if (
    previous !== undefined && before !== undefined && before.ratchetTree === mls.ratchetTree &&
    before.groupContext === ctx && before.groupActiveState === mls.groupActiveState &&
    before.unappliedProposals === mls.unappliedProposals
  ) {
    return Object.freeze({ ...previous, [MLS]: mls });
  }
  if (ctx.cipherSuite !== CIPHERSUITE) throw new CodecError("Cannot read group: wrong ciphersuite");
  const fields = contextFields(ctx.extensions);
  const members = membersOf(mls);
  const self = members.find((m) => m.leafIndex === mls.privatePath.leafIndex) ?? null;
  const active = mls.groupActiveState.kind === "active";
  if (self === null && active) throw new CodecError("Cannot read group: own leaf missing");
  return Object.freeze({
    groupId: copy(ctx.groupId),
    epoch: Number(ctx.epoch),
    name: fields.name,
    homeNode: fields.homeNode,
    active,
    self,
    members: Object.freeze(members),
    pendingProposals: Object.keys(mls.unappliedProposals).length,
    [MLS]: mls,
  });
}

/** The MLS state inside (internal to lib/e2e). */
export function mlsOf(state: GroupState): ClientState {
  const mls = state?.[MLS];
  if (mls === undefined) throw new TypeError("Cannot use group state: not a GroupState");
  return mls;
}

/** Encodes the whole client-side group state (secret!) for the client's store. */
export function encodeGroupState(state: GroupState): Uint8Array {
  const body = encodeMlsGroupState(mlsOf(state));
  return new ByteWriter().u8(GROUP_STATE_VERSION).raw(body).finish();
}

/**
 * Decodes a stored group state.
 *
 * @throws {CodecError} too long, unknown version, malformed, trailing bytes, or not a fedchat group
 */
export function decodeGroupState(bytes: Uint8Array): GroupState {
  if (!(bytes instanceof Uint8Array)) throw new CodecError("Cannot decode group state: not bytes");
  if (bytes.length > MAX_GROUP_STATE_BYTES) {
    throw new CodecError("Cannot decode group state: too long");
  }
  if (bytes.length < 1) throw new CodecError("Cannot decode group state: truncated");
  if (bytes[0] !== GROUP_STATE_VERSION) {
    throw new CodecError(`Cannot decode group state: unknown version "${bytes[0]}"`);
  }
  let decoded;
  try {
    decoded = decodeMlsGroupState(bytes, 1);
  } catch (cause) {
    throw new CodecError("Cannot decode group state: malformed", { cause });
  }
  if (decoded === undefined) throw new CodecError("Cannot decode group state: malformed");
  if (1 + decoded[1] !== bytes.length) {
    throw new CodecError("Cannot decode group state: trailing bytes");
  }
  try {
    return wrapGroupState({ ...decoded[0], clientConfig: groupClientConfig() });
  } catch (cause) {
    if (cause instanceof CodecError) throw cause;
    throw new CodecError("Cannot decode group state: malformed", { cause });
  }
}
