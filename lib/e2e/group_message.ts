/**
 * Group messages: encrypting application data, reading whatever the hub fans
 * out (application messages, commits, proposals: all MLS PrivateMessages,
 * RFC 9420 §6.3), joining from a Welcome, and a key-free peek at the clear
 * header for hubs and relays.
 *
 * Hostile input is refused in order of cost: the size cap and parse, then the
 * clear header (wire format, group id, epoch window, content type) against our
 * state, all before any cryptography; then the sender data (one HKDF and one
 * AES-GCM over 12 bytes: a non-member stops here); then the sender's ratchet
 * (at most MAX_GROUP_FORWARD_STEPS HKDF steps), the content AEAD and one Ed25519
 * verification; only an authenticated commit from a member reaches the
 * expensive part (X-Wing decapsulation, tree hashes, leaf and credential
 * signatures, key schedule). Everything a peer can cause surfaces as
 * {@linkcode DecryptError} (could not open) or {@linkcode VerifyError} (opened
 * but refused), with the detail only in `cause`.
 */
import {
  CIPHERSUITE,
  type ClientState,
  decodeMls,
  encodeMls,
  type KeyPackage,
  mlsSuite,
} from "./_mls.ts";
import { joinGroup as mlsJoinGroup } from "ts-mls/clientState.js";
import type { CiphersuiteImpl } from "ts-mls/crypto/ciphersuite.js";
import { createApplicationMessage } from "ts-mls/createMessage.js";
import { makeKeyPackageRef } from "ts-mls/keyPackage.js";
import { unprotectPrivateMessage } from "ts-mls/messageProtection.js";
import { decryptSenderData, type PrivateMessage } from "ts-mls/privateMessage.js";
import type { SecretTree } from "ts-mls/secretTree.js";
import { leafToNodeIndex, toLeafIndex } from "ts-mls/treemath.js";
import { processPrivateMessage } from "ts-mls/processMessages.js";
import type { ProposalWithSender } from "ts-mls/unappliedProposals.js";
import { emptyPskIndex } from "ts-mls/pskIndex.js";
import { CodecError, DecryptError, StateError, VerifyError } from "./errors.ts";
import { sameMember } from "./group.ts";
import { decodeGroupCredential, type GroupMember } from "./group_credential.ts";
import { decodeKeyPackageSecret } from "./group_key_package.ts";
import {
  contextFields,
  GROUP_EPOCH_WINDOW,
  groupClientConfig,
  type GroupState,
  MAX_GROUP_FORWARD_STEPS,
  MAX_GROUP_MEMBERS,
  MAX_PENDING_PROPOSALS,
  memberOfLeaf,
  mlsOf,
  wrapGroupState,
} from "./group_state.ts";
import type { PublicIdentity } from "./identity.ts";
import { type Random, SYSTEM_RANDOM } from "./random.ts";

/** Largest application plaintext (1 MiB, as for 1:1 messages); files go through file encryption. */
export const MAX_GROUP_PLAINTEXT_BYTES = 1 << 20;
/** Largest application message, commit or proposal accepted. */
export const MAX_GROUP_MESSAGE_BYTES = (1 << 20) + 64 * 1024;
/** Largest Welcome accepted (a 256-member tree of X-Wing keys fits). */
export const MAX_GROUP_WELCOME_BYTES = 2 << 20;

/** Options of {@linkcode encryptGroupMessage}. */
export interface EncryptGroupMessageOptions {
  /** An accepted state of an active group with no proposal waiting. */
  state: GroupState;
  plaintext: Uint8Array;
  /** Randomness for the reuse guard; default `crypto.getRandomValues`. */
  random?: Random;
}

/**
 * Encrypts an application message for the group's current epoch (RFC 9420 §6.3),
 * signed by this member's leaf key and padded to at least 256 bytes.
 *
 * @throws {RangeError} plaintext longer than MAX_GROUP_PLAINTEXT_BYTES
 * @throws {StateError} not a member, or a proposal waits for a commit (RFC 9420 §12.2)
 */
