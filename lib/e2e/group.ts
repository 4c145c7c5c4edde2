/**
 * Group transitions over MLS (RFC 9420): create, add, remove, leave, rename,
 * join from a Welcome, and the commits that carry them. Every function takes a
 * {@linkcode GroupState} and returns a new one; its input is never changed, so a
 * failure leaves the caller's state as it was.
 *
 * Hub model (IETF MIMI): a commit's new state is pending until the group's home
 * node accepts the commit as the next in its order; if the hub takes another
 * commit first, drop the pending state and process that commit with the old
 * one. Application messages are only sent from accepted states.
 */
import {
  type ClientState,
  encodeMls,
  GROUP_CONTEXT_EXTENSION,
  type KeyPackage,
  mlsSuite,
} from "./_mls.ts";
import { createGroup as mlsCreateGroup } from "ts-mls/clientState.js";
import { createCommit } from "ts-mls/createCommit.js";
import { createProposal } from "ts-mls/createMessage.js";
import { generateKeyPackageWithKey } from "ts-mls/keyPackage.js";
import { defaultLifetime } from "ts-mls/lifetime.js";
import { ED25519_SEED_BYTES, ed25519PublicKey } from "./ed25519.ts";
import { StateError, VerifyError } from "./errors.ts";
import { checkGroupAddress, type GroupMember, signGroupCredential } from "./group_credential.ts";
import { createGroupHubInfo } from "./group_hub_info.ts";
import {
  decodeGroupKeyPackage,
  DEFAULT_GROUP_KEY_PACKAGE_LIFETIME_MS,
  type VerifiedGroupKeyPackage,
} from "./group_key_package.ts";
import {
  encodeGroupContextFields,
  groupClientConfig,
  type GroupState,
  MAX_GROUP_MEMBERS,
  mlsOf,
  wrapGroupState,
} from "./group_state.ts";
import { fedchatCapabilities } from "./_mls.ts";
import type { IdentityKeyPair } from "./identity.ts";
import { type Random, SYSTEM_RANDOM } from "./random.ts";

/** Length of a generated group id. */
export const GROUP_ID_BYTES = 16;

/** Options of {@linkcode createGroup}. */
export interface CreateGroupOptions {
  /** The creator's fedchat identity: it signs the creator's credential binding. */
  identity: IdentityKeyPair;
  /** The creator's address, `name@node`. */
  address: string;
  /** The group's name (at most 256 UTF-8 bytes). */
  name: string;
  /** Node id of the group's home node, which will order its commits. */
  homeNode: string;
  /** The caller's clock (ms since the Unix epoch), for the creator's credential lifetime. */
  nowMs: number;
  /** Randomness for the group id and every key; default `crypto.getRandomValues`. */
  random?: Random;
}

/**
 * Creates a group whose only member is the creator, at epoch 0.
 *
 * @throws {CodecError} bad address, name or home node
 */
export async function createGroup(
  { identity, address, name, homeNode, nowMs, random = SYSTEM_RANDOM }: CreateGroupOptions,
): Promise<GroupState> {
  checkGroupAddress(address);
  const context = encodeGroupContextFields({ name, homeNode });
  const cs = await mlsSuite(random);
  const signKey = random.bytes(ED25519_SEED_BYTES);
  const publicKey = await ed25519PublicKey(signKey);
  const binding = await signGroupCredential(identity, {
    address,
    notBeforeMs: nowMs,
    notAfterMs: nowMs + DEFAULT_GROUP_KEY_PACKAGE_LIFETIME_MS,
    signatureKey: publicKey,
  });
  const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
    { credentialType: "basic", identity: binding },
    fedchatCapabilities(),
    defaultLifetime,
    [],
    { signKey, publicKey },
    cs,
  );
  const mls = await mlsCreateGroup(
    random.bytes(GROUP_ID_BYTES),
    publicPackage,
    privatePackage,
    [{ extensionType: GROUP_CONTEXT_EXTENSION, extensionData: context }],
    cs,
    groupClientConfig(),
  );
  return wrapGroupState(mls);
}

