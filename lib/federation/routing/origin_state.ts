/**
 * What a node keeps about one origin, and the pure transitions that accept or refuse an
 * announcement for it. The link-state database is a table of these, one per origin, so a
 * transition reads one small immutable record and returns the next.
 *
 * Trust in an origin's key (see docs/SECURITY.md "Routing"):
 * - `link`: proven by a link handshake with this node; overrides anything flooded.
 * - `confirmed`: delivered (the same key, validly signed) through two different neighbours,
 *   or pinned so in an earlier run. The earliest confirmed key of an id keeps it.
 * - `provisional`: heard through one neighbour only (its `introducer`), counted against
 *   that neighbour's budget; never persisted, believed for receipts only while no other
 *   neighbour contests it (earliest seen). A different key
 *   for the id from another neighbour is held as a `rival`; the first of the two keys to be
 *   delivered by a second neighbour wins.
 *
 * Freshness is clock-free: an announcement carries its lifetime (signed) and its age
 * (unsigned, raised at every hop); it expires `lifetime − age` after it arrives, by the
 * receiver's own clock. Seqs count announcements, so a seq far beyond the last one accepted
 * is refused without comparing clocks.
 */
import type { NodeId } from "../../ids.ts";
import { MAX_SEQ, type SignedAnnouncement } from "./announcement.ts";

/** How far an origin's key is believed. */
export type Trust = "link" | "confirmed" | "provisional";

/** Per-origin state. */
export interface OriginState {
  /** The pinned key, undefined for an origin never heard of. */
  readonly key: Uint8Array | undefined;
  readonly trust: Trust | undefined;
  /** For a provisional origin: the one neighbour it came through. */
  readonly introducer: NodeId | undefined;
  /** For a provisional origin: another key for the id, validly signed, from another neighbour. */
  readonly rival: { readonly key: Uint8Array; readonly via: NodeId } | undefined;
  /** Highest seq accepted under `key`; kept after the announcement expires. */
  readonly seq: number;
  /** The current announcement, until it expires. */
  readonly announcement: SignedAnnouncement | undefined;
  /** When the announcement expires, by this node's clock. */
  readonly expiresAtMs: number;
}

/** The state of an origin never heard of. */
export const UNKNOWN_ORIGIN: OriginState = Object.freeze({
  key: undefined,
  trust: undefined,
  introducer: undefined,
  rival: undefined,
  seq: 0,
  announcement: undefined,
  expiresAtMs: 0,
});

/** Why an announcement was refused. */
export type RejectReason =
  | "bad-encoding"
  | "bad-version"
  | "bad-signature"
  | "key-mismatch"
  | "key-conflict"
  | "from-future"
  | "expired"
  | "bad-lifetime"
  | "over-budget";

/** Bounds on what an announcement may claim. */
export interface AcceptanceOptions {
  /** Longest lifetime accepted. Default 1 hour. */
  maxLifetimeMs?: number;
  /** How far a seq may run ahead of the last accepted one, plus one per second since. Default 4096. */
  maxSeqJump?: number;
}

/** Default {@linkcode AcceptanceOptions.maxLifetimeMs}. */
export const DEFAULT_MAX_LIFETIME_MS = 60 * 60_000;
/** Default {@linkcode AcceptanceOptions.maxSeqJump}. */
export const DEFAULT_MAX_SEQ_JUMP = 4096;

/** What an announcement claims about the key, once the cheap checks pass. */
export type KeyClaim =
  /** The pinned key, or a first key for an unknown id. */
  | "same"
  | "new"
  /** A rival key, now delivered by a second neighbour: it replaces a provisional key. */
  | "takeover"
  /** A different key from another neighbour than a provisional key's introducer. */
  | "rival";

/** Outcome of the cheap checks made before the signature. */
export type Precheck =
  | { readonly kind: "duplicate" | "stale"; readonly reason?: undefined }
  | { readonly kind: "rejected"; readonly reason: RejectReason }
  | {
    readonly kind: "verify";
    readonly publicKey: Uint8Array;
    readonly claim: KeyClaim;
    readonly reason?: undefined;
  };

/** What {@linkcode checkAnnouncement} and {@linkcode receive} judge. */
export interface AnnouncementInput {
  announcement: SignedAnnouncement;
  /** The age the sender gave it. */
  ageMs: number;
  /** This node's clock, only to place the expiry and measure time since the last seq. */
  nowMs: number;
  /** The neighbour it came from. */
  fromPeer: NodeId;
}

/**
 * Runs every check that needs no crypto; `verify` means the signature must now be checked
 * under `publicKey`. Duplicates and replays are settled here, before any signature work.
 */
