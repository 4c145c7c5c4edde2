/**
 * Receipts on their way back: entries for each origin node are gathered
 * during a turn and sent as one `receipt` envelope (at most
 * {@linkcode MAX_RECEIPT_ENTRIES}) through the neighbour the origin's latest
 * envelope came from (an answer goes back the way its question came, which
 * is known to work).
 */
import { setImmediate } from "node:timers";
import type { Clock } from "../clock.ts";
import type { NodeId } from "../ids.ts";
import { type NodeEnvelope, nodeEnvelope } from "../protocol/mod.ts";
import { encodeReceiptEntries, type ReceiptEntry, type UserResult } from "./group_receipt.ts";
import { MAX_RECEIPT_ENTRIES, type ReceiptStatus } from "./receipt.ts";

/** Batches receipt entries per origin and sends them each turn. */
export class ReceiptBatcher {
  #self: NodeId;
  #clock: Clock;
  #send: (envelope: NodeEnvelope, prefer?: NodeId) => unknown;
  #pending = new Map<NodeId, ReceiptEntry[]>();
  #cameVia = new Map<NodeId, NodeId>();
  #scheduled = false;

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
    if (viaPeer) {
      this.#cameVia.delete(to);
      this.#cameVia.set(to, viaPeer);
      if (this.#cameVia.size > 10_000) this.#cameVia.delete(this.#cameVia.keys().next().value!);
    }
    let list = this.#pending.get(to);
    if (!list) this.#pending.set(to, list = []);
    list.push({ id, status, ...(users ? { users } : {}) });
    if (list.length >= MAX_RECEIPT_ENTRIES) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends everything queued now. */
  flush(): void {
    this.#scheduled = false;
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