/** What a commit produced. */
export interface GroupCommitResult {
  /** The state at the next epoch: pending until the home node accepts `commit`. */
  readonly newState: GroupState;
  /** The commit (MLSMessage, a PrivateMessage): for the home node, which fans it out. */
  readonly commit: Uint8Array;
  /** The Welcome for the members this commit adds, or null if it adds none. */
  readonly welcome: Uint8Array | null;
  /** The new epoch's signed member list for the home node ({@linkcode createGroupHubInfo}). */
  readonly hubInfo: Uint8Array;
  /** Members added by this commit. */
  readonly added: readonly GroupMember[];
  /** Members removed by this commit (including pending leave proposals it commits). */
  readonly removed: readonly GroupMember[];
}

/** Options common to the commit-making functions. */
export interface GroupCommitOptions {
  /** The current (accepted) state. */
  state: GroupState;
  /** Randomness for path secrets and keys; default `crypto.getRandomValues`. */
  random?: Random;
}

/** Options of {@linkcode addGroupMembers}. */
export interface AddGroupMembersOptions extends GroupCommitOptions {
  /** Key packages that passed readGroupKeyPackage (lifetime and signatures) at the caller's time. */
  keyPackages: readonly VerifiedGroupKeyPackage[];
}

/**
 * Commits the addition of the owners of `keyPackages` (RFC 9420 §12.1.1), with
 * a Welcome carrying the ratchet tree for them.
 *
 * @throws {StateError} not a member any more, an address already in the group or
 *   twice in the list, or more than {@linkcode MAX_GROUP_MEMBERS} members
 * @throws {VerifyError} a key package is refused by MLS validation
 */
export async function addGroupMembers(
  { state, keyPackages, random = SYSTEM_RANDOM }: AddGroupMembersOptions,
): Promise<GroupCommitResult> {
  const present = new Set(state.members.map((m) => m.address));
  const adds: KeyPackage[] = [];
  for (const kp of keyPackages) {
    const decoded = decodeGroupKeyPackage(kp.bytes);
    if (present.has(decoded.credential.address)) {
      throw new StateError(`Cannot add "${decoded.credential.address}": already a member`);
    }
    present.add(decoded.credential.address);
    adds.push(decoded.keyPackage);
  }
  if (adds.length === 0) throw new StateError("Cannot add members: no key package");
  if (state.members.length + adds.length > MAX_GROUP_MEMBERS) {
    throw new StateError(`Cannot add members: more than ${MAX_GROUP_MEMBERS} members`);
  }
  return await commit(
    state,
    random,
    adds.map((keyPackage) => ({
      proposalType: "add" as const,
      add: { keyPackage },
    })),
  );
}

/** Options of {@linkcode removeGroupMembers}. */
export interface RemoveGroupMembersOptions extends GroupCommitOptions {
  /** Addresses of the members to remove (not this client's own: use proposeLeaveGroup). */
  addresses: readonly string[];
}

/**
 * Commits the removal of members (RFC 9420 §12.1.3); the new epoch's keys are
 * sent to everyone else, so the removed cannot read what follows.
 *
 * @throws {StateError} not a member, or an address not in the group, or this client's own
 */
export async function removeGroupMembers(
  { state, addresses, random = SYSTEM_RANDOM }: RemoveGroupMembersOptions,
): Promise<GroupCommitResult> {
  if (addresses.length === 0) throw new StateError("Cannot remove members: no address");
  const proposals = [...new Set(addresses)].map((address) => {
    const member = state.members.find((m) => m.address === address);
    if (member === undefined) throw new StateError(`Cannot remove "${address}": not a member`);
    if (member.leafIndex === state.self?.leafIndex) {
      throw new StateError("Cannot remove oneself: propose leaving instead");
    }
    return { proposalType: "remove" as const, remove: { removed: member.leafIndex } };
  });
  return await commit(state, random, proposals);
}

