/**
 * Groups at a node, the engine around group_rules.ts (which decides):
 *
 * - **Hub**: for groups this node is the home of, it orders commits. A
 *   submission is checked cheaply first (the group, the sender's membership,
 *   the epoch, the MLS header), and only then is its hub info verified (two
 *   Ed25519 checks per member). An accepted commit's new state and its
 *   fan-out envelopes are written in one transaction of `groups.db`. One
 *   drainer hands staged envelopes to the delivery outbox in the order staged,
 *   in batches of at most `hub_fanout_memory_bytes` read back from the store,
 *   and after a failed hand-over tries again in 5 s; memory holds one batch,
 *   the store the rest. After a crash, staged fan-out is handed over again
 *   (the outbox ignores ids it has). While an origin's staged fan-out is at
 *   `hub_fanout_staged_bytes_per_origin` (or all of it at `_total`), its
 *   submissions are answered `busy`.
 * - **Member node**: judges application messages and fan-outs for its users
 *   against its copy of the hub's member list, applies what a fan-out
 *   changes, and records each decision by envelope id, so a resend gets the
 *   same answer.
 * - **Key packages**: keeps what local clients publish (checked: their own
 *   address, signatures, lifetime), hands each one-time package out once
 *   (else the last-resort one), to this node's clients or another node's.
 *
 * Budgets (`[Limits]`, shown in `status --json`): key packages per user,
 * fetches per asking node, pending invitations and groups per user,
 * invitations per inviter and per origin, hub submissions per origin, groups
 * this node is home to, members per group, fan-out bytes staged per origin and
 * in total (`hub_fanout_staged_bytes`), fan-out bytes in memory for the
 * hand-over (`hub_fanout_memory_bytes`).
 */
import { createHash } from "node:crypto";
import { type Budget, type BudgetRegistry, type RateBudget, ThrottledLog } from "../budget.ts";
import type { Clock } from "../clock.ts";
import type { Limits } from "../config.ts";
import type * as e2e from "../e2e/group_checks.ts";
import { type NodeId, splitAddress, toAddress, type UserName } from "../ids.ts";
import type { Logger } from "../log.ts";
import {
  decodeGroupDelivery,
  decodeHubFanout,
  decodeHubSubmission,
  decodeKeyPackageReply,
  decodeKeyPackageRequest,
  encodeEnvelope,
  encodeHubFanout,
  encodeKeyPackageReply,
  encodeKeyPackageRequest,
  type Envelope,
  envelopeIdHex,
  type GroupEnvelope,
  groupKey,
  type HubFanout,
  type HubSubmission,
  type NodeEnvelope,
  nodeEnvelope,
} from "../protocol/mod.ts";
import type { NodeStore } from "../store/mod.ts";
import type { UserResult } from "./group_receipt.ts";
import {
  decideHub,
  type GroupJudgement,
  type HubInfoFacts,
  type InviteeFacts,
  judgeDelivery,
  judgeFanout,
  type LocalUserFacts,
  type MessageFacts,
} from "./group_rules.ts";
import type { FanoutRow, GroupStore, LocalGroupState } from "./group_store.ts";
import type { ReceiptStatus } from "./receipt.ts";

/** The limits groups use (config.conf `[Limits]`, lib/config.ts has the defaults). */
export type GroupLimits = Pick<
  Limits,
  | "keyPackagesPerUser"
  | "keyPackageFetchesPerOriginPerMinute"
  | "pendingInvitationsPerUser"
  | "invitationsPerSenderPerMinute"
  | "invitationsPerOriginPerMinute"
  | "groupsPerUser"
  | "groupMembersMax"
  | "hubGroupsTotal"
  | "hubSubmissionsPerOriginPerMinute"
  | "hubFanoutMemoryBytes"
  | "hubFanoutStagedBytesPerOrigin"
  | "hubFanoutStagedBytesTotal"
>;

/** What a node does with a group envelope for its users. */
export interface GroupOutcome {
  status: ReceiptStatus;
  /** Per-user results (application messages and fan-outs). */
  users?: UserResult[];
  /** Users to keep it for, and as what kind of inbox row. */
  store: Array<{ name: string; kind: "request" | "message" }>;
  /** Why it was refused, for the log (and a local client's error). */
  note?: string;
}

