/**
 * A simulated clock for many routers in one process: a binary heap of timers, plus a FIFO
 * lane for events scheduled in time order (constant link delays), which skips the heap.
 * Time moves only in {@linkcode SimClock.runUntil}. Same-time events run in the order they
 * were scheduled.
 */
import type { Clock } from "../../clock.ts";
import { MinHeap } from "./_min_heap.ts";

interface SimEvent {
  at: number;
  order: number;
  fn: (() => void) | undefined;
}

/** Options of {@linkcode SimClock}. */
export interface SimClockOptions {
  /** Simulated start, ms since the epoch. Default 1,700,000,000,000. */
  startMs?: number;
}

/** A fast fake {@linkcode Clock} for simulations. */
export class SimClock implements Clock {
  #now: number;
  #order = 0;
  #heap = new MinHeap<SimEvent>((a, b) => a.at < b.at || (a.at === b.at && a.order < b.order));
  #lane: SimEvent[] = [];
  #laneHead = 0;
  #timers = new Map<number, SimEvent>();
  #nextHandle = 1;
  /** Events run so far. */
  eventsRun = 0;

  constructor({ startMs = 1_700_000_000_000 }: SimClockOptions = {}) {
    this.#now = startMs;
  }

  nowMs(): number {
    return this.#now;
  }

  setTimer(fn: () => void, delayMs: number): number {
    const handle = this.#nextHandle++;
    this.#timers.set(
      handle,
      this.#push(() => {
        this.#timers.delete(handle);
        fn();
      }, delayMs),
    );
    return handle;
  }

  clearTimer(handle: number): void {
    const event = this.#timers.get(handle);
    if (event === undefined) return;
    event.fn = undefined;
    this.#timers.delete(handle);
  }

  /** Schedules `fn` after `delayMs` with no handle (cheaper; for message delivery). */
  schedule(fn: () => void, delayMs: number): void {
    this.#push(fn, delayMs);
  }

  /** Time of the next pending event, undefined if none. */
  nextAtMs(): number | undefined {
    return this.#peek()?.at;
  }

  /**
   * Runs events due up to `endMs` in time order, then sets the time to `endMs`.
   * `between`, if given, is called before each event; return false to stop early.
   * @returns whether it reached `endMs`
   */
  runUntil(endMs: number, between?: () => boolean): boolean {
    for (;;) {
      const next = this.#peek();
      if (next === undefined || next.at > endMs) break;
      if (between !== undefined && !between()) return false;
      this.#take();
    }
    this.#now = Math.max(this.#now, endMs);
    return true;
  }

  /** Runs the next event due by `endMs`, if any. @returns whether one ran */
  step(endMs: number): boolean {
    const next = this.#peek();
    if (next === undefined || next.at > endMs) return false;
    this.#take();
    return true;
  }

  #push(fn: () => void, delayMs: number): SimEvent {
    // Whole milliseconds, like Date.now().
    const at = this.#now + Math.max(0, Math.ceil(delayMs));
    const event: SimEvent = { at, order: this.#order++, fn };
    const lane = this.#lane;
    if (lane.length === this.#laneHead || lane[lane.length - 1].at <= event.at) lane.push(event);
    else this.#heap.push(event);
    return event;
  }

  #peek(): SimEvent | undefined {
    const a = this.#lane[this.#laneHead];
    const b = this.#heap.peek();
    if (a === undefined) return b;
    if (b === undefined) return a;
    return a.at < b.at || (a.at === b.at && a.order < b.order) ? a : b;
  }

  #take(): void {
    const event = this.#peek()!;
    if (event === this.#lane[this.#laneHead]) {
      this.#lane[this.#laneHead++] = undefined as unknown as SimEvent;
      if (this.#laneHead > 65_536 && this.#laneHead * 2 > this.#lane.length) {
        this.#lane = this.#lane.slice(this.#laneHead);
        this.#laneHead = 0;
      }
    } else {
      this.#heap.pop();
    }
    this.#now = event.at;
    const fn = event.fn;
    if (fn !== undefined) {
      this.eventsRun++;
      fn();
    }
  }
}
