/**
 * The sending node's outbox in memory: a lean index over the durable outbox
 * table. Per destination node it holds only what is in flight (at most
 * `window`) and a short queue read ahead from the store (at most `prefetch`),
 * so a destination that stays away for weeks costs its rows on disk, not
 * memory, and a pump touches only what it sends.
 *
 * Invariant per destination: every stored row with seq ≤ `cursor` is in
 * memory (queued or in flight) unless it was acknowledged or expired; rows
 * with a larger seq are only on disk, and `complete` says there are none.
 */
import type { NodeId, UserName } from "../ids.ts";
import type { MessageStore, OutboxRecord } from "../store/mod.ts";

/** One envelope waiting for its destination's receipt. */
export interface OutboxEntry {
  id: string;
  seq: number;
  owner: UserName;
  dest: NodeId;
  /** The envelope as the client submitted it (without a proof). */
  bytes: Uint8Array;
  /** This node's clock. */
  expiresAtMs: number;
  /** When it was last handed to a link; 0 when not in flight. */
  sentAtMs: number;
  /** The neighbour it was last handed to (paths are judged by receipts). */
  firstHop: NodeId | null;
  /** The mailbox it was last handed to, when its destination was away. */
  custodyAt: NodeId | null;
  /** Times it was sent. */
  attempts: number;
}

interface Lane {
  queued: OutboxEntry[];
  inflight: Map<string, OutboxEntry>;
  cursor: number;
  complete: boolean;
  /** A `busy` destination is left alone until then. */
  pausedUntilMs: number;
}

/** Options of {@linkcode Outbox}. */
export interface OutboxOptions {
  store: Pick<MessageStore, "outboxDestinations" | "outboxPage">;
  /** Envelopes in flight per destination. */
  window: number;
  /** Envelopes read ahead per destination. */
  prefetch?: number;
}

function entryOf(r: OutboxRecord): OutboxEntry {
  return { ...r, sentAtMs: 0, firstHop: null, custodyAt: null, attempts: 0 };
}

function insertBySeq(list: OutboxEntry[], e: OutboxEntry): void {
  let i = list.length;
  while (i > 0 && list[i - 1].seq > e.seq) i--;
  list.splice(i, 0, e);
}

/** Outbox entries by destination, oldest first. */
export class Outbox {
  #o: Required<OutboxOptions>;
  #lanes = new Map<NodeId, Lane>();
  #byId = new Map<string, OutboxEntry>();

  constructor(options: OutboxOptions) {
    this.#o = { prefetch: options.window * 2, ...options };
    for (const dest of options.store.outboxDestinations()) this.#lane(dest);
  }

  /** Entries held in memory (in flight or read ahead). */
  get inMemory(): number {
    return this.#byId.size;
  }

  /** Entries in flight now. */
  get inFlight(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.inflight.size;
    return n;
  }

  get(id: string): OutboxEntry | undefined {
    return this.#byId.get(id);
  }

  /**
   * How many more envelopes for `dest` the window lets go now: 0 when `dest`
   * has something waiting to be sent (queued here, or on disk only).
   */
  roomIfIdle(dest: NodeId): number {
    const lane = this.#lanes.get(dest);
    if (!lane) return this.#o.window;
    return lane.complete && lane.queued.length === 0 ? this.#o.window - lane.inflight.size : 0;
  }

