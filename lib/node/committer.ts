/**
 * Pipelined group commit. Writes queued in one turn of the event loop run in
 * one transaction, committed without an fsync on the event loop (WAL,
 * synchronous=NORMAL: atomic, and safe from a crash of the process), and then
 * flushed by one fdatasync that runs off the event loop
 * ({@linkcode MessageStore.sync}). Each caller's `then` runs only after that
 * flush, so nothing is acknowledged before it would survive a power loss.
 *
 * While a flush is in flight, new writes wait (they are not yet visible, as
 * before any commit); when it ends they are committed together and flushed at
 * once. Idle, a write gets its own commit at the end of the turn (`atTurnEnd`, a `setImmediate`,
 * not `setTimeout(0)`, which costs 2–3 ms here); busy, batches grow to the
 * length of one flush. No timer waits, and the event loop never blocks on the
 * disk: with synchronous=FULL every COMMIT held it 0.5–5 ms, which at 1,000
 * msg/s kept the node's thread busy 95 % of the time (docs/PERF_NOTES.md, section "msgperf").
 *
 * A failed commit acknowledges nothing in its batch (senders try again); its
 * cause is classified (a full disk is named as such) and reported to the
 * owner through {@linkcode ResourceState}, and each caller's `failed` hears it.
 * A failed flush is reported the same way: its batch is in the store but may
 * not survive a power loss, so it is not acknowledged (senders try again, and
 * de-duplication takes care of the copy).
 *
 * A job's `committed` step runs between the two ({@linkcode CommitJob}): a
 * node forwards an envelope, or pushes it to its user, without waiting for
 * the flush, and answers "sent" or "stored" only after it. That takes the
 * disk off the path of a message (docs/PERF_NOTES.md, section "msgperf").
 */
import { atTurnEnd } from "../turn_end.ts";
import type { MessageStore } from "../store/mod.ts";
import type { Logger } from "../log.ts";
import { type StoreFailure, storeFailure } from "../store/store_failure.ts";
import type { ResourceState } from "./resource_state.ts";

/** One write for {@linkcode Committer.job}. */
export interface CommitJob {
  /**
   * Runs inside the batch's transaction. It may clear the job's own `then`
   * when it turned out to keep nothing that anyone waits for (the batch is
   * then flushed only if another job waits).
   */
  write: () => void;
  /**
   * Runs once the transaction is committed, before the disk flush: the write
   * then survives a crash of the process, not yet a power loss. For work that
   * may go ahead of the flush because a copy lost with the power is sent
   * again by its sender and de-duplicated (forwarding, pushing to a client);
   * never for an acknowledgement.
   */
  committed?: () => void;
  /**
   * Runs once the write is durable (flushed): acknowledgements go here. A
   * batch with no `then` is not flushed on its own: the next flush covers it
   * (the log is written in order), at the latest {@linkcode LAZY_SYNC_MS}
   * later.
   */
  then?: () => void;
  /**
   * Runs once committed, for news that waits for nothing but goes to the same
   * client as the batch's acknowledgements: with the batch's `then`s when the
   * batch is flushed (one client message record for both: a seal and a socket
   * write less per batch), at once after the commit when nobody waits for a
   * flush. Not when the commit fails; when the flush fails, after `failed`
   * (the write is in the store).
   */
  told?: () => void;
  /**
   * Runs when the commit or the flush failed; `inStore` says whether the
   * transaction was committed (the flush failed after it: `committed` ran).
   */
  failed?: (kind: StoreFailure, inStore: boolean) => void;
  /**
   * The job's `then` may wait this long for a flush that something else
   * starts; only then does it start one of its own. Meanwhile its caller may
   * learn by other means that the write is no longer needed to be durable (a
   * destination answers "stored" once its user's client acknowledged the
   * envelope: the client has it durably), and clear the job's `then`: at the
   * deadline it then waits for nothing (the next flush still covers the
   * write). Absent: a flush starts at once.
   */
  flushWithinMs?: number;
  /**
   * The write may wait for the next batch, at most {@linkcode DEFER_MS}: a
   * delete after an acknowledgement, a delivery notice. At a steady rate it
   * joins the transaction of the next write someone waits for instead of
   * paying a transaction and a turn of its own (each about as costly as the
   * rows in it, at 1,000 msg/s: docs/PERF_NOTES.md, section "nodeturn").
   */
  defer?: boolean;
}
type Job = CommitJob;

/** The longest a deferred write ({@linkcode CommitJob.defer}) waits for a batch to join. */
export const DEFER_MS = 25;

/**
 * The longest a commit that nobody waits for (a delete after an ack, a
 * delivery notice) stays unflushed when nothing else is flushed meanwhile.
 */
export const LAZY_SYNC_MS = 200;

