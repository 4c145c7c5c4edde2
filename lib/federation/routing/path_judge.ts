/**
 * What a router knows about its first hops from results: penalties for hand-offs the link
 * refused (hop_penalties.ts) and suspicion from missing receipts (suspicion.ts), as costs
 * that route computation adds to a first hop. Holds the immutable suspicion state and
 * replaces it with what the pure transitions return.
 */
import type { NodeId } from "../../ids.ts";
import { HopPenalties, type HopPenaltyOptions } from "./hop_penalties.ts";
import {
  forgetPeer,
  NO_SUSPICION,
  pairSuspicion,
  peerSuspicion,
  reportDelivered,
  reportMiss,
  type Suspect,
  suspects,
  type SuspicionOptions,
  type SuspicionState,
} from "./suspicion.ts";

/** Penalties and suspicion of first hops. */
export class PathJudge {
  #penalties: HopPenalties;
  #suspicion: SuspicionState = NO_SUSPICION;
  #o: SuspicionOptions;

  constructor(options: HopPenaltyOptions & SuspicionOptions = {}) {
    this.#penalties = new HopPenalties(options);
    this.#o = options;
  }

  /** Whether any cost is decaying (routes then need recomputing now and then). */
  get active(): boolean {
    return this.#penalties.active || this.#suspicion.size > 0;
  }

  /** The current suspicion, as data. */
  get state(): SuspicionState {
    return this.#suspicion;
  }

  /** A hand-off through `peer` failed. */
  hopFailed(peer: NodeId, nowMs: number): void {
    this.#penalties.addFailure(peer, nowMs);
  }

  /** The link to `peer` went down: its penalty is void (suspicion stays, and decays). */
  linkDown(peer: NodeId): void {
    this.#penalties.clear(peer);
  }

  /** No receipt for `dest` through `peer`. */
  miss(peer: NodeId, dest: NodeId, nowMs: number): void {
    this.#suspicion = reportMiss(this.#suspicion, { peer, dest, nowMs }, this.#o);
  }

  /** A receipt for `dest` through `peer`; returns whether anything changed. */
  delivered(peer: NodeId, dest: NodeId, nowMs: number): boolean {
    const next = reportDelivered(this.#suspicion, { peer, dest, nowMs }, this.#o);
    if (next === this.#suspicion) return false;
    this.#suspicion = next;
    return true;
  }

  /** Forgets the suspicion of `peer`. */
  forget(peer: NodeId): void {
    this.#suspicion = forgetPeer(this.#suspicion, peer);
  }

  /** Extra cost of every route through first hop `peer`. */
  hopCost(peer: NodeId, nowMs: number): number {
    return this.#penalties.cost(peer, nowMs) + peerSuspicion(this.#suspicion, peer, nowMs, this.#o);
  }

  /** Extra cost of first hop `peer` for `dest` alone. */
  pairCost(peer: NodeId, dest: NodeId, nowMs: number): number {
    return pairSuspicion(this.#suspicion, peer, dest, nowMs, this.#o);
  }

  /** Suspected hops, strongest first. */
  suspects(nowMs: number): Suspect[] {
    return suspects(this.#suspicion, nowMs, this.#o);
  }
}