/** Options of {@linkcode GroupService}. */
export interface GroupServiceOptions {
  self: NodeId;
  store: NodeStore;
  groups: GroupStore;
  clock: Clock;
  log: Logger;
  registry: BudgetRegistry;
  limits: GroupLimits;
  /** Sends node envelopes of this node's (key package requests and replies). */
  forwarder: {
    send(envelope: NodeEnvelope, bytes?: Uint8Array, prefer?: NodeId): unknown;
    sendEncoded(dest: NodeId, bytes: Uint8Array): NodeId | null;
  };
  /** A request sent through `firstHop` to `dest` got no answer. */
  reportMiss(firstHop: NodeId, dest: NodeId): void;
  /** Hands this node's fan-out envelopes to delivery; resolves once they are durable. */
  fanout(rows: FanoutRow[]): Promise<void>;
  /** How long fan-out envelopes live, and decisions are remembered (the message lifetime). */
  lifetimeMs: number;
  /** How long an invitation nobody answered keeps its place in the budget. */
  invitationTtlMs?: number;
}

/** What a local client hears about its key packages. */
export type KeyPackageEvent = { owner: UserName; count: number; lastResort: boolean };

const PURGE_MS = 60_000;
/** After a failed hand-over of fan-out, the drainer tries again this much later. */
const FANOUT_RETRY_MS = 5_000;
const FANOUT_LABEL = new TextEncoder().encode("fedchat/v1/group-fanout\0");

/** Groups at one node. */
export class GroupService {
  #o: GroupServiceOptions;
  #throttled: ThrottledLog;
  #keyPackages: Budget;
  #invitations: Budget;
  #groupsPerUser: Budget;
  #invitesBySender: RateBudget;
  #invitesByOrigin: RateBudget;
  #fetchesByOrigin: RateBudget;
  #hubByOrigin: RateBudget;
  #staged: Budget;
  /** Bytes of fan-out rows read for the hand-over in progress. */
  #held = 0;
  #draining = false;
  #loop: Promise<void> | null = null;
  /** Rows staged while the drainer ran: it looks again before it stops. */
  #again = false;
  /** What waits for the retry timer after a failed hand-over. */
  #fanoutWait: "none" | "self" | "all" = "none";
  #retry: number | null = null;
  #waiting = new Map<string, (reply: Uint8Array | null) => void>();
  #listeners = new Set<(e: KeyPackageEvent) => void>();
  #timer: number;
  #stopped = false;
  /** lib/e2e's group checks (ts-mls), loaded by the first group envelope or key package. */
  #checks: Promise<typeof e2e> | null = null;

