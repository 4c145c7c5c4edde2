/**
 * The mailboxes each node named in its last announcement (PROTOCOL.md §15),
 * kept across restarts: a node away for hours has no live announcement,
 * which is exactly when its mailboxes matter.
 *
 * Bounded: at most `limit` nodes (`[Limits] max_routing_origins`, as many as
 * the router keeps). Origins come and go (a neighbour can name new ones every
 * minute, and the router lets provisional ones go at their expiry or under
 * budget pressure), so past the limit the longest-unheard node the router no
 * longer holds makes room; one it still holds is never dropped for that.
 */
import type { BudgetView, Viewable } from "../budget.ts";
import type { Clock } from "../clock.ts";
import type { NodeId } from "../ids.ts";

/** What {@linkcode KnownMailboxes} needs. */
export interface KnownMailboxesOptions {
  /** The rows kept (loaded once). */
  load(): Map<NodeId, NodeId[]>;
  /** Writes one node's list (an empty one deletes its row). */
  save(node: NodeId, mailboxes: NodeId[], nowMs: number): void;
  /** Whether the router still holds `node` (its key). */
  held(node: NodeId): boolean;
  clock: Clock;
  /** Most nodes kept. */
  limit: number;
}

/** Known mailboxes per node, bounded; a budget view for `status --json`. */
export class KnownMailboxes implements Viewable {
  readonly name = "known_mailboxes";
  #o: KnownMailboxesOptions;
  /** In the order last heard (oldest first). */
  #map: Map<NodeId, NodeId[]>;
  #refusals = 0;
  #lastRefusal: { key: string; atMs: number } | undefined;

  constructor(options: KnownMailboxesOptions) {
    this.#o = options;
    this.#map = options.load();
  }

  /** Drops rows past the limit (lowered since the last run), once the router is there to ask. */
  trim(): void {
    while (this.#map.size > this.#o.limit && this.#makeRoom()) { /* one dropped each time */ }
  }

  /** The mailboxes `node` named last (none: empty). */
  get(node: NodeId): readonly NodeId[] {
    return this.#map.get(node) ?? [];
  }

  get size(): number {
    return this.#map.size;
  }

  /** `node`'s announcement, accepted, names `mailboxes` (maybe none). */
  heard(node: NodeId, mailboxes: readonly NodeId[]): void {
    const old = this.#map.get(node);
    if (mailboxes.join() === (old ?? []).join()) return;
    const now = this.#o.clock.nowMs();
    if (mailboxes.length === 0) {
      this.#map.delete(node);
      return this.#o.save(node, [], now);
    }
    if (old === undefined && this.#map.size >= this.#o.limit && !this.#makeRoom()) {
      this.#refusals++;
      this.#lastRefusal = { key: node, atMs: now };
      return;
    }
    this.#map.delete(node);
    this.#map.set(node, [...mailboxes]);
    this.#o.save(node, [...mailboxes], now);
  }

  /** Drops the longest-unheard node the router no longer holds; false if there is none. */
  #makeRoom(): boolean {
    for (const node of this.#map.keys()) {
      if (this.#o.held(node)) continue;
      this.#map.delete(node);
      this.#o.save(node, [], this.#o.clock.nowMs());
      return true;
    }
    return false;
  }

  view(): BudgetView {
    return {
      limit: this.#o.limit,
      used: this.#map.size,
      refusals: this.#refusals,
      ...(this.#lastRefusal ? { lastRefusal: this.#lastRefusal } : {}),
    };
  }
}
