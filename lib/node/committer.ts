/**
 * Group commit: writes queued in the same turn of the event loop run in one
 * transaction (one fsync), and each caller's `then` runs only after the
 * commit, so nothing is acknowledged before it is durable. The batch closes
 * with `setImmediate`, after the turn's I/O callbacks: `setTimeout(0)` costs
 * 2–3 ms here (docs/PERF_NOTES.md §5), which was most of a message's latency. With
 * synchronous=FULL, one fsync per message tops out near 4,000/s; grouped
 * commits reach 100,000+ rows/s (../shared/MEASURED.md).
 *
 * A failed commit acknowledges nothing in its batch (senders try again); its
 * cause is classified (a full disk is named as such) and reported to the
 * owner through {@linkcode ResourceState}, and each caller's `failed` hears it.
 */
import { setImmediate } from "node:timers";
import type { MessageStore } from "../store/mod.ts";
import type { Logger } from "../log.ts";
import { type StoreFailure, storeFailure } from "../store/store_failure.ts";
import type { ResourceState } from "./resource_state.ts";

interface Job {
  write: () => void;
  then?: () => void;
  failed?: (kind: StoreFailure) => void;
}

/** Batches writes into transactions. */
export class Committer {
  #store: MessageStore;
  #log: Logger;
  #resources: ResourceState | undefined;
  #jobs: Job[] = [];
  #scheduled = false;

  constructor(store: MessageStore, log: Logger, resources?: ResourceState) {
    this.#store = store;
    this.#log = log;
    this.#resources = resources;
  }

  /** Queues a write; `then` runs after it is committed, `failed` if the commit fails. */
  write(write: () => void, then?: () => void, failed?: (kind: StoreFailure) => void): void {
    this.#jobs.push({ write, then, failed });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Commits everything queued now. */
  flush(): void {
    this.#scheduled = false;
    const jobs = this.#jobs;
    this.#jobs = [];
    if (jobs.length === 0) return;
    try {
      this.#store.transaction(() => {
        for (const j of jobs) j.write();
      });
    } catch (e) {
      // Nothing in this batch is acknowledged; senders will retry.
      const kind = storeFailure(e);
      this.#log.debug("commit failed", { writes: jobs.length, kind });
      this.#resources?.storeFailed(kind, (e as Error).message);
      for (const j of jobs) this.#run(() => j.failed?.(kind));
      return;
    }
    this.#resources?.storeWorked();
    for (const j of jobs) this.#run(() => j.then?.());
  }

  #run(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#log.error("after-commit step failed", { why: (e as Error).message });
    }
  }
}
