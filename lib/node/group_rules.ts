/**
 * The pure decisions of groups at a node (the engine, group_service.ts,
 * gathers the facts and applies the answers; nothing here reads a store, a
 * clock or a socket):
 *
 * - {@linkcode decideHub}: the home node orders a group's commits (IETF MIMI's
 *   hub): the first valid commit of each epoch from a member wins; adding,
 *   renaming and removing anyone but a member who asked to leave (or an
 *   invitee who declined) is an admin's right; what it accepts is fanned out
 *   to every member's node, one envelope per node (a commit to the
 *   committer too, whose client takes it as the word that it won).
 * - {@linkcode judgeDelivery}: a member node's decision for an application
 *   message: a sender who is not a member (by the node's copy of the hub's
 *   list) is refused before any client decrypts; each named user must be a
 *   member who joined.
 * - {@linkcode judgeFanout}: a member node's decision for what the home node
 *   fans out: only the group's home node may, and only to users who stand in
 *   the group (or, for an invitation, whom it invites).
 */
import type { UserResult } from "./group_receipt.ts";
import type { HubGroupRow, HubMemberRow, LocalGroupState, MemberGroupRow } from "./group_store.ts";
import type { ReceiptStatus } from "./receipt.ts";
import type { HubFanout, HubSubmission, InvitationEntry } from "../protocol/mod.ts";

/** A hub info as the engine verified it (lib/e2e readGroupHubInfo): signature and bindings hold. */
export interface HubInfoFacts {
  groupIdHex: string;
  epoch: number;
  name: string;
  homeNode: string;
  signer: HubMemberRow;
  members: HubMemberRow[];
}

/** The clear header of the MLS message a submission carries (lib/e2e peekGroupMessage). */
export interface MessageFacts {
  kind: string;
  groupIdHex: string | null;
  epoch: number | null;
}

/** What the hub sends to one destination node. */
export interface FanoutTarget {
  node: string;
  body: HubFanout;
}

/** A fan-out body before its recipients are known. */
type FanoutBase = HubFanout extends infer F ? F extends HubFanout ? Omit<F, "recipients"> : never
  : never;

/** The hub's answer to a submission. */
export type HubVerdict =
  | { kind: "accept"; next: HubGroupRow; fanout: FanoutTarget[] }
  /** The same submission was accepted before: answer "stored" again. */
  | { kind: "duplicate" }
  | { kind: "refuse"; why: string };

/** Limits the hub applies. */
export interface HubLimits {
  /** Most members a group may have (`[Limits] group_members_max`). */
  maxMembers: number;
  /** Most groups this node is the home of (`[Limits] hub_groups_total`). */
  maxHubGroups: number;
}

/** Everything {@linkcode decideHub} looks at. */
export interface HubInput {
  self: string;
  /** The submitting member (the envelope's proven `from`). */
  sender: string;
  envelopeId: string;
  nowMs: number;
  group: HubGroupRow | undefined;
  submission: HubSubmission;
  /** The verified hub info of a create or commit; null otherwise. */
  info: HubInfoFacts | null;
  /** The header of a commit's or proposal's MLS message; null otherwise. */
  message: MessageFacts | null;
  hubGroups: number;
  limits: HubLimits;
}

const nodeOf = (address: string) => address.slice(address.indexOf("@") + 1);
const nameOf = (address: string) => address.slice(0, address.indexOf("@"));

/** Groups addresses by node: node → user names, in a stable order. */
export function byNode(addresses: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const a of [...addresses].sort()) {
    const list = out.get(nodeOf(a)) ?? [];
    list.push(nameOf(a));
    out.set(nodeOf(a), list);
  }
  return out;
}

function refuse(why: string): HubVerdict {
  return { kind: "refuse", why };
}

function checkInfo(i: HubInput, epoch: number): string | null {
  const info = i.info;
  if (!info) return "no hub info";
  if (info.groupIdHex !== i.submission.groupId.toHex()) return "hub info of another group";
  if (info.homeNode !== i.self || i.submission.home !== i.self) return "not this node's group";
  if (info.epoch !== epoch) return `hub info for epoch ${info.epoch}, expected ${epoch}`;
  if (info.signer.address !== i.sender) return "hub info signed by someone else";
  if (info.members.length > i.limits.maxMembers) {
    return `more than ${i.limits.maxMembers} members`;
  }
  return null;
}

