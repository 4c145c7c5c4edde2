/**
 * Floods in batches: what the router accepts is queued ({@linkcode FloodQueue}) and sent at
 * the next flush, a timer of `flushDelayMs` (default 0: once the messages being handled now
 * are done), as one batch per neighbour and link message. Each announcement goes with its
 * age as of the flush plus the per-hop increment, read from the database, so time spent in
 * the queue counts as OSPF's LS age does.
 */
import type { NodeId } from "../../ids.ts";
import type { Clock } from "../../clock.ts";
import type { AnnouncementFrame } from "./announcement.ts";
import { batchWireBytes, MAX_BATCH_ANNOUNCEMENTS, MAX_BATCH_BYTES } from "./announcement_batch.ts";
import type { AnnouncementTable } from "./announcement_table.ts";
import { type FloodDue, FloodQueue } from "./flood_queue.ts";
import type { LinkStateDb } from "./link_state_db.ts";

/** Announcements handed to the link to one neighbour at one flush: one link message. */
export interface AnnouncementBatch {
  /** How many: the first `count` of `ids` and `ages`. */
  readonly count: number;
  /** Ids in `table`; valid only during the `send` call (take a reference to keep one). */
  readonly ids: Uint32Array;
  /** The age each goes with. */
  readonly ages: Uint32Array;
  readonly table: AnnouncementTable;
  /** Bytes on the wire ({@linkcode batchWireBytes}). */
  readonly wireBytes: number;
}

/** The frames of a batch, to encode (one as ANNOUNCE, more as ANNOUNCE_BATCH). */
export function batchFrames(batch: AnnouncementBatch): AnnouncementFrame[] {
  const frames: AnnouncementFrame[] = [];
  for (let k = 0; k < batch.count; k++) {
    frames.push({ announcement: batch.table.get(batch.ids[k]), ageMs: batch.ages[k] });
  }
  return frames;
}

/** Options of {@linkcode Flooder}. */
export interface FlooderOptions {
  db: LinkStateDb;
  clock: Clock;
  /** Age added at every hop. */
  hopAgeMs: number;
  /** Time from the first queued change to the flush. */
  flushDelayMs: number;
  /** This node's current announcement (a table id) and its age now, if any. */
  own(nowMs: number): { readonly id: number; readonly ageMs: number } | undefined;
  send(peer: NodeId, batch: AnnouncementBatch): void;
}

/** The flush timer and batch building around a {@linkcode FloodQueue}. */
export class Flooder {
  readonly queue: FloodQueue;
  #o: FlooderOptions;
  #timer: number | undefined;
  #stopped = false;
  #ids = new Uint32Array(64);
  #ages = new Uint32Array(64);
  #count = 0;
  #signedBytes = 0;

  constructor(options: FlooderOptions) {
    this.#o = options;
    this.queue = new FloodQueue({ capacity: () => options.db.index.capacity });
  }

  /**
   * A new announcement of origin index `origin` came from neighbour slot `fromSlot`. With
   * `timer` false the caller promises a {@linkcode flush} once its burst is handled.
   */
  changed(origin: number, fromSlot: number, timer = true): void {
    this.queue.changed(origin, fromSlot);
    if (timer) this.#schedule();
  }

  /** A new own announcement. */
  ownChanged(): void {
    this.queue.ownChanged();
    this.#schedule();
  }

  /** A link came up: the neighbour gets the whole database at the next flush. */
  linkUp(peer: NodeId): void {
    this.queue.addNeighbour(peer);
    this.#schedule();
  }

  linkDown(peer: NodeId): void {
    this.queue.removeNeighbour(peer);
  }

  /** Sends everything queued now. */
  flush(): void {
    if (this.#timer !== undefined) this.#o.clock.clearTimer(this.#timer);
    this.#timer = undefined;
    if (this.#stopped) return;
    const nowMs = this.#o.clock.nowMs();
    const own = this.#o.own(nowMs);
    this.queue.drain((due) => this.#sendDue(due, own, nowMs));
    if (!this.queue.empty) this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = this.#o.clock.setTimer(() => {
      this.#timer = undefined;
      this.flush();
    }, this.#o.flushDelayMs);
  }

  #sendDue(
    due: FloodDue,
    own: { readonly id: number; readonly ageMs: number } | undefined,
    nowMs: number,
  ): void {
    const { peer } = due;
    this.#count = 0;
    this.#signedBytes = 0;
    // A new neighbour gets this node's own announcement first, then everything held.
    if ((due.own || due.full) && own !== undefined) this.#add(peer, own.id, own.ageMs);
    if (due.full) {
      // Including the peer's own: after a restart it learns the seq to go past.
      const n = this.#o.db.capacity;
      for (let i = 0; i < n; i++) this.#addOrigin(peer, i, nowMs);
    } else {
      for (let k = 0; k < due.count; k++) this.#addOrigin(peer, due.origins[k], nowMs);
    }
    this.#emit(peer);
  }

  #addOrigin(peer: NodeId, i: number, nowMs: number): void {
    const { db, hopAgeMs } = this.#o;
    const id = db.liveIdAt(i, nowMs);
    if (id === 0) return;
    const lifetimeMs = db.table.get(id).lifetimeMs;
    const ageMs = Math.max(0, Math.ceil(lifetimeMs - (db.expiresAtIndex(i) - nowMs))) + hopAgeMs;
    if (ageMs < lifetimeMs) this.#add(peer, id, ageMs);
  }

  #add(peer: NodeId, id: number, ageMs: number): void {
    const size = this.#o.db.table.sizeAt(id);
    if (
      this.#count > 0 &&
      (this.#count === MAX_BATCH_ANNOUNCEMENTS ||
        batchWireBytes(this.#count + 1, this.#signedBytes + size) > MAX_BATCH_BYTES)
    ) {
      this.#emit(peer);
    }
    if (this.#count === this.#ids.length) {
      const ids = new Uint32Array(this.#count * 2);
      const ages = new Uint32Array(this.#count * 2);
      ids.set(this.#ids);
      ages.set(this.#ages);
      this.#ids = ids;
      this.#ages = ages;
    }
    this.#ids[this.#count] = id;
    this.#ages[this.#count] = ageMs;
    this.#count++;
    this.#signedBytes += size;
  }

  #emit(peer: NodeId): void {
    if (this.#count === 0) return;
    this.#o.send(peer, {
      count: this.#count,
      ids: this.#ids,
      ages: this.#ages,
      table: this.#o.db.table,
      wireBytes: batchWireBytes(this.#count, this.#signedBytes),
    });
    this.#count = 0;
    this.#signedBytes = 0;
  }
}
