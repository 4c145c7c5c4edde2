/**
 * The sending node's outbox in memory: per destination node, envelopes not
 * yet sent (oldest first) and envelopes in flight waiting for a receipt. Each
 * pump touches only what it sends, so a long outbox (a destination offline
 * for a while) costs nothing per message.
 */
import type { NodeId, UserName } from "../ids.ts";
import type { Envelope } from "../protocol/mod.ts";

/** One envelope waiting for its destination's receipt. */
export interface Pending {
  envelope: Envelope;
  bytes: Uint8Array;
  owner: UserName;
  dest: NodeId;
  /** When it was last handed to a link; 0 when not in flight. */
  sentAtMs: number;
  /** Order of arrival in the outbox. */
  seq: number;
}

interface Lane {
  unsent: Map<string, Pending>;
  inflight: Map<string, Pending>;
}

/** Outbox entries by destination, in order. */
export class OutboxQueue {
  #all = new Map<string, Pending>();
  #lanes = new Map<NodeId, Lane>();
  #seq = 0;

  get size(): number {
    return this.#all.size;
  }

  has(id: string): boolean {
    return this.#all.has(id);
  }

  get(id: string): Pending | undefined {
    return this.#all.get(id);
  }

  values(): IterableIterator<Pending> {
    return this.#all.values();
  }

  #lane(dest: NodeId): Lane {
    let lane = this.#lanes.get(dest);
    if (!lane) {
      lane = { unsent: new Map(), inflight: new Map() };
      this.#lanes.set(dest, lane);
    }
    return lane;
  }

  /** Appends an envelope (ignored when its id is there already). */
  add(id: string, p: Omit<Pending, "seq" | "sentAtMs">): void {
    if (this.#all.has(id)) return;
    const entry: Pending = { ...p, sentAtMs: 0, seq: this.#seq++ };
    this.#all.set(id, entry);
    this.#lane(p.dest).unsent.set(id, entry);
  }

  /** Removes an envelope (receipted or expired). */
  remove(id: string): Pending | undefined {
    const p = this.#all.get(id);
    if (!p) return undefined;
    this.#all.delete(id);
    const lane = this.#lanes.get(p.dest)!;
    lane.unsent.delete(id);
    lane.inflight.delete(id);
    if (lane.unsent.size === 0 && lane.inflight.size === 0) this.#lanes.delete(p.dest);
    return p;
  }

  /**
   * Sends, per destination and oldest first, until `window` are in flight or
   * `send` refuses (no route: the rest of that destination waits).
   */
  pump(window: number, nowMs: number, send: (p: Pending) => boolean): void {
    for (const lane of this.#lanes.values()) {
      while (lane.inflight.size < window && lane.unsent.size > 0) {
        const [id, p] = lane.unsent.entries().next().value!;
        if (p.envelope.expiresAtMs <= nowMs) {
          lane.unsent.delete(id);
          lane.inflight.set(id, p); // expiry removes it; it must not block the lane
          continue;
        }
        if (!send(p)) break;
        p.sentAtMs = nowMs;
        lane.unsent.delete(id);
        lane.inflight.set(id, p);
      }
    }
  }

  /** Puts envelopes whose receipt is overdue back at the front of their destination's queue. */
  requeueOverdue(nowMs: number, retryMs: number): void {
    for (const lane of this.#lanes.values()) {
      const overdue = [...lane.inflight.entries()].filter(([, p]) => nowMs - p.sentAtMs >= retryMs);
      if (overdue.length === 0) continue;
      for (const [id] of overdue) lane.inflight.delete(id);
      const merged = [...overdue, ...lane.unsent.entries()].sort((a, b) => a[1].seq - b[1].seq);
      lane.unsent = new Map(merged.map(([id, p]) => [id, { ...p, sentAtMs: 0 }]));
      for (const [id, p] of lane.unsent) this.#all.set(id, p);
    }
  }
}