/** The hub's decision on a member's submission. */
export function decideHub(i: HubInput): HubVerdict {
  const s = i.submission;
  const g = i.group;
  if (g && g.lastEnvelope === i.envelopeId) return { kind: "duplicate" };
  const key = `${s.groupId.toHex()}@${s.home}`;
  if (s.op === "create") {
    if (g) return refuse("the group exists");
    if (i.hubGroups >= i.limits.maxHubGroups) return refuse("this node is home to enough groups");
    const bad = checkInfo(i, 0);
    if (bad) return refuse(bad);
    if (s.epoch !== 0 || i.info!.members.length !== 1) return refuse("a new group has one member");
    return {
      kind: "accept",
      next: {
        key,
        epoch: 0,
        name: i.info!.name,
        admins: [i.sender],
        members: i.info!.members,
        leaving: [],
        declined: [],
        lastEnvelope: i.envelopeId,
        createdAtMs: i.nowMs,
        updatedAtMs: i.nowMs,
      },
      fanout: [],
    };
  }
  if (!g) return refuse("no such group here");
  const addresses = g.members.map((m) => m.address);
  if (!addresses.includes(i.sender)) return refuse("not a member");
  const others = addresses.filter((a) => a !== i.sender);
  const base = { home: s.home, groupId: s.groupId, actor: i.sender };
  if (s.op === "decline") {
    const next = {
      ...g,
      declined: [...new Set([...g.declined, i.sender])],
      lastEnvelope: i.envelopeId,
      updatedAtMs: i.nowMs,
    };
    return {
      kind: "accept",
      next,
      fanout: targets(others, { ...base, epoch: g.epoch, members: addresses, op: "declined" }),
    };
  }
  if (s.epoch !== g.epoch) return refuse(`stale epoch ${s.epoch}: the group is at ${g.epoch}`);
  const m = i.message;
  if (!m || m.groupIdHex !== s.groupId.toHex() || m.epoch !== g.epoch) {
    return refuse("the message is not of this group and epoch");
  }
  if (s.op === "proposal") {
    if (m.kind !== "proposal") return refuse("not a proposal");
    const next = {
      ...g,
      leaving: [...new Set([...g.leaving, i.sender])],
      lastEnvelope: i.envelopeId,
      updatedAtMs: i.nowMs,
    };
    return {
      kind: "accept",
      next,
      fanout: targets(others, {
        ...base,
        epoch: g.epoch,
        members: addresses,
        op: "proposal",
        proposal: s.proposal,
      }),
    };
  }
  if (m.kind !== "commit") return refuse("not a commit");
  const bad = checkInfo(i, g.epoch + 1);
  if (bad) return refuse(bad);
  const info = i.info!;
  const before = g.members.find((x) => x.address === i.sender)!;
  if (before.key !== info.signer.key) return refuse("signed by a leaf key not in the group");
  const after = info.members.map((x) => x.address);
  const added = after.filter((a) => !addresses.includes(a));
  const removed = addresses.filter((a) => !after.includes(a));
  const invitees = s.invitations.map((x) => x.invitee);
  if (
    added.length !== invitees.length || !added.every((a) => invitees.includes(a)) ||
    (added.length > 0) !== (s.welcome !== null)
  ) {
    return refuse("every added member needs an invitation, and only they");
  }
  const mayLeave = new Set([...g.leaving, ...g.declined]);
  const needsAdmin = added.length > 0 || info.name !== g.name ||
    removed.some((a) => !mayLeave.has(a));
  if (needsAdmin && !g.admins.includes(i.sender)) {
    return refuse("only an admin may add, remove or rename");
  }
  const next: HubGroupRow = {
    ...g,
    epoch: g.epoch + 1,
    name: info.name,
    members: info.members,
    leaving: [],
    declined: g.declined.filter((a) => after.includes(a)),
    lastEnvelope: i.envelopeId,
    updatedAtMs: i.nowMs,
  };
  // The committer's node gets it too: its copy of the member list must move on, and the
  // committer's client takes its own commit as the word that it was accepted.
  const fanout = targets(addresses, {
    ...base,
    epoch: next.epoch,
    members: after,
    op: "commit",
    commit: s.commit,
  });
  if (s.welcome) {
    for (const [node, names] of byNode(added)) {
      const invitations: InvitationEntry[] = s.invitations
        .filter((x) => nodeOf(x.invitee) === node)
        .map((x) => ({ invitee: nameOf(x.invitee), invitation: x.invitation }));
      fanout.push({
        node,
        body: {
          ...base,
          epoch: next.epoch,
          members: after,
          recipients: names,
          op: "invite",
          welcome: s.welcome,
          invitations,
        },
      });
    }
  }
  return { kind: "accept", next, fanout };
}

function targets(addresses: readonly string[], body: FanoutBase): FanoutTarget[] {
  return [...byNode(addresses)].map(([node, recipients]) => ({
    node,
    body: { ...body, recipients } as HubFanout,
  }));
}

/** A local user as a member node sees it, for one group. */
export interface LocalUserFacts {
  exists: boolean;
  state: LocalGroupState | null;
}