export async function encryptGroupMessage(
  { state, plaintext, random = SYSTEM_RANDOM }: EncryptGroupMessageOptions,
): Promise<{ newState: GroupState; message: Uint8Array }> {
  if (!(plaintext instanceof Uint8Array) || plaintext.length > MAX_GROUP_PLAINTEXT_BYTES) {
    throw new RangeError(
      `Cannot encrypt: plaintext longer than ${MAX_GROUP_PLAINTEXT_BYTES} bytes`,
    );
  }
  const mls = mlsOf(state);
  if (mls.groupActiveState.kind !== "active") {
    throw new StateError("Cannot encrypt: no longer a member of the group");
  }
  if (Object.keys(mls.unappliedProposals).length !== 0) {
    throw new StateError("Cannot encrypt: a proposal waits for a commit");
  }
  const cs = await mlsSuite(random);
  const result = await createApplicationMessage(mls, plaintext, cs);
  return {
    newState: wrapGroupState(result.newState, state),
    message: encodeMls({
      version: "mls10",
      wireformat: "mls_private_message",
      privateMessage: result.privateMessage,
    }),
  };
}

/** A change a commit makes, as shown to the receiver's policy. */
export interface GroupChange {
  /** Who committed. */
  readonly committer: GroupMember;
  /** Who is added: address and identity (compare with pinned contacts). */
  readonly added: readonly { address: string; identity: PublicIdentity }[];
  /** Who is removed. */
  readonly removed: readonly GroupMember[];
  /** The new name, or null if unchanged. */
  readonly name: string | null;
}

/** What {@linkcode processGroupMessage} read. */
export type GroupReceiveResult =
  | {
    readonly kind: "application";
    readonly newState: GroupState;
    /** The authenticated sender (its leaf signature was verified). */
    readonly sender: GroupMember;
    readonly plaintext: Uint8Array;
    /** The epoch it was sent in (at most GROUP_EPOCH_WINDOW behind the current one). */
    readonly epoch: number;
  }
  | {
    readonly kind: "commit";
    /** The next epoch's state. */
    readonly newState: GroupState;
    readonly committer: GroupMember;
    readonly added: readonly GroupMember[];
    readonly removed: readonly GroupMember[];
    /** The new name, or null if unchanged. */
    readonly renamed: string | null;
    /** This client was removed: `newState.active` is false. */
    readonly removedSelf: boolean;
  }
  | {
    readonly kind: "proposal";
    /** The state holding the proposal until a commit. */
    readonly newState: GroupState;
    readonly sender: GroupMember;
    /** The only proposal members send: the sender's own leaving. */
    readonly proposal: "leave";
  };

/** Options of {@linkcode processGroupMessage}. */
export interface ProcessGroupMessageOptions {
  state: GroupState;
  /** The bytes the hub fanned out. */
  message: Uint8Array;
  /** Decides whether to follow a commit; default accept. A refusal throws VerifyError. */
  policy?: (change: GroupChange) => boolean;
  /** Randomness (only for key derivations that ask for it); default `crypto.getRandomValues`. */
  random?: Random;
  /**
   * Steps a sender's key ratchet may be moved forward for this message (default
   * and most {@linkcode MAX_GROUP_FORWARD_STEPS}): a caller lowers it for a sender
   * whose messages made it derive many keys and then failed.
   */
  maxForwardSteps?: number;
  /**
   * Counts the forward steps a message that fails asked for (its generation
   * ahead of its sender's ratchet): that work is done before its authentication
   * can fail, about 0.1 ms a step, so a forged message costs up to
   * {@linkcode MAX_GROUP_FORWARD_STEPS} of them and leaves nothing.
   */
  work?: { forwardSteps: number };
}

/**
 * Reads one message of the group, in the hub's order.
 *
 * @throws {DecryptError} not for this group or epoch window, from a non-member,
 *   tampered, replayed, or undecodable
 * @throws {VerifyError} authenticated but refused: an invalid commit, a limit, or the policy
 */