/** Options of {@linkcode renameGroup}. */
export interface RenameGroupOptions extends GroupCommitOptions {
  /** The new name (at most 256 UTF-8 bytes). */
  name: string;
}

/**
 * Commits a new name (a GroupContextExtensions proposal, RFC 9420 §12.1.7).
 *
 * @throws {CodecError} name too long
 */
export async function renameGroup(
  { state, name, random = SYSTEM_RANDOM }: RenameGroupOptions,
): Promise<GroupCommitResult> {
  const extensionData = encodeGroupContextFields({ name, homeNode: state.homeNode });
  return await commit(state, random, [{
    proposalType: "group_context_extensions",
    groupContextExtensions: {
      extensions: [{ extensionType: GROUP_CONTEXT_EXTENSION, extensionData }],
    },
  }]);
}

/**
 * Commits the proposals waiting in `state` (e.g. a member's leave), with a
 * fresh update path. Pending proposals also ride along with any other commit.
 *
 * @throws {StateError} not a member any more
 */
export async function commitPendingProposals(
  { state, random = SYSTEM_RANDOM }: GroupCommitOptions,
): Promise<GroupCommitResult> {
  return await commit(state, random, []);
}

type ExtraProposal = NonNullable<Parameters<typeof createCommit>[1]>["extraProposals"];

async function commit(
  state: GroupState,
  random: Random,
  extraProposals: ExtraProposal,
): Promise<GroupCommitResult> {
  const mls = activeMls(state);
  const cs = await mlsSuite(random);
  let result;
  try {
    result = await createCommit({ state: mls, cipherSuite: cs }, {
      extraProposals,
      ratchetTreeExtension: true,
    });
  } catch (cause) {
    throw new VerifyError("Cannot commit: refused by MLS validation", { cause });
  }
  const newState = wrapGroupState(result.newState);
  const before = new Map(state.members.map((m) => [m.leafIndex, m]));
  const after = new Map(newState.members.map((m) => [m.leafIndex, m]));
  return {
    newState,
    commit: encodeMls(result.commit),
    welcome: result.welcome === undefined
      ? null
      : encodeMls({ version: "mls10", wireformat: "mls_welcome", welcome: result.welcome }),
    hubInfo: await createGroupHubInfo(newState),
    added: newState.members.filter((m) => !sameMember(before.get(m.leafIndex), m)),
    removed: state.members.filter((m) => !sameMember(after.get(m.leafIndex), m)),
  };
}

/** Whether two member views are the same person on the same leaf. */
export function sameMember(a: GroupMember | undefined, b: GroupMember | undefined): boolean {
  return a !== undefined && b !== undefined && a.leafIndex === b.leafIndex &&
    a.address === b.address && equal(a.identity.signingKey, b.identity.signingKey);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Options of {@linkcode proposeLeaveGroup}. */
export interface ProposeLeaveGroupOptions {
  state: GroupState;
  random?: Random;
}

/**
 * Proposes this client's own removal (RFC 9420 §12.1.3: a member cannot commit
 * its own removal). Another member commits it; until then no one can send
 * application messages in the group (RFC 9420 §12.2), so members should commit
 * a leave promptly.
 *
 * @returns the new state (holding the proposal) and the proposal for the home node
 * @throws {StateError} not a member any more
 */
export async function proposeLeaveGroup(
  { state, random = SYSTEM_RANDOM }: ProposeLeaveGroupOptions,
): Promise<{ newState: GroupState; proposal: Uint8Array }> {
  const mls = activeMls(state);
  const cs = await mlsSuite(random);
  const result = await createProposal(mls, false, {
    proposalType: "remove",
    remove: { removed: mls.privatePath.leafIndex },
  }, cs);
  return { newState: wrapGroupState(result.newState), proposal: encodeMls(result.message) };
}

/** The MLS state of an active group, or a StateError. */
export function activeMls(state: GroupState): ClientState {
  const mls = mlsOf(state);
  if (mls.groupActiveState.kind !== "active") {
    throw new StateError("Cannot use group: no longer a member");
  }
  return mls;
}