  #lane(dest: NodeId): Lane {
    let lane = this.#lanes.get(dest);
    if (!lane) {
      lane = { queued: [], inflight: new Map(), cursor: 0, complete: false, pausedUntilMs: 0 };
      this.#lanes.set(dest, lane);
    }
    return lane;
  }

  /** Rows just committed to the store (with their seqs). */
  added(rows: OutboxRecord[]): void {
    for (const r of rows) {
      const lane = this.#lane(r.dest);
      if (lane.complete && lane.queued.length < this.#o.prefetch && r.seq > lane.cursor) {
        const e = entryOf(r);
        lane.queued.push(e);
        lane.cursor = r.seq;
        this.#byId.set(e.id, e);
      } else {
        // Left on disk: the lane reads it when it gets there.
        lane.complete = false;
      }
    }
  }

  /**
   * A row just committed for an envelope already handed to `firstHop` at
   * `sentAtMs` (it waited for its receipt in memory first): in flight, not
   * sent again before its receipt is overdue. Left on disk when the lane does
   * not hold everything up to it (it is then read and sent again, and its
   * destination answers the copy from its de-duplication record).
   */
  addedInFlight(r: OutboxRecord, sentAtMs: number, firstHop: NodeId): void {
    let lane = this.#lanes.get(r.dest);
    if (!lane) {
      // No lane: nothing of `dest`'s is on disk but what is being committed now (a lane is
      // dropped only once complete and empty, and a committed row makes one).
      lane = this.#lane(r.dest);
      lane.complete = true;
    }
    if (lane.complete && lane.queued.length === 0 && r.seq > lane.cursor) {
      const e: OutboxEntry = { ...r, sentAtMs, firstHop, custodyAt: null, attempts: 1 };
      lane.inflight.set(e.id, e);
      lane.cursor = r.seq;
      this.#byId.set(e.id, e);
    } else lane.complete = false;
  }

  /** Removes an entry (acknowledged or expired); returns it if it was in memory. */
  remove(id: string): OutboxEntry | undefined {
    const e = this.#byId.get(id);
    if (!e) return undefined;
    this.#byId.delete(id);
    const lane = this.#lanes.get(e.dest)!;
    lane.inflight.delete(id);
    const i = lane.queued.indexOf(e);
    if (i >= 0) lane.queued.splice(i, 1);
    this.#dropIfEmpty(e.dest, lane);
    return e;
  }

  #dropIfEmpty(dest: NodeId, lane: Lane): void {
    if (lane.complete && lane.queued.length === 0 && lane.inflight.size === 0) {
      this.#lanes.delete(dest);
    }
  }

  /** Puts an in-flight entry back in its queue (its destination asked for it again later). */
  requeue(id: string): void {
    const e = this.#byId.get(id);
    const lane = e && this.#lanes.get(e.dest);
    if (!e || !lane?.inflight.delete(id)) return;
    e.sentAtMs = 0;
    insertBySeq(lane.queued, e);
  }

  /** Leaves `dest` alone until `untilMs` (it said it is busy). */
  pause(dest: NodeId, untilMs: number): void {
    const lane = this.#lanes.get(dest);
    if (lane) lane.pausedUntilMs = Math.max(lane.pausedUntilMs, untilMs);
  }

  #refill(lane: Lane, dest: NodeId): void {
    if (lane.complete || lane.queued.length >= this.#o.window) return;
    const page = this.#o.store.outboxPage(dest, lane.cursor, this.#o.prefetch);
    for (const r of page) {
      lane.cursor = r.seq;
      if (this.#byId.has(r.id)) continue;
      const e = entryOf(r);
      lane.queued.push(e);
      this.#byId.set(e.id, e);
    }
    if (page.length < this.#o.prefetch) lane.complete = true;
  }

  /**
   * Sends, per destination and oldest first, until `window` are in flight or
   * `send` finds no route (the rest of that destination waits). `send`
   * returns the neighbour it was handed to, or null.
   */
  pump(nowMs: number, send: (e: OutboxEntry) => NodeId | null): void {
    for (const [dest, lane] of this.#lanes) {
      if (lane.pausedUntilMs > nowMs) continue;
      this.#refill(lane, dest);
      while (lane.inflight.size < this.#o.window && lane.queued.length > 0) {
        const e = lane.queued[0];
        const hop = send(e);
        if (hop === null) break;
        lane.queued.shift();
        e.sentAtMs = nowMs;
        e.firstHop = hop;
        e.attempts++;
        lane.inflight.set(e.id, e);
        if (lane.queued.length === 0) this.#refill(lane, dest);
      }
      this.#dropIfEmpty(dest, lane);
    }
  }

  /**
   * Puts envelopes whose receipt is overdue back at the front of their
   * destination's queue, and returns them (their first hops missed).
   */
  overdue(nowMs: number, retryMs: number): OutboxEntry[] {
    const late: OutboxEntry[] = [];
    for (const lane of this.#lanes.values()) {
      for (const e of lane.inflight.values()) {
        if (nowMs - e.sentAtMs < retryMs) continue;
        lane.inflight.delete(e.id);
        e.sentAtMs = 0;
        insertBySeq(lane.queued, e);
        late.push(e);
      }
    }
    return late;
  }
}
