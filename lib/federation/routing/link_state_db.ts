/** The link-state database: one {@linkcode OriginState} per origin ever heard of. */
import type { NodeId } from "../../ids.ts";
import type { Clock } from "../../clock.ts";
import type { SignedAnnouncement } from "./announcement.ts";
import { bytesEqual, type OriginState, UNKNOWN_ORIGIN } from "./origin_state.ts";

/** Holds per-origin states; a record outlives its announcement, keeping key pin and seq. */
export class LinkStateDb {
  #states = new Map<NodeId, OriginState>();
  #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** The state of `node`, {@linkcode UNKNOWN_ORIGIN} if never heard of. */
  get(node: NodeId): OriginState {
    return this.#states.get(node) ?? UNKNOWN_ORIGIN;
  }

  /** Highest seq accepted for `origin` (any string, so raw peeked ids can be looked up). */
  seqOf(origin: string): number {
    return this.#states.get(origin as NodeId)?.seq ?? 0;
  }

  set(node: NodeId, state: OriginState): void {
    this.#states.set(node, state);
  }

  /**
   * Pins `node` to `publicKey`; a different key's record (announcement and seq) is dropped.
   * @returns whether anything changed
   */
  pin(node: NodeId, publicKey: Uint8Array): boolean {
    const state = this.get(node);
    if (state.key !== undefined && bytesEqual(state.key, publicKey)) return false;
    this.#states.set(
      node,
      Object.freeze({ key: publicKey.slice(), seq: 0, announcement: undefined }),
    );
    return true;
  }

  /** The announcement of `node` if it has not expired. */
  live(node: NodeId): SignedAnnouncement | undefined {
    const a = this.#states.get(node)?.announcement;
    return a !== undefined && a.expiresAtMs > this.#clock.nowMs() ? a : undefined;
  }

  /** Every unexpired announcement. */
  *liveAnnouncements(): Generator<SignedAnnouncement> {
    const nowMs = this.#clock.nowMs();
    for (const state of this.#states.values()) {
      const a = state.announcement;
      if (a !== undefined && a.expiresAtMs > nowMs) yield a;
    }
  }

  /**
   * Drops expired announcements, keeping key and seq.
   * @returns whether any was dropped
   */
  purgeExpired(): boolean {
    const nowMs = this.#clock.nowMs();
    let changed = false;
    for (const [node, state] of this.#states) {
      const a = state.announcement;
      if (a !== undefined && a.expiresAtMs <= nowMs) {
        this.#states.set(node, Object.freeze({ ...state, announcement: undefined }));
        changed = true;
      }
    }
    return changed;
  }
}
