/** Token buckets keyed by a string (a sender address, a sender node). */
import type { Clock } from "../clock.ts";

/** Options of {@linkcode RateLimiter}. */
export interface RateLimiterOptions {
  /** Tokens a key can hold (a burst). */
  burst: number;
  /** Tokens added per minute. */
  perMinute: number;
  /** Keys kept at most; the least recently used are dropped beyond this. */
  maxKeys?: number;
}

/** Allows at most `perMinute` events per key, with bursts up to `burst`. */
export class RateLimiter {
  #o: Required<RateLimiterOptions>;
  #clock: Clock;
  #buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(clock: Clock, options: RateLimiterOptions) {
    this.#clock = clock;
    this.#o = { maxKeys: 10_000, ...options };
  }

  /** Takes a token for `key`; false when the key is over its rate. */
  take(key: string): boolean {
    const now = this.#clock.nowMs();
    const b = this.#buckets.get(key) ?? { tokens: this.#o.burst, atMs: now };
    this.#buckets.delete(key);
    b.tokens = Math.min(this.#o.burst, b.tokens + ((now - b.atMs) * this.#o.perMinute) / 60_000);
    b.atMs = now;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.#buckets.set(key, b);
    if (this.#buckets.size > this.#o.maxKeys) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    return ok;
  }
}
