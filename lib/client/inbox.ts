/**
 * What the node pushes from the user's inbox, handled strictly in order (in
 * the sessions' queue): each envelope is routed by its payload to the engine
 * that decides about it, which returns a {@linkcode Step}: its store writes,
 * and what to do once they are durable. The inbox writes them with "this
 * inbox id is handled" in this turn's transaction (lib/client/turn_commit.ts:
 * a burst of pushed items shares one commit), and once that is committed runs
 * the step's `after` (show, send), then acknowledges, item after item in
 * order (the acknowledgements of one turn leave in one message). An id
 * already handled is acknowledged again (after the commit that handled it)
 * and nothing is shown twice (a ratchet message is looked up only once it
 * fails to decrypt, as a copy of one read already does); a step `inQueue` (groups) is
 * followed up before the next item is handled; input that cannot be read or
 * decrypted is logged and dropped, so it cannot wedge the inbox.
 */
import type { Address } from "../ids.ts";
import type { Logger } from "../log.ts";
import { decodeEnvelope, type Envelope } from "../protocol/mod.ts";
import type { ClientStore } from "./client_store.ts";
import { decodePayload } from "./payload.ts";
import type { TurnCommit } from "./turn_commit.ts";

/** What handling one inbox item changes: written with the item's id, then `after`. */
export interface Step {
  write?(): void;
  after?(): void | Promise<void>;
  /**
   * `after` runs in the queue, before the next item is handled: it changes
   * what the next item is judged by (a group's held messages, its pending change).
   */
  inQueue?: boolean;
  /**
   * Nothing but `after` and the acknowledgement waits for the write (a
   * delivery notice's state): it rides the next commit (TurnCommit.later)
   * instead of ending the turn; the item is still acknowledged only after it.
   */
  later?: boolean;
  /**
   * The id of the incoming message row `write` stores. When it is the item's
   * own id (a text message: the node's inbox ids are envelope ids), that row
   * records the item as handled ({@linkcode ClientStore.wasProcessed} reads
   * it) and no `processed` row is written: two b-tree pages less in the
   * commit of each message (docs/PERF_NOTES.md, branch `clientturn2`).
   */
  messageId?: string;
}

/** Nothing to write or do (the item is still marked handled). */
export const NO_STEP: Step = Object.freeze({});

/** The engines the inbox routes to. */
export interface InboxHandlers {
  /** A chat request (its signature, freshness and sender are the handler's to judge). */
  request(from: Address, request: Uint8Array): Promise<Step>;
  /** The answer to a chat request we sent. */
  acceptance(from: Address, acceptance: Uint8Array): Promise<Step>;
  /** A ratchet message, bound to its envelope id. */
  ratchet(from: Address, envelopeId: Uint8Array, message: Uint8Array): Promise<Step>;
  /** The node's word on one of our envelopes (`users`: per-user results of a group envelope). */
  notice(
    ref: string,
    state: "delivered" | "failed" | "held" | "kept",
    reason?: string,
    users?: Record<string, string>,
  ): Step;
  /** A group envelope (application message, or what the group's home node fanned out). */
  group?(envelope: Envelope, inboxId: string): Promise<Step>;
}

/** Options of {@linkcode Inbox}. */
export interface InboxOptions {
  /** Our address: envelopes to anyone else are dropped. */
  self: string;
  store: ClientStore;
  turn: TurnCommit;
  log: Logger;
  handlers: InboxHandlers;
  /** The queue every session change runs in (`Sessions.exclusive`). */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** Sends acknowledgements to the node. */
  ack(ids: string[]): void;
}

/** A pushed inbox item (client protocol `deliver` or `notice`). */
export type InboxItem =
  | { type: "deliver"; id: string; envelope: Uint8Array }
  | {
    type: "notice";
    id: string;
    ref: string;
    state: "delivered" | "failed" | "held" | "kept";
    reason?: string;
    users?: Record<string, string>;
  };

/**
 * A decoded item's handler. `rejectsCopies`: a copy of an item it handled
 * already fails in it (a ratchet message's key is used up once it is read,
 * Double Ratchet §3.5, lib/e2e/double_ratchet.ts), so the item is not
 * looked up in the store first: the lookup is made only when it fails, to
 * tell a copy (acknowledged again, quietly) from a failure (logged). One
 * statement less per message received (docs/PERF_NOTES.md, branch `clientrows`).
 */
interface Routed {
  handle(): Promise<Step>;
  rejectsCopies?: boolean;
}

/** An item's writes are made; `committed` resolves once they are durable. */
type Handled = { committed: Promise<Step> };

/** Handles pushed inbox items. */
export class Inbox {
  #o: InboxOptions;
  #acks: string[] = [];
  /** Pushed and not handled yet; one slot of the sessions' queue takes them all, in order. */
  #pushed: InboxItem[] = [];
  /** Handled items whose commit, `after` and acknowledgement are to follow, in order. */
  #follows: Array<{ id: string; committed: Promise<Step> }> = [];
  #following = false;

  constructor(options: InboxOptions) {
    this.#o = options;
  }

