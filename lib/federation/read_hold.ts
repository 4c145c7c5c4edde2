/**
 * Relay backpressure: while the link a relay forwards to is not writable,
 * the relay stops reading from the link the envelope came in on, so a
 * sender's window piles up in the senders' sockets (TCP pushes back) and
 * not in the relay's memory.
 *
 * Bounded both ways:
 *
 * - a hold lasts at most `maxHoldMs` (below the heartbeat-silence limit:
 *   the held link's own heartbeats wait unread meanwhile, and the link
 *   manager does not count a held link as silent and counts silence only
 *   from its release);
 * - a hold that ran out means the next hop is slow, not briefly full: no new
 *   hold is made for it until it drains, so it cannot stall an incoming
 *   link's unrelated traffic again and again; its own budgets then apply
 *   (the write high-water marks, the hard limit and the stall deadline of
 *   lib/wss/write_limits.ts).
 *
 * Reading from the peer whose link is held stops as a whole (a link carries
 * one ordered stream), so its traffic to other next hops waits too, for at
 * most `maxHoldMs`.
 *
 * @example
 * ```ts
 * const holds = new ReadHolds({ clock, maxHoldMs: 1000, writable, pause, resume });
 * if (!writable(nextHop)) holds.hold(fromPeer, nextHop);
 * // the next hop's channel drained:
 * holds.drained(nextHop);
 * ```
 */
import type { Clock } from "../clock.ts";
import type { NodeId } from "../ids.ts";

/** Options of {@linkcode ReadHolds}. */
export interface ReadHoldsOptions {
  clock: Clock;
  /** Longest a link is held (keep it below the heartbeat-silence limit). */
  maxHoldMs: number;
  /** Whether the link to `peer` takes more now. */
  writable(peer: NodeId): boolean;
  /** Stops reading from `peer`'s link. */
  pause(peer: NodeId): void;
  /** Reads from `peer`'s link again. */
  resume(peer: NodeId): void;
}

interface Hold {
  /** The next hop it waits for. */
  to: NodeId;
  timer: number;
}

/** Which incoming links are held, and for which next hop. */
export class ReadHolds {
  #o: ReadHoldsOptions;
  #holds = new Map<NodeId, Hold>();
  /** Next hops whose last hold ran out: not held for again until they drain. */
  #slow = new Set<NodeId>();
  #made = 0;
  #ranOut = 0;

  constructor(o: ReadHoldsOptions) {
    this.#o = o;
  }

  /**
   * Stops reading from `from` until `to` is writable (or `maxHoldMs`
   * passed). Returns whether it holds now; nothing is done when `to` is
   * writable, slow, the same peer, or `from` is held already.
   */
  hold(from: NodeId, to: NodeId): boolean {
    if (from === to || this.#holds.has(from) || this.#slow.has(to) || this.#o.writable(to)) {
      return false;
    }
    const timer = this.#o.clock.setTimer(() => {
      this.#ranOut++;
      this.#slow.add(to);
      this.#release(from);
    }, this.#o.maxHoldMs);
    this.#holds.set(from, { to, timer });
    this.#made++;
    this.#o.pause(from);
    return true;
  }

  /** The link to `peer` is writable again: every link held for it is read again. */
  drained(peer: NodeId): void {
    this.#slow.delete(peer);
    for (const [from, h] of [...this.#holds]) {
      if (h.to === peer) this.#release(from);
    }
  }

  /** `peer`'s link went down: its own hold ends, and links held for it are read again. */
  down(peer: NodeId): void {
    const own = this.#holds.get(peer);
    if (own) {
      this.#o.clock.clearTimer(own.timer);
      this.#holds.delete(peer);
    }
    this.drained(peer);
  }

  /** Whether reading from `peer` is held now. */
  isHeld(peer: NodeId): boolean {
    return this.#holds.has(peer);
  }

  /** Counts for `status`: links held now, holds made, holds that ran out. */
  view(): { held: number; made: number; ranOut: number } {
    return { held: this.#holds.size, made: this.#made, ranOut: this.#ranOut };
  }

  /** Ends every hold (the node stops). */
  stop(): void {
    for (const h of this.#holds.values()) this.#o.clock.clearTimer(h.timer);
    this.#holds.clear();
  }

  #release(from: NodeId): void {
    const h = this.#holds.get(from);
    if (!h) return;
    this.#o.clock.clearTimer(h.timer);
    this.#holds.delete(from);
    this.#o.resume(from);
  }
}
