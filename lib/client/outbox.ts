/**
 * The client's outbox: sealed envelopes are stored (a text message in its
 * row, anything else in the `outgoing` table) in the same transaction as the
 * ratchet state that made them, and kept until the node takes them. A node
 * that cannot be asked now ({@linkcode NodeUnavailableError}) means "again
 * after the next connection"; a node that refuses ({@linkcode NodeRefusedError})
 * means the message failed, with the node's sentence. The decision is on the
 * error's type ({@linkcode submitOutcome}), never on its text.
 */
import type { Logger } from "../log.ts";
import type { ClientEvent } from "./api.ts";
import type { ClientStore, MessageRow } from "./client_store.ts";
import { NodeRefusedError, NodeUnavailableError } from "./errors.ts";
import type { SubmitResult } from "./node_connection.ts";
import type { TurnCommit } from "./turn_commit.ts";

/** What became of one submission. */
export type SubmitOutcome =
  | { kind: "taken"; state: "sent" | "delivered" }
  /** The node could not be asked: keep it, send it after the next connection. */
  | { kind: "retry" }
  /** The node refused it: it will not go. */
  | { kind: "refused"; reason: string };

/** A submission's result as an outcome. @throws {unknown} as {@linkcode submitOutcome} */
function outcomeOf(r: SubmitResult): SubmitOutcome {
  return typeof r === "string" ? { kind: "taken", state: r } : submitOutcome(r);
}

/**
 * What a submission's failure means, by the error's type.
 *
 * @throws {unknown} `error` itself when it is neither: a bug, not a delivery outcome
 */
export function submitOutcome(error: unknown): SubmitOutcome {
  if (error instanceof NodeUnavailableError) return { kind: "retry" };
  if (error instanceof NodeRefusedError) return { kind: "refused", reason: error.message };
  throw error;
}

/** What the outbox needs of the node connection. */
export interface Submitter {
  /**
   * Hands the node `envelope`; `answered` hears once, never before this
   * returns, how far it got, or a {@linkcode NodeUnavailableError} or
   * {@linkcode NodeRefusedError} (as `NodeConnection.submit`).
   */
  submit(envelope: Uint8Array, answered: (result: SubmitResult) => void): void;
}

/** Options of {@linkcode Outbox}. */
export interface OutboxOptions {
  store: ClientStore;
  /** "sent" and "taken" ride the next commit (no commit of their own). */
  turn: TurnCommit;
  node: Submitter;
  log: Logger;
  emit(event: ClientEvent): void;
}

/** Hands sealed envelopes to the node and keeps them until it takes them. */
export class Outbox {
  #o: OutboxOptions;

  constructor(options: OutboxOptions) {
    this.#o = options;
  }

  /** The node's answer to a submission, as an outcome. */
  #submit(envelope: Uint8Array): Promise<SubmitOutcome> {
    return new Promise((resolve, reject) => {
      this.#o.node.submit(envelope, (r) => {
        try {
          resolve(outcomeOf(r));
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  /**
   * Submits a stored text message (its row holds the envelope); returns the row
   * as it is now: `sent`/`delivered`, still `sending` (kept), or `failed`. The
   * row itself is durable already; the node's answer is written with
   * {@linkcode TurnCommit.laterNow} and rides the next commit (its event follows
   * that commit): lost with a crash, the envelope is still kept and is
   * submitted again after the restart, and the destination de-duplicates it.
   *
   * `view` makes what the promise resolves with from the row (the caller's
   * own view, so that nothing else waits on the answer).
   *
   * While it waits for the node, a submission holds one promise and one
   * callback, no async frame and no chain of promises: in a burst hundreds
   * wait at once, long enough to be promoted to the old generation
   * (docs/PERF_NOTES.md, `gcwhy` and `msgcpu`).
   */
  message(m: MessageRow): Promise<MessageRow>;
  message<T>(m: MessageRow, view: (row: MessageRow) => T): Promise<T>;
  message<T>(m: MessageRow, view?: (row: MessageRow) => T): Promise<T | MessageRow> {
    const envelope = m.envelope;
    if (!envelope) return Promise.resolve(view ? view(m) : m);
    return new Promise((resolve, reject) => {
      this.#o.node.submit(envelope, (r) => {
        try {
          const row = this.#answered(m, outcomeOf(r));
          resolve(view ? view(row) : row);
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  /** Records the node's answer to text message `m` (see {@linkcode message}). */
  #answered(m: MessageRow, out: SubmitOutcome): MessageRow {
    const store = this.#o.store;
    if (out.kind === "retry") return store.message(m.id) ?? m;
    return this.#o.turn.laterNow(() => {
      const latest = store.message(m.id) ?? m;
      let state = latest.state;
      let reason = latest.reason;
      if (out.kind === "refused") {
        state = "failed";
        reason = out.reason;
      } else if (state === "sending" || state === "sent") {
        // A notice or a read receipt may have overtaken the answer: never step back.
        state = out.state;
      }
      store.setMessageState(m.id, state, reason);
      return { ...latest, state, reason, envelope: null };
    }, (row) =>
      this.#o.emit({
        kind: "state",
        peer: row.peer,
        id: row.id,
        state: row.state,
        ...(row.reason ? { reason: row.reason } : {}),
      }));
  }

  /**
   * Submits an envelope kept in the `outgoing` table; it leaves the table
   * unless it must wait (in the next commit, as a text message's answer does).
   */
  async control(id: string, envelope: Uint8Array): Promise<SubmitOutcome> {
    const out = await this.#submit(envelope);
    if (out.kind === "retry") return out;
    if (out.kind === "refused") {
      this.#o.log.warn("the node refused an outgoing message", { id, why: out.reason });
    }
    let written = false;
    const committed = this.#o.turn.later(() => {
      this.#o.store.deleteOutgoing(id);
      written = true;
    });
    if (!written) await committed;
    return out;
  }

  /** After a (re)connection: everything the node has not taken yet, in the order it was made. */
  resubmitAll(): void {
    const failed = (e: unknown) =>
      this.#o.log.error("cannot resubmit", { why: e instanceof Error ? e.message : String(e) });
    for (const m of this.#o.store.unsent()) this.message(m).catch(failed);
    for (const o of this.#o.store.outgoing()) this.control(o.id, o.envelope).catch(failed);
  }
}