/** A member node's answer for a group envelope, before its budgets are applied. */
export interface GroupJudgement {
  /** The envelope as a whole: refused or expired outright, or judged per user. */
  status: ReceiptStatus;
  users: UserResult[];
  /** Users to store it for (status "stored" in `users`, pending the inbox's room). */
  store: string[];
  /** Why it was dropped, for a throttled log line. */
  note?: string;
}

/** The status of a group envelope from its users' results: busy if any is, else stored. */
export function envelopeStatus(users: readonly UserResult[]): ReceiptStatus {
  if (users.some((u) => u.status === "busy")) return "busy";
  if (users.length > 0 && users.every((u) => u.status === "no-such-user")) return "no-such-user";
  if (users.length > 0 && users.every((u) => u.status !== "stored")) return "refused";
  return "stored";
}

function whole(
  status: ReceiptStatus,
  names: readonly string[],
  note: string,
): GroupJudgement {
  return { status, users: names.map((name) => ({ name, status })), store: [], note };
}

/** A member node's decision on an application message (`group` envelope). */
export function judgeDelivery(i: {
  self: string;
  copy: MemberGroupRow | undefined;
  sender: string;
  /** The MLS message's clear header (null: it does not decode). */
  message: MessageFacts | null;
  groupIdHex: string;
  names: readonly string[];
  users: Readonly<Record<string, LocalUserFacts>>;
}): GroupJudgement {
  const m = i.message;
  if (!m || m.kind !== "application" || m.groupIdHex !== i.groupIdHex || m.epoch === null) {
    return whole("refused", i.names, "not an application message of this group");
  }
  if (!i.copy) return whole("refused", i.names, "no such group here");
  // The home node's word on the newer epoch has not arrived yet: the sender tries again.
  if (m.epoch > i.copy.epoch) return whole("busy", i.names, "epoch ahead of the home node's");
  if (!i.copy.members.includes(i.sender)) {
    return whole("refused", i.names, "the sender is not a member");
  }
  const users: UserResult[] = [];
  const store: string[] = [];
  for (const name of i.names) {
    const u = i.users[name];
    let status: ReceiptStatus = "stored";
    if (!u?.exists) status = "no-such-user";
    else if (!i.copy.members.includes(`${name}@${i.self}`) || u.state !== "joined") {
      status = "refused";
    } else store.push(name);
    users.push({ name, status });
  }
  return { status: envelopeStatus(users), users, store };
}

/** What a fan-out changes at a member node (applied with the inbox rows). */
export interface FanoutEffects {
  /** The new copy of the group, or null to leave it. */
  copy: MemberGroupRow | null;
  /** Local users whose standing changes (null: none any more). */
  states: Array<{ owner: string; state: LocalGroupState | null }>;
}

/** Per-invitee facts the engine checks before an invitation is kept (rates and budgets). */
export interface InviteeFacts extends LocalUserFacts {
  /** The invitee blocked the inviter. */
  blocked: boolean;
}

/** A member node's decision on what a home node fans out (`groupFanout` envelope). */
export function judgeFanout(i: {
  self: string;
  origin: string;
  fanout: HubFanout;
  copy: MemberGroupRow | undefined;
  users: Readonly<Record<string, InviteeFacts>>;
  nowMs: number;
}): GroupJudgement & { effects: FanoutEffects } {
  const f = i.fanout;
  const none: FanoutEffects = { copy: null, states: [] };
  if (i.origin !== f.home) {
    return {
      ...whole("refused", f.recipients, "fan-out from another node than the home"),
      effects: none,
    };
  }
  const key = `${f.groupId.toHex()}@${f.home}`;
  const newer = !i.copy || f.epoch >= i.copy.epoch;
  const copy = newer ? { key, epoch: f.epoch, members: f.members, updatedAtMs: i.nowMs } : null;
  const users: UserResult[] = [];
  const store: string[] = [];
  const states: FanoutEffects["states"] = [];
  for (const name of f.recipients) {
    const u = i.users[name];
    let status: ReceiptStatus = "stored";
    if (!u?.exists) status = "no-such-user";
    else if (f.op === "invite") {
      // Like chat requests: a stranger never learns why an invitation was dropped.
      if (u.state === null && !u.blocked) {
        store.push(name);
        states.push({ owner: name, state: "invited" });
      }
    } else if (u.state === null) status = "refused";
    else store.push(name);
    users.push({ name, status });
  }
  if (newer && f.op === "commit") {
    for (const name of f.recipients) {
      const u = i.users[name];
      if (u?.state && !f.members.includes(`${name}@${i.self}`)) {
        states.push({ owner: name, state: null });
      }
    }
  }
  return { status: envelopeStatus(users), users, store, effects: { copy, states } };
}