/** Batches writes into transactions, one disk flush at a time. */
export class Committer {
  #store: MessageStore;
  #log: Logger;
  #resources: ResourceState | undefined;
  #jobs: Job[] = [];
  #scheduled = false;
  #syncing = false;
  /** Committed batches that no flush has covered yet. */
  #unsynced = false;
  #lazyTimer: ReturnType<typeof setTimeout> | undefined;
  #deferTimer: ReturnType<typeof setTimeout> | undefined;
  /** Committed jobs whose `then` waits for a flush until their deadline ({@linkcode CommitJob.flushWithinMs}). */
  #waiting: Job[] = [];
  #waitingUntil = Infinity;
  #waitTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(store: MessageStore, log: Logger, resources?: ResourceState) {
    this.#store = store;
    this.#log = log;
    this.#resources = resources;
  }

  /** Writes queued and not yet committed. */
  get pending(): number {
    return this.#jobs.length;
  }

  /** Queues a write; `then` runs after it is durable, `failed` if the commit or flush fails. */
  write(write: () => void, then?: () => void, failed?: (kind: StoreFailure) => void): void {
    this.job({ write, then, failed });
  }

  /** Queues a write with a step after its commit and one after its flush. */
  job(job: CommitJob): void {
    this.#jobs.push(job);
    if (this.#scheduled || this.#syncing) return;
    if (!job.defer) {
      this.#scheduled = true;
      atTurnEnd(() => this.flush());
    } else if (this.#deferTimer === undefined) {
      this.#deferTimer = setTimeout(() => {
        this.#deferTimer = undefined;
        if (!this.#scheduled) this.flush();
      }, DEFER_MS);
      Deno.unrefTimer(this.#deferTimer);
    }
  }

  /** Commits everything queued now, unless a flush is in flight (then right after it). */
  flush(): void {
    this.#scheduled = false;
    if (this.#syncing) return;
    const jobs = this.#jobs;
    this.#jobs = [];
    if (jobs.length === 0) {
      if (this.#waiting.length > 0 && this.#waitingUntil <= Date.now()) this.#sync([]);
      return;
    }
    try {
      this.#store.transactionUnsynced(() => {
        for (const j of jobs) j.write();
      });
    } catch (e) {
      // Nothing in this batch is acknowledged; senders will retry.
      this.#failed(e, jobs, "commit failed", false);
      return;
    }
    for (const j of jobs) if (j.committed) this.#run(j.committed);
    if (!jobs.some((j) => j.then && j.flushWithinMs === undefined)) {
      const waits = jobs.filter((j) => j.then);
      if (waits.length > 0) {
        // Their `then`s wait for a flush (and their `told`s with them): the next one, or theirs.
        this.#wait(waits);
        for (const j of jobs) if (j.told && !j.then) this.#run(j.told);
        this.#unsynced = true;
        return;
      }
      for (const j of jobs) if (j.told) this.#run(j.told);
      // Nobody waits for the disk: the next flush takes it along.
      this.#resources?.storeWorked();
      return this.#lazySoon();
    }
    this.#sync(jobs);
  }

  /** What is committed and waited for by nobody is flushed at the latest {@linkcode LAZY_SYNC_MS} later. */
  #lazySoon(): void {
    this.#unsynced = true;
    if (this.#lazyTimer !== undefined) return;
    this.#lazyTimer = setTimeout(() => {
      this.#lazyTimer = undefined;
      if (this.#unsynced && !this.#syncing) this.#sync([]);
    }, LAZY_SYNC_MS);
    Deno.unrefTimer(this.#lazyTimer);
  }

  #wait(jobs: Job[]): void {
    const now = Date.now();
    for (const j of jobs) {
      this.#waiting.push(j);
      this.#waitingUntil = Math.min(this.#waitingUntil, now + j.flushWithinMs!);
    }
    if (this.#waitTimer !== undefined) return;
    this.#waitTimer = setTimeout(() => {
      this.#waitTimer = undefined;
      // A job whose caller cleared its `then` meanwhile (it learnt that elsewhere) waits no more.
      this.#waiting = this.#waiting.filter((j) => j.then || j.told);
      if (this.#waiting.length === 0) {
        this.#waitingUntil = Infinity;
        return this.#lazySoon();
      }
      // In flight: its end commits what queued meanwhile and flushes again (flush(), above).
      if (!this.#syncing) this.#sync([]);
    }, Math.max(0, this.#waitingUntil - now));
    Deno.unrefTimer(this.#waitTimer);
  }

  /** Stops the lazy flush's timer (the store is closing). */
  close(): void {
    clearTimeout(this.#waitTimer);
    this.#waitTimer = undefined;
    clearTimeout(this.#lazyTimer);
    this.#lazyTimer = undefined;
    clearTimeout(this.#deferTimer);
    this.#deferTimer = undefined;
  }

  #sync(batch: Job[]): void {
    // What waited for a flush was committed before this one starts: it covers them too.
    const jobs = this.#waiting.length > 0 ? [...this.#waiting, ...batch] : batch;
    this.#waiting = [];
    this.#waitingUntil = Infinity;
    clearTimeout(this.#waitTimer);
    this.#waitTimer = undefined;
    this.#syncing = true;
    this.#unsynced = false;
    this.#store.sync().then(
      () => {
        this.#syncing = false;
        this.#resources?.storeWorked();
        for (const j of jobs) this.#run(() => j.then?.());
        for (const j of jobs) if (j.told) this.#run(j.told);
        // What came meanwhile is one batch, committed and flushed now.
        this.flush();
      },
      (e) => {
        this.#syncing = false;
        this.#failed(e, jobs, "flush failed", true);
        for (const j of jobs) if (j.told) this.#run(j.told);
        this.flush();
      },
    );
  }

  #failed(e: unknown, jobs: Job[], what: string, inStore: boolean): void {
    const kind = storeFailure(e);
    this.#log.debug(what, { writes: jobs.length, kind });
    this.#resources?.storeFailed(kind, (e as Error).message);
    for (const j of jobs) this.#run(() => j.failed?.(kind, inStore));
  }

  #run(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#log.error("after-commit step failed", { why: (e as Error).message });
    }
  }
}
