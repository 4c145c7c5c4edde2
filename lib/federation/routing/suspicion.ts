/**
 * Paths judged by results: a decaying suspicion per neighbour and per (neighbour,
 * destination), raised when an envelope sent through the neighbour gets no receipt and
 * lowered when one does. State is immutable data; every report is a pure function
 * returning the next state.
 *
 * A miss counts fully against (neighbour, destination) and half against the neighbour
 * alone, so a relay that drops everything becomes suspect for every destination, while a
 * destination that is merely slow moves only its own traffic.
 */
import type { NodeId } from "../../ids.ts";

/** Options of the suspicion functions. */
export interface SuspicionOptions {
  /** Suspicion halves every this many ms. Default 5 minutes. */
  suspicionHalfLifeMs?: number;
  /** Score at which a hop is listed as suspected. Default 2 (two misses in a row). */
  suspectAt?: number;
  /** Ceiling of one score. Default 16. */
  maxSuspicion?: number;
  /** Entries kept; the weakest go first. Default 1,024. */
  maxSuspicionEntries?: number;
}

/** One score. */
export interface SuspicionEntry {
  readonly peer: NodeId;
  /** Undefined for the neighbour as a whole. */
  readonly dest: NodeId | undefined;
  readonly score: number;
  readonly atMs: number;
  readonly misses: number;
  readonly lastMissAtMs: number;
}

/** All scores, by `peer` or `peer>dest`. */
export type SuspicionState = ReadonlyMap<string, SuspicionEntry>;

/** No suspicion at all. */
export const NO_SUSPICION: SuspicionState = new Map();

/** A suspected hop, for `routes`, `status --json` and the UI. */
export interface Suspect {
  readonly peer: NodeId;
  /** The destination its misses were for; undefined: the neighbour as a whole. */
  readonly dest?: NodeId;
  readonly score: number;
  readonly misses: number;
  readonly lastMissAtMs: number;
}

const NEGLIGIBLE = 0.25;

/** Raises suspicion of `peer` for `dest` (and, by half, of `peer`) after a missing receipt. */
export function reportMiss(
  state: SuspicionState,
  { peer, dest, nowMs }: { peer: NodeId; dest: NodeId; nowMs: number },
  options: SuspicionOptions = {},
): SuspicionState {
  const next = new Map(state);
  bump(next, peer, dest, 1, nowMs, options);
  bump(next, peer, undefined, 0.5, nowMs, options);
  return trim(next, nowMs, options);
}

/**
 * A receipt came back for an envelope sent through `peer`: its suspicion for `dest` is
 * cleared and its own halved (it delivers, at least there).
 */
export function reportDelivered(
  state: SuspicionState,
  { peer, dest, nowMs }: { peer: NodeId; dest: NodeId; nowMs: number },
  options: SuspicionOptions = {},
): SuspicionState {
  const pairKey = keyOf(peer, dest);
  const own = state.get(peer);
  if (!state.has(pairKey) && own === undefined) return state;
  const next = new Map(state);
  next.delete(pairKey);
  if (own !== undefined) {
    const score = decayed(own, nowMs, options) / 2;
    if (score < NEGLIGIBLE) next.delete(peer);
    else next.set(peer, Object.freeze({ ...own, score, atMs: nowMs }));
  }
  return next;
}

/** Forgets every score of `peer` (its link went down and came back as a new one). */
export function forgetPeer(state: SuspicionState, peer: NodeId): SuspicionState {
  let next: Map<string, SuspicionEntry> | undefined;
  for (const [key, e] of state) {
    if (e.peer !== peer) continue;
    next ??= new Map(state);
    next.delete(key);
  }
  return next ?? state;
}

/** The neighbour's own score at `nowMs` (what all its routes cost extra). */
export function peerSuspicion(
  state: SuspicionState,
  peer: NodeId,
  nowMs: number,
  options: SuspicionOptions = {},
): number {
  const e = state.get(peer);
  return e === undefined ? 0 : cut(decayed(e, nowMs, options));
}

/** The score of `peer` for `dest` alone at `nowMs`. */
export function pairSuspicion(
  state: SuspicionState,
  peer: NodeId,
  dest: NodeId,
  nowMs: number,
  options: SuspicionOptions = {},
): number {
  const e = state.get(keyOf(peer, dest));
  return e === undefined ? 0 : cut(decayed(e, nowMs, options));
}

/** Hops whose score reached `suspectAt`, strongest first. */
export function suspects(
  state: SuspicionState,
  nowMs: number,
  options: SuspicionOptions = {},
): Suspect[] {
  const { suspectAt = 2 } = options;
  const out: Suspect[] = [];
  for (const e of state.values()) {
    const score = decayed(e, nowMs, options);
    if (score < suspectAt) continue;
    out.push({
      peer: e.peer,
      ...(e.dest !== undefined ? { dest: e.dest } : {}),
      score: Math.round(score * 100) / 100,
      misses: e.misses,
      lastMissAtMs: e.lastMissAtMs,
    });
  }
  return out.sort((a, b) => b.score - a.score || (a.peer < b.peer ? -1 : 1));
}

function keyOf(peer: NodeId, dest: NodeId | undefined): string {
  return dest === undefined ? peer : `${peer}>${dest}`;
}

function decayed(e: SuspicionEntry, nowMs: number, options: SuspicionOptions): number {
  const { suspicionHalfLifeMs = 300_000 } = options;
  return e.score * 2 ** (-Math.max(0, nowMs - e.atMs) / suspicionHalfLifeMs);
}

function cut(score: number): number {
  return score < NEGLIGIBLE ? 0 : score;
}

function bump(
  next: Map<string, SuspicionEntry>,
  peer: NodeId,
  dest: NodeId | undefined,
  weight: number,
  nowMs: number,
  options: SuspicionOptions,
): void {
  const { maxSuspicion = 16 } = options;
  const key = keyOf(peer, dest);
  const old = next.get(key);
  const score = Math.min(maxSuspicion, (old ? decayed(old, nowMs, options) : 0) + weight);
  next.set(
    key,
    Object.freeze({
      peer,
      dest,
      score,
      atMs: nowMs,
      misses: (old?.misses ?? 0) + 1,
      lastMissAtMs: nowMs,
    }),
  );
}

function trim(
  next: Map<string, SuspicionEntry>,
  nowMs: number,
  options: SuspicionOptions,
): SuspicionState {
  const { maxSuspicionEntries = 1024 } = options;
  for (const [key, e] of next) if (decayed(e, nowMs, options) < NEGLIGIBLE) next.delete(key);
  if (next.size <= maxSuspicionEntries) return next;
  const weakest = [...next].sort(([, a], [, b]) =>
    decayed(a, nowMs, options) - decayed(b, nowMs, options)
  );
  for (const [key] of weakest.slice(0, next.size - maxSuspicionEntries)) next.delete(key);
  return next;
}