export async function processGroupMessage(
  { state, message, policy, random = SYSTEM_RANDOM, maxForwardSteps, work }:
    ProcessGroupMessageOptions,
): Promise<GroupReceiveResult> {
  const mls = mlsOf(state);
  let pm: PrivateMessage;
  try {
    pm = checkHeader(mls, message);
  } catch (cause) {
    throw new DecryptError("Cannot decrypt group message", { cause });
  }
  const cs = await mlsSuite(random);
  const epochKeys = pm.epoch === mls.groupContext.epoch
    ? mls
    : mls.historicalReceiverData.get(pm.epoch);
  if (epochKeys === undefined) {
    throw new DecryptError("Cannot decrypt group message", {
      cause: new StateError("epoch keys gone"),
    });
  }
  const senderDataSecret = "keySchedule" in epochKeys
    ? epochKeys.keySchedule.senderDataSecret
    : epochKeys.senderDataSecret;
  const retention = mls.clientConfig.keyRetentionConfig;
  const maxSteps = Math.min(
    maxForwardSteps ?? MAX_GROUP_FORWARD_STEPS,
    retention.maximumForwardRatchetSteps,
  );
  let opened;
  try {
    opened = await unprotectPrivateMessage(
      senderDataSecret,
      pm,
      epochKeys.secretTree,
      epochKeys.ratchetTree,
      epochKeys.groupContext,
      { ...retention, maximumForwardRatchetSteps: maxSteps },
      cs,
    );
  } catch (cause) {
    if (work) {
      work.forwardSteps += await stepsTaken(
        pm,
        senderDataSecret,
        epochKeys.secretTree,
        maxSteps,
        cs,
      );
    }
    throw new DecryptError("Cannot decrypt group message", { cause });
  }
  const content = opened.content.content;
  const senderIndex = content.sender.senderType === "member" ? content.sender.leafIndex : -1;
  const senderNode = epochKeys.ratchetTree[senderIndex * 2];
  if (senderNode?.nodeType !== "leaf") {
    throw new DecryptError("Cannot decrypt group message", {
      cause: new StateError("sender is not a member"),
    });
  }
  const sender = memberOfLeaf(senderNode.leaf, senderIndex);
  if (pm.epoch !== mls.groupContext.epoch) {
    // A late message from a past epoch counts only if its sender is still a member:
    // a removed member keeps the keys of the epochs it saw and must not use them to
    // speak after its removal.
    const now = state.members.find((m) => m.leafIndex === senderIndex);
    if (!sameMember(now, sender)) {
      throw new DecryptError("Cannot decrypt group message", {
        cause: new StateError("sender of a past epoch is no longer a member"),
      });
    }
  }
  if (content.contentType === "application") {
    const next: ClientState = pm.epoch === mls.groupContext.epoch
      ? { ...mls, secretTree: opened.tree }
      : {
        ...mls,
        historicalReceiverData: new Map(mls.historicalReceiverData).set(pm.epoch, {
          ...mls.historicalReceiverData.get(pm.epoch)!,
          secretTree: opened.tree,
        }),
      };
    return {
      kind: "application",
      newState: wrapGroupState(next, state),
      sender,
      plaintext: content.applicationData,
      epoch: Number(pm.epoch),
    };
  }
  if (content.contentType === "commit" && senderIndex === mls.privatePath.leafIndex) {
    // Our own commit, echoed back: its result is the pending state createCommit returned
    // (which holds the new path's private keys); processing it again would not.
    throw new VerifyError("Cannot process group handshake message", {
      cause: new StateError("own commit: keep the pending state once the hub accepts it"),
    });
  }
  return await processHandshake(state, pm, sender, cs, policy);
}

async function processHandshake(
  state: GroupState,
  pm: PrivateMessage,
  sender: GroupMember,
  cs: CiphersuiteImpl,
  policy: ((change: GroupChange) => boolean) | undefined,
): Promise<GroupReceiveResult> {
  const mls = mlsOf(state);
  let refusal: string | null = null;
  let sawProposal = false;
  let result;
  try {
    result = await processPrivateMessage(mls, pm, emptyPskIndex, cs, (incoming) => {
      if (incoming.kind === "proposal") {
        sawProposal = true;
        refusal = checkProposal(mls, incoming.proposal);
      } else {
        refusal = checkCommit(state, sender, incoming.proposals, policy);
      }
      return refusal === null ? "accept" : "reject";
    });
  } catch (cause) {
    throw new VerifyError("Cannot process group handshake message", { cause });
  }
  if (refusal !== null || result.kind !== "newState") {
    throw new VerifyError("Cannot process group handshake message", {
      cause: new StateError(refusal ?? "unexpected result"),
    });
  }
  const newState = wrapGroupState(result.newState);
  if (sawProposal) return { kind: "proposal", newState, sender, proposal: "leave" };
  const after = new Map(newState.members.map((m) => [m.leafIndex, m]));
  const before = new Map(state.members.map((m) => [m.leafIndex, m]));
  return {
    kind: "commit",
    newState,
    committer: sender,
    added: newState.members.filter((m) => !sameMember(before.get(m.leafIndex), m)),
    removed: state.members.filter((m) => !sameMember(after.get(m.leafIndex), m)),
    renamed: newState.name !== state.name ? newState.name : null,
    removedSelf: !newState.active,
  };
}

