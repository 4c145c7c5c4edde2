/**
 * When to dial a peer again: one timer per peer on the injected clock, with
 * exponential backoff (0.5 s doubling to a cap, ±20 % jitter from the
 * injected randomness), reset after a link comes up, and a longer wait after
 * a disconnect for misbehaviour. The link manager asks; it never computes a
 * delay itself.
 */
import type { Clock } from "../clock.ts";
import type { NodeId } from "../ids.ts";

/** Options of {@linkcode Redial}. */
export interface RedialOptions {
  clock: Clock;
  /** A number in [0, 1): the jitter's randomness (default crypto.getRandomValues). */
  random?: () => number;
  minMs?: number;
  maxMs?: number;
  /** First wait after a disconnect for misbehaviour (doubling to `maxMs`). */
  penaltyMs?: number;
}

interface PeerTimer {
  timer: number | null;
  backoffMs: number;
  penaltyMs: number;
}

/** The next wait after a failure: double the last, at least `minMs`, at most `maxMs`. */
export function nextBackoff(lastMs: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, Math.max(minMs, lastMs * 2));
}

function cryptoRandom(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] / 2 ** 32;
}

/** Per-peer dial timers. */
export class Redial {
  #o: Required<RedialOptions>;
  #peers = new Map<NodeId, PeerTimer>();

  constructor(options: RedialOptions) {
    this.#o = {
      clock: options.clock,
      random: options.random ?? cryptoRandom,
      minMs: options.minMs ?? 500,
      maxMs: options.maxMs ?? 30_000,
      penaltyMs: options.penaltyMs ?? 5_000,
    };
  }

  #peer(peer: NodeId): PeerTimer {
    let p = this.#peers.get(peer);
    if (!p) this.#peers.set(peer, p = { timer: null, backoffMs: 0, penaltyMs: 0 });
    return p;
  }

  /** Runs `dial` after `delayMs`, replacing any timer already set for `peer`. */
  at(peer: NodeId, delayMs: number, dial: () => void): void {
    const p = this.#peer(peer);
    this.cancel(peer);
    p.timer = this.#o.clock.setTimer(() => {
      p.timer = null;
      dial();
    }, delayMs);
  }

  /** After a failed attempt: waits longer than last time, with jitter. */
  afterFailure(peer: NodeId, dial: () => void): void {
    const p = this.#peer(peer);
    p.backoffMs = nextBackoff(p.backoffMs, this.#o.minMs, this.#o.maxMs);
    this.at(peer, p.backoffMs * (0.8 + this.#o.random() * 0.4), dial);
  }

  /** After a link dropped: soon, or after the penalty when it was cut for misbehaviour. */
  afterDrop(peer: NodeId, dial: () => void): void {
    const p = this.#peer(peer);
    this.at(peer, p.penaltyMs || 200 + this.#o.random() * 300, dial);
  }

  /** The peer misbehaved: its next redial waits longer (doubling). */
  penalize(peer: NodeId): void {
    const p = this.#peer(peer);
    p.penaltyMs = nextBackoff(p.penaltyMs, this.#o.penaltyMs, this.#o.maxMs);
  }

  /** The wait after the peer's last disconnect for misbehaviour (0 if none). */
  penaltyOf(peer: NodeId): number {
    return this.#peers.get(peer)?.penaltyMs ?? 0;
  }

  /** A link came up (or the owner asked anew): the backoff starts over. */
  reset(peer: NodeId): void {
    this.#peer(peer).backoffMs = 0;
  }

  /** Whether a dial is scheduled for `peer`. */
  scheduled(peer: NodeId): boolean {
    return this.#peers.get(peer)?.timer != null;
  }

  cancel(peer: NodeId): void {
    const p = this.#peers.get(peer);
    if (p?.timer != null) this.#o.clock.clearTimer(p.timer);
    if (p) p.timer = null;
  }

  /** Forgets `peer` entirely. */
  forget(peer: NodeId): void {
    this.cancel(peer);
    this.#peers.delete(peer);
  }

  /** Cancels every timer. */
  stop(): void {
    for (const peer of this.#peers.keys()) this.cancel(peer);
  }
}
