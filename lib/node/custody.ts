/**
 * The sending side of mailboxes. When a destination has mailboxes and no
 * route (or leaves several sends unanswered), an outbox envelope goes, with
 * this node's proof, to one of them in a `custody` envelope; when the
 * mailbox answers `held` it is durable there, and this node drops its copy
 * from the outbox and keeps only a custody record (id, owner, destination,
 * mailbox, expiry). The destination's receipt, when it comes (directly, or
 * as the answer to a `receiptQuery` this node sends whenever the
 * destination is reachable), turns it into `delivered`; the record's expiry
 * on this node's clock turns it into `failed: expired`.
 */
import type { Clock } from "../clock.ts";
import type { NodeId, UserName } from "../ids.ts";
import type { Logger } from "../log.ts";
import {
  encodeHeldEnvelope,
  encodeReceiptQuery,
  envelopeIdHex,
  MAX_QUERY_IDS,
  type NodeEnvelope,
  nodeEnvelope,
} from "../protocol/mod.ts";
import type { NodeStore } from "../store/mod.ts";
import type { Committer } from "./committer.ts";
import { chooseMailbox, wantsCustody } from "./mailbox_policy.ts";
import type { OutboxEntry } from "./outbox.ts";
import type { ReceiptEntries, ReceiptStatus } from "./receipt.ts";

/** What custody tells the client sessions. */
export type CustodyEvent = {
  owner: UserName;
  id: string;
  state: "held" | "delivered" | "failed";
  reason?: string;
};

/** Refusals remembered at most (each is a mailbox and a destination). */
const MAX_REFUSALS = 4096;

/** What custody needs of the node. */
export interface CustodyNetwork {
  hasRoute(node: NodeId): boolean;
  /** This node's proof on its own envelopes (unsigned bytes in, signed bytes out). */
  signOwn(unsigned: Uint8Array[]): Uint8Array[];
  sendEncoded(dest: NodeId, bytes: Uint8Array): NodeId | null;
  send(envelope: NodeEnvelope): unknown;
}

/** Options of {@linkcode Custody}. */
export interface CustodyOptions {
  self: NodeId;
  store: NodeStore;
  committer: Committer;
  network: CustodyNetwork;
  clock: Clock;
  log: Logger;
  /** The mailboxes `dest` named (from its announcement, kept across restarts). */
  mailboxesOf(dest: NodeId): readonly NodeId[];
  emit(event: CustodyEvent): void;
  /** An outbox entry went to custody: its outbox room is free. */
  released(owner: UserName, bytes: number): void;
  /** Sends straight to the destination before a mailbox is tried (while it has a route). */
  maxDirectAttempts?: number;
  /** A mailbox that refused is not asked again for this long. */
  refusedPauseMs?: number;
  /** Destinations with envelopes in custody are asked for receipts this often. */
  queryMs?: number;
}

/** Envelopes handed to mailboxes, and the handing over. */
export class Custody {
  #o: Required<CustodyOptions>;
  /** Ids in custody (the store has the records). */
  #ids: Set<string>;
  /** `mailbox|dest` → until when that mailbox is not asked again for that destination. */
  #refused = new Map<string, number>();
  #lastQuery = new Map<NodeId, number>();
  #timer: number;
  #stopped = false;

