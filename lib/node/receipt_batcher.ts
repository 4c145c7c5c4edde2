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
 */
import type { Clock } from "../clock.ts";
import type { NodeId } from "../ids.ts";
import { type NodeEnvelope, nodeEnvelope } from "../protocol/mod.ts";
import { encodeReceiptEntries, type ReceiptEntry, type UserResult } from "./group_receipt.ts";
import { MAX_RECEIPT_ENTRIES, type ReceiptStatus } from "./receipt.ts";

/** How long the first receipt entry of a batch waits for others. */
export const RECEIPT_WAIT_MS = 10;

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

  constructor(
    self: NodeId,
    o: { clock: Clock; send(envelope: NodeEnvelope, prefer?: NodeId): unknown },
  ) {
    this.#self = self;
    this.#clock = o.clock;
    this.#send = o.send;
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
    if (list.length >= MAX_RECEIPT_ENTRIES) this.flush();
    else if (this.#timer === undefined) {
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
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    const batches = this.#pending;
    this.#pending = new Map();
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
