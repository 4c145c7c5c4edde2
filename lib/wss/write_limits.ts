/**
 * Write backpressure of one connection, as a pure decision: given the bytes
 * not yet handed to the kernel, should senders wait, should the connection
 * stop being read from, or must it close?
 *
 * Three marks, from low to high:
 *
 * - `highWaterBytes`: senders are told to wait (`writable` false) until the
 *   unsent bytes fall to `lowWaterBytes`, when `onDrain` fires;
 * - `highWaterBytes + maxMessageBytes`: the connection stops being read from
 *   (TCP then slows the peer down) until the bytes fall to `lowWaterBytes`.
 *   A sender that respects `writable` never gets there (it passes the high
 *   water by one message at most), so two nodes sending bulk to each other
 *   cannot end up both not reading; what gets there is output caused by the
 *   peer's own input (replies it does not read) or a sender that ignores
 *   `writable`;
 * - `maxBufferedBytes`: a send that would pass it is refused and the
 *   connection closed: it is not being read and the memory is bounded.
 *
 * A connection that stays not writable for `stallMs` is closed too.
 */

/** Limits on unsent bytes per connection. */
export interface WriteLimits {
  /** Unsent bytes at which `writable` turns false. */
  highWaterBytes: number;
  /** Unsent bytes at or below which it turns true again (and reading resumes). */
  lowWaterBytes: number;
  /** Unsent bytes past which the connection is closed. */
  maxBufferedBytes: number;
  /** Not writable for this long: the connection is closed. */
  stallMs: number;
}

/** Defaults (config `[Limits] write_buffer_bytes`, `max_write_buffer_bytes`, `write_stall_ms`). */
export const DEFAULT_WRITE_LIMITS: Readonly<WriteLimits> = Object.freeze({
  highWaterBytes: 1024 * 1024,
  lowWaterBytes: 256 * 1024,
  maxBufferedBytes: 8 * 1024 * 1024,
  stallMs: 30_000,
});

/**
 * Fills in defaults and derives the low-water mark (a quarter of the high
 * water) when only the high water is given.
 *
 * @throws {RangeError} when the marks are out of order
 */
export function writeLimits(partial: Partial<WriteLimits> = {}): WriteLimits {
  const highWaterBytes = partial.highWaterBytes ?? DEFAULT_WRITE_LIMITS.highWaterBytes;
  const limits: WriteLimits = {
    highWaterBytes,
    lowWaterBytes: partial.lowWaterBytes ?? Math.floor(highWaterBytes / 4),
    maxBufferedBytes: partial.maxBufferedBytes ??
      Math.max(DEFAULT_WRITE_LIMITS.maxBufferedBytes, 2 * highWaterBytes),
    stallMs: partial.stallMs ?? DEFAULT_WRITE_LIMITS.stallMs,
  };
  if (
    !(limits.lowWaterBytes >= 0 && limits.lowWaterBytes < limits.highWaterBytes &&
      limits.highWaterBytes < limits.maxBufferedBytes && limits.stallMs > 0)
  ) {
    throw new RangeError(
      `Cannot use write limits: need 0 ≤ low (${limits.lowWaterBytes}) < high (${limits.highWaterBytes}) ` +
        `< max (${limits.maxBufferedBytes}) and stall > 0 (${limits.stallMs})`,
    );
  }
  return limits;
}

/** What a connection does about its unsent bytes now. */
export interface FlowVerdict {
  /** Senders may go on. */
  writable: boolean;
  /** Reading from the peer is stopped. */
  readingPaused: boolean;
}

/** Inputs of {@linkcode flowAfterChange}. */
export interface FlowInput {
  /** Unsent bytes now. */
  bufferedBytes: number;
  /** Largest message the connection carries (sets the pause mark). */
  maxMessageBytes: number;
  /** The verdict before this change. */
  previous: FlowVerdict;
}

/**
 * The next verdict after the unsent bytes changed (either way). Hysteresis:
 * once not writable (or paused), a connection stays so until the bytes fall
 * to the low-water mark.
 */
export function flowAfterChange(input: FlowInput, limits: WriteLimits): FlowVerdict {
  const { bufferedBytes: b, previous } = input;
  const low = b <= limits.lowWaterBytes;
  const pauseAt = limits.highWaterBytes + input.maxMessageBytes;
  return {
    writable: previous.writable ? b < limits.highWaterBytes : low,
    readingPaused: previous.readingPaused ? !low : b >= pauseAt,
  };
}

/** Whether queuing `addBytes` more would pass the hard limit. */
export function overflows(bufferedBytes: number, addBytes: number, limits: WriteLimits): boolean {
  return bufferedBytes + addBytes > limits.maxBufferedBytes;
}
