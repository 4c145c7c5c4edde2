/** Time, injected so that tests and simulations can run on a fake clock. */

/** A source of time and timers. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
  /** Calls `fn` after `delayMs`; returns a handle for {@linkcode Clock.clearTimer}. */
  setTimer(fn: () => void, delayMs: number): number;
  /** Cancels a timer made by {@linkcode Clock.setTimer}. */
  clearTimer(handle: number): void;
}

/** The real clock. */
export const SYSTEM_CLOCK: Clock = Object.freeze({
  nowMs: () => Date.now(),
  setTimer: (fn: () => void, delayMs: number) => setTimeout(fn, delayMs) as unknown as number,
  clearTimer: (handle: number) => clearTimeout(handle),
});

/** A clock that moves only when told to, for tests and simulations. */
export class FakeClock implements Clock {
  #now: number;
  #next = 1;
  #timers = new Map<number, { at: number; fn: () => void }>();

  constructor(startMs = 1_700_000_000_000) {
    this.#now = startMs;
  }

  nowMs(): number {
    return this.#now;
  }

  setTimer(fn: () => void, delayMs: number): number {
    const handle = this.#next++;
    this.#timers.set(handle, { at: this.#now + Math.max(0, delayMs), fn });
    return handle;
  }

  clearTimer(handle: number): void {
    this.#timers.delete(handle);
  }

  /** Number of pending timers. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing due timers in time order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let dueHandle = 0;
      let dueAt = Infinity;
      for (const [h, t] of this.#timers) {
        if (t.at <= end && t.at < dueAt) [dueHandle, dueAt] = [h, t.at];
      }
      if (dueHandle === 0) break;
      const timer = this.#timers.get(dueHandle)!;
      this.#timers.delete(dueHandle);
      this.#now = dueAt;
      timer.fn();
    }
    this.#now = end;
  }
}
