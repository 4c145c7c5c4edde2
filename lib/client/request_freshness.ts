/**
 * Is an incoming chat request fresh? A pure judgement over the request's
 * signed time (ChatRequest v2, docs/PROTOCOL.md §11.2), our clock, and what we
 * remember of requests already seen. A replay of an old request (even one
 * that really came from the contact) must never show again, so every request
 * that gets through is remembered by its hash until it would be refused as
 * stale anyway: the time bounds the memory, a cap per sender and in total
 * bounds it against floods.
 *
 * Clocks differ (workstations drift by minutes and sometimes hours, and an
 * envelope may wait in an outbox for its whole lifetime), so the window is
 * generous: a request is refused only when it is older than the longest an
 * envelope lives plus a day, or more than a day ahead of our clock.
 */

const HOUR_MS = 3_600_000;

/** Oldest request accepted: an envelope's 7-day lifetime plus a day of clock difference. */
export const REQUEST_MAX_AGE_MS = 8 * 24 * HOUR_MS;
/** Furthest ahead of our clock a request's time may be. */
export const REQUEST_MAX_AHEAD_MS = 24 * HOUR_MS;
/** Request hashes remembered per sender address; past it, that sender's new requests wait. */
export const REMEMBERED_REQUESTS_PER_SENDER = 32;
/**
 * Request hashes remembered for the addresses of one node; past it, that node's
 * new requests wait. Without it, one node's made-up addresses (32 requests each)
 * filled the total, and nobody else's request reached us for 8 days.
 */
export const REMEMBERED_REQUESTS_PER_NODE = 1_000;
/** Request hashes remembered in total. */
export const REMEMBERED_REQUESTS_TOTAL = 10_000;
/**
 * Requests waiting for an answer (the request list) from the addresses of one
 * node, and in all; past either, a request from a new address waits at its
 * sender. They stay until answered: without these, the list grew by a node's
 * 1,000 remembered requests every 8 days.
 */
export const WAITING_REQUESTS_PER_NODE = 100;
export const WAITING_REQUESTS_TOTAL = 1_000;

/** The bounds of {@linkcode judgeRequestFreshness}. */
export interface RequestFreshnessLimits {
  maxAgeMs: number;
  maxAheadMs: number;
  perSender: number;
  perNode: number;
  total: number;
  waitingPerNode: number;
  waiting: number;
}

/** The defaults, from the constants above. */
export const DEFAULT_REQUEST_FRESHNESS: RequestFreshnessLimits = Object.freeze({
  maxAgeMs: REQUEST_MAX_AGE_MS,
  maxAheadMs: REQUEST_MAX_AHEAD_MS,
  perSender: REMEMBERED_REQUESTS_PER_SENDER,
  perNode: REMEMBERED_REQUESTS_PER_NODE,
  total: REMEMBERED_REQUESTS_TOTAL,
  waitingPerNode: WAITING_REQUESTS_PER_NODE,
  waiting: WAITING_REQUESTS_TOTAL,
});

/** What the client remembers, as far as this request is concerned (expired entries purged). */
export interface RequestMemory {
  /** This request's hash is remembered: it was seen before. */
  seen: boolean;
  /** Hashes remembered for the request's sender. */
  forSender: number;
  /** Hashes remembered for the addresses of the sender's node. */
  forNode: number;
  /** Hashes remembered in total. */
  total: number;
  /** Requests waiting for an answer from other addresses of the sender's node, and in all. */
  waitingFromNode: number;
  waiting: number;
}

/** The verdict. Only `fresh` requests go on; `rememberUntilMs` is when the hash may be forgotten. */
export type Freshness =
  | { kind: "fresh"; rememberUntilMs: number }
  | { kind: "replay" }
  | { kind: "stale" }
  | { kind: "ahead" }
  | { kind: "memory-full" };

/** Options of {@linkcode judgeRequestFreshness}. */
export interface JudgeRequestFreshnessOptions {
  /** The request's signed time (the sender's clock). */
  createdAtMs: number;
  /** Our clock. */
  nowMs: number;
  memory: RequestMemory;
  limits?: RequestFreshnessLimits;
}

/** Judges one request; pure. */
export function judgeRequestFreshness(
  { createdAtMs, nowMs, memory, limits = DEFAULT_REQUEST_FRESHNESS }: JudgeRequestFreshnessOptions,
): Freshness {
  if (memory.seen) return { kind: "replay" };
  if (createdAtMs < nowMs - limits.maxAgeMs) return { kind: "stale" };
  if (createdAtMs > nowMs + limits.maxAheadMs) return { kind: "ahead" };
  // Refusing (rather than forgetting the oldest) keeps every remembered request a
  // replay; the cost falls on the flooding address, whose chat (if any) goes on.
  if (
    memory.forSender >= limits.perSender || memory.forNode >= limits.perNode ||
    memory.total >= limits.total || memory.waitingFromNode >= limits.waitingPerNode ||
    memory.waiting >= limits.waiting
  ) {
    return { kind: "memory-full" };
  }
  return { kind: "fresh", rememberUntilMs: createdAtMs + limits.maxAgeMs };
}