export function checkAnnouncement(
  { state, input, options = {} }: {
    state: OriginState;
    input: AnnouncementInput;
    options?: AcceptanceOptions;
  },
): Precheck {
  const { maxLifetimeMs = DEFAULT_MAX_LIFETIME_MS, maxSeqJump = DEFAULT_MAX_SEQ_JUMP } = options;
  const { announcement: a, ageMs, nowMs, fromPeer } = input;
  const sameKey = state.key === undefined || bytesEqual(state.key, a.publicKey);
  // A provisional id's seq belongs to its key; a rival key has seqs of its own.
  if (sameKey || state.trust !== "provisional") {
    if (a.seq < state.seq) return { kind: "stale" };
    if (a.seq === state.seq) return { kind: "duplicate" };
  }
  let claim: KeyClaim = state.key === undefined ? "new" : "same";
  if (!sameKey) {
    if (state.trust !== "provisional" || fromPeer === state.introducer) {
      return { kind: "rejected", reason: "key-mismatch" };
    }
    const r = state.rival;
    claim = r !== undefined && r.via !== fromPeer && bytesEqual(r.key, a.publicKey)
      ? "takeover"
      : "rival";
  }
  if (a.seq > MAX_SEQ) return { kind: "rejected", reason: "from-future" };
  // Seqs count announcements (at most one a second): a jump far past the last accepted one
  // is a signing error or an attack, and would shut out the origin's real announcements.
  if (sameKey && state.seq > 0) {
    const sinceMs = Math.max(0, nowMs - state.expiresAtMs + maxLifetimeMs);
    if (a.seq > state.seq + maxSeqJump + Math.floor(sinceMs / 1000)) {
      return { kind: "rejected", reason: "from-future" };
    }
  }
  if (a.lifetimeMs > maxLifetimeMs) return { kind: "rejected", reason: "bad-lifetime" };
  if (ageMs >= a.lifetimeMs) return { kind: "rejected", reason: "expired" };
  // Equal bytes either way; the announcement's own view lets verifiers match by identity.
  return { kind: "verify", publicKey: a.publicKey, claim };
}

/** Result of {@linkcode receive}. */
export type ReceiveResult =
  | {
    readonly kind: "accepted";
    readonly newState: OriginState;
    /** Neighbours to forward it to. */
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
 * mutates `state`. A rival key is recorded (the announcement itself is refused).
 */
export function receive(
  { state, input, options }: {
    state: OriginState;
    input: AnnouncementInput & {
      signatureValid: boolean;
      neighbours: readonly NodeId[];
      /** What {@linkcode checkAnnouncement} said for this state and input, if already asked. */
      precheck?: Precheck;
    };
    options?: AcceptanceOptions;
  },
): ReceiveResult {
  const { announcement: a, fromPeer } = input;
  const pre = input.precheck ?? checkAnnouncement({ state, input, options });
  if (pre.kind === "rejected") return { kind: "rejected", newState: state, reason: pre.reason };
  if (pre.kind !== "verify") return { kind: pre.kind, newState: state };
  if (!input.signatureValid) return { kind: "rejected", newState: state, reason: "bad-signature" };
  if (pre.claim === "rival") {
    const rival = Object.freeze({ key: a.publicKey, via: fromPeer });
    return { kind: "rejected", newState: freeze({ ...state, rival }), reason: "key-conflict" };
  }
  const expiresAtMs = input.nowMs + a.lifetimeMs - input.ageMs;
  let next: OriginState;
  if (pre.claim === "new") {
    next = {
      key: a.publicKey,
      trust: "provisional",
      introducer: fromPeer,
      rival: undefined,
      seq: a.seq,
      announcement: a,
      expiresAtMs,
    };
  } else if (pre.claim === "takeover") {
    next = {
      key: a.publicKey,
      trust: "confirmed",
      introducer: undefined,
      rival: undefined,
      seq: a.seq,
      announcement: a,
      expiresAtMs,
    };
  } else {
    next = { ...vouched(state, fromPeer), seq: a.seq, announcement: a, expiresAtMs };
  }
  // The origin gets its own announcement back too: if it is not the origin's latest (an
  // earlier run's), the origin then lifts its seq past it.
  const forward = input.neighbours.filter((n) => n !== fromPeer);
  return { kind: "accepted", newState: freeze(next), forward };
}

/**
 * A duplicate of the stored announcement (the same signed bytes, so no signature check)
 * from `fromPeer`: a second neighbour confirms a provisional origin. Returns the state
 * unchanged when nothing follows.
 */
export function confirmByDuplicate(
  { state, fromPeer, sameBytes }: { state: OriginState; fromPeer: NodeId; sameBytes: boolean },
): OriginState {
  if (state.trust !== "provisional" || !sameBytes || fromPeer === state.introducer) return state;
  return freeze(vouched(state, fromPeer));
}

/** A key proven by a link handshake: it replaces whatever flooding said, seq included. */
export function pinByLink(state: OriginState, key: Uint8Array): OriginState {
  if (state.trust === "link" && state.key !== undefined && bytesEqual(state.key, key)) {
    return state;
  }
  if (state.key !== undefined && bytesEqual(state.key, key)) {
    return freeze({ ...state, trust: "link", introducer: undefined, rival: undefined });
  }
  return freeze({ ...UNKNOWN_ORIGIN, key, trust: "link" });
}

/** A pin loaded from an earlier run: believed as it was (no announcement yet). */
export function pinFromStore(key: Uint8Array, source: "link" | "confirmed"): OriginState {
  return freeze({ ...UNKNOWN_ORIGIN, key, trust: source });
}

/**
 * Whether `state`'s key may verify what the origin signs outside routing (receipts): a key
 * pinned by a link or confirmed through two neighbours, or the earliest key seen for the id
 * as long as no other neighbour contests it (a node behind a single neighbour has no second
 * opinion to ask).
 */
export function believed(state: OriginState): boolean {
  if (state.trust === "link" || state.trust === "confirmed") return true;
  return state.trust === "provisional" && state.rival === undefined;
}

/** Whether `state` is worth saving across restarts (provisional keys never are). */
export function pinned(state: OriginState): boolean {
  return state.trust === "link" || state.trust === "confirmed";
}

function vouched(state: OriginState, fromPeer: NodeId): OriginState {
  if (state.trust !== "provisional" || fromPeer === state.introducer) return state;
  return { ...state, trust: "confirmed", introducer: undefined, rival: undefined };
}

function freeze(state: OriginState): OriginState {
  return Object.freeze(state);
}

/** Compares public bytes (keys, wire bytes); not for secrets. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
