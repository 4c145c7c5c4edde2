/**
 * Group commit for the client store: every write made in one turn of the
 * event loop (a burst of sends, a burst of pushed messages, their "sent" and
 * "delivered" states) goes into one transaction, committed once the turn is
 * over (`atTurnEnd`, lib/turn_end.ts: a `setImmediate`; not `setTimeout(0)`, which costs milliseconds here:
 * docs/PERF_NOTES.md §4). A write runs at once, so later reads in the same
 * turn see it; what must follow it (show, send to the node, acknowledge) runs
 * only after the commit: a write's `then`, in the order of the writes, and
 * the promise it returns.
 *
 * A write that nothing waits for but its own follow-up (a "sent" or
 * "delivered" state, whose acknowledgement or event can wait) is made with
 * {@linkcode TurnCommit.later}: it joins the open transaction but does not
 * end the turn itself, so it rides the next write's commit, or commits
 * {@linkcode LATER_MS} later when nothing else comes. At 1,000 msg/s the
 * sender's client then commits once per message instead of three times
 * (send, "sent", "delivered"; docs/PERF_NOTES.md, branch `clientturn`).
 *
 * A write that throws, or a commit that fails, rolls the whole turn back:
 * nothing of it is shown, sent or acknowledged, its promises reject, and the
 * store and the sessions forget what they kept in memory (it is read again
 * from the store). One message per commit costs about 60 µs of CPU and 64
 * per commit about 6 µs each (node:sqlite, WAL, synchronous=NORMAL).
 */
import { atTurnEnd } from "../turn_end.ts";
import type { Logger } from "../log.ts";
import type { ClientStore } from "./client_store.ts";

/** Options of {@linkcode TurnCommit}. */
export interface TurnCommitOptions {
  store: ClientStore;
  log: Logger;
  /** Runs `flush` once this turn is over (default: `atTurnEnd`, lib/turn_end.ts); tests step it by hand. */
  schedule?: (flush: () => void) => void;
  /**
   * Runs `flush` once a {@linkcode TurnCommit.later} write has waited long
   * enough; returns a cancel (default: a {@linkcode LATER_MS} timer).
   */
  scheduleLater?: (flush: () => void) => () => void;
}

/** At most how long a {@linkcode TurnCommit.later} write waits for a commit it can join. */
export const LATER_MS = 50;

interface Job {
  value: unknown;
  then?: (value: unknown) => void;
  resolve: (value: unknown) => void;
  reject: (e: unknown) => void;
}

const defaultSchedule = (flush: () => void) => atTurnEnd(flush);
const defaultScheduleLater = (flush: () => void) => {
  const timer = setTimeout(flush, LATER_MS);
  return () => clearTimeout(timer);
};

/** One transaction per turn of the event loop. */
export class TurnCommit {
  #store: ClientStore;
  #log: Logger;
  #schedule: (flush: () => void) => void;
  #scheduleLater: (flush: () => void) => () => void;
  #jobs: Job[] = [];
  #scheduled = false;
  /** Cancels the flush a `later` write scheduled, while one is. */
  #cancelLater: (() => void) | null = null;

