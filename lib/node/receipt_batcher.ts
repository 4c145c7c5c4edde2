/**
 * Receipts on their way back: entries for each origin node are gathered
 * for {@linkcode RECEIPT_WAIT_MS} and sent as one `receipt` envelope (at most
 * {@linkcode MAX_RECEIPT_ENTRIES}) through the neighbour the origin's latest
 * envelope came from (an answer goes back the way its question came, which
 * is known to work).
 *
 * Why wait: every receipt is an envelope of this node's, proven with its own
 * signature and checked by every node on the way back (Ed25519 sign here and
 * a verify at each of them, 30–130 µs each). Sent every turn, at 1,000 msg/s
 * that was one receipt per one or two messages; gathered for 10 ms, about
 * ten messages share one. Only the sender's "delivered" notice waits for
 * it: a message's own way to its recipient does not, and its origin resends
 * only after 5 s without a receipt.
 *
 * An origin's batch that reaches {@linkcode RECEIPT_SOON_ENTRIES} leaves at
 * the end of the turn instead (`setImmediate`): it shares its signature as
 * widely as a 10 ms batch at 3,200 msg/s, and at the maximum rate the
 * sender's answers no longer wait 10 ms in every round trip of its window
 * (docs/PERF_NOTES.md, branch `pipeline`). A signature per that many entries
 * at most, whatever the rate: a peer that sends more gets no more signing
 * per envelope than before.
 */
import { setImmediate } from "node:timers";
import type { Clock } from "../clock.ts";
import type { NodeId } from "../ids.ts";
import { type NodeEnvelope, nodeEnvelope } from "../protocol/mod.ts";
import { encodeReceiptEntries, type ReceiptEntry, type UserResult } from "./group_receipt.ts";
import { MAX_RECEIPT_ENTRIES, type ReceiptStatus } from "./receipt.ts";

/** How long the first receipt entry of a batch waits for others. */
export const RECEIPT_WAIT_MS = 10;

/** An origin's batch of this many entries leaves at the end of the turn, without waiting. */
export const RECEIPT_SOON_ENTRIES = 32;

const defaultSchedule = (send: () => void) => void setImmediate(send);

/** Batches receipt entries per origin and sends them every {@linkcode RECEIPT_WAIT_MS}. */
export class ReceiptBatcher {
  #self: NodeId;
  #clock: Clock;
  #send: (envelope: NodeEnvelope, prefer?: NodeId) => unknown;
  #pending = new Map<NodeId, ReceiptEntry[]>();
  #cameVia = new Map<NodeId, NodeId>();
  /** The key `#cameVia` set last (already at the end of its order). */
  #lastVia: NodeId | undefined;
  #timer: number | undefined;
  #schedule: (send: () => void) => void;
  /** An end-of-turn send is scheduled ({@linkcode RECEIPT_SOON_ENTRIES}). */
  #soon = false;

  /** `schedule` runs its argument once this turn is over (default `setImmediate`; tests step it). */
  constructor(
    self: NodeId,
    o: {
      clock: Clock;
      send(envelope: NodeEnvelope, prefer?: NodeId): unknown;
      schedule?: (send: () => void) => void;
    },
  ) {
    this.#self = self;
    this.#clock = o.clock;
    this.#send = o.send;
    this.#schedule = o.schedule ?? defaultSchedule;
  }

  /**
   * Queues `status` for envelope `id` of `to`; `viaPeer` is where that envelope came from.
   * `users`: what was done for each user a group envelope named (sent as a version 3 receipt).
   */
  add(
    to: NodeId,
    id: Uint8Array,
    status: ReceiptStatus,
    viaPeer: NodeId | null,
    users?: UserResult[],
  ): void {
    // Moved to the end (the most recent) unless it is there already: deleting and re-adding an
    // entry of this long-lived map on every receipt gets it a fresh backing table every few
    // receipts, allocated in V8's old generation (docs/PERF_NOTES.md, branch `gcwhy`).
    if (viaPeer && (to !== this.#lastVia || this.#cameVia.get(to) !== viaPeer)) {
      this.#cameVia.delete(to);
      this.#cameVia.set(to, viaPeer);
      this.#lastVia = to;
      if (this.#cameVia.size > 10_000) this.#cameVia.delete(this.#cameVia.keys().next().value!);
    }
    let list = this.#pending.get(to);
    if (!list) this.#pending.set(to, list = []);
    list.push({ id, status, ...(users ? { users } : {}) });
    if (list.length >= MAX_RECEIPT_ENTRIES) return this.flush();
    if (list.length >= RECEIPT_SOON_ENTRIES && !this.#soon) {
      this.#soon = true;
      this.#schedule(() => {
        this.#soon = false;
        this.#sendFrom(RECEIPT_SOON_ENTRIES);
      });
    }
    if (this.#timer === undefined) {
      this.#timer = this.#clock.setTimer(() => {
        this.#timer = undefined;
        this.flush();
      }, RECEIPT_WAIT_MS);
    }
  }

  /** Drops what waits (the node is stopping; the origins ask again). */
  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#pending = new Map();
  }

  /** Sends everything queued now. */
  flush(): void {
    this.#sendFrom(1);
  }

  /** Sends the batches of at least `min` entries; the timer stays while others wait. */
  #sendFrom(min: number): void {
    // A fresh map each time, as before: entries deleted from a long-lived map cost more (`gcwhy`).
    const batches = this.#pending;
    this.#pending = new Map();
    for (const [to, entries] of batches) {
      if (entries.length >= min) continue;
      this.#pending.set(to, entries);
      batches.delete(to);
    }
    if (this.#pending.size === 0 && this.#timer !== undefined) {
      this.#clock.clearTimer(this.#timer);
      this.#timer = undefined;
    }
    const nowMs = this.#clock.nowMs();
    for (const [to, entries] of batches) {
      for (let i = 0; i < entries.length; i += MAX_RECEIPT_ENTRIES) {
        const body = encodeReceiptEntries(entries.slice(i, i + MAX_RECEIPT_ENTRIES));
        this.#send(
          nodeEnvelope({ kind: "receipt", from: this.#self, to, body, nowMs, lifetimeMs: 60_000 }),
          this.#cameVia.get(to),
        );
      }
    }
  }
}
