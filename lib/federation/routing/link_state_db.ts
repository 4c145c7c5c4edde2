/**
 * The link-state database: one {@linkcode OriginState} per origin, stored in flat columns
 * indexed by an {@linkcode OriginIndex} (a few dozen bytes per origin, so that a node of a
 * large federation, and a simulation of thousands of nodes, stays small). It applies states
 * the pure transitions decide, and counts provisional origins per introducer and in total
 * against the budgets it is given.
 */
import type { NodeId } from "../../ids.ts";
import type { Budget } from "../../budget.ts";
import type { SignedAnnouncement } from "./announcement.ts";
import type { OriginUsage } from "./origin_budget.ts";
import { OriginIndex } from "./origin_index.ts";
import { type OriginState, type Trust, UNKNOWN_ORIGIN } from "./origin_state.ts";

const TRUSTS: readonly (Trust | undefined)[] = [undefined, "provisional", "confirmed", "link"];
const TRUST_CODE = { provisional: 1, confirmed: 2, link: 3 } as const;
const PROVISIONAL = 1;

/** The budgets the database counts against (see {@linkcode OriginLimits}). */
export interface OriginBudgets {
  /** Origins kept, under the single key `"all"`. */
  origins: Budget;
  /** Provisional origins per introducer. */
  provisional: Budget;
  /** Provisional announcement bytes per introducer. */
  provisionalBytes: Budget;
}

/** Holds per-origin states; a record outlives its announcement, keeping key pin and seq. */
export class LinkStateDb implements OriginUsage {
  readonly index: OriginIndex;
  #budgets: OriginBudgets;
  #seq = new Uint32Array(0);
  #expires = new Float64Array(0);
  #trust = new Uint8Array(0);
  #introducer = new Uint32Array(0);
  #ann: (SignedAnnouncement | undefined)[] = [];
  /** Keys not carried by a stored announcement (link pins, expired ones). */
  #keys = new Map<number, Uint8Array>();
  #rivals = new Map<number, { key: Uint8Array; via: NodeId }>();
  #count = 0;
  /** Provisional origins and their bytes per introducer; the budgets see them on sync. */
  #byPeer = new Map<NodeId, { count: number; bytes: number }>();
  #provisional = 0;
  #provisionalBytes = 0;

  constructor({ index = new OriginIndex(), budgets }: {
    index?: OriginIndex;
    budgets: OriginBudgets;
  }) {
    this.index = index;
    this.#budgets = budgets;
  }

  /** The state of `node`, {@linkcode UNKNOWN_ORIGIN} if never heard of. */
  get(node: string): OriginState {
    const i = this.index.find(node);
    return i < 0 ? UNKNOWN_ORIGIN : this.at(i);
  }

