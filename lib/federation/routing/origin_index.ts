/**
 * Small integer indexes for node ids, so per-origin state can live in flat columns. A node
 * has its own; a simulation shares one between all its routers.
 */
import type { NodeId } from "../../ids.ts";

/** Options of {@linkcode OriginIndex}. */
export interface OriginIndexOptions {
  /** Shared between routers: indexes are never released (a simulation). Default false. */
  shared?: boolean;
}

/** Interns node ids as indexes 0, 1, 2 …; released indexes are reused. */
export class OriginIndex {
  readonly shared: boolean;
  #ids = new Map<string, number>();
  #names: (NodeId | undefined)[] = [];
  #free: number[] = [];

  constructor({ shared = false }: OriginIndexOptions = {}) {
    this.shared = shared;
  }

  /** The index of `id`, or −1. */
  find(id: string): number {
    return this.#ids.get(id) ?? -1;
  }

  /** The index of `id`, made if new. */
  intern(id: NodeId): number {
    let i = this.#ids.get(id);
    if (i !== undefined) return i;
    i = this.#free.pop() ?? this.#names.length;
    this.#ids.set(id, i);
    this.#names[i] = id;
    return i;
  }

  /** The id at index `i`. */
  name(i: number): NodeId {
    return this.#names[i]!;
  }

  /** Gives index `i` back for reuse (ignored when shared). */
  release(i: number): void {
    if (this.shared) return;
    const id = this.#names[i];
    if (id === undefined) return;
    this.#ids.delete(id);
    this.#names[i] = undefined;
    this.#free.push(i);
  }

  /** One past the highest index ever given. */
  get capacity(): number {
    return this.#names.length;
  }
}
