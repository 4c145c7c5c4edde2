/**
 * What a router still has to flood, and to whom, until its next flush. An accepted
 * announcement is queued once per origin; per origin, a bit per neighbour slot says which
 * neighbours are known to have its current (origin, seq): the one it came from, any that
 * sent the same (origin, seq) since (an implied acknowledgement, as in OSPF, RFC 2328 §13:
 * a neighbour that sent us an announcement needs no copy back), and those it was sent to.
 * A new seq starts the set afresh. A new neighbour is owed the whole database; a new own
 * announcement goes to every neighbour.
 *
 * Bits are kept for the first 32 slots (4 bytes per origin); a node with more neighbours
 * sends those others a redundant copy now and then, never one too few. Only numbers are
 * stored: the flush reads the database's current announcement of each queued origin, so an
 * origin that changed twice before a flush goes out once, newest.
 */
import type { NodeId } from "../../ids.ts";

/** What one neighbour is owed at a flush. */
export interface FloodDue {
  readonly peer: NodeId;
  /** This node's current announcement. */
  readonly own: boolean;
  /** Every live announcement (a new link): `origins` is then empty. */
  readonly full: boolean;
  /** Origin indexes to send, in the order they were accepted: the first `count`. */
  readonly origins: Uint32Array;
  readonly count: number;
}

const MASK_SLOTS = 32;

/** Per-origin flood queue with implied acknowledgements; see the module comment. */
export class FloodQueue {
  #slots = new Map<NodeId, number>();
  #peers: (NodeId | undefined)[] = [];
  #freeSlots: number[] = [];
  /** Per origin index: bit s set when slot s has the current (origin, seq). */
  #has = new Uint32Array(0);
  /** Origins queued since the last flush (JS arrays: they give their memory back on clear). */
  #pending: number[] = [];
  #own = false;
  #full = new Set<number>();
  #scratch = new Uint32Array(16);
  #capacity: () => number;

  /** `capacity` tells how many origin indexes to make room for when more are needed. */
  constructor({ capacity = () => 0 }: { capacity?: () => number } = {}) {
    this.#capacity = capacity;
  }

  /** Numbers a new neighbour and queues the whole database for it. */
  addNeighbour(peer: NodeId): number {
    let slot = this.#slots.get(peer);
    if (slot === undefined) {
      slot = this.#freeSlots.length > 0 ? this.#freeSlots.pop()! : this.#peers.length;
      this.#slots.set(peer, slot);
      this.#peers[slot] = peer;
    }
    this.#full.add(slot);
    return slot;
  }

  /** Forgets a neighbour whose link went down; what it was owed is dropped. */
  removeNeighbour(peer: NodeId): void {
    const slot = this.#slots.get(peer);
    if (slot === undefined) return;
    this.#slots.delete(peer);
    this.#peers[slot] = undefined;
    this.#full.delete(slot);
    if (slot < MASK_SLOTS) {
      const keep = ~(1 << slot);
      for (let i = 0; i < this.#has.length; i++) this.#has[i] &= keep;
    }
    // Lowest slots first, so that implied acknowledgements cover as many neighbours as can be.
    this.#freeSlots.push(slot);
    this.#freeSlots.sort((a, b) => b - a);
  }

  /** The slot of `peer`, −1 if it is not a neighbour. */
  slotOf(peer: NodeId): number {
    return this.#slots.get(peer) ?? -1;
  }

  /** A new announcement of origin index `origin` was accepted from `fromSlot` (−1: none). */
  changed(origin: number, fromSlot: number): void {
    if (origin >= this.#has.length) this.#grow(origin);
    this.#has[origin] = bit(fromSlot);
    this.#pending.push(origin);
  }

  /** Slot `slot` sent the (origin, seq) held now: it needs no copy (implied acknowledgement). */
  heard(origin: number, slot: number): void {
    if (origin < this.#has.length) this.#has[origin] |= bit(slot);
  }

  /** This node issued a new announcement. */
  ownChanged(): void {
    this.#own = true;
  }

  /** Bytes of the per-origin column. */
  get columnBytes(): number {
    return this.#has.byteLength;
  }

  /** Whether anything waits for a flush. */
  get empty(): boolean {
    return this.#pending.length === 0 && !this.#own && this.#full.size === 0;
  }

  /**
   * Hands each neighbour what it is owed (skipping those owed nothing), counts it as had, and
   * empties the queue. `due` is valid during the call only; what is queued while `visit`
   * runs waits for the next flush.
   */
  drain(visit: (due: FloodDue) => void): void {
    const pending = this.#pending;
    const own = this.#own;
    const full = this.#full;
    this.#pending = [];
    this.#own = false;
    this.#full = new Set();
    if (this.#scratch.length < pending.length) this.#scratch = new Uint32Array(pending.length);
    const out = this.#scratch;
    const has = this.#has;
    for (let slot = 0; slot < this.#peers.length; slot++) {
      const peer = this.#peers[slot];
      if (peer === undefined) continue;
      const isFull = full.has(slot);
      let count = 0;
      if (!isFull) {
        const b = bit(slot);
        for (let j = 0; j < pending.length; j++) {
          const origin = pending[j];
          // Also skips an origin queued twice: the first pass marked it sent.
          if ((has[origin] & b) !== 0 && b !== 0) continue;
          has[origin] |= b;
          out[count++] = origin;
        }
      }
      if (count === 0 && !isFull && !own) continue;
      visit({ peer, own, full: isFull, origins: out, count });
    }
  }

  #grow(origin: number): void {
    const size = Math.max(origin + 1, Math.ceil(this.#has.length * 1.5), this.#capacity(), 16);
    const next = new Uint32Array(size);
    next.set(this.#has);
    this.#has = next;
  }
}

function bit(slot: number): number {
  return slot >= 0 && slot < MASK_SLOTS ? (1 << slot) >>> 0 : 0;
}