  /**
   * Handles one pushed item, after every item pushed before it. Items pushed
   * in one burst (a channel record's worth) are handled in one slot of the
   * sessions' queue and followed up by one loop: a few promises per burst
   * instead of several per item (docs/PERF_NOTES.md, branch `clientgc`).
   */
  push(item: InboxItem): void {
    this.#pushed.push(item);
    // The first item since the last slot took them queues the next slot.
    if (this.#pushed.length === 1) void this.#o.exclusive(() => this.#handleAll());
  }

  /** In the queue: handles what was pushed until now; each item's writes are made before the next. */
  async #handleAll(): Promise<void> {
    const items = this.#pushed;
    this.#pushed = [];
    for (const item of items) {
      let committed: Promise<Step>;
      try {
        const handled = this.#handle(item);
        committed = (handled instanceof Promise ? await handled : handled).committed;
      } catch (e) {
        committed = Promise.reject(e);
        committed.catch(() => {}); // reported by #follow, in its turn
      }
      this.#follows.push({ id: item.id, committed });
      if (!this.#following) void this.#follow();
    }
  }

  /** Once each item's writes are committed: its `after`, then its acknowledgement, in order. */
  async #follow(): Promise<void> {
    this.#following = true;
    // Bounded: each round takes what was queued, and items are queued only as they are handled.
    while (this.#follows.length > 0) {
      const batch = this.#follows;
      this.#follows = [];
      for (const { id, committed } of batch) {
        try {
          const step = await committed;
          const after = step.after?.();
          if (after) await after;
          this.#acks.push(id);
        } catch (e) {
          this.#o.log.error("could not handle an inbox item", { id, why: String(e) });
        }
      }
      this.#sendAcks();
    }
    this.#following = false;
  }

  /** Makes the item's writes; at once (no promise) for a notice. */
  #handle(item: InboxItem): Handled | Promise<Handled> {
    if (item.type === "notice") {
      const step = this.#o.handlers.notice(item.ref, item.state, item.reason, item.users);
      return this.#written(step, () => step.write?.());
    }
    return this.#deliver(item);
  }

  async #deliver(item: Extract<InboxItem, { type: "deliver" }>): Promise<Handled> {
    const { store } = this.#o;
    let step: Step = NO_STEP;
    try {
      const routed = this.#route(item.envelope, item.id);
      if (!routed.rejectsCopies && store.wasProcessed(item.id)) return this.#again();
      step = await routed.handle();
    } catch (e) {
      // A copy of a ratchet message handled already fails here, as any replay does.
      if (store.wasProcessed(item.id)) return this.#again();
      // Unreadable or undecryptable: dropped (and logged) so it cannot wedge the inbox.
      this.#o.log.warn("dropped an incoming envelope", { id: item.id, why: String(e) });
    }
    return await this.#written(step, () => {
      step.write?.();
      if (step.messageId !== item.id) store.markProcessed(item.id);
    });
  }

  /**
   * Writes a step in this turn's transaction. A step `inQueue` is followed up
   * here, in the queue, once committed (nothing else is handled meanwhile);
   * any other once the queue has moved on (returned at once).
   */
  #written(step: Step, write: () => void): Handled | Promise<Handled> {
    const turn = this.#o.turn;
    const committed = step.later && !step.inQueue
      ? turn.later(() => (write(), step))
      : turn.write(() => (write(), step));
    if (!step.inQueue) return { committed };
    return this.#inQueue(step, committed);
  }

  /** An item handled already (our acknowledgement was lost): acknowledged again after this commit. */
  #again(): Handled {
    return { committed: this.#o.turn.write(() => NO_STEP) };
  }

  async #inQueue(step: Step, committed: Promise<Step>): Promise<Handled> {
    await committed;
    await step.after?.();
    return { committed: Promise.resolve(NO_STEP) };
  }

  /** Decodes an item and names its handler. @throws {Error} unreadable, or not ours to handle */
  #route(bytes: Uint8Array, inboxId: string): Routed {
    const e = decodeEnvelope(bytes);
    const h = this.#o.handlers;
    if (e.kind === "group" || e.kind === "groupFanout") {
      if (!h.group) throw new TypeError("Cannot handle group envelopes here");
      return { handle: () => h.group!(e, inboxId) };
    }
    if (e.to !== this.#o.self) throw new TypeError("Cannot handle envelope: not addressed to us");
    const from = e.from as Address;
    const p = decodePayload(e.body);
    if (e.kind === "request") {
      if (p.kind !== "request") throw new TypeError("Cannot handle request: wrong payload");
      return { handle: () => h.request(from, p.request) };
    }
    if (e.kind !== "message") throw new TypeError(`Cannot handle envelope kind "${e.kind}"`);
    if (p.kind === "acceptance") return { handle: () => h.acceptance(from, p.acceptance) };
    if (p.kind === "ratchet") {
      return { handle: () => h.ratchet(from, e.id, p.message), rejectsCopies: true };
    }
    throw new TypeError("Cannot handle message: a request payload in a message envelope");
  }

  /**
   * Acknowledges the items whose follow-ups ran, once per round of
   * {@linkcode #follow}: one call for a burst, not one per item (the
   * connection gathers them into messages of at most MAX_IDS, and delays
   * fewer than ACK_AT_ONCE: node_connection.ts). Not in a `setImmediate` of
   * its own: queued from the commit's, it ran only in the next iteration of
   * the event loop, after that iteration's input (docs/PERF_NOTES.md, branch
   * `pipeline`).
   */
  #sendAcks(): void {
    if (this.#acks.length > 0) this.#o.ack(this.#acks.splice(0));
  }
}
