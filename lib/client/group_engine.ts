/**
 * How a client's groups change (private engine of groups.ts; every method
 * here runs in the client's one queue):
 *
 * - **Applying** what arrives, strictly in the home node's order: a message
 *   or commit for an epoch we have not reached is held (`group_held`) and
 *   tried again after each change; a commit for our epoch from someone else
 *   means our own change for that epoch lost the race (dropped, retried).
 *   Commits pass the admin rule (group_rules.ts `commitAllowed`).
 * - **Changing** (add, remove, rename, leave, commit a leaver's removal): an
 *   intent becomes a commit or proposal, stored as pending with its new
 *   state and its envelope in one transaction, then handed to the home node;
 *   its answer (at once for a local home node, else the delivery notice)
 *   settles it: accepted, the pending state becomes ours; refused or beaten,
 *   it is dropped and the intent tried again on the next epoch (3 times).
 * - **Sending**: the new state, the message row and one envelope per
 *   destination node are stored in one transaction before anything leaves.
 */
import * as e2e from "../e2e/mod.ts";
import { peekGroupMessage } from "../e2e/mod.ts";
import type { GroupMessage, GroupMessageDelivery, MessageState } from "./api.ts";
import {
  acceptedState,
  appEnvelopes,
  type GroupContext,
  hubEnvelope,
  nodeOf,
  refOf,
  submitGroupEnvelope,
} from "./_group_context.ts";
import type { GroupMessageRow, GroupRow, HeldRow, Intent, PendingChange } from "./_group_tables.ts";
import { ChatStateError } from "./errors.ts";
import { FailedWork } from "./failed_work.ts";
import { decodeGroupInner, encodeGroupInner, type GroupInner } from "./group_payload.ts";
import { signInvitation, welcomeHash } from "./group_invitation.ts";
import {
  commitAllowed,
  commitDelayMs,
  deliverySummary,
  FAILED_GROUP_STEPS_PER_MINUTE,
  heldOrder,
  LIMITED_GROUP_FORWARD_STEPS,
  MAX_HELD_BYTES_PER_GROUP,
  MAX_HELD_BYTES_PER_NODE,
  MAX_HELD_PER_GROUP,
  MAX_HELD_PER_NODE,
} from "./group_rules.ts";
import type { HubSubmission } from "../protocol/mod.ts";

/** Tries an intent this many times (lost races, refusals) before giving up. */
const MAX_ATTEMPTS = 3;
/** Held messages tried per drain, so one drain stays bounded. */
const MAX_DRAIN_STEPS = 2000;

/** A group message to apply. */
export interface Incoming {
  /** Inbox id (held rows are keyed by it). */
  id: string;
  kind: HeldRow["kind"];
  /** Who the node says sent it (the envelope's sender, or the fan-out's actor). */
  sender: string;
  bytes: Uint8Array;
}

/** What applying one message does: stored in one transaction, then `after`. */
export interface Applied {
  kind: "done" | "hold" | "drop";
  write(): void;
  after(): Promise<void> | void;
  why?: string;
}

/** What an application message's content does (groups.ts decides per content). */
export type ContentHandler = (
  g: GroupRow,
  sender: string,
  inner: GroupInner,
) => { write(next: GroupRow): GroupRow; after(): void };

/** Waiting API calls, by intent id. */
type Waiter = { resolve: () => void; reject: (e: Error) => void };

const hex16 = () => crypto.getRandomValues(new Uint8Array(16)).toHex();

/** The group engine. */
export class GroupEngine {
  #ctx: GroupContext;
  #content: ContentHandler;
  #waiters = new Map<string, Waiter>();
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #schedule: (key: string) => void;
  /** Ratchet steps taken for messages that failed, per group and sender. */
  #failedWork = new FailedWork({ perMinute: FAILED_GROUP_STEPS_PER_MINUTE });

  constructor(
    ctx: GroupContext,
    content: ContentHandler,
    /** Runs `drain(key)` in the client's queue later (timers). */
    schedule: (key: string) => void,
  ) {
    this.#ctx = ctx;
    this.#content = content;
    this.#schedule = schedule;
  }

  /**
   * Work spent on group messages that failed: ratchet steps since start, senders
   * counted now, messages read under the limit.
   */
  failedWork(): { forwardSteps: number; senders: number; limitedMessages: number } {
    const { work, senders, limitedMessages } = this.#failedWork.stats();
    return { forwardSteps: work, senders, limitedMessages };
  }