function checkProposal(mls: ClientState, p: ProposalWithSender): string | null {
  if (p.proposal.proposalType !== "remove" || p.proposal.remove.removed !== p.senderLeafIndex) {
    return "only a member's own leave may be proposed";
  }
  if (Object.keys(mls.unappliedProposals).length >= MAX_PENDING_PROPOSALS) {
    return "too many pending proposals";
  }
  return null;
}

function checkCommit(
  state: GroupState,
  committer: GroupMember,
  proposals: ProposalWithSender[],
  policy: ((change: GroupChange) => boolean) | undefined,
): string | null {
  const added: { address: string; identity: PublicIdentity }[] = [];
  const removedLeaves = new Set<number>();
  let name: string | null = null;
  for (const { proposal } of proposals) {
    switch (proposal.proposalType) {
      case "add": {
        const kp: KeyPackage = proposal.add.keyPackage;
        if (kp.cipherSuite !== CIPHERSUITE || kp.leafNode.credential.credentialType !== "basic") {
          return "an added key package is not fedchat's";
        }
        try {
          const c = decodeGroupCredential(kp.leafNode.credential.identity);
          added.push({ address: c.address, identity: c.identity });
        } catch {
          return "an added credential does not decode";
        }
        break;
      }
      case "remove":
        removedLeaves.add(proposal.remove.removed);
        break;
      case "group_context_extensions": {
        try {
          const fields = contextFields(proposal.groupContextExtensions.extensions);
          if (fields.homeNode !== state.homeNode) return "the home node cannot change";
          name = fields.name;
        } catch {
          return "the group context does not decode";
        }
        break;
      }
      default:
        return `proposal type "${proposal.proposalType}" is not used by fedchat`;
    }
  }
  const removed = state.members.filter((m) => removedLeaves.has(m.leafIndex));
  const staying = state.members.filter((m) => !removedLeaves.has(m.leafIndex));
  if (staying.length + added.length > MAX_GROUP_MEMBERS) return "too many members";
  const addresses = new Set(staying.map((m) => m.address));
  for (const a of added) {
    if (addresses.has(a.address)) return "an address would be in the group twice";
    addresses.add(a.address);
  }
  if (policy !== undefined && !policy({ committer, added, removed, name })) {
    return "refused by policy";
  }
  return null;
}