  constructor(o: GroupServiceOptions) {
    this.#o = o;
    const l = o.limits;
    const r = o.registry;
    this.#throttled = new ThrottledLog(o.log, o.clock);
    this.#keyPackages = r.budget("key_packages", { perKey: l.keyPackagesPerUser });
    this.#invitations = r.budget("pending_invitations", { perKey: l.pendingInvitationsPerUser });
    this.#groupsPerUser = r.budget("groups_per_user", { perKey: l.groupsPerUser });
    this.#invitesBySender = r.rate("invitations_per_sender", {
      burst: l.invitationsPerSenderPerMinute,
      perMinute: l.invitationsPerSenderPerMinute,
    });
    this.#invitesByOrigin = r.rate("invitations_per_origin", {
      burst: l.invitationsPerOriginPerMinute,
      perMinute: l.invitationsPerOriginPerMinute,
    });
    this.#fetchesByOrigin = r.rate("key_package_fetches_per_origin", {
      burst: l.keyPackageFetchesPerOriginPerMinute,
      perMinute: l.keyPackageFetchesPerOriginPerMinute,
    });
    this.#hubByOrigin = r.rate("hub_submissions_per_origin", {
      burst: l.hubSubmissionsPerOriginPerMinute,
      perMinute: l.hubSubmissionsPerOriginPerMinute,
    });
    this.#staged = r.budget("hub_fanout_staged_bytes", {
      perKey: l.hubFanoutStagedBytesPerOrigin,
      total: l.hubFanoutStagedBytesTotal,
    });
    for (const [origin, bytes] of o.groups.stagedFanoutUsage()) this.#staged.set(origin, bytes);
    r.add({
      name: "hub_fanout_memory_bytes",
      view: () => ({ limit: l.hubFanoutMemoryBytes, used: this.#held, refusals: 0 }),
    });
    r.add({
      name: "hub_groups",
      view: () => ({ limit: l.hubGroupsTotal, used: o.groups.hubGroupCount(), refusals: 0 }),
    });
    for (const [owner, n] of o.groups.keyPackageUsage()) this.#keyPackages.set(owner, n);
    for (const [owner, u] of o.groups.localUsage()) {
      this.#groupsPerUser.set(owner, u.groups);
      this.#invitations.set(owner, u.invited);
    }
    this.#timer = o.clock.setTimer(() => this.#purge(), PURGE_MS);
  }

  /** Hands over fan-out staged before a crash. */
  async start(): Promise<void> {
    const staged = this.#o.groups.stagedFanoutCount();
    if (staged === 0) return;
    this.#o.log.info("handing over staged group fan-out", { envelopes: staged });
    await this.#drain();
  }

  stop(): void {
    this.#stopped = true;
    this.#o.clock.clearTimer(this.#timer);
    if (this.#retry !== null) this.#o.clock.clearTimer(this.#retry);
    for (const w of this.#waiting.values()) w(null);
    this.#waiting.clear();
  }

  /** Calls `listener` when a local user's key packages change (one was handed out). */
  onKeyPackages(listener: (e: KeyPackageEvent) => void): void {
    this.#listeners.add(listener);
  }

  #purge(): void {
    if (this.#stopped) return;
    const now = this.#o.clock.nowMs();
    this.#o.groups.purgeDecisions(now);
    const ttl = this.#o.invitationTtlMs ?? this.#o.lifetimeMs;
    for (const owner of this.#o.groups.expireInvitations(now - ttl)) {
      this.#invitations.release(owner);
      this.#groupsPerUser.release(owner);
    }
    this.#timer = this.#o.clock.setTimer(() => this.#purge(), PURGE_MS);
  }

  // --- judging group envelopes ----------------------------------------------------------------

  /**
   * What to do with a group envelope addressed to this node (from a link, or
   * submitted by a local client): `group`, `groupHub` or `groupFanout`.
   */
  async judge(e: Envelope, origin: NodeId): Promise<GroupOutcome> {
    // Before anything is read: what follows decides on the state as it is now.
    const mls = await this.#mls();
    const id = envelopeIdHex(e.id);
    if (e.kind === "groupHub") return await this.#hub(mls, e as GroupEnvelope, origin, id);
    // Decisions are remembered per id and origin: fan-out ids are derived, so a relay can compute
    // one and send its own envelope under it first; its refusal must not decide the home's.
    // (A plain id: remembered before origins were, by an older version.)
    const before = (this.#o.groups.decision(`${id}/${origin}`) ?? this.#o.groups.decision(id)) as
      | GroupOutcome
      | undefined;
    if (before) return before;
    if (e.kind === "group") return this.#delivery(mls, e as GroupEnvelope);
    if (e.kind === "groupFanout") return this.#fanoutIn(e as NodeEnvelope, origin, id);
    return { status: "refused", store: [], note: `not a group kind: ${e.kind}` };
  }

  #users(names: readonly string[], key: string): Record<string, LocalUserFacts> {
    const out: Record<string, LocalUserFacts> = {};
    for (const name of names) {
      out[name] = {
        exists: this.#o.store.getAccount(name as UserName) !== undefined,
        state: this.#o.groups.localState(name, key),
      };
    }
    return out;
  }

  #remember(id: string, outcome: GroupOutcome): GroupOutcome {
    if (outcome.status !== "busy") {
      this.#o.groups.putDecision(id, outcome, this.#o.clock.nowMs() + this.#o.lifetimeMs);
    }
    return outcome;
  }

  /**
   * lib/e2e's group checks: a node imports them on first use, so one that
   * hosts no group and checks no key package (a relay) never loads ts-mls (issue 13).
   */
  #mls(): Promise<typeof e2e> {
    return this.#checks ??= import("../e2e/group_checks.ts");
  }

  #delivery(mls: typeof e2e, e: GroupEnvelope): GroupOutcome {
    let d;
    try {
      d = decodeGroupDelivery(e.body);
    } catch (err) {
      return { status: "refused", store: [], note: (err as Error).message };
    }
    const key = groupKey(d);
    const j = judgeDelivery({
      self: this.#o.self,
      copy: this.#o.groups.memberGroup(key),
      sender: e.from,
      message: peek(mls, d.message),
      groupIdHex: d.groupId.toHex(),
      names: d.names,
      users: this.#users(d.names, key),
    });
    // Not remembered: judging again gives the same answer unless the group changed meanwhile, and
    // each user's copy is kept once (its row id); only fan-outs, which change things, are.
    return outcome(j, "message");
  }

  #fanoutIn(e: NodeEnvelope, origin: NodeId, id: string): GroupOutcome {
    let f: HubFanout;
    try {
      f = decodeHubFanout(e.body);
    } catch (err) {
      return { status: "refused", store: [], note: (err as Error).message };
    }
    const key = groupKey(f);
    const users: Record<string, InviteeFacts> = {};
    for (const [name, u] of Object.entries(this.#users(f.recipients, key))) {
      users[name] = {
        ...u,
        blocked: u.exists && this.#o.store.contactPolicy(name as UserName, f.actor) === "block",
      };
    }
    const now = this.#o.clock.nowMs();
    const j = judgeFanout({
      self: this.#o.self,
      origin,
      fanout: f,
      copy: this.#o.groups.memberGroup(key),
      users,
      nowMs: now,
    });
    let store = j.store;
    let states = j.effects.states;
    if (f.op === "invite") {
      // Budgeted like chat requests: per inviter, per origin, per invitee; dropped silently.
      store = store.filter((name) => this.#admitInvitation(name, f.actor, origin, now));
      states = states.filter((s) => s.state !== "invited" || store.includes(s.owner));
    }
    const result = outcome({ ...j, store }, f.op === "invite" ? "request" : "message");
    this.#o.groups.transaction(() => {
      // A copy is kept only while a local user stands in the group: a flood of invitations
      // dropped by their budgets leaves nothing behind.
      const hasCopy = this.#o.groups.memberGroup(key) !== undefined;
      if (j.effects.copy && (hasCopy || store.length > 0)) {
        this.#o.groups.putMemberGroup(j.effects.copy);
      }
      for (const s of states) this.#setState(s.owner, key, s.state, now);
      if (this.#o.groups.localUsersOf(key).length === 0) this.#o.groups.deleteMemberGroup(key);
      this.#remember(`${id}/${origin}`, result);
    });
    return result;
  }

  #admitInvitation(name: string, inviter: string, origin: NodeId, nowMs: number): boolean {
    let ok = this.#invitesBySender.take(inviter, nowMs) &&
      this.#invitesByOrigin.take(origin, nowMs);
    if (ok && !this.#invitations.fits(name)) {
      this.#invitations.refuse(name, nowMs);
      ok = false;
    }
    if (ok && !this.#groupsPerUser.fits(name)) {
      this.#groupsPerUser.refuse(name, nowMs);
      ok = false;
    }
    if (!ok) {
      this.#throttled.write("info", `invite|${origin}`, "invitation dropped: over its budget", {
        origin,
        to: name,
      });
    }
    return ok;
  }

  /** Sets a local user's standing, keeping the budgets in step. */
  #setState(owner: string, key: string, state: LocalGroupState | null, nowMs: number): void {
    const before = this.#o.groups.localState(owner, key);
    if (before === state) return;
    this.#o.groups.setLocalState(owner, key, state, nowMs);
    if (before === null) this.#groupsPerUser.take(owner);
    if (state === null) this.#groupsPerUser.release(owner);
    if (before === "invited") this.#invitations.release(owner);
    if (state === "invited") this.#invitations.take(owner);
  }

  /**
   * A local client's word on its standing in a group: `joined` after it
   * accepted an invitation (only an invitation waiting can become a membership),
   * `none` after it declined or left.
   */
  setLocalStanding(owner: UserName, key: string, state: "joined" | "none"): void {
    const now = this.#o.clock.nowMs();
    const before = this.#o.groups.localState(owner, key);
    if (state === "joined" && before !== "invited") return;
    this.#o.groups.transaction(() => {
      this.#setState(owner, key, state === "none" ? null : state, now);
      if (this.#o.groups.localUsersOf(key).length === 0) this.#o.groups.deleteMemberGroup(key);
    });
  }

  /**
   * Whether local user `owner` joined a group `sender` is a member of (by this
   * node's copies): a group file's chunks are let through like a contact's.
   */
  sharesGroup(owner: UserName, sender: string): boolean {
    return this.#o.groups.joinedMemberLists(owner).some((members) => members.includes(sender));
  }

  /** A local account was removed: its standings and key packages go, and their budgets. */
  forgetUser(owner: UserName): void {
    this.#o.groups.forgetUser(owner);
    this.#keyPackages.clear(owner);
    this.#invitations.clear(owner);
    this.#groupsPerUser.clear(owner);
  }

  // --- the hub --------------------------------------------------------------------------------

  async #hub(
    mls: typeof e2e,
    e: GroupEnvelope,
    origin: NodeId,
    id: string,
  ): Promise<GroupOutcome> {
    const refused = (note: string): GroupOutcome => {
      this.#throttled.write("info", `hub|${origin}`, "group submission refused", {
        origin,
        from: e.from,
        why: note,
      });
      return { status: "refused", store: [], note };
    };
    const now = this.#o.clock.nowMs();
    let s: HubSubmission;
    try {
      s = decodeHubSubmission(e.body);
    } catch (err) {
      return refused((err as Error).message);
    }
    const key = groupKey(s);
    const g0 = this.#o.groups.hubGroup(key);
    // The last submission taken is remembered with its sender: another member that saw its id
    // (ids are no secret) gets its own judged, not "stored" for a change the hub never took.
    // (A plain id: written by an older version.)
    const submitted = `${id}/${e.from}`;
    if (g0?.lastEnvelope === submitted || g0?.lastEnvelope === id) {
      return { status: "stored", store: [] };
    }
    if (!this.#hubByOrigin.take(origin, now)) return { status: "busy", store: [], note: "rate" };
    if (s.op === "create" && splitAddress(e.from).node !== this.#o.self) {
      return refused("a group's home is its creator's node");
    }
    // Cheap checks before any signature is verified: a stranger costs a lookup, not crypto.
    if (s.op !== "create") {
      if (!g0) return refused("no such group here");
      if (!g0.members.some((m) => m.address === e.from)) return refused("not a member");
      if (s.op !== "decline" && s.epoch !== g0.epoch) {
        return refused(`stale epoch ${s.epoch}: the group is at ${g0.epoch}`);
      }
      // Its fan-out waits on disk until the outbox has it: while this origin's share (or the
      // total) is used up, it waits at its origin instead. Under it, one more always fits.
      if (!this.#staged.fits(origin)) {
        this.#staged.refuse(origin, now);
        return { status: "busy", store: [], note: "fan-out backlog" };
      }
    }
    const message = s.op === "commit"
      ? peek(mls, s.commit)
      : s.op === "proposal"
      ? peek(mls, s.proposal)
      : null;
    let info: HubInfoFacts | null = null;
    if (s.op === "create" || s.op === "commit") {
      try {
        info = hubInfoFacts(await mls.readGroupHubInfo(s.hubInfo));
      } catch (err) {
        return refused(`hub info: ${(err as Error).message}`);
      }
    }
    // Decided on the state as it is after the await: a commit that won meanwhile makes this stale.
    const verdict = decideHub({
      self: this.#o.self,
      sender: e.from,
      envelopeId: submitted,
      nowMs: now,
      group: this.#o.groups.hubGroup(key),
      submission: s,
      info,
      message,
      hubGroups: this.#o.groups.hubGroupCount(),
      limits: {
        maxMembers: this.#o.limits.groupMembersMax,
        maxHubGroups: this.#o.limits.hubGroupsTotal,
      },
    });
    if (verdict.kind === "duplicate") return { status: "stored", store: [] };
    if (verdict.kind === "refuse") return refused(verdict.why);
    const ids = verdict.fanout.map((t) => fanoutId(e.id, e.from, t.node, t.body.op));
    // Each envelope is built as it is staged: memory holds one at a time, not one per member node.
    const self = this.#o.self, lifetimeMs = this.#o.lifetimeMs;
    const rows = function* (): Generator<FanoutRow> {
      for (const [i, t] of verdict.fanout.entries()) {
        const env = nodeEnvelope({
          id: ids[i],
          kind: "groupFanout",
          from: self,
          to: t.node as NodeId,
          body: encodeHubFanout(t.body),
          nowMs: now,
          lifetimeMs,
        });
        yield {
          id: envelopeIdHex(ids[i]),
          dest: t.node,
          bytes: encodeEnvelope(env),
          expiresAtMs: env.expiresAtMs,
        };
      }
    };
    // Re-read: nothing may have changed since decideHub (no await in between).
    let staged = 0;
    this.#o.groups.transaction(() => {
      this.#o.groups.putHubGroup(verdict.next);
      staged = this.#o.groups.stageFanout(rows(), origin);
      if (s.op === "create") {
        this.#o.groups.putMemberGroup({ key, epoch: 0, members: [e.from], updatedAtMs: now });
        this.#setState(splitAddress(e.from).name, key, "joined", now);
      }
    });
    if (staged > 0) this.#staged.set(origin, this.#staged.usedBy(origin) + staged);
    this.#o.log.debug("group submission accepted", {
      group: key,
      op: s.op,
      epoch: verdict.next.epoch,
      fanout: verdict.fanout.length,
    });
    if (verdict.fanout.length > 0) void this.#drain();
    return { status: "stored", store: [] };
  }

  /**
   * Hands staged fan-out to the outbox, oldest first, a batch of at most
   * `hub_fanout_memory_bytes` at a time, until none is left. One drainer runs
   * at a time (rows staged meanwhile go in its next batch), with one timer:
   * after the outbox failed, everything waits 5 s; after this node's own
   * users could not take theirs (a full inbox), rows for this node wait 5 s
   * and the other nodes' go on. Rows for one node stay in the order staged.
   */
  #drain(): Promise<void> {
    if (this.#stopped || this.#fanoutWait === "all") return Promise.resolve();
    if (this.#draining) {
      this.#again = true;
      return this.#loop ?? Promise.resolve();
    }
    this.#draining = true;
    this.#loop = this.#drainLoop();
    return this.#loop;
  }

  async #drainLoop(): Promise<void> {
    const self = this.#o.self;
    try {
      while (!this.#stopped) {
        const skip = this.#fanoutWait === "self" ? self : null;
        const rows = this.#o.groups.stagedFanout(this.#o.limits.hubFanoutMemoryBytes, skip);
        if (rows.length === 0) {
          if (!this.#again) return;
          this.#again = false;
          continue;
        }
        this.#held = rows.reduce((n, r) => n + r.bytes.length, 0);
        const parts = [rows.filter((r) => r.dest !== self), rows.filter((r) => r.dest === self)];
        const results = await Promise.allSettled(parts.map((p) => this.#handOver(p)));
        this.#held = 0;
        // Stopping: what was handed over stays staged, handed over again at the next start.
        if (this.#stopped) return;
        const done = parts.filter((_, i) => results[i].status === "fulfilled").flat();
        try {
          if (done.length > 0) this.#o.groups.unstageFanout(done.map((r) => r.id));
        } catch (err) {
          this.#fanoutFailed("all", err);
          return;
        }
        for (const r of done) this.#staged.release(r.origin ?? "", r.bytes.length);
        const failed = results.findIndex((r) => r.status === "rejected");
        if (failed === 0) {
          this.#fanoutFailed("all", (results[0] as PromiseRejectedResult).reason);
          return;
        }
        if (failed === 1) this.#fanoutFailed("self", (results[1] as PromiseRejectedResult).reason);
      }
    } finally {
      this.#held = 0;
      this.#draining = false;
      this.#loop = null;
    }
  }

  /** Async: a hand-over that throws is a rejected one, like one that fails later. */
  async #handOver(rows: FanoutRow[]): Promise<void> {
    if (rows.length > 0) await this.#o.fanout(rows);
  }

  /** A hand-over failed: what it was for waits 5 s (one timer for the node). */
  #fanoutFailed(what: "all" | "self", err: unknown): void {
    this.#o.log.warn("cannot hand over group fan-out yet", {
      to: what === "self" ? "this node" : "the outbox",
      why: (err as Error)?.message ?? String(err),
    });
    if (what === "all" || this.#fanoutWait === "none") this.#fanoutWait = what;
    if (this.#stopped || this.#retry !== null) return;
    this.#retry = this.#o.clock.setTimer(() => {
      this.#retry = null;
      this.#fanoutWait = "none";
      void this.#drain();
    }, FANOUT_RETRY_MS);
  }

  // --- key packages ---------------------------------------------------------------------------

  /**
   * Keeps key packages a local client published: each must be the user's own
   * (address), valid now, and signed; at most `key_packages_per_user` in all.
   *
   * @throws {RangeError} over the budget, or a package that does not check out
   */
  async publishKeyPackages(owner: UserName, list: readonly Uint8Array[]): Promise<KeyPackageEvent> {
    const mls = await this.#mls();
    const now = this.#o.clock.nowMs();
    const address = `${owner}@${this.#o.self}`;
    const rows = [];
    for (const bytes of list) {
      let kp: e2e.VerifiedGroupKeyPackage;
      try {
        kp = await mls.readGroupKeyPackage(bytes, { nowMs: now, address });
      } catch (err) {
        throw new RangeError(`Cannot publish key package: ${(err as Error).message}`, {
          cause: err,
        });
      }
      rows.push({
        ref: kp.ref.toHex(),
        bytes,
        lastResort: kp.lastResort,
        notAfterMs: kp.notAfterMs,
      });
    }
    const have = this.#o.groups.keyPackageUsage().get(owner) ?? 0;
    const oneTime = rows.filter((r) => !r.lastResort).length;
    if (!this.#keyPackages.fits(owner, oneTime)) {
      this.#keyPackages.refuse(owner, now);
      throw new RangeError(
        `Cannot publish key packages: ${have} kept, at most ${this.#o.limits.keyPackagesPerUser}`,
      );
    }
    this.#o.groups.addKeyPackages(owner, rows);
    this.#keyPackages.set(owner, this.#o.groups.keyPackageUsage().get(owner) ?? 0);
    return this.keyPackageCount(owner);
  }

  /** How many key packages `owner` has left here. */
  keyPackageCount(owner: UserName): KeyPackageEvent {
    const c = this.#o.groups.keyPackageCount(owner, this.#o.clock.nowMs());
    return { owner, count: c.oneTime, lastResort: c.lastResort };
  }

  #take(owner: UserName): Uint8Array | null {
    const kp = this.#o.groups.takeKeyPackage(owner, this.#o.clock.nowMs());
    this.#keyPackages.set(owner, this.#o.groups.keyPackageUsage().get(owner) ?? 0);
    if (kp) {
      const event = this.keyPackageCount(owner);
      for (const l of this.#listeners) l(event);
    }
    return kp;
  }

  /**
   * One key package of `addressText`, consumed (a one-time one is handed out once).
   *
   * @throws {Error} no such user, none published, over the rate, unreachable
   */
  async fetchKeyPackage(addressText: string, timeoutMs = 5000): Promise<Uint8Array> {
    const address = toAddress(addressText);
    const { name, node } = splitAddress(address);
    if (node === this.#o.self) {
      if (!this.#o.store.getAccount(name)) {
        throw new Error(`Cannot invite ${address}: no such user`);
      }
      const kp = this.#take(name);
      if (!kp) {
        throw new Error(`Cannot invite ${address}: their client has published no key package yet`);
      }
      return kp;
    }
    const e = nodeEnvelope({
      kind: "keyPackageRequest",
      from: this.#o.self,
      to: node,
      body: encodeKeyPackageRequest(name),
      nowMs: this.#o.clock.nowMs(),
      lifetimeMs: timeoutMs,
    });
    const key = envelopeIdHex(e.id);
    const answer = new Promise<Uint8Array | null>((resolve) => {
      const timer = this.#o.clock.setTimer(() => {
        this.#waiting.delete(key);
        resolve(null);
      }, timeoutMs);
      this.#waiting.set(key, (b) => {
        this.#o.clock.clearTimer(timer);
        resolve(b);
      });
    });
    const hop = this.#o.forwarder.sendEncoded(node, encodeEnvelope(e));
    if (hop === null) {
      this.#waiting.delete(key);
      throw new Error(`Cannot reach ${node}: no route to that node`);
    }
    const body = await answer;
    if (body === null) {
      this.#o.reportMiss(hop, node);
      throw new Error(`Cannot reach ${node}: no answer`);
    }
    const reply = decodeKeyPackageReply(body);
    if (reply.status === "ok") return reply.keyPackage!;
    throw new Error(
      reply.status === "no-such-user"
        ? `Cannot invite ${address}: no such user on ${node}`
        : reply.status === "busy"
        ? `Cannot invite ${address}: ${node} is handing out key packages too fast; try later`
        : `Cannot invite ${address}: their client has published no key package yet`,
    );
  }

  /** Handles keyPackageRequest and keyPackageReply envelopes addressed to this node. */
  receive(e: Envelope, viaPeer: NodeId | null = null): void {
    if (e.kind === "keyPackageReply") {
      const key = envelopeIdHex(e.id);
      const resolve = this.#waiting.get(key);
      if (!resolve) return;
      this.#waiting.delete(key);
      try {
        decodeKeyPackageReply(e.body);
        resolve(e.body);
      } catch {
        resolve(null);
      }
      return;
    }
    if (e.kind !== "keyPackageRequest") return;
    let name: UserName;
    try {
      name = decodeKeyPackageRequest(e.body) as UserName;
    } catch {
      return;
    }
    const origin = e.from as NodeId;
    let reply: Uint8Array;
    if (!this.#fetchesByOrigin.take(origin, this.#o.clock.nowMs())) {
      reply = encodeKeyPackageReply({ status: "busy" });
    } else if (!this.#o.store.getAccount(name)) {
      reply = encodeKeyPackageReply({ status: "no-such-user" });
    } else {
      const kp = this.#take(name);
      reply = encodeKeyPackageReply(kp ? { status: "ok", keyPackage: kp } : { status: "none" });
    }
    this.#o.forwarder.send(
      nodeEnvelope({
        id: e.id,
        kind: "keyPackageReply",
        from: this.#o.self,
        to: origin,
        body: reply,
        nowMs: this.#o.clock.nowMs(),
        lifetimeMs: 10_000,
      }),
      undefined,
      viaPeer ?? undefined,
    );
  }
}