  constructor(options: CustodyOptions) {
    this.#o = { maxDirectAttempts: 3, refusedPauseMs: 60_000, queryMs: 30_000, ...options };
    this.#ids = new Set(
      options.store.custodyDestinations().flatMap((d) =>
        options.store.custodyFor(d, 1_000_000).map((r) => r.id)
      ),
    );
    this.#timer = options.clock.setTimer(() => this.#tick(), 1_000);
  }

  stop(): void {
    this.#stopped = true;
    this.#o.clock.clearTimer(this.#timer);
  }

  /** Envelopes in custody now. */
  get size(): number {
    return this.#ids.size;
  }

  /**
   * Whether `entry` should go to a mailbox now and, if so, hands it over;
   * returns the mailbox (the entry is in flight to it), or null to send it
   * the usual way.
   */
  maybeHandOver(entry: Pick<OutboxEntry, "dest" | "attempts" | "bytes">): NodeId | null {
    const mailboxes = this.#o.mailboxesOf(entry.dest);
    const hasRoute = this.#o.network.hasRoute(entry.dest);
    if (
      !wantsCustody({
        hasMailboxes: mailboxes.length > 0,
        hasRoute,
        attempts: entry.attempts,
        maxDirectAttempts: this.#o.maxDirectAttempts,
      })
    ) return null;
    const now = this.#o.clock.nowMs();
    const mailbox = chooseMailbox({
      mailboxes,
      hasRoute: (m) => m !== entry.dest && this.#o.network.hasRoute(m),
      refusedUntilMs: (m) => this.#refused.get(`${m}|${entry.dest}`) ?? 0,
      nowMs: now,
    });
    if (!mailbox) return null;
    const [signed] = this.#o.network.signOwn([entry.bytes]);
    const wrapped = nodeEnvelope({
      kind: "custody",
      from: this.#o.self,
      to: mailbox,
      body: encodeHeldEnvelope(signed),
      nowMs: now,
      lifetimeMs: 60_000,
    });
    return this.#o.network.send(wrapped) === "no-route" ? null : mailbox;
  }

  /**
   * A mailbox refused (`status`) to hold for `dest`: it is not asked again
   * for that destination for a while (another destination it serves may
   * still fit).
   */
  refusedBy(mailbox: NodeId, dest: NodeId, status: ReceiptStatus): void {
    const now = this.#o.clock.nowMs();
    if (this.#refused.size >= MAX_REFUSALS) {
      for (const [k, until] of this.#refused) if (until <= now) this.#refused.delete(k);
      if (this.#refused.size >= MAX_REFUSALS) return; // still full: asking again is harmless
    }
    this.#refused.set(`${mailbox}|${dest}`, now + this.#o.refusedPauseMs);
    this.#o.log.info("mailbox refused custody", { mailbox, dest, status });
  }

  /** `mailbox` holds these outbox entries now: this node keeps only custody records. */
  held(entries: OutboxEntry[], mailbox: NodeId): void {
    const rows = entries.map((e) => ({
      id: e.id,
      owner: e.owner,
      dest: e.dest,
      mailbox,
      expiresAtMs: e.expiresAtMs,
    }));
    this.#o.committer.write(() => {
      this.#o.store.custodyAdd(rows);
      this.#o.store.outboxDelete(rows.map((r) => r.id));
    }, () => {
      for (const e of entries) {
        this.#ids.add(e.id);
        this.#o.released(e.owner, e.bytes.length);
        this.#o.emit({ owner: e.owner, id: e.id, state: "held", reason: mailbox });
      }
    });
  }

  /** Receipts from `dest`; returns the entries that were not about envelopes in custody. */
  settle(entries: ReceiptEntries, dest: NodeId): ReceiptEntries {
    if (this.#ids.size === 0) return entries;
    const rest: ReceiptEntries = [];
    const done: Array<{ owner: UserName; id: string; status: ReceiptStatus }> = [];
    for (const entry of entries) {
      const hex = envelopeIdHex(entry.id);
      const rec = this.#ids.has(hex) ? this.#o.store.custodyGet(hex) : undefined;
      if (!rec || rec.dest !== dest || entry.status === "busy" || entry.status === "held") {
        rest.push(entry);
        continue;
      }
      done.push({ owner: rec.owner, id: hex, status: entry.status });
    }
    if (done.length > 0) this.#finish(done);
    return rest;
  }

  #finish(done: Array<{ owner: UserName; id: string; status: ReceiptStatus }>): void {
    this.#o.committer.write(() => this.#o.store.custodyDelete(done.map((d) => d.id)), () => {
      for (const d of done) {
        this.#ids.delete(d.id);
        this.#o.emit({
          owner: d.owner,
          id: d.id,
          state: d.status === "stored" ? "delivered" : "failed",
          ...(d.status === "stored" ? {} : { reason: d.status }),
        });
      }
    });
  }

  #tick(): void {
    if (this.#stopped) return;
    const now = this.#o.clock.nowMs();
    if (this.#ids.size > 0) {
      const expired = this.#o.store.custodyExpired(now, 1000);
      if (expired.length > 0) {
        this.#finish(expired.map((r) => ({ owner: r.owner, id: r.id, status: "expired" })));
      }
      for (const dest of this.#o.store.custodyDestinations()) {
        if (!this.#o.network.hasRoute(dest)) {
          this.#lastQuery.delete(dest);
          continue;
        }
        // Asked at once when the destination comes back, then every queryMs.
        if (now - (this.#lastQuery.get(dest) ?? 0) < this.#o.queryMs) continue;
        this.#lastQuery.set(dest, now);
        const ids = this.#o.store.custodyFor(dest, MAX_QUERY_IDS).map((r) =>
          Uint8Array.fromHex(r.id)
        );
        this.#o.network.send(nodeEnvelope({
          kind: "receiptQuery",
          from: this.#o.self,
          to: dest,
          body: encodeReceiptQuery(ids),
          nowMs: now,
          lifetimeMs: 60_000,
        }));
      }
    }
    this.#timer = this.#o.clock.setTimer(() => this.#tick(), 1_000);
  }
}
