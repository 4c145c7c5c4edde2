/**
 * Resource conditions the owner must hear about by name (a full disk, an I/O
 * error), kept while they last and cleared when the resource works again.
 * `status --json` shows them under `resources`, the UI shows them, and the
 * log names each once when it starts and once when it ends.
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { describeStoreFailure, type StoreFailure } from "../store/store_failure.ts";

/** One resource's condition, as `status --json` shows it. */
export interface ResourceCondition {
  state: "ok" | StoreFailure;
  /** A sentence for the owner while it is not ok. */
  message?: string;
  sinceMs?: number;
  /** Failures counted while it is not ok. */
  failures?: number;
}

/** The node's resource conditions. */
export class ResourceState {
  #clock: Clock;
  #log: Logger;
  #store: ResourceCondition = { state: "ok" };
  #listeners = new Set<(name: string, condition: ResourceCondition) => void>();

  constructor(clock: Clock, log: Logger) {
    this.#clock = clock;
    this.#log = log;
  }

  /** The store failed with `kind`. */
  storeFailed(kind: StoreFailure, detail: string): void {
    if (this.#store.state === kind) {
      this.#store = { ...this.#store, failures: (this.#store.failures ?? 0) + 1 };
      return;
    }
    this.#store = {
      state: kind,
      message: describeStoreFailure(kind),
      sinceMs: this.#clock.nowMs(),
      failures: 1,
    };
    this.#log.error(`store: ${describeStoreFailure(kind)}`, { detail });
    this.#emit("store", this.#store);
  }

  /** A store write succeeded: a failure, if any, is over. */
  storeWorked(): void {
    if (this.#store.state === "ok") return;
    this.#log.warn("store: writable again", {
      was: this.#store.state,
      failures: this.#store.failures,
    });
    this.#store = { state: "ok" };
    this.#emit("store", this.#store);
  }

  /** True unless the store's last write failed (full disk, quota, I/O error). */
  get storeWritable(): boolean {
    return this.#store.state === "ok";
  }

  /** Every resource's condition. */
  snapshot(): Record<string, ResourceCondition> {
    return { store: this.#store };
  }

  /** Calls `listener` when a condition starts or ends; returns the unsubscribe. */
  subscribe(listener: (name: string, condition: ResourceCondition) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(name: string, condition: ResourceCondition): void {
    for (const l of this.#listeners) l(name, condition);
  }
}