  constructor(options: TurnCommitOptions) {
    this.#store = options.store;
    this.#log = options.log;
    this.#schedule = options.schedule ?? defaultSchedule;
    this.#scheduleLater = options.scheduleLater ?? defaultScheduleLater;
    // Someone writes outside a turn while one is open: commit the turn first,
    // and run its `then`s right after the current call, as a flush would.
    this.#store.onStrayWrite(() => this.#commit(true));
    // Rolled back, or the store closed with the turn open: nothing of it follows.
    this.#store.onRollback(() => {
      this.#stopLater();
      for (const j of this.#jobs.splice(0)) j.reject(new Error("Cannot commit: rolled back"));
    });
  }

  /** Writes queued and not yet committed. */
  get pending(): number {
    return this.#jobs.length;
  }

  /**
   * Runs `fn` now, inside this turn's transaction. Once it is committed,
   * `then` runs (in the order of the writes) and the promise resolves with
   * `fn`'s result. If the turn is rolled back, `then` never runs and the
   * promise rejects; the failure is logged here, so a caller may ignore it.
   */
  write<T>(fn: () => T, then?: (value: T) => void): Promise<T> {
    return this.#add(fn, then, false);
  }

  /**
   * Like {@linkcode write}, but the write does not end the turn: it is
   * committed with the next write that does (or whatever commits the store
   * first), and at the latest {@linkcode LATER_MS} later. For writes that
   * nothing durable depends on until their `then` runs: what they record
   * must be safe to lose with a crash and learn again (a submission's
   * answer, when the envelope is still kept and is submitted again).
   */
  later<T>(fn: () => T, then?: (value: T) => void): Promise<T> {
    return this.#add(fn, then, true);
  }

  /**
   * Like {@linkcode later}, with no promise for callers that wait for nothing
   * but `then`: returns `fn`'s result at once (the write is made, not yet
   * committed), and throws what `fn` throws, the turn rolled back. If the
   * turn is rolled back later, `then` never runs (logged, as for any write).
   * A node's answer per message sent is one such write: a promise and its
   * handler less per message (docs/PERF_NOTES.md, branch `clientgc`).
   */
  laterNow<T>(fn: () => T, then: (value: T) => void): T {
    this.#open(true);
    let value: T;
    try {
      value = this.#store.within(fn);
    } catch (e) {
      this.#fail(e, "a write failed");
      throw e;
    }
    this.#jobs.push({ value, then: then as (value: unknown) => void, resolve: NOOP, reject: NOOP });
    return value;
  }

  /** Opens the turn's transaction if needed, and schedules its commit. */
  #open(later: boolean): void {
    const store = this.#store;
    store.begin();
    if (!later && !this.#scheduled) {
      this.#scheduled = true;
      this.#schedule(() => {
        this.#scheduled = false;
        this.flush();
      });
    } else if (later && !this.#scheduled && this.#cancelLater === null) {
      this.#cancelLater = this.#scheduleLater(() => {
        this.#cancelLater = null;
        this.flush();
      });
    }
  }

  #add<T>(fn: () => T, then: ((value: T) => void) | undefined, later: boolean): Promise<T> {
    this.#open(later);
    const store = this.#store;
    let value: T;
    try {
      value = store.within(fn);
    } catch (e) {
      this.#fail(e, "a write failed");
      return handled(Promise.reject(e));
    }
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    this.#jobs.push({
      value,
      then: then as ((value: unknown) => void) | undefined,
      resolve: resolve as (value: unknown) => void,
      reject,
    });
    return handled(promise);
  }

  /** Resolves once everything written so far is committed (at once when nothing is open). */
  committed(): Promise<void> {
    if (!this.#store.inTransaction) return Promise.resolve();
    return this.write(() => {});
  }

  /** Commits now and runs what follows the writes (normally called once the turn is over). */
  flush(): void {
    this.#commit(false);
  }

  #commit(deferThens: boolean): void {
    this.#stopLater();
    const jobs = this.#jobs;
    this.#jobs = [];
    try {
      this.#store.commit();
    } catch (e) {
      this.#fail(e, "a commit failed", jobs);
      return;
    }
    if (jobs.length === 0) return;
    if (deferThens) queueMicrotask(() => this.#run(jobs));
    else this.#run(jobs);
  }

  #stopLater(): void {
    this.#cancelLater?.();
    this.#cancelLater = null;
  }

  #run(jobs: Job[]): void {
    for (const j of jobs) {
      try {
        j.then?.(j.value);
      } catch (e) {
        this.#log.error("after-commit step failed", { why: String(e) });
      }
      j.resolve(j.value);
    }
  }

  /** Rolls the turn back; nothing written in it is followed up. */
  #fail(e: unknown, what: string, jobs = this.#jobs.splice(0)): void {
    this.#store.rollback();
    jobs.push(...this.#jobs.splice(0));
    this.#log.error(`${what}: the turn is rolled back`, { writes: jobs.length, why: String(e) });
    for (const j of jobs) j.reject(e);
  }
}

const NOOP = () => {};

/** A promise nobody has to await: its rejection is reported where it happens. */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(NOOP);
  return p;
}
