/**
 * The link-state database: one {@linkcode OriginState} per origin, stored in flat typed
 * columns indexed by an {@linkcode OriginIndex} (21 bytes per origin, none of them pointers
 * the garbage collector must trace, so that a node of a large federation, and a simulation
 * of thousands of nodes, stays small). Announcements are held by id in an
 * {@linkcode AnnouncementTable}. It applies states the pure transitions decide, and counts
 * provisional origins per introducer and in total against the budgets it is given.
 */
import type { NodeId } from "../../ids.ts";
import type { Budget } from "../../budget.ts";
import type { SignedAnnouncement } from "./announcement.ts";
import { AnnouncementTable } from "./announcement_table.ts";
import type { OriginUsage } from "./origin_budget.ts";
import { OriginIndex } from "./origin_index.ts";
import { type OriginState, type Trust, UNKNOWN_ORIGIN } from "./origin_state.ts";

const TRUSTS: readonly (Trust | undefined)[] = [undefined, "provisional", "confirmed", "link"];
const TRUST_CODE = { provisional: 1, confirmed: 2, link: 3 } as const;
const PROVISIONAL = 1;
const NONE = Object.freeze({ count: 0, bytes: 0 });
// expires (f64), seq, introducer, announcement id (u32 each), trust (u8).
const BYTES_PER_ORIGIN = 8 + 4 + 4 + 4 + 1;

/** The budgets the database counts against (see {@linkcode OriginLimits}). */
export interface OriginBudgets {
  /** Origins kept, under the single key `"all"`. */
  origins: Budget;
  /** Provisional origins per introducer. */
  provisional: Budget;
  /** Provisional announcement bytes per introducer. */
  provisionalBytes: Budget;
}

/** Options of {@linkcode LinkStateDb}. */
export interface LinkStateDbOptions {
  budgets: OriginBudgets;
  /** Node-id indexes. Default: its own. */
  index?: OriginIndex;
  /** Where announcements are held; must use the same index. Default: its own. */
  table?: AnnouncementTable;
}

/** Holds per-origin states; a record outlives its announcement, keeping key pin and seq. */
export class LinkStateDb implements OriginUsage {
  readonly index: OriginIndex;
  readonly table: AnnouncementTable;
  #budgets: OriginBudgets;
  #seq = new Uint32Array(0);
  #expires = new Float64Array(0);
  #trust = new Uint8Array(0);
  /** Introducer's index + 1, 0 for none. */
  #introducer = new Uint32Array(0);
  /** Announcement id in the table, 0 for none. */
  #ann = new Uint32Array(0);
  /** Keys not carried by a stored announcement (link pins, expired ones). */
  #keys = new Map<number, Uint8Array>();
  #rivals = new Map<number, { key: Uint8Array; via: NodeId }>();
  #count = 0;
  /** Provisional origins and their bytes per introducer index; the budgets see them on sync. */
  #byPeer = new Map<number, { count: number; bytes: number }>();
  #provisional = 0;
  #provisionalBytes = 0;
  #synced = new Set<NodeId>();
  // The last introducer looked up: a batch of announcements comes from one neighbour.
  #lastIntroducer: string | undefined;
  #lastIntroducerAt = 0;

