/**
 * The peers barred from linking after a cut for misbehaviour, each until its
 * penalty runs out (LinkManager refuses their incoming links meanwhile).
 *
 * Bounded: on an open node every cut stranger adds an entry, so past `limit`
 * entries the expired ones go, then the oldest barred.
 */
import type { Clock } from "../clock.ts";
import type { NodeId } from "../ids.ts";

/** Most peers barred at once by default. */
export const BARRED_MAX = 4096;

/** Peers barred until a time, at most `limit` of them. */
export class PenaltyBar {
  #until = new Map<NodeId, number>();
  #clock: Clock;
  #limit: number;

  constructor(clock: Clock, limit = BARRED_MAX) {
    this.#clock = clock;
    this.#limit = limit;
  }

  /** Bars `peer` until `untilMs` (a later bar replaces an earlier one). */
  bar(peer: NodeId, untilMs: number): void {
    const bars = this.#until;
    bars.delete(peer);
    if (bars.size >= this.#limit) {
      const now = this.#clock.nowMs();
      for (const [id, until] of bars) if (until <= now) bars.delete(id);
      if (bars.size >= this.#limit) bars.delete(bars.keys().next().value!);
    }
    bars.set(peer, untilMs);
  }

  /** Whether `peer` is barred now (an expired bar is dropped). */
  barred(peer: NodeId): boolean {
    const until = this.#until.get(peer);
    if (until === undefined) return false;
    if (this.#clock.nowMs() < until) return true;
    this.#until.delete(peer);
    return false;
  }

  /** Lifts `peer`'s bar, if any. */
  lift(peer: NodeId): void {
    this.#until.delete(peer);
  }

  /** Entries kept (expired ones included until they are looked at or pushed out). */
  get size(): number {
    return this.#until.size;
  }
}
