/**
 * What a node keeps about one origin, and the pure transition that accepts or refuses an
 * announcement for it. The link-state database is a map of these, one per origin, so a
 * transition touches one small immutable record.
 */
import type { NodeId } from "../../ids.ts";
import type { SignedAnnouncement } from "./announcement.ts";

/** Per-origin state. */
export interface OriginState {
  /** The pinned key: from the link handshake, or the first verified announcement (TOFU). */
  readonly key: Uint8Array | undefined;
  /** Highest seq accepted; kept after the announcement expires so replays stay stale. */
  readonly seq: number;
  /** The current announcement, until it expires. */
  readonly announcement: SignedAnnouncement | undefined;
}

/** The state of an origin never heard of. */
export const UNKNOWN_ORIGIN: OriginState = Object.freeze({
  key: undefined,
  seq: 0,
  announcement: undefined,
});

/** Why an announcement was refused. */
export type RejectReason =
  | "bad-encoding"
  | "bad-signature"
  | "key-mismatch"
  | "from-future"
  | "expired"
  | "bad-lifetime";

/** Bounds on what an announcement may claim. */
export interface AcceptanceOptions {
  /** How far ahead of our clock a seq or issuedAtMs may be. Default 5 minutes. */
  maxSkewMs?: number;
  /** Longest expiresAtMs − issuedAtMs accepted. Default 1 hour. */
  maxLifetimeMs?: number;
}

/** Default {@linkcode AcceptanceOptions.maxSkewMs}. */
export const DEFAULT_MAX_SKEW_MS = 5 * 60_000;
/** Default {@linkcode AcceptanceOptions.maxLifetimeMs}. */
export const DEFAULT_MAX_LIFETIME_MS = 60 * 60_000;

/** Outcome of the cheap checks made before the signature. */
export type Precheck =
  | { readonly kind: "duplicate" | "stale"; readonly reason?: undefined }
  | { readonly kind: "rejected"; readonly reason: RejectReason }
  | { readonly kind: "verify"; readonly publicKey: Uint8Array; readonly reason?: undefined };

/**
 * Runs every check that needs no crypto; `verify` means the signature must now be checked
 * under `publicKey`. Duplicates and replays are settled here, before any signature work.
 */
export function checkAnnouncement(
  { state, input, options = {} }: {
    state: OriginState;
    input: { announcement: SignedAnnouncement; nowMs: number };
    options?: AcceptanceOptions;
  },
): Precheck {
  const { maxSkewMs = DEFAULT_MAX_SKEW_MS, maxLifetimeMs = DEFAULT_MAX_LIFETIME_MS } = options;
  const { announcement: a, nowMs } = input;
  if (a.seq < state.seq) return { kind: "stale" };
  if (a.seq === state.seq) return { kind: "duplicate" };
  if (state.key !== undefined && !bytesEqual(state.key, a.publicKey)) {
    return { kind: "rejected", reason: "key-mismatch" };
  }
  // A seq far ahead would shut out the origin's real announcements until its clock got there.
  if (a.seq > nowMs + maxSkewMs || a.issuedAtMs > nowMs + maxSkewMs) {
    return { kind: "rejected", reason: "from-future" };
  }
  if (a.expiresAtMs <= nowMs) return { kind: "rejected", reason: "expired" };
  if (a.expiresAtMs <= a.issuedAtMs || a.expiresAtMs - a.issuedAtMs > maxLifetimeMs) {
    return { kind: "rejected", reason: "bad-lifetime" };
  }
  return { kind: "verify", publicKey: state.key ?? a.publicKey };
}

/** Result of {@linkcode receive}. */
export type ReceiveResult =
  | {
    readonly kind: "accepted";
    readonly newState: OriginState;
    /** Neighbours to forward the unchanged bytes to. */
    readonly forward: readonly NodeId[];
    readonly reason?: undefined;
  }
  | {
    readonly kind: "duplicate" | "stale" | "rejected";
    readonly newState: OriginState;
    readonly reason?: RejectReason;
    readonly forward?: undefined;
  };

/**
 * The transition: given the origin's state and an announcement whose signature was checked
 * under the key {@linkcode checkAnnouncement} named, accepts it or says why not. Never
 * mutates `state`.
 */
export function receive(
  { state, input, options }: {
    state: OriginState;
    input: {
      announcement: SignedAnnouncement;
      nowMs: number;
      signatureValid: boolean;
      /** The neighbour it came from; it is not sent back there. */
      fromPeer: NodeId;
      neighbours: readonly NodeId[];
    };
    options?: AcceptanceOptions;
  },
): ReceiveResult {
  const { announcement: a } = input;
  const pre = checkAnnouncement({ state, input, options });
  if (pre.kind === "duplicate" || pre.kind === "stale") return { kind: pre.kind, newState: state };
  if (pre.kind === "rejected") return { kind: "rejected", newState: state, reason: pre.reason };
  if (!input.signatureValid) return { kind: "rejected", newState: state, reason: "bad-signature" };
  // The origin gets its own announcement back too: if it is not the origin's latest (an
  // earlier run's), the origin then lifts its seq past it.
  const forward = input.neighbours.filter((n) => n !== input.fromPeer);
  return {
    kind: "accepted",
    newState: Object.freeze({ key: state.key ?? a.publicKey, seq: a.seq, announcement: a }),
    forward,
  };
}

/** Compares public bytes (keys, wire bytes); not for secrets. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