  constructor({ budgets, index = new OriginIndex(), table }: LinkStateDbOptions) {
    this.index = index;
    this.table = table ?? new AnnouncementTable(index);
    if (this.table.index !== index) {
      throw new RangeError("Cannot make link-state database: table and database index differ");
    }
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
    const id = this.#ann[i];
    const a = id === 0 ? undefined : this.table.get(id);
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

  /** Fast path for the hot loop: seq at `i` when the record is not provisional, else −1. */
  settledSeqAt(i: number): number {
    return i < this.#trust.length && this.#trust[i] > PROVISIONAL ? this.#seq[i] : -1;
  }

  /**
   * Stores `state` for `node`, keeping the budgets' counts true. `id`, if given, is a table id
   * of `state.announcement` (the database takes a reference of its own); otherwise a new
   * announcement is added to the table.
   * @returns the index of `node`, −1 when the state deleted it
   */
  set(node: NodeId, state: OriginState, id = 0): number {
    if (state.trust === undefined) {
      this.delete(node);
      return -1;
    }
    const i = this.index.intern(node);
    this.setAt(i, state, id);
    return i;
  }

  /** {@linkcode set} by index (`node`'s index in {@linkcode index}). */
  setAt(i: number, state: OriginState, id = 0): void {
    if (state.trust === undefined) return this.delete(this.index.name(i));
    this.#ensure(i);
    if (this.#trust[i] === 0) this.#count++;
    if (this.#trust[i] === PROVISIONAL) this.#releaseProvisional(i);
    this.#seq[i] = state.seq;
    this.#expires[i] = state.expiresAtMs;
    this.#trust[i] = TRUST_CODE[state.trust];
    this.#introducer[i] = state.introducer === undefined ? 0 : this.#introducerAt(state.introducer);
    this.#setAnnouncement(i, state.announcement, id);
    if (state.key !== undefined && state.key !== state.announcement?.publicKey) {
      this.#keys.set(i, state.key);
    } else if (this.#keys.size > 0) this.#keys.delete(i);
    if (state.rival !== undefined) this.#rivals.set(i, state.rival);
    else if (this.#rivals.size > 0) this.#rivals.delete(i);
    if (state.trust === "provisional" && state.introducer !== undefined) {
      // Admission was decided before (admitOrigin): count without refusing.
      this.#addProvisional(this.#introducer[i] - 1, 1, state.announcement?.bytes.length ?? 0);
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
    const id = this.liveIdAt(this.index.find(node), nowMs);
    return id === 0 ? undefined : this.table.get(id);
  }

  /** The table id of the announcement at index `i` if it has not expired at `nowMs`, else 0. */
  liveIdAt(i: number, nowMs: number): number {
    if (i < 0 || i >= this.#ann.length) return 0;
    return this.#expires[i] > nowMs ? this.#ann[i] : 0;
  }

  /** When the announcement at index `i` expires, by this node's clock (0 if none). */
  expiresAtIndex(i: number): number {
    return i < 0 || i >= this.#ann.length || this.#ann[i] === 0 ? 0 : this.#expires[i];
  }

  /** One past the highest index with a record. */
  get capacity(): number {
    return this.#ann.length;
  }

  /** Bytes of the columns. */
  get columnBytes(): number {
    return this.#ann.length * BYTES_PER_ORIGIN;
  }

  /** Every unexpired announcement with its local expiry. */
  *liveAnnouncements(nowMs: number): Generator<[SignedAnnouncement, number]> {
    for (let i = 0; i < this.#ann.length; i++) {
      const id = this.#ann[i];
      if (id !== 0 && this.#expires[i] > nowMs) yield [this.table.get(id), this.#expires[i]];
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
      const id = this.#ann[i];
      if (id === 0 || this.#expires[i] > nowMs) continue;
      changed = true;
      if (this.#trust[i] === PROVISIONAL) {
        this.#deleteAt(i);
        continue;
      }
      if (!this.#keys.has(i)) this.#keys.set(i, this.table.get(id).publicKey.slice());
      this.#ann[i] = 0;
      this.table.unref(id);
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
    const p = peer === this.#lastIntroducer ? this.#lastIntroducerAt - 1 : this.index.find(peer);
    return (p < 0 ? undefined : this.#byPeer.get(p)) ?? NONE;
  }

  largest(): { peer: NodeId; count: number } | undefined {
    let top: { peer: NodeId; count: number } | undefined;
    for (const [p, e] of this.#byPeer) {
      if (top === undefined || e.count > top.count) {
        top = { peer: this.index.name(p), count: e.count };
      }
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
    const now = new Set<NodeId>();
    for (const p of this.#byPeer.keys()) now.add(this.index.name(p));
    for (const peer of this.#synced) {
      if (!now.has(peer)) {
        provisional.clear(peer);
        provisionalBytes.clear(peer);
      }
    }
    this.#synced = now;
    for (const [p, e] of this.#byPeer) {
      provisional.set(this.index.name(p), e.count);
      provisionalBytes.set(this.index.name(p), e.bytes);
    }
  }

  /** The introducer's index + 1. */
  #introducerAt(peer: NodeId): number {
    if (peer !== this.#lastIntroducer) {
      this.#lastIntroducer = peer;
      this.#lastIntroducerAt = this.index.intern(peer) + 1;
    }
    return this.#lastIntroducerAt;
  }

  #setAnnouncement(i: number, a: SignedAnnouncement | undefined, id: number): void {
    const old = this.#ann[i];
    if (a === undefined) {
      this.#ann[i] = 0;
    } else if (old !== 0 && this.table.get(old) === a) {
      return;
    } else if (id !== 0) {
      this.table.ref(id);
      this.#ann[i] = id;
    } else {
      this.#ann[i] = this.table.add(a);
    }
    this.table.unref(old);
  }

  #addProvisional(p: number, count: number, bytes: number): void {
    let e = this.#byPeer.get(p);
    if (e === undefined) {
      e = { count: 0, bytes: 0 };
      this.#byPeer.set(p, e);
    }
    e.count += count;
    e.bytes += bytes;
    this.#provisional += count;
    this.#provisionalBytes += bytes;
    if (e.count <= 0) this.#byPeer.delete(p);
  }

  #releaseProvisional(i: number): void {
    const intro = this.#introducer[i];
    if (intro === 0) return;
    const id = this.#ann[i];
    this.#addProvisional(intro - 1, -1, id === 0 ? 0 : -this.table.sizeAt(id));
  }

  #deleteAt(i: number): void {
    if (this.#trust[i] === PROVISIONAL) this.#releaseProvisional(i);
    this.#trust[i] = 0;
    this.#seq[i] = 0;
    this.#expires[i] = 0;
    this.#introducer[i] = 0;
    this.table.unref(this.#ann[i]);
    this.#ann[i] = 0;
    this.#keys.delete(i);
    this.#rivals.delete(i);
    this.#count--;
    this.#budgets.origins.set("all", this.#count);
    // An id still named as somebody's introducer keeps its index.
    const id = this.index.name(i);
    if (this.#budgets.provisional.usedBy(id) === 0 && !this.#byPeer.has(i)) {
      if (this.#lastIntroducer === id) this.#lastIntroducer = undefined;
      this.index.release(i);
    }
  }

  /** Grows every column to hold index `i`, in one allocation (one per column would make V8 collect far more often). */
  #ensure(i: number): void {
    if (i < this.#trust.length) return;
    const n = Math.max(i + 1, this.index.capacity, Math.ceil(this.#trust.length * 1.5), 16);
    const buffer = new ArrayBuffer(n * BYTES_PER_ORIGIN);
    const expires = new Float64Array(buffer, 0, n);
    const seq = new Uint32Array(buffer, 8 * n, n);
    const introducer = new Uint32Array(buffer, 12 * n, n);
    const ann = new Uint32Array(buffer, 16 * n, n);
    const trust = new Uint8Array(buffer, 20 * n, n);
    expires.set(this.#expires);
    seq.set(this.#seq);
    introducer.set(this.#introducer);
    ann.set(this.#ann);
    trust.set(this.#trust);
    this.#expires = expires;
    this.#seq = seq;
    this.#introducer = introducer;
    this.#ann = ann;
    this.#trust = trust;
  }
}