  /** The state at index `i`. */
  at(i: number): OriginState {
    if (i >= this.#trust.length || this.#trust[i] === 0) return UNKNOWN_ORIGIN;
    const a = this.#ann[i];
    const intro = this.#introducer[i];
    return {
      key: this.#keys.get(i) ?? a?.publicKey,
      trust: TRUSTS[this.#trust[i]],
      introducer: intro === 0 ? undefined : this.index.name(intro - 1),
      rival: this.#rivals.get(i),
      seq: this.#seq[i],
      announcement: a,
      expiresAtMs: this.#expires[i],
    };
  }

  /** Highest seq accepted for `origin` (any string, so raw peeked ids can be looked up). */
  seqOf(origin: string): number {
    const i = this.index.find(origin);
    return i < 0 || i >= this.#seq.length ? 0 : this.#seq[i];
  }

  /** Trust code at `i` without building a state: 0 unknown, 1 provisional. */
  isProvisional(i: number): boolean {
    return i < this.#trust.length && this.#trust[i] === PROVISIONAL;
  }

  /** Stores `state` for `node`, keeping the budgets' counts true. */
  set(node: NodeId, state: OriginState): void {
    if (state.trust === undefined) return this.delete(node);
    const i = this.index.intern(node);
    this.#ensure(i);
    const wasProvisional = this.#trust[i] === PROVISIONAL;
    if (this.#trust[i] === 0) this.#count++;
    if (wasProvisional) this.#releaseProvisional(i);
    this.#seq[i] = state.seq;
    this.#expires[i] = state.expiresAtMs;
    this.#trust[i] = TRUST_CODE[state.trust];
    this.#introducer[i] = state.introducer === undefined
      ? 0
      : this.index.intern(state.introducer) + 1;
    this.#ann[i] = state.announcement;
    if (state.key !== undefined && state.key !== state.announcement?.publicKey) {
      this.#keys.set(i, state.key);
    } else this.#keys.delete(i);
    if (state.rival !== undefined) this.#rivals.set(i, state.rival);
    else this.#rivals.delete(i);
    if (state.trust === "provisional" && state.introducer !== undefined) {
      // Admission was decided before (admitOrigin): count without refusing.
      this.#addProvisional(state.introducer, 1, state.announcement?.bytes.length ?? 0);
    }
  }

  /** Forgets `node` entirely (an evicted or expired provisional origin). */
  delete(node: string): void {
    const i = this.index.find(node);
    if (i < 0 || i >= this.#trust.length || this.#trust[i] === 0) return;
    this.#deleteAt(i);
  }

  /** Some provisional origin introduced by `peer` (the first found), for eviction. */
  provisionalOf(peer: NodeId): NodeId | undefined {
    const p = this.index.find(peer);
    if (p < 0) return undefined;
    for (let i = 0; i < this.#trust.length; i++) {
      if (this.#trust[i] === PROVISIONAL && this.#introducer[i] === p + 1) {
        return this.index.name(i);
      }
    }
    return undefined;
  }

  /** Every origin kept (any trust), for pins and tests. */
  *entries(): Generator<[NodeId, OriginState]> {
    for (let i = 0; i < this.#trust.length; i++) {
      if (this.#trust[i] !== 0) yield [this.index.name(i), this.at(i)];
    }
  }

  /** The announcement of `node` if it has not expired at `nowMs`. */
  live(node: string, nowMs: number): SignedAnnouncement | undefined {
    const i = this.index.find(node);
    if (i < 0 || i >= this.#ann.length) return undefined;
    return this.#expires[i] > nowMs ? this.#ann[i] : undefined;
  }

  /** When the announcement of `node` expires (0 if none). */
  expiresAt(node: string): number {
    const i = this.index.find(node);
    return i < 0 || i >= this.#expires.length || this.#ann[i] === undefined ? 0 : this.#expires[i];
  }

  /** Every unexpired announcement with its local expiry. */
  *liveAnnouncements(nowMs: number): Generator<[SignedAnnouncement, number]> {
    for (let i = 0; i < this.#ann.length; i++) {
      const a = this.#ann[i];
      if (a !== undefined && this.#expires[i] > nowMs) yield [a, this.#expires[i]];
    }
  }

  /**
   * Drops expired announcements, keeping key and seq of pinned origins; a provisional
   * origin is forgotten with its announcement.
   * @returns whether any was dropped
   */
  purgeExpired(nowMs: number): boolean {
    let changed = false;
    for (let i = 0; i < this.#ann.length; i++) {
      const a = this.#ann[i];
      if (a === undefined || this.#expires[i] > nowMs) continue;
      changed = true;
      if (this.#trust[i] === PROVISIONAL) {
        this.#deleteAt(i);
        continue;
      }
      if (!this.#keys.has(i)) this.#keys.set(i, a.publicKey.slice());
      this.#ann[i] = undefined;
    }
    return changed;
  }

  // OriginUsage, read by admitOrigin().
  /** Origins kept. */
  get origins(): number {
    return this.#count;
  }

  get provisional(): number {
    return this.#provisional;
  }

  get provisionalBytes(): number {
    return this.#provisionalBytes;
  }

  of(peer: NodeId): { count: number; bytes: number } {
    return this.#byPeer.get(peer) ?? { count: 0, bytes: 0 };
  }

  largest(): { peer: NodeId; count: number } | undefined {
    let top: { peer: NodeId; count: number } | undefined;
    for (const [peer, e] of this.#byPeer) {
      if (top === undefined || e.count > top.count) top = { peer, count: e.count };
    }
    return top;
  }

  /**
   * Copies the counts into the budgets, for `status --json` (counting in the budgets on
   * every change would cost more than the routing itself in a large federation).
   */
  syncBudgets(): void {
    const { origins, provisional, provisionalBytes } = this.#budgets;
    origins.set("all", this.#count);
    for (const peer of this.#synced) {
      if (!this.#byPeer.has(peer)) {
        provisional.clear(peer);
        provisionalBytes.clear(peer);
      }
    }
    this.#synced = new Set(this.#byPeer.keys());
    for (const [peer, e] of this.#byPeer) {
      provisional.set(peer, e.count);
      provisionalBytes.set(peer, e.bytes);
    }
  }

  #synced = new Set<NodeId>();

  #addProvisional(peer: NodeId, count: number, bytes: number): void {
    const e = this.#byPeer.get(peer) ?? { count: 0, bytes: 0 };
    e.count += count;
    e.bytes += bytes;
    this.#provisional += count;
    this.#provisionalBytes += bytes;
    if (e.count <= 0) this.#byPeer.delete(peer);
    else this.#byPeer.set(peer, e);
  }

  #releaseProvisional(i: number): void {
    const intro = this.#introducer[i];
    if (intro === 0) return;
    this.#addProvisional(this.index.name(intro - 1), -1, -(this.#ann[i]?.bytes.length ?? 0));
  }

  /** Fast path for the hot loop: seq at `i` when the record is not provisional, else −1. */
  settledSeqAt(i: number): number {
    return i < this.#trust.length && this.#trust[i] > PROVISIONAL ? this.#seq[i] : -1;
  }

  #deleteAt(i: number): void {
    if (this.#trust[i] === PROVISIONAL) this.#releaseProvisional(i);
    this.#trust[i] = 0;
    this.#seq[i] = 0;
    this.#expires[i] = 0;
    this.#introducer[i] = 0;
    this.#ann[i] = undefined;
    this.#keys.delete(i);
    this.#rivals.delete(i);
    this.#count--;
    this.#budgets.origins.set("all", this.#count);
    // An id still named as somebody's introducer keeps its index.
    const id = this.index.name(i);
    if (this.#budgets.provisional.usedBy(id) === 0) this.index.release(i);
  }

  #ensure(i: number): void {
    if (i < this.#trust.length) return;
    const size = Math.max(i + 1, this.index.capacity, Math.ceil(this.#trust.length * 1.5), 16);
    const grow = <T extends Uint8Array | Uint32Array | Float64Array>(
      old: T,
      make: (n: number) => T,
    ) => {
      const next = make(size);
      next.set(old);
      return next;
    };
    this.#seq = grow(this.#seq, (n) => new Uint32Array(n));
    this.#expires = grow(this.#expires, (n) => new Float64Array(n));
    this.#trust = grow(this.#trust, (n) => new Uint8Array(n));
    this.#introducer = grow(this.#introducer, (n) => new Uint32Array(n));
    this.#ann = this.#ann.concat(new Array(size - this.#ann.length).fill(undefined));
  }
}
