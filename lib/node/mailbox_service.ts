/**
 * This node as a mailbox: it holds sealed envelopes for the nodes its owner
 * agreed to serve while they are away, and hands them over when they come
 * back. The decisions are in mailbox_policy.ts; this is the shell.
 *
 * - A sender hands over an envelope in a `custody` envelope. The mailbox
 *   checks the inner envelope's proof (its origin must be the sender: nobody
 *   deposits for others), that it serves the destination, and its budgets;
 *   it stores the envelope durably and only then answers `held`.
 * - When the served node has a route, the mailbox sends what it holds, in the
 *   order it arrived, in `mailboxDelivery` envelopes (at most `window` in
 *   flight per node); the node's receipt for each id ends the mailbox's
 *   custody. Nothing is held past its keep-until on this node's clock.
 *
 * The mailbox sees node ids, sizes and times; the envelopes' bodies are end
 * to end encrypted, and their proofs let the destination refuse anything the
 * mailbox altered or made up.
 */
import { type Budget, type BudgetView, SenderShare, type Viewable } from "../budget.ts";
import type { Clock } from "../clock.ts";
import type { ProvenanceVerdict } from "../federation/mod.ts";
import type { NodeId } from "../ids.ts";
import type { Logger } from "../log.ts";
import {
  type DecodedEnvelope,
  decodeHeldEnvelope,
  destinationNode,
  encodeHeldEnvelope,
  envelopeIdHex,
  type NodeEnvelope,
  nodeEnvelope,
  originNode,
} from "../protocol/mod.ts";
import type { NodeStore, ServedRecord } from "../store/mod.ts";
import type { Committer } from "./committer.ts";
import { admitCustody } from "./mailbox_policy.ts";
import type { ReceiptEntries, ReceiptStatus } from "./receipt.ts";

/** What the mailbox needs of the node. */
export interface MailboxNetwork {
  /** Decodes envelope bytes with their proof and checks it (null: not an envelope). */
  verify(
    bytes: Uint8Array,
  ): { decoded: DecodedEnvelope; proven: boolean; verdict: ProvenanceVerdict } | null;
  hasRoute(node: NodeId): boolean;
  send(envelope: NodeEnvelope): unknown;
  /** Queues a receipt entry for `to`. */
  answer(to: NodeId, id: Uint8Array, status: ReceiptStatus, viaPeer: NodeId | null): void;
}

/** Limits of a mailbox (`[Limits]`). */
export interface MailboxLimits {
  /** Bytes one sending node may have held here, over all served nodes. */
  perSenderBytes: number;
  /** Bytes held here in all. */
  totalBytes: number;
  /** Quota of a served node when `mailbox serve` names none. */
  defaultQuotaBytes: number;
  /**
   * One sending node's share of a served node's quota, in percent of the room the other
   * senders leave (`sender_share_percent`; default 50, 100: none).
   */
  senderSharePercent?: number;
  /** Longest an envelope is held (this node's clock). */
  keepMs: number;
}

/** Options of {@linkcode MailboxService}. */
export interface MailboxServiceOptions {
  self: NodeId;
  store: NodeStore;
  committer: Committer;
  network: MailboxNetwork;
  clock: Clock;
  log: Logger;
  limits: MailboxLimits;
  /** Counts refusals (for `status --json` and the throttled log). */
  refusals: Budget;
  /**
   * Memory for a deposit of `bytes` from `sender` until its commit is flushed
   * (delivery's `commit_bytes`: lib/node/delivery_budgets.ts); taken when true.
   * Absent: not bounded here.
   */
  commitBytes?: {
    take(sender: NodeId, bytes: number, nowMs: number): boolean;
    release(sender: NodeId, bytes: number): void;
  };
  window?: number;
  retryMs?: number;
}

interface Lane {
  cursor: number;
  inflight: Map<string, { seq: number; sentAtMs: number }>;
}

/** The mailbox side of one node. */
export class MailboxService implements Viewable {
  readonly name = "mailbox_held_bytes";
  #o:
    & Required<Omit<MailboxServiceOptions, "commitBytes">>
    & Pick<MailboxServiceOptions, "commitBytes">;
  #served = new Map<NodeId, ServedRecord>();
  #byNode = new Map<NodeId, number>();
  #bySender = new Map<NodeId, number>();
  #total = 0;
  /** Each sending node's bytes held for each served node. */
  readonly share: SenderShare;
  #lanes = new Map<NodeId, Lane>();
  #timer: number;
  #stopped = false;

  constructor(options: MailboxServiceOptions) {
    this.#o = { window: 256, retryMs: 5_000, ...options };
    for (const s of options.store.servedNodes()) this.#served.set(s.node, s);
    const usage = options.store.heldUsage();
    this.#byNode = usage.byNode;
    this.#bySender = usage.byOrigin;
    for (const b of usage.byNode.values()) this.#total += b;
    this.share = new SenderShare(options.limits.senderSharePercent ?? 50);
    for (const p of usage.byPair) this.share.take(p.forNode, p.origin, p.bytes);
    this.#timer = options.clock.setTimer(() => this.#tick(), 250);
  }

