/**
 * The UI port's connection budget: at most `maxConnections` in total and
 * `maxPerAddress` from one address. When a new connection would pass a
 * limit, the oldest connection that has not proved a session (of that
 * address, when the address's limit is the one reached) is pushed out to
 * make room; only when every candidate has signed in is the newcomer
 * refused. So a flood of connections that never sign in cannot lock the
 * owner's browser out, and it costs at most the caps in descriptors.
 */
import { Budget, type BudgetView } from "../budget.ts";

/** Options of {@linkcode UiConnections}. */
export interface UiConnectionsOptions {
  maxConnections: number;
  maxPerAddress: number;
}

/** What {@linkcode UiConnections.admit} decided. */
export type Admission =
  /** `pushedOut`: another connection was closed to make room. */
  | { kind: "admit"; id: number; pushedOut: boolean }
  | { kind: "refuse"; why: "total" | "address" };

interface Entry {
  address: string;
  trusted: boolean;
  /** Closes the connection (it calls {@linkcode UiConnections.release} itself). */
  evict: () => void;
}

/** Counters for `ui-status`. */
export interface UiConnectionsView extends BudgetView {
  trusted: number;
  evicted: number;
}

/** Counts UI connections per address and in total, and picks whom to push out. */
export class UiConnections {
  readonly name = "ui.connections";
  #budget: Budget;
  #entries = new Map<number, Entry>();
  #next = 1;
  #evicted = 0;

  constructor({ maxConnections, maxPerAddress }: UiConnectionsOptions) {
    this.#budget = new Budget(this.name, { perKey: maxPerAddress, total: maxConnections });
  }

  /** Open connections now. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Admits a connection from `address`, pushing out the oldest connection
   * that has not signed in when a limit is reached.
   */
  admit(address: string, evict: () => void): Admission {
    let pushedOut = false;
    while (!this.#budget.fits(address)) {
      const addressFull = this.#budget.usedBy(address) + 1 > this.#limitPerAddress();
      const victim = this.#oldestUntrusted(addressFull ? address : null);
      if (victim === null) {
        this.#budget.refuse(address);
        return { kind: "refuse", why: addressFull ? "address" : "total" };
      }
      const entry = this.#entries.get(victim)!;
      this.release(victim);
      this.#evicted++;
      pushedOut = true;
      entry.evict();
    }
    this.#budget.take(address);
    const id = this.#next++;
    this.#entries.set(id, { address, trusted: false, evict });
    return { kind: "admit", id, pushedOut };
  }

  /** Marks connection `id` as signed in: it is never pushed out. */
  trust(id: number): void {
    const e = this.#entries.get(id);
    if (e) e.trusted = true;
  }

  /** Forgets connection `id` (closed); safe to call twice. */
  release(id: number): void {
    const e = this.#entries.get(id);
    if (!e) return;
    this.#entries.delete(id);
    this.#budget.release(e.address);
  }

  /** Pushes out the oldest connection that has not signed in; false when there is none. */
  evictOldestUntrusted(): boolean {
    const victim = this.#oldestUntrusted(null);
    if (victim === null) return false;
    const entry = this.#entries.get(victim)!;
    this.release(victim);
    this.#evicted++;
    entry.evict();
    return true;
  }

  /** For `ui-status`. */
  view(): UiConnectionsView {
    let trusted = 0;
    for (const e of this.#entries.values()) if (e.trusted) trusted++;
    return { ...this.#budget.view(), trusted, evicted: this.#evicted };
  }

  #limitPerAddress(): number {
    return this.#budget.view().limit;
  }

  #oldestUntrusted(address: string | null): number | null {
    // Map iteration follows insertion order: the first match is the oldest.
    for (const [id, e] of this.#entries) {
      if (!e.trusted && (address === null || e.address === address)) return id;
    }
    return null;
  }
}