function checkHeader(mls: ClientState, message: Uint8Array): PrivateMessage {
  const m = decodeMls(message, MAX_GROUP_MESSAGE_BYTES, "group message");
  if (m.wireformat !== "mls_private_message") {
    throw new CodecError("Cannot read group message: not a PrivateMessage");
  }
  const pm = m.privateMessage;
  if (!equal(pm.groupId, mls.groupContext.groupId)) {
    throw new StateError("Cannot read group message: another group");
  }
  if (pm.authenticatedData.length !== 0) {
    throw new CodecError("Cannot read group message: unexpected authenticated data");
  }
  const current = mls.groupContext.epoch;
  if (pm.contentType === "application") {
    if (pm.epoch > current || pm.epoch + BigInt(GROUP_EPOCH_WINDOW) < current) {
      throw new StateError("Cannot read group message: epoch outside the window");
    }
  } else {
    if (pm.epoch !== current) throw new StateError("Cannot read group message: not this epoch");
    if (mls.groupActiveState.kind !== "active") {
      throw new StateError("Cannot read group message: no longer a member");
    }
  }
  return pm;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Options of {@linkcode joinGroup}. */
export interface JoinGroupOptions {
  /** The Welcome (MLSMessage bytes). */
  welcome: Uint8Array;
  /** The client's stored key package secrets (from generateGroupKeyPackage); the one the Welcome names is used. */
  keyPackageSecrets: readonly Uint8Array[];
  /** Randomness; default `crypto.getRandomValues`. */
  random?: Random;
}

/** What {@linkcode joinGroup} produced. */
export interface JoinedGroup {
  /** The new member's state at the Welcome's epoch. */
  readonly state: GroupState;
  /** Ref of the key package used: delete its secret unless it is the last-resort one. */
  readonly keyPackageRef: Uint8Array;
  /** Whether that key package was the last-resort one. */
  readonly lastResort: boolean;
}

/**
 * Joins a group from a Welcome (RFC 9420 §12.4.3.1): finds which of our key
 * packages it is for (hashing only), opens the group secrets (one X-Wing
 * decapsulation), then checks the GroupInfo signature and the whole ratchet
 * tree (every leaf's signature and fedchat credential, tree and parent hashes:
 * about three Ed25519 verifications per member).
 *
 * @throws {DecryptError} not for any of our key packages, undecodable or tampered
 * @throws {VerifyError} opened, but the group fails validation or fedchat's limits
 */
export async function joinGroup(
  { welcome, keyPackageSecrets, random = SYSTEM_RANDOM }: JoinGroupOptions,
): Promise<JoinedGroup> {
  const cs = await mlsSuite(random);
  let chosen;
  try {
    const m = decodeMls(welcome, MAX_GROUP_WELCOME_BYTES, "welcome");
    if (m.wireformat !== "mls_welcome" || m.welcome.cipherSuite !== CIPHERSUITE) {
      throw new CodecError("Cannot read welcome: not a fedchat Welcome");
    }
    for (const bytes of keyPackageSecrets) {
      const secret = decodeKeyPackageSecret(bytes);
      const ref = await makeKeyPackageRef(secret.keyPackage, cs.hash);
      if (m.welcome.secrets.some((s) => equal(s.newMember, ref))) {
        chosen = { secret, ref, welcome: m.welcome };
        break;
      }
    }
  } catch (cause) {
    throw new DecryptError("Cannot open welcome", { cause });
  }
  if (chosen === undefined) {
    throw new DecryptError("Cannot open welcome", {
      cause: new StateError("not for any of our key packages"),
    });
  }
  let mls: ClientState;
  try {
    mls = await mlsJoinGroup(
      chosen.welcome,
      chosen.secret.keyPackage,
      chosen.secret.privatePackage,
      emptyPskIndex,
      cs,
      undefined,
      undefined,
      groupClientConfig(),
    );
  } catch (cause) {
    throw new VerifyError("Cannot join group: the Welcome does not validate", { cause });
  }
  let state: GroupState;
  try {
    state = wrapGroupState(mls);
  } catch (cause) {
    throw new VerifyError("Cannot join group: not a fedchat group", { cause });
  }
  if (state.members.length > MAX_GROUP_MEMBERS) {
    throw new VerifyError("Cannot join group: too many members");
  }
  return { state, keyPackageRef: chosen.ref, lastResort: chosen.secret.lastResort };
}

/** The clear header of a group message, readable without keys (by the hub and relays). */
export interface GroupMessageHeader {
  /** application, commit and proposal are PrivateMessages; welcome and key-package are not group-bound. */
  readonly kind: "application" | "commit" | "proposal" | "welcome" | "key-package";
  /** The group id, or null for a Welcome or key package (a Welcome hides it). */
  readonly groupId: Uint8Array | null;
  /** The epoch, or null for a Welcome or key package. */
  readonly epoch: number | null;
}

/**
 * Reads the clear header of a group message: what a hub needs to order
 * commits and route, and all that it can see.
 *
 * @throws {CodecError} too long, malformed, or a kind fedchat does not use
 */
export function peekGroupMessage(bytes: Uint8Array): GroupMessageHeader {
  const m = decodeMls(bytes, MAX_GROUP_WELCOME_BYTES, "group message");
  switch (m.wireformat) {
    case "mls_private_message": {
      if (bytes.length > MAX_GROUP_MESSAGE_BYTES) {
        throw new CodecError("Cannot decode group message: too long");
      }
      const pm = m.privateMessage;
      return { kind: pm.contentType, groupId: pm.groupId, epoch: Number(pm.epoch) };
    }
    case "mls_welcome":
      return { kind: "welcome", groupId: null, epoch: null };
    case "mls_key_package":
      return { kind: "key-package", groupId: null, epoch: null };
    default:
      throw new CodecError("Cannot decode group message: a kind fedchat does not use");
  }
}

/**
 * The steps a message that failed made us take in its sender's key ratchet:
 * how far ahead of it its generation is (RFC 9420 §6.3.2: the sender data names
 * leaf and generation), or 0 when that is past `maxSteps` (refused before any).
 * Read again only for a message that failed.
 */
async function stepsTaken(
  pm: PrivateMessage,
  senderDataSecret: Uint8Array,
  secretTree: SecretTree,
  maxSteps: number,
  cs: CiphersuiteImpl,
): Promise<number> {
  try {
    const data = await decryptSenderData(pm, senderDataSecret, cs);
    if (data === undefined) return 0;
    const node = secretTree[leafToNodeIndex(toLeafIndex(data.leafIndex))];
    const ratchet = pm.contentType === "application" ? node?.application : node?.handshake;
    if (ratchet === undefined) return 0;
    const ahead = data.generation - ratchet.generation;
    return ahead > 0 && ahead <= maxSteps ? ahead : 0;
  } catch {
    return 0;
  }
}