/** The clear header of an MLS message, or null when it does not decode. */
function peek(mls: typeof e2e, bytes: Uint8Array): MessageFacts | null {
  try {
    const h = mls.peekGroupMessage(bytes);
    return { kind: h.kind, groupIdHex: h.groupId?.toHex() ?? null, epoch: h.epoch };
  } catch {
    return null;
  }
}

function hubInfoFacts(info: e2e.GroupHubInfo): HubInfoFacts {
  const row = (m: e2e.HubMember) => ({
    address: m.address,
    leaf: m.leafIndex,
    key: m.signatureKey.toHex(),
  });
  return {
    groupIdHex: info.groupId.toHex(),
    epoch: info.epoch,
    name: info.name,
    homeNode: info.homeNode,
    signer: row(info.signer),
    members: info.members.map(row),
  };
}

function outcome(j: GroupJudgement, kind: "request" | "message"): GroupOutcome {
  return {
    status: j.status,
    users: j.users,
    store: j.store.map((name) => ({ name, kind })),
    ...(j.note ? { note: j.note } : {}),
  };
}

/**
 * Fan-out ids are derived, so a crash and a second hand-over cannot duplicate them; the sender is
 * in them, so two members' submissions under one id (a squat) never share a fan-out id.
 * Synchronous: between a hub's decision and its transaction no other submission may run.
 */
function fanoutId(submission: Uint8Array, sender: string, node: string, op: string): Uint8Array {
  const enc = new TextEncoder();
  const h = createHash("sha256").update(FANOUT_LABEL).update(submission).update(enc.encode(sender))
    .update(new Uint8Array([0])).update(enc.encode(node)).update(new Uint8Array([0]))
    .update(enc.encode(op));
  return new Uint8Array(h.digest()).slice(0, 16);
}
