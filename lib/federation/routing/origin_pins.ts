/**
 * Pins that survive restarts: the origin keys a node believes (proven by a link handshake,
 * or confirmed through two neighbours), and the highest seq it has reserved for its own
 * announcements. Injected into the router; the node's store implements it in SQLite
 * (lib/store/sqlite_origin_pins.ts).
 */
import type { NodeId } from "../../ids.ts";

/** How a pinned key was proven. */
export type PinSource = "link" | "confirmed";

/** One pinned origin key. */
export interface OriginPin {
  readonly node: NodeId;
  readonly key: Uint8Array;
  readonly source: PinSource;
}

/** Durable pins and own-seq reservation, read once at start and written as they change. */
export interface OriginPins {
  /** Every pin saved so far. */
  load(): readonly OriginPin[];
  /** Saves (or replaces) the pin of `node`. */
  save(node: NodeId, key: Uint8Array, source: PinSource): void;
  /** Deletes the pin of `node` (the owner forgot it). */
  forget(node: NodeId): void;
  /** The highest own seq reserved so far, 0 if none. */
  loadSeq(): number;
  /** Reserves own seqs up to `seq` (written before any of them is used). */
  saveSeq(seq: number): void;
}

/** Pins in memory: for tests and simulations (a "restart" keeps the object). */
export class MemoryOriginPins implements OriginPins {
  #pins = new Map<NodeId, OriginPin>();
  #seq = 0;
  /** Writes made, for tests. */
  writes = 0;

  load(): readonly OriginPin[] {
    return [...this.#pins.values()];
  }

  save(node: NodeId, key: Uint8Array, source: PinSource): void {
    this.writes++;
    this.#pins.set(node, Object.freeze({ node, key: key.slice(), source }));
  }

  forget(node: NodeId): void {
    this.writes++;
    this.#pins.delete(node);
  }

  loadSeq(): number {
    return this.#seq;
  }

  saveSeq(seq: number): void {
    this.writes++;
    this.#seq = seq;
  }
}