  stop(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }

  /** Waits until intent `id` is carried out (or given up); false on timeout. */
  wait(id: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(id);
        resolve(false);
      }, timeoutMs);
      this.#waiters.set(id, {
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  #finish(intent: Intent | null, error?: Error): void {
    if (!intent) return;
    const w = this.#waiters.get(intent.id);
    this.#waiters.delete(intent.id);
    if (error) w?.reject(error);
    else w?.resolve();
  }

  #put(g: GroupRow): void {
    this.#ctx.store.groups.put(g);
  }

  /** An event line in the group's history (joined, left, added...), shown, never sent. */
  eventRow(g: GroupRow, text: string, sender = this.#ctx.self as string): GroupMessageRow {
    const now = this.#ctx.clock.nowMs();
    return {
      id: hex16(),
      key: g.key,
      sender,
      direction: "in",
      kind: "event",
      seq: 0,
      text,
      sentAtMs: now,
      receivedAtMs: now,
      state: "delivered",
      reason: null,
      delivery: {},
      queued: false,
    };
  }

  #emitGroup(key: string): void {
    const g = this.#ctx.store.groups.group(key);
    if (g) this.#ctx.emit({ kind: "group", group: groupView(this.#ctx, g) });
  }

  // --- applying ---------------------------------------------------------------------------------

  /** Applies (or holds) one message of group `g`. */
  async apply(g: GroupRow, m: Incoming): Promise<Applied> {
    const nothing = { write() {}, after() {} };
    const drop = (why: string): Applied => ({ kind: "drop", why, ...nothing });
    const hold = (): Applied => ({
      kind: "hold",
      write: () => this.hold(g.key, m),
      after() {},
    });
    if (g.state !== "active" || !g.mls) return drop("not in the group");
    let epoch: number;
    try {
      const h = peekGroupMessage(m.bytes);
      if (h.kind !== m.kind || h.groupId?.toHex() !== g.key.slice(0, 32)) {
        return drop("not this group's");
      }
      epoch = h.epoch!;
    } catch {
      return drop("does not decode");
    }
    if (m.kind === "commit" && m.sender === this.#ctx.self) {
      // Our own commit, fanned out by the home node: it won. The notice says the same; the first
      // of the two settles it.
      if (g.pending?.op === "commit" && g.pending.epoch === epoch) {
        const envelopeId = g.pending.envelopeId;
        return { kind: "done", write() {}, after: () => this.settle(g.key, envelopeId, true) };
      }
      return epoch >= g.epoch && g.pending ? hold() : drop("our own commit, settled already");
    }
    if (epoch > g.epoch) return hold();
    if (m.kind !== "application" && epoch < g.epoch) return drop("from a past epoch");
    const state = acceptedState(this.#ctx, g);
    // Our own change for this epoch lost to this commit (the home node takes one per epoch).
    const lost = m.kind === "commit" && g.pending !== null && g.pending.epoch === g.epoch;
    const candidates: e2e.GroupState[] = [state];
    if (lost && g.pending!.op === "proposal" && g.pendingState) {
      // Our leave proposal may be in this commit: only the state holding it can read that.
      candidates.unshift(e2e.decodeGroupState(g.pendingState));
    }
    let result: e2e.GroupReceiveResult | null = null;
    let error: unknown = null;
    // Keyed on the sender's node, which its node proved: one node's made-up addresses share it.
    const worker = `${g.key} ${nodeOf(m.sender)}`;
    const now = this.#ctx.clock.nowMs();
    const limited = this.#failedWork.limited(worker, now);
    const work = { forwardSteps: 0 };
    for (const candidate of candidates) {
      try {
        result = await e2e.processGroupMessage({
          state: candidate,
          message: m.bytes,
          work,
          ...(limited ? { maxForwardSteps: LIMITED_GROUP_FORWARD_STEPS } : {}),
          policy: (c) =>
            commitAllowed({
              committer: c.committer.address,
              added: c.added.map((a) => a.address),
              removed: c.removed.map((r) => r.address),
              renamed: c.name !== null && c.name !== candidate.name,
            }, g),
        });
        break;
      } catch (e) {
        error = e;
      }
    }
    if (!result) {
      this.#failedWork.add(worker, work.forwardSteps, now);
      // A commit that cannot be read yet may need a proposal still on its way: held and retried.
      if (m.kind === "commit") return hold();
      return drop(`cannot read: ${(error as Error)?.message ?? "unknown"}`);
    }
    let next: GroupRow = { ...g };
    let lostIntent: Intent | null = null;
    if (lost) {
      lostIntent = g.pending!.intent;
      next = { ...next, pending: null, pendingState: null, intents: this.#retried(g, lostIntent) };
    }
    const r = result;
    if (r.kind === "application") {
      let inner: GroupInner;
      try {
        inner = decodeGroupInner(r.plaintext);
      } catch (e) {
        return {
          kind: "done",
          why: `content: ${(e as Error).message}`,
          write: () => this.#put({ ...next, mls: e2e.encodeGroupState(r.newState) }),
          after: () => void this.#ctx.states.set(g.key, r.newState),
        };
      }
      const effect = this.#content(next, r.sender.address, inner);
      return {
        kind: "done",
        write: () => this.#put(effect.write({ ...next, mls: e2e.encodeGroupState(r.newState) })),
        after: () => {
          this.#ctx.states.set(g.key, r.newState);
          effect.after();
        },
      };
    }
    if (r.kind === "proposal") {
      const leaving = [...new Set([...next.leaving, r.sender.address])];
      const intents = next.intents.some((i) => i.op === "commit-proposals")
        ? next.intents
        : this.#commitProposalsIntent(next, r.newState, leaving);
      next = { ...next, mls: e2e.encodeGroupState(r.newState), leaving, intents };
      const row = this.eventRow(g, `${r.sender.address} is leaving`, r.sender.address);
      return {
        kind: "done",
        write: () => {
          this.#put(next);
          this.#ctx.store.groups.putMessage(row);
        },
        after: () => {
          this.#ctx.states.set(g.key, r.newState);
          this.#emitMessage(row);
        },
      };
    }
    return this.#committed(g, next, r, lostIntent);
  }

  #commitProposalsIntent(g: GroupRow, state: e2e.GroupState, leaving: string[]): Intent[] {
    const delay = commitDelayMs(
      this.#ctx.self,
      state.members.map((m) => m.address),
      g.admins,
      leaving,
    );
    if (delay === null) return g.intents;
    return [...g.intents, {
      id: hex16(),
      attempts: 0,
      op: "commit-proposals",
      notBeforeMs: this.#ctx.clock.nowMs() + delay,
    }];
  }

  /** A commit someone else made (in the home node's order) is ours now. */
  #committed(
    g: GroupRow,
    base: GroupRow,
    r: Extract<e2e.GroupReceiveResult, { kind: "commit" }>,
    lostIntent: Intent | null,
  ): Applied {
    const s = r.newState;
    const rows: GroupMessageRow[] = [];
    const who = r.committer.address;
    for (const a of r.added) rows.push(this.eventRow(g, `${who} invited ${a.address}`, who));
    for (const x of r.removed) {
      if (x.address === this.#ctx.self) continue;
      rows.push(
        this.eventRow(
          g,
          g.leaving.includes(x.address) ? `${x.address} left` : `${who} removed ${x.address}`,
          who,
        ),
      );
    }
    if (r.renamed !== null) {
      rows.push(this.eventRow(g, `${who} renamed the group to "${r.renamed}"`, who));
    }
    let next: GroupRow;
    if (r.removedSelf) {
      const left = g.intents.some((i) => i.op === "leave");
      rows.push(this.eventRow(g, left ? "you left the group" : `${who} removed you`, who));
      next = {
        ...base,
        state: left ? "left" : "removed",
        mls: null,
        epoch: s.epoch,
        pending: null,
        pendingState: null,
        intents: [],
        leaving: [],
      };
    } else {
      const members = new Set(s.members.map((m) => m.address));
      next = {
        ...base,
        mls: e2e.encodeGroupState(s),
        epoch: s.epoch,
        name: s.name,
        leaving: [],
        declined: base.declined.filter((a) => members.has(a)),
        joined: base.joined.filter((a) => members.has(a)),
        // Proposals end with the epoch: nothing left to commit, and our own leaving (if this
        // commit did not carry it out) is proposed again.
        intents: base.intents.filter((i) => i.op !== "commit-proposals").map((i) =>
          i.op === "leave" ? { ...i, proposedAt: null } : i
        ),
      };
    }
    const gone = r.removedSelf;
    return {
      kind: "done",
      write: () => {
        this.#put(next);
        for (const row of rows) this.#ctx.store.groups.putMessage(row);
        if (gone) this.#ctx.store.groups.dropHeld(g.key);
      },
      after: () => {
        if (gone) {
          this.#ctx.states.delete(g.key);
          this.#ctx.connection.send({ type: "groupPolicy", group: g.key, state: "none" });
          // Our leaving is done, even when the commit that carried it out came before the home
          // node's answer to our proposal (it does, when the answer is the slower of the two).
          for (const i of g.intents) {
            this.#finish(
              i,
              i.op === "leave" ? undefined : new ChatStateError("Cannot: you are out of the group"),
            );
          }
        } else this.#ctx.states.set(g.key, s);
        if (lostIntent && !next.intents.some((i) => i.id === lostIntent.id)) {
          this.#finish(
            lostIntent,
            new ChatStateError("Cannot change the group: it kept changing; try again"),
          );
        }
        for (const row of rows) this.#emitMessage(row);
        this.#emitGroup(g.key);
      },
    };
  }

  /** Intents after `lost` lost a race: tried again, unless it has been tried enough. */
  #retried(g: GroupRow, lost: Intent | null): Intent[] {
    if (!lost) return g.intents;
    return g.intents.flatMap((i) =>
      i.id !== lost.id
        ? [i]
        : i.attempts + 1 >= MAX_ATTEMPTS
        ? []
        : [{ ...i, attempts: i.attempts + 1 }]
    );
  }

  /**
   * Keeps a message for later, within its sender's share and the group's
   * (count and bytes, group_rules.ts): past one, a message tried too often
   * goes first, else the one furthest ahead, which may be this one.
   */
  hold(key: string, m: Incoming): void {
    let epoch = 0;
    try {
      epoch = peekGroupMessage(m.bytes).epoch ?? 0;
    } catch { /* kept at 0: tried and dropped at once */ }
    const groups = this.#ctx.store.groups;
    const now = this.#ctx.clock.nowMs();
    const size = m.bytes.length;
    const shares = [
      { node: nodeOf(m.sender), count: MAX_HELD_PER_NODE, bytes: MAX_HELD_BYTES_PER_NODE },
      { node: undefined, count: MAX_HELD_PER_GROUP, bytes: MAX_HELD_BYTES_PER_GROUP },
    ];
    for (const share of shares) {
      // Bounded: each turn drops one held message, and a group holds at most MAX_HELD_PER_GROUP.
      for (let i = 0; i <= MAX_HELD_PER_GROUP; i++) {
        const used = groups.heldUsage(key, share.node);
        if (used.count < share.count && used.bytes + size <= share.bytes) break;
        const drop = groups.heldToDrop(key, MAX_ATTEMPTS, share.node);
        const triedOut = drop !== undefined && drop.attempts > MAX_ATTEMPTS;
        if (!drop || (!triedOut && drop.epoch <= epoch)) {
          this.#ctx.log.info("a group message ahead of us is not kept", {
            from: m.sender,
            epoch,
            size,
          });
          return;
        }
        groups.unhold(drop.id);
      }
    }
    groups.hold({
      id: m.id,
      key,
      epoch,
      kind: m.kind,
      sender: m.sender,
      bytes: m.bytes,
      attempts: 0,
      receivedAtMs: now,
    });
  }

  /**
   * After any change: tries held messages in order, sends queued messages,
   * and starts the next intent that is due. Bounded in steps.
   */
  async drain(key: string): Promise<void> {
    const groups = this.#ctx.store.groups;
    for (let step = 0; step < MAX_DRAIN_STEPS; step++) {
      const g = groups.group(key);
      if (!g || g.state !== "active") return;
      const head = heldOrder(groups.heldHeads(key)).find((h) =>
        h.epoch <= g.epoch && h.attempts <= MAX_ATTEMPTS
      );
      const bytes = head && groups.heldBytes(head.id);
      if (!head || !bytes) break;
      const next = { ...head, bytes };
      const applied = await this.apply(g, next);
      if (applied.kind === "hold") {
        groups.heldAttempt(next.id);
        // Nothing else of a later epoch can go before it.
        if (next.kind === "commit") break;
        continue;
      }
      await this.#ctx.turn.write(() => {
        applied.write();
        groups.unhold(next.id);
      });
      await applied.after();
      if (applied.why) this.#ctx.log.debug("held group message dropped", { why: applied.why });
    }
    await this.#flushQueued(key);
    await this.#nextIntent(key);
  }

  // --- changing ---------------------------------------------------------------------------------

  /** Adds an intent and starts it if the group is free. */
  async intend(key: string, intent: Intent): Promise<void> {
    const g = this.#ctx.store.groups.group(key);
    if (!g || g.state !== "active") throw new ChatStateError("Cannot change the group: not in it");
    this.#put({ ...g, intents: [...g.intents, intent] });
    await this.#nextIntent(key);
  }

  async #nextIntent(key: string): Promise<void> {
    const g = this.#ctx.store.groups.group(key);
    if (!g || g.state !== "active" || g.pending) return;
    const now = this.#ctx.clock.nowMs();
    for (const intent of g.intents) {
      if (intent.op === "commit-proposals" && intent.notBeforeMs > now) {
        this.#later(key, intent.notBeforeMs - now);
        continue;
      }
      if (intent.op === "leave" && intent.proposedAt === g.epoch) continue;
      await this.#start(g, intent);
      return;
    }
  }

  #later(key: string, ms: number): void {
    if (this.#timers.has(key)) return;
    this.#timers.set(
      key,
      setTimeout(() => {
        this.#timers.delete(key);
        this.#schedule(key);
      }, Math.max(10, ms)),
    );
  }

  #drop(key: string, intent: Intent, error?: Error): void {
    const g = this.#ctx.store.groups.group(key);
    if (g) this.#put({ ...g, intents: g.intents.filter((i) => i.id !== intent.id) });
    this.#finish(intent, error);
  }

  /** Makes the commit or proposal of `intent`, stores it as pending, and hands it to the hub. */
  async #start(g: GroupRow, intent: Intent): Promise<void> {
    const ctx = this.#ctx;
    const state = acceptedState(ctx, g);
    const ref = refOf(g);
    const members = state.members.map((m) => m.address);
    let made: { newState: e2e.GroupState; submission: HubSubmission; what: string };
    try {
      switch (intent.op) {
        case "add": {
          const todo = intent.addresses.map((a, i) => ({ a, kp: intent.keyPackages[i] }))
            .filter((x) => !members.includes(x.a));
          if (todo.length === 0) return this.#drop(g.key, intent);
          const kps = [];
          for (const x of todo) {
            kps.push(
              await e2e.readGroupKeyPackage(Uint8Array.fromBase64(x.kp), {
                nowMs: ctx.clock.nowMs(),
                address: x.a,
              }),
            );
          }
          const c = await e2e.addGroupMembers({ state, keyPackages: kps });
          const hash = await welcomeHash(c.welcome!);
          const invitations = [];
          for (const x of todo) {
            invitations.push({
              invitee: x.a,
              invitation: await signInvitation({
                inviter: ctx.self,
                invitee: x.a,
                home: g.home,
                groupId: ref.groupId,
                name: c.newState.name,
                epoch: c.newState.epoch,
                createdAtMs: ctx.clock.nowMs(),
                welcomeHash: hash,
                admins: g.admins,
                joined: g.joined,
              }, ctx.identity),
            });
          }
          made = {
            newState: c.newState,
            what: `add ${todo.map((x) => x.a).join(", ")}`,
            submission: {
              ...ref,
              epoch: state.epoch,
              op: "commit",
              commit: c.commit,
              hubInfo: c.hubInfo,
              welcome: c.welcome,
              invitations,
            },
          };
          break;
        }
        case "remove": {
          if (!members.includes(intent.address)) return this.#drop(g.key, intent);
          const c = await e2e.removeGroupMembers({ state, addresses: [intent.address] });
          made = this.#commitMade(ref, state, c, `remove ${intent.address}`);
          break;
        }
        case "rename": {
          if (state.name === intent.name) return this.#drop(g.key, intent);
          const c = await e2e.renameGroup({ state, name: intent.name });
          made = this.#commitMade(ref, state, c, "rename");
          break;
        }
        case "commit-proposals": {
          if (state.pendingProposals === 0) return this.#drop(g.key, intent);
          const c = await e2e.commitPendingProposals({ state });
          made = this.#commitMade(ref, state, c, "commit a member's leaving");
          break;
        }
        case "leave": {
          const p = await e2e.proposeLeaveGroup({ state });
          made = {
            newState: p.newState,
            what: "leave",
            submission: { ...ref, epoch: state.epoch, op: "proposal", proposal: p.proposal },
          };
          break;
        }
      }
    } catch (e) {
      ctx.log.warn("cannot make a group change", { op: intent.op, why: (e as Error).message });
      return this.#drop(
        g.key,
        intent,
        new ChatStateError(`Cannot change the group: ${(e as Error).message}`, { cause: e }),
      );
    }
    const env = hubEnvelope(ctx, made.submission);
    const pending: PendingChange = {
      what: made.what,
      op: made.submission.op === "proposal" ? "proposal" : "commit",
      envelopeId: env.id,
      epoch: state.epoch,
      intent,
    };
    await ctx.turn.write(() => {
      this.#put({ ...g, pending, pendingState: e2e.encodeGroupState(made.newState) });
      ctx.store.groups.putOutgoing({
        envelopeId: env.id,
        key: g.key,
        messageId: null,
        kind: "hub",
        names: [],
        envelope: env.bytes,
        madeAtMs: ctx.clock.nowMs(),
      });
    });
    this.#emitGroup(g.key);
    await this.submitHub(g.key, env.id, env.bytes);
  }

  #commitMade(
    ref: ReturnType<typeof refOf>,
    state: e2e.GroupState,
    c: e2e.GroupCommitResult,
    what: string,
  ) {
    return {
      newState: c.newState,
      what,
      submission: {
        ...ref,
        epoch: state.epoch,
        op: "commit" as const,
        commit: c.commit,
        hubInfo: c.hubInfo,
        welcome: null,
        invitations: [],
      },
    };
  }

  /** Hands a stored submission to the node; a local home node answers at once. */
  async submitHub(key: string, envelopeId: string, bytes: Uint8Array): Promise<void> {
    const out = await submitGroupEnvelope(this.#ctx, bytes);
    if (out.kind === "retry") return; // sent again after the next connection
    this.#ctx.store.groups.deleteOutgoing(envelopeId);
    if (out.kind === "taken" && out.state === "sent") return; // the notice settles it
    await this.settle(
      key,
      envelopeId,
      out.kind === "taken",
      out.kind === "refused" ? out.reason : undefined,
    );
  }

  /** The home node's answer to our submission `envelopeId` of group `key`. */
  async settle(key: string, envelopeId: string, accepted: boolean, reason?: string): Promise<void> {
    const ctx = this.#ctx;
    const g = ctx.store.groups.group(key);
    if (!g || !g.pending || g.pending.envelopeId !== envelopeId) return;
    const p = g.pending;
    if (!accepted) {
      ctx.log.info("the home node did not take our group change", { what: p.what, why: reason });
      if (p.op === "create") {
        await ctx.turn.write(() => this.#put({ ...g, state: "removed", mls: null, pending: null }));
        ctx.states.delete(key);
        this.#emitGroup(key);
        return;
      }
      const intents = this.#retried(g, p.intent);
      this.#put({ ...g, pending: null, pendingState: null, intents });
      if (p.intent && !intents.some((i) => i.id === p.intent!.id)) {
        this.#finish(
          p.intent,
          new ChatStateError(
            `Cannot ${p.what}: the group's home node refused (${reason ?? "refused"})`,
          ),
        );
      }
      this.#emitGroup(key);
      // Tried again when the epoch moves on (a winner's commit arrives and drains), or after a
      // while if nothing moves (the refusal was for another reason).
      this.#later(key, 10_000);
      return;
    }
    if (p.op === "create") {
      this.#put({ ...g, pending: null });
      this.#emitGroup(key);
      return;
    }
    const s = e2e.decodeGroupState(g.pendingState!);
    const before = acceptedState(ctx, g);
    const rows: GroupMessageRow[] = [];
    let next: GroupRow;
    if (p.op === "proposal") {
      next = {
        ...g,
        mls: g.pendingState,
        pending: null,
        pendingState: null,
        leaving: [...new Set([...g.leaving, ctx.self])],
        intents: g.intents.map((i) => i.op === "leave" ? { ...i, proposedAt: g.epoch } : i),
      };
    } else {
      const members = new Set(s.members.map((m) => m.address));
      for (const m of s.members) {
        if (!before.members.some((b) => b.address === m.address)) {
          rows.push(this.eventRow(g, `you invited ${m.address}`));
        }
      }
      for (const m of before.members) {
        if (!members.has(m.address)) {
          rows.push(
            this.eventRow(
              g,
              g.leaving.includes(m.address) ? `${m.address} left` : `you removed ${m.address}`,
            ),
          );
        }
      }
      if (s.name !== before.name) {
        rows.push(this.eventRow(g, `you renamed the group to "${s.name}"`));
      }
      next = {
        ...g,
        mls: g.pendingState,
        epoch: s.epoch,
        name: s.name,
        pending: null,
        pendingState: null,
        leaving: [],
        declined: g.declined.filter((a) => members.has(a)),
        joined: g.joined.filter((a) => members.has(a)),
        intents: g.intents.filter((i) => i.id !== p.intent?.id && i.op !== "commit-proposals"),
      };
    }
    await ctx.turn.write(() => {
      this.#put(next);
      for (const row of rows) ctx.store.groups.putMessage(row);
    });
    ctx.states.set(key, s);
    this.#finish(p.intent);
    for (const row of rows) this.#emitMessage(row);
    this.#emitGroup(key);
    await this.drain(key);
  }

  // --- sending ----------------------------------------------------------------------------------

  /**
   * Encrypts `inner` for the group and stores the new state, `write`'s rows
   * and the envelopes (one per destination node) in one transaction. Returns
   * what to hand to the node, or null when a proposal blocks sending (RFC 9420
   * §12.2: the caller queues) or nobody else is in the group.
   *
   * @throws {ChatStateError} not in the group
   */
  async seal(
    g: GroupRow,
    inner: GroupInner,
    options: {
      messageId?: string;
      /** Changes to the group row (counters), made in the same transaction. */
      update?: (g: GroupRow) => GroupRow;
      /** Further writes in the same transaction, given the recipients. */
      write?: (recipients: string[]) => void;
    } = {},
  ): Promise<Array<{ id: string; bytes: Uint8Array; names: string[] }> | null> {
    const ctx = this.#ctx;
    if (g.state !== "active" || !g.mls) throw new ChatStateError("Cannot send: not in the group");
    const state = acceptedState(ctx, g);
    const recipients = state.members.map((m) => m.address).filter((a) => a !== ctx.self);
    const update = options.update ?? ((x: GroupRow) => x);
    if (recipients.length === 0) {
      await ctx.turn.write(() => {
        this.#put(update(ctx.store.groups.group(g.key) ?? g));
        options.write?.([]);
      });
      return [];
    }
    let sent;
    try {
      sent = await e2e.encryptGroupMessage({ state, plaintext: encodeGroupInner(inner) });
    } catch (e) {
      if (e instanceof e2e.StateError) return null;
      throw e;
    }
    const envs = appEnvelopes(ctx, refOf(g), recipients, sent.message);
    const now = ctx.clock.nowMs();
    await ctx.turn.write(() => {
      const latest = ctx.store.groups.group(g.key) ?? g;
      this.#put({ ...update(latest), mls: e2e.encodeGroupState(sent.newState) });
      options.write?.(recipients);
      for (const env of envs) {
        ctx.store.groups.putOutgoing({
          envelopeId: env.id,
          key: g.key,
          messageId: options.messageId ?? null,
          kind: "app",
          names: env.names,
          envelope: env.bytes,
          madeAtMs: now,
        });
        if (options.messageId) ctx.store.groups.putSent(env.id, options.messageId, env.names);
      }
    });
    ctx.states.set(g.key, sent.newState);
    return envs;
  }

  /** Texts queued while a proposal blocked sending: sealed now, in order. */
  async #flushQueued(key: string): Promise<void> {
    const groups = this.#ctx.store.groups;
    for (const m of groups.queued(key)) {
      const g = groups.group(key);
      if (!g || g.state !== "active") return;
      const envs = await this.seal(g, {
        t: "text",
        id: m.id,
        seq: m.seq,
        at: m.sentAtMs,
        text: m.text,
      }, {
        messageId: m.id,
        write: (recipients) =>
          groups.putMessage({
            ...m,
            queued: false,
            state: recipients.length === 0 ? "delivered" : "sending",
            delivery: Object.fromEntries(recipients.map((a) => [a, "sending"])),
          }),
      });
      if (envs === null) return;
      void this.submitApp(envs);
    }
  }

  /** Hands application envelopes to the node; what it says goes into their message's delivery. */
  async submitApp(envs: ReadonlyArray<{ id: string; bytes: Uint8Array }>): Promise<void> {
    // All at once: the node writes them to its outbox in one commit (one fsync), not one each.
    const outs = await Promise.all(envs.map((env) => submitGroupEnvelope(this.#ctx, env.bytes)));
    const shows: Array<() => void> = [];
    await this.#ctx.turn.write(() => {
      for (const [i, env] of envs.entries()) {
        const out = outs[i];
        if (out.kind === "retry") continue;
        this.#ctx.store.groups.deleteOutgoing(env.id);
        if (out.kind === "taken" && out.state === "sent") {
          shows.push(this.delivered(env.id, "sent"));
        } else if (out.kind === "taken") {
          shows.push(this.delivered(env.id, "delivered", out.users));
        } else shows.push(this.delivered(env.id, "failed", undefined, out.reason));
      }
    });
    for (const show of shows) show();
  }

  /**
   * What the node said about one of our application envelopes: per user (the
   * destination's results) or for all it carried. Writes (call it inside a
   * write of the turn) and returns what shows it, to run once committed.
   */
  delivered(
    envelopeId: string,
    state: "sent" | "delivered" | "failed",
    users?: Record<string, string>,
    reason?: string,
  ): () => void {
    const groups = this.#ctx.store.groups;
    const sent = groups.sent(envelopeId);
    if (!sent) return () => {};
    const m = groups.message(sent.messageId);
    if (!m) return () => {};
    const delivery = { ...m.delivery };
    for (const a of sent.names) {
      const u = users?.[a];
      const s = u !== undefined
        ? (u === "stored" ? "delivered" : `failed: ${u}`)
        : state === "failed"
        ? `failed: ${reason ?? "refused"}`
        : state;
      // Never step back: a notice may overtake the node's first answer.
      if (!(s === "sent" && delivery[a] !== "sending")) delivery[a] = s;
    }
    const next = { ...m, delivery, state: messageState(delivery) };
    groups.putMessage(next);
    if (state !== "sent") groups.deleteSent(envelopeId);
    const reads = groups.reads(m.key);
    return () =>
      this.#ctx.emit({
        kind: "groupState",
        group: m.key,
        id: m.id,
        state: next.state,
        delivery: deliveryView(next, reads),
      });
  }

  #emitMessage(row: GroupMessageRow): void {
    this.#ctx.emit({
      kind: "groupMessage",
      message: messageView(row, this.#ctx.store.groups.reads(row.key)),
    });
  }
}