  stop(): void {
    this.#stopped = true;
    this.#o.clock.clearTimer(this.#timer);
  }

  /** The owner agrees to hold envelopes for `node` (up to `quotaBytes`). */
  serve(node: NodeId, quotaBytes = this.#o.limits.defaultQuotaBytes): ServedRecord {
    const record = {
      node,
      quotaBytes,
      addedAtMs: this.#served.get(node)?.addedAtMs ?? this.#o.clock.nowMs(),
    };
    this.#o.store.putServed(record);
    this.#served.set(node, record);
    this.#o.log.info("serving as mailbox", { node, quotaBytes });
    return record;
  }

  /**
   * The owner stops serving `node`: nothing new is taken; what is held is
   * still handed over (its senders dropped their copies).
   */
  stopServing(node: NodeId): void {
    this.#o.store.deleteServed(node);
    this.#served.delete(node);
  }

  /** The nodes served, with what is held for each. */
  served(): Array<ServedRecord & { heldBytes: number }> {
    return [...this.#served.values()].map((s) => ({
      ...s,
      heldBytes: this.#byNode.get(s.node) ?? 0,
    }));
  }

  /** A sender hands over an envelope (a proven `custody` envelope from `e.from`). */
  receiveCustody(e: NodeEnvelope, viaPeer: NodeId | null): void {
    let inner: Uint8Array;
    try {
      inner = decodeHeldEnvelope(e.body);
    } catch {
      return this.#o.network.answer(e.from, e.id, "refused", viaPeer);
    }
    const checked = this.#o.network.verify(inner);
    const innerEnv = checked?.decoded.envelope;
    const id = innerEnv?.id ?? e.id;
    const hex = envelopeIdHex(id);
    const forNode = innerEnv ? destinationNode(innerEnv) : null;
    const served = forNode ? this.#served.get(forNode) : undefined;
    const status = admitCustody({
      proven: checked?.proven ?? false,
      fromSender: innerEnv !== undefined && originNode(innerEnv) === e.from,
      served: served !== undefined,
      alreadyHeld: this.#inflightOrHeld(forNode, hex),
      heldForNode: forNode ? this.#byNode.get(forNode) ?? 0 : 0,
      heldFromSender: this.#bySender.get(e.from) ?? 0,
      heldTotal: this.#total,
      size: inner.length,
      withinShare: !forNode || !served ||
        this.share.fits(
          forNode,
          e.from,
          inner.length,
          this.#byNode.get(forNode) ?? 0,
          served.quotaBytes,
        ),
      quotaForNode: served?.quotaBytes ?? 0,
      perSender: this.#o.limits.perSenderBytes,
      total: this.#o.limits.totalBytes,
    });
    if (status !== "held" || !innerEnv || !forNode) {
      if (status !== "held") this.#o.refusals.refuse(`${e.from}|${status}`, this.#o.clock.nowMs());
      return this.#o.network.answer(e.from, id, status, viaPeer);
    }
    const now = this.#o.clock.nowMs();
    // Held in memory until its commit is flushed: past the sender's share while the disk is slow,
    // "busy" (the sender keeps it and tries again) rather than held.
    const commit = this.#o.commitBytes;
    if (commit && !commit.take(e.from, inner.length, now)) {
      return this.#o.network.answer(e.from, id, "busy", viaPeer);
    }
    const lifetime = Math.min(innerEnv.expiresAtMs - innerEnv.createdAtMs, this.#o.limits.keepMs);
    // Counted against the quotas from admission on (deposits waiting for their commit included),
    // given back when the row was not added (a resend) or the commit failed.
    this.#count(forNode, e.from, inner.length);
    let added = false;
    this.#o.committer.write(
      () => {
        added = this.#o.store.holdAdd([{
          id: hex,
          forNode,
          origin: e.from,
          bytes: inner.slice(),
          keepUntilMs: now + lifetime,
        }]).size > 0;
      },
      () => {
        commit?.release(e.from, inner.length);
        let status: ReceiptStatus = "held";
        if (!added) {
          this.#uncount(forNode, e.from, inner.length);
          // Ids are no secret: another node's envelope held under this one (a relay that saw it
          // deposited its own first) is not this sender's, whose envelope was not kept.
          const holder = this.#o.store.heldOrigin(hex);
          if (holder !== undefined && holder !== e.from) status = "refused";
        }
        this.#o.network.answer(e.from, id, status, viaPeer);
      },
      // Not answered: its sender tries again.
      () => {
        commit?.release(e.from, inner.length);
        this.#uncount(forNode, e.from, inner.length);
      },
    );
  }

  #inflightOrHeld(forNode: NodeId | null, hex: string): boolean {
    return forNode !== null && (this.#lanes.get(forNode)?.inflight.has(hex) ?? false);
  }

  #count(forNode: NodeId, sender: NodeId, bytes: number): void {
    this.#byNode.set(forNode, (this.#byNode.get(forNode) ?? 0) + bytes);
    this.#bySender.set(sender, (this.#bySender.get(sender) ?? 0) + bytes);
    this.share.take(forNode, sender, bytes);
    this.#total += bytes;
  }

  #uncount(forNode: NodeId, sender: NodeId, bytes: number): void {
    less(this.#byNode, forNode, bytes);
    // Senders are any proven origins (fake ones a neighbour names included): none kept at zero.
    less(this.#bySender, sender, bytes);
    this.share.release(forNode, sender, bytes);
    this.#total = Math.max(0, this.#total - bytes);
  }

  /**
   * Receipts from `from` for envelopes this mailbox handed over; returns the
   * entries that were not about them (for delivery to settle).
   */
  settle(entries: ReceiptEntries, from: NodeId): ReceiptEntries {
    const lane = this.#lanes.get(from);
    if (!lane) return entries;
    const rest: ReceiptEntries = [];
    const done: string[] = [];
    for (const entry of entries) {
      const hex = envelopeIdHex(entry.id);
      if (!lane.inflight.has(hex)) {
        rest.push(entry);
        continue;
      }
      if (entry.status === "busy") {
        lane.inflight.get(hex)!.sentAtMs = 0; // sent again at the next tick
        continue;
      }
      done.push(hex);
    }
    if (done.length > 0) this.#drop(done, () => done.forEach((id) => lane.inflight.delete(id)));
    return rest;
  }

  #drop(ids: string[], then: () => void = () => {}): void {
    let gone: Array<{ forNode: NodeId; origin: NodeId; bytes: number }> = [];
    this.#o.committer.write(() => {
      gone = this.#o.store.heldDelete(ids);
    }, () => {
      for (const g of gone) this.#uncount(g.forNode, g.origin, g.bytes);
      then();
    });
  }

  #tick(): void {
    if (this.#stopped) return;
    const now = this.#o.clock.nowMs();
    for (const node of this.#o.store.heldNodes()) {
      if (!this.#o.network.hasRoute(node)) continue;
      let lane = this.#lanes.get(node);
      if (!lane) this.#lanes.set(node, lane = { cursor: 0, inflight: new Map() });
      this.#drain(node, lane, now);
    }
    const expired = this.#o.store.heldExpired(now, 1000);
    if (expired.length > 0) {
      this.#o.log.info("mailbox dropped envelopes past their keep-until", {
        envelopes: expired.length,
      });
      this.#drop(expired.map((h) => h.id));
    }
    this.#timer = this.#o.clock.setTimer(() => this.#tick(), 250);
  }

  /** Sends what is held for `node`, oldest first, and again what got no answer in time. */
  #drain(node: NodeId, lane: Lane, now: number): void {
    let resendFrom = Infinity;
    for (const f of lane.inflight.values()) {
      if (now - f.sentAtMs >= this.#o.retryMs) resendFrom = Math.min(resendFrom, f.seq);
    }
    if (resendFrom !== Infinity) {
      // Resend in order: the lane rereads from the oldest overdue one.
      for (const [id, f] of lane.inflight) if (f.seq >= resendFrom) lane.inflight.delete(id);
      lane.cursor = resendFrom - 1;
    }
    const room = this.#o.window - lane.inflight.size;
    if (room <= 0) return;
    for (const h of this.#o.store.heldFor(node, lane.cursor, room)) {
      lane.cursor = h.seq;
      if (lane.inflight.has(h.id)) continue;
      lane.inflight.set(h.id, { seq: h.seq, sentAtMs: now });
      this.#o.network.send(nodeEnvelope({
        id: Uint8Array.fromHex(h.id),
        kind: "mailboxDelivery",
        from: this.#o.self,
        to: node,
        body: encodeHeldEnvelope(h.bytes),
        nowMs: now,
        lifetimeMs: 60_000,
      }));
    }
  }

  /** For `status --json`. */
  view(): BudgetView {
    const refusals = this.#o.refusals.view();
    let top: { key: string; used: number } | undefined;
    for (const [key, used] of this.#byNode) if (!top || used > top.used) top = { key, used };
    return {
      limit: this.#o.limits.perSenderBytes,
      totalLimit: this.#o.limits.totalBytes,
      used: this.#total,
      keys: this.#byNode.size,
      ...(top ? { top } : {}),
      refusals: refusals.refusals,
      ...(refusals.lastRefusal ? { lastRefusal: refusals.lastRefusal } : {}),
    };
  }
}

/** Takes `bytes` off `key`'s count; a count at zero is deleted. */
function less(counts: Map<NodeId, number>, key: NodeId, bytes: number): void {
  const left = (counts.get(key) ?? 0) - bytes;
  if (left > 0) counts.set(key, left);
  else counts.delete(key);
}
