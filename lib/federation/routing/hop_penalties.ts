/** A per-neighbour cost added to routes through a hop that keeps failing; it decays. */
import type { NodeId } from "../../ids.ts";

/** Options of {@linkcode HopPenalties}. */
export interface HopPenaltyOptions {
  /** Added per reported failure. Default 1 (one hop's worth). */
  stepCost?: number;
  /** Ceiling of a neighbour's penalty. Default 8. */
  maxCost?: number;
  /** The penalty halves every this many ms. Default 60 s. */
  halfLifeMs?: number;
}

// Below a quarter hop a penalty only breaks ties; forget it.
const NEGLIGIBLE = 0.25;

/** Decaying penalties, one per neighbour. */
export class HopPenalties {
  #entries = new Map<NodeId, { cost: number; atMs: number }>();
  #stepCost: number;
  #maxCost: number;
  #halfLifeMs: number;

  constructor({ stepCost = 1, maxCost = 8, halfLifeMs = 60_000 }: HopPenaltyOptions = {}) {
    this.#stepCost = stepCost;
    this.#maxCost = maxCost;
    this.#halfLifeMs = halfLifeMs;
  }

  /** Whether any neighbour has a penalty that still counts. */
  get active(): boolean {
    return this.#entries.size > 0;
  }

  /** Adds one failure for `peer` at `nowMs`. */
  addFailure(peer: NodeId, nowMs: number): void {
    const cost = Math.min(this.#maxCost, this.cost(peer, nowMs) + this.#stepCost);
    this.#entries.set(peer, { cost, atMs: nowMs });
  }

  /** The penalty of `peer` at `nowMs`, 0 once negligible. */
  cost(peer: NodeId, nowMs: number): number {
    const entry = this.#entries.get(peer);
    if (entry === undefined) return 0;
    const cost = entry.cost * 2 ** (-(nowMs - entry.atMs) / this.#halfLifeMs);
    if (cost < NEGLIGIBLE) {
      this.#entries.delete(peer);
      return 0;
    }
    return cost;
  }

  /** Forgets `peer` (its link went down). */
  clear(peer: NodeId): void {
    this.#entries.delete(peer);
  }
}
