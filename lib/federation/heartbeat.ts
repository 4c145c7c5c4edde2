/**
 * Judging a link silent without blaming the peer for this node's own stalls.
 *
 * Heartbeats go every `heartbeatMs`; a link with nothing received for
 * `deadAfterMs` is down. When this node's event loop stalls (the machine's
 * CPU taken by others, a long synchronous task), its beat timer fires late,
 * and what the peer sent meanwhile still waits in the socket or in an
 * unfinished decryption: the gap is this node's deafness, not the peer's
 * silence. Measured on a loaded 2-core machine (the hostile soak), stalls of
 * 2–3 s closed every healthy link of a node at once. So a beat that comes
 * more than one interval late starts the count of silence again from itself.
 *
 * ```ts
 * let beat = firstBeat(clock.nowMs());
 * // every heartbeatMs:
 * beat = nextBeat(beat, clock.nowMs(), heartbeatMs);
 * if (silentMs(beat, lastReceivedMs, clock.nowMs()) > deadAfterMs) close();
 * ```
 */

/** When this node last beat, and since when it has been listening without a stall. */
export interface BeatState {
  readonly lastBeatMs: number;
  readonly listeningSinceMs: number;
}

/** The state at the first beat's scheduling (`nowMs`: the node's clock). */
export function firstBeat(nowMs: number): BeatState {
  return { lastBeatMs: nowMs, listeningSinceMs: nowMs };
}

/** The state at a beat firing at `nowMs`; a beat over one interval late marks a stall. */
export function nextBeat(state: BeatState, nowMs: number, heartbeatMs: number): BeatState {
  const stalled = nowMs - state.lastBeatMs > 2 * heartbeatMs;
  return { lastBeatMs: nowMs, listeningSinceMs: stalled ? nowMs : state.listeningSinceMs };
}

/** How long a peer last heard from at `lastReceivedMs` has been silent while this node listened. */
export function silentMs(state: BeatState, lastReceivedMs: number, nowMs: number): number {
  return nowMs - Math.max(lastReceivedMs, state.listeningSinceMs);
}
