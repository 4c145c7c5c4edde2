/**
 * The client's pure decisions about groups (groups.ts applies them):
 *
 * - {@linkcode commitAllowed}: whom a commit may come from. Admin rights are
 *   fedchat's, not MLS's: the creator is the admin; admins are carried in
 *   invitations (signed by the inviting admin) and kept per group. A commit
 *   that adds, renames, or removes anyone but a member who asked to leave (or
 *   an invitee who declined) must come from an admin; anyone may commit the
 *   rest (a leaver's removal, an update). The home node applies the same rule.
 * - {@linkcode judgeInvitation}: which invitations reach the request list.
 * - {@linkcode heldOrder}: in which order held messages are tried.
 * - {@linkcode commitDelayMs}: when a member commits someone's leaving.
 * - {@linkcode deliverySummary}: "delivered to N of M, read by K".
 */
import { MAX_GROUP_FORWARD_STEPS } from "../e2e/mod.ts";
import type { HeldRow } from "./_group_tables.ts";

/** A commit as the policy callback sees it. */
export interface CommitChange {
  committer: string;
  added: readonly string[];
  removed: readonly string[];
  renamed: boolean;
}

/** Whether a member may make this commit. */
export function commitAllowed(
  c: CommitChange,
  group: { admins: readonly string[]; leaving: readonly string[]; declined: readonly string[] },
): boolean {
  if (group.admins.includes(c.committer)) return true;
  const mayGo = new Set([...group.leaving, ...group.declined]);
  return c.added.length === 0 && !c.renamed && c.removed.every((a) => mayGo.has(a));
}

/** Caps on invitations a client keeps waiting. */
export const INVITATION_LIMITS = {
  total: 100,
  perInviter: 10,
  /**
   * From the addresses of one node: without it, one node's made-up inviters
   * (10 each) filled the total, and nobody else's invitation was kept.
   */
  perNode: 25,
  /** An invitation older than this (by its inviter's clock) is stale. */
  maxAgeMs: 8 * 24 * 3600_000,
  /**
   * An invitation left unanswered this long (our clock, from its arrival) is
   * forgotten: by then the nodes no longer keep the group's messages since its
   * Welcome (7 days and the clock allowances), and without it unanswered ones
   * held their places (10 per inviter, 25 per node, 100 in all) for ever.
   */
  waitMs: 8 * 24 * 3600_000,
  /** An invitation from further ahead than this is refused (clocks differ by hours). */
  maxAheadMs: 24 * 3600_000,
};

/** The facts about an incoming invitation. */
export interface InvitationFacts {
  self: string;
  /** The invitation's fields (verified signature). */
  invitee: string;
  inviter: string;
  home: string;
  groupIdHex: string;
  admins: readonly string[];
  createdAtMs: number;
  welcomeHashMatches: boolean;
  /** What the home node's fan-out says. */
  fanout: { home: string; groupIdHex: string; actor: string };
  nowMs: number;
  /** We are in this group already, or an invitation to it waits. */
  known: boolean;
  /** We blocked or rejected the inviter. */
  blocked: boolean;
  waiting: { total: number; fromInviter: number; fromNode: number };
  groups: { count: number; max: number };
}

/** Keep an invitation (show it in the request list), or drop it and why (logged only). */
export function judgeInvitation(
  f: InvitationFacts,
): { kind: "keep" } | { kind: "drop"; why: string } {
  const drop = (why: string) => ({ kind: "drop" as const, why });
  if (f.invitee !== f.self) return drop("not for us");
  if (
    f.inviter !== f.fanout.actor || f.home !== f.fanout.home || f.groupIdHex !== f.fanout.groupIdHex
  ) {
    return drop("the invitation and the home node disagree");
  }
  if (!f.admins.includes(f.inviter)) return drop("the inviter is not an admin");
  if (!f.welcomeHashMatches) return drop("the welcome is not the one the inviter signed");
  if (f.createdAtMs < f.nowMs - INVITATION_LIMITS.maxAgeMs) return drop("stale");
  if (f.createdAtMs > f.nowMs + INVITATION_LIMITS.maxAheadMs) return drop("from the future");
  if (f.blocked) return drop("the inviter is blocked");
  if (f.known) return drop("already known");
  if (f.waiting.total >= INVITATION_LIMITS.total) return drop("too many invitations waiting");
  if (f.waiting.fromInviter >= INVITATION_LIMITS.perInviter) {
    return drop("too many invitations from this inviter");
  }
  if (f.waiting.fromNode >= INVITATION_LIMITS.perNode) {
    return drop("too many invitations from this inviter's node");
  }
  if (f.groups.count >= f.groups.max) return drop("in too many groups");
  return { kind: "keep" };
}

