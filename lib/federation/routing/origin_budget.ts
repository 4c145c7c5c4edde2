/**
 * How many origins a node keeps, and from whom: the pure admission decision. An origin
 * heard through one neighbour only (provisional) counts against that neighbour, by number
 * and by bytes, and all provisional origins together against a total; every origin kept,
 * confirmed ones included, against `maxOrigins`. When a total is reached, provisional
 * origins of the neighbour holding most are evicted first; confirmed ones never are.
 */
import type { NodeId } from "../../ids.ts";

/** Routing-origin budgets; each is a `[Limits]` key in config.conf. */
export interface OriginLimits {
  /** Origins kept in all (`max_routing_origins`). Default 100,000. */
  maxOrigins: number;
  /** Provisional origins one neighbour may introduce (`max_provisional_origins_per_peer`). Default 4,096. */
  maxProvisionalPerPeer: number;
  /** Provisional origins in all (`max_provisional_origins`). Default 16,384. */
  maxProvisionalTotal: number;
  /** Bytes of provisional announcements from one neighbour (`max_provisional_bytes_per_peer`). Default 4 MiB. */
  maxProvisionalBytesPerPeer: number;
  /** Bytes of provisional announcements in all (`max_provisional_bytes`). Default 16 MiB. */
  maxProvisionalBytesTotal: number;
}

/** Defaults of {@linkcode OriginLimits}: room for a federation of tens of thousands of nodes. */
export const DEFAULT_ORIGIN_LIMITS: Readonly<OriginLimits> = Object.freeze({
  maxOrigins: 100_000,
  maxProvisionalPerPeer: 4096,
  maxProvisionalTotal: 16_384,
  maxProvisionalBytesPerPeer: 4 * 1024 * 1024,
  maxProvisionalBytesTotal: 16 * 1024 * 1024,
});

/** What is held now, as the decision needs it. */
export interface OriginUsage {
  /** Origins kept (any trust). */
  readonly origins: number;
  readonly provisional: number;
  readonly provisionalBytes: number;
  /** What `peer` has introduced and is still provisional. */
  of(peer: NodeId): { readonly count: number; readonly bytes: number };
  /** The neighbour with the most provisional origins, if any. */
  largest(): { readonly peer: NodeId; readonly count: number } | undefined;
}

/** The decision of {@linkcode admitOrigin}. */
export type Admission =
  | { readonly kind: "admit" }
  /** Evict one provisional origin of `peer`, then admit. */
  | { readonly kind: "evict"; readonly peer: NodeId }
  | { readonly kind: "refuse"; readonly budget: "per-peer" | "total" };

/**
 * Decides whether a new origin may be kept: provisional (introduced by `introducer`, `bytes`
 * of announcement) or, with `introducer` undefined, confirmed or pinned by a link.
 */
export function admitOrigin(
  { usage, limits, introducer, bytes }: {
    usage: OriginUsage;
    limits: OriginLimits;
    introducer: NodeId | undefined;
    bytes: number;
  },
): Admission {
  if (introducer !== undefined) {
    const mine = usage.of(introducer);
    if (
      mine.count + 1 > limits.maxProvisionalPerPeer ||
      mine.bytes + bytes > limits.maxProvisionalBytesPerPeer
    ) {
      return { kind: "refuse", budget: "per-peer" };
    }
    const full = usage.provisional + 1 > limits.maxProvisionalTotal ||
      usage.provisionalBytes + bytes > limits.maxProvisionalBytesTotal ||
      usage.origins + 1 > limits.maxOrigins;
    if (!full) return { kind: "admit" };
    // Fair share: only a neighbour holding more than this one gives way.
    const top = usage.largest();
    if (top !== undefined && top.peer !== introducer && top.count > mine.count + 1) {
      return { kind: "evict", peer: top.peer };
    }
    return { kind: "refuse", budget: "total" };
  }
  if (usage.origins + 1 <= limits.maxOrigins) return { kind: "admit" };
  const top = usage.largest();
  return top !== undefined
    ? { kind: "evict", peer: top.peer }
    : { kind: "refuse", budget: "total" };
}

/**
 * Decides whether a provisional origin already kept may grow from `oldBytes` to `newBytes`
 * (a newer announcement through its introducer).
 */
export function admitGrowth(
  { usage, limits, introducer, oldBytes, newBytes }: {
    usage: OriginUsage;
    limits: OriginLimits;
    introducer: NodeId;
    oldBytes: number;
    newBytes: number;
  },
): boolean {
  const delta = newBytes - oldBytes;
  if (delta <= 0) return true;
  return usage.of(introducer).bytes + delta <= limits.maxProvisionalBytesPerPeer &&
    usage.provisionalBytes + delta <= limits.maxProvisionalBytesTotal;
}