/** The overall state of a sent group message from its recipients' states. */
export function messageState(delivery: Readonly<Record<string, string>>): GroupMessageRow["state"] {
  const states = Object.values(delivery);
  if (states.length === 0) return "delivered";
  if (states.some((s) => s === "sending")) return "sending";
  if (states.every((s) => s.startsWith("failed"))) return "failed";
  if (states.some((s) => s === "sent")) return "sent";
  return "delivered";
}

/** A message's delivery as views show it. */
export function deliveryView(
  m: GroupMessageRow,
  reads: Readonly<Record<string, number>>,
): GroupMessageDelivery {
  const members: GroupMessageDelivery["members"] = {};
  for (const [a, s] of Object.entries(m.delivery)) {
    members[a] = (reads[a] ?? 0) >= m.seq
      ? "read"
      : s.startsWith("failed")
      ? "failed"
      : (s as "sending" | "sent" | "delivered");
  }
  return { ...deliverySummary(m.delivery, m.seq, reads), members };
}

/** A message row as views see it. */
export function messageView(
  m: GroupMessageRow,
  reads: Readonly<Record<string, number>>,
): GroupMessage {
  const state: MessageState = m.direction === "out" && m.queued ? "sending" : m.state;
  return {
    id: m.id,
    group: m.key,
    sender: m.sender,
    direction: m.direction,
    kind: m.kind,
    text: m.text,
    sentAtMs: m.sentAtMs,
    receivedAtMs: m.receivedAtMs,
    state,
    ...(m.reason ? { reason: m.reason } : {}),
    ...(m.direction === "out" && m.kind === "text" ? { delivery: deliveryView(m, reads) } : {}),
  };
}

/** A group row as views see it. */
export function groupView(ctx: GroupContext, g: GroupRow): import("./api.ts").GroupView {
  const state = g.state === "active" && g.mls ? acceptedState(ctx, g) : null;
  return {
    id: g.key,
    name: g.name,
    home: g.home,
    state: g.state,
    epoch: g.epoch,
    members: state?.members.length ?? 0,
    admins: g.admins,
    admin: g.admins.includes(ctx.self),
    leaving: g.intents.some((i) => i.op === "leave"),
    unread: g.unread,
    lastMessageAtMs: g.lastMessageAtMs,
    pending: g.pending?.what ?? null,
  };
}