const KIND_ORDER: Record<HeldRow["kind"], number> = { application: 0, proposal: 1, commit: 2 };

/**
 * Held messages in the order to try them: by the epoch they need, and within
 * an epoch application messages, then proposals, then the commit that ends it.
 */
export function heldOrder<T extends Pick<HeldRow, "epoch" | "kind" | "receivedAtMs">>(
  rows: readonly T[],
): T[] {
  return [...rows].sort((a, b) =>
    a.epoch - b.epoch || KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.receivedAtMs - b.receivedAtMs
  );
}

/**
 * Ratchet steps taken for messages from one node's addresses in one group that then failed,
 * within a minute from the first, past which those messages may move a
 * ratchet only {@linkcode LIMITED_GROUP_FORWARD_STEPS} steps until the minute
 * ends. A forged message up to e2e.MAX_GROUP_FORWARD_STEPS ahead costs about 0.1
 * ms a step (100 ms against 0.9 ms for a real one, PERF_NOTES `redteam3`) and
 * leaves nothing; a member's real messages authenticate. The 1:1 twin is
 * sessions.ts FAILED_SKIP_KEYS_PER_MINUTE.
 */
export const FAILED_GROUP_STEPS_PER_MINUTE = 2 * MAX_GROUP_FORWARD_STEPS;
/** Steps one message from a limited node may ask of a ratchet. */
export const LIMITED_GROUP_FORWARD_STEPS = 16;

/**
 * Most held messages per group, and their bytes; past either, a message tried
 * too often goes first, else the one furthest ahead (the new one, if it is).
 */
export const MAX_HELD_PER_GROUP = 1000;
export const MAX_HELD_BYTES_PER_GROUP = 16 * 1024 * 1024;
/**
 * Most held messages from the addresses of one node in one group, and their
 * bytes (its share of the above; a node proves only itself, not its addresses):
 * one member's messages from far-future epochs cannot push out the others', nor
 * fill the store (1,000 of 512 KiB before).
 */
export const MAX_HELD_PER_NODE = 100;
export const MAX_HELD_BYTES_PER_NODE = 4 * 1024 * 1024;

/**
 * How long a member waits before it commits a pending leave: admins first
 * (at once), then the others by their place in the group, 2 s apart, so
 * one commit usually does it and the rest see it and stand down. Members past
 * the 16th never do.
 */
export function commitDelayMs(
  self: string,
  members: readonly string[],
  admins: readonly string[],
  leaving: readonly string[],
): number | null {
  const staying = members.filter((m) => !leaving.includes(m));
  const order = [
    ...staying.filter((m) => admins.includes(m)),
    ...staying.filter((m) => !admins.includes(m)),
  ];
  const rank = order.indexOf(self);
  if (rank < 0 || rank >= 16) return null;
  return rank * 2000;
}

/** A sent message's delivery, as views show it. */
export interface DeliverySummary {
  recipients: number;
  delivered: number;
  read: number;
  failed: number;
}

/** Counts a message's recipients by state; `reads` is how far each reader has read our texts. */
export function deliverySummary(
  delivery: Readonly<Record<string, string>>,
  seq: number,
  reads: Readonly<Record<string, number>>,
): DeliverySummary {
  const names = Object.keys(delivery);
  const read = names.filter((a) => (reads[a] ?? 0) >= seq).length;
  return {
    recipients: names.length,
    delivered: names.filter((a) => delivery[a] === "delivered" || (reads[a] ?? 0) >= seq).length,
    read,
    failed: names.filter((a) => delivery[a].startsWith("failed")).length,
  };
}
