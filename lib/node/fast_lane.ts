/**
 * Submissions answered by their receipt: the sending node's way for a message
 * whose destination answers quickly. The envelope is forwarded at once and
 * kept in memory only; when the destination's receipt ("stored") comes back
 * in time (checked at the engine's next tick: see {@linkcode FastLane.due}), the
 * client hears "delivered" and the node never wrote a row for it: no outbox row, no commit, no flush, no
 * settled notice and no acknowledgement of that notice. Anything else (no
 * receipt in time, a refusal, "busy") hands the entry to the durable outbox
 * (delivery.ts), as if it had been stored at once.
 *
 * Nothing acknowledged is lost: until its client hears an answer, the client
 * keeps the envelope in its own store and submits it again after the next
 * connection (lib/client/outbox.ts); the destination de-duplicates it. A crash
 * of this node loses only what nobody was told about. The durable outbox keeps
 * what is acknowledged ("sent") and not yet delivered, as before.
 *
 * Budgets: an entry holds its owner's outbox budget (taken by the caller)
 * until it is answered; the caller lets at most its window per destination
 * be in flight here and in the outbox together.
 */
import type { NodeId, UserName } from "../ids.ts";
import type { ReceiptStatus } from "./receipt.ts";

/**
 * How long a forwarded submission waits for its receipt in memory before it
 * is stored. A receipt comes back after the recipient's acknowledgement (its
 * client delays it up to 20 ms) and the destination's receipt gathering (10
 * ms); the file bench's offer, a message answered this way, took 50–54 ms.
 *
 * It must also cover a full window's round trip under load: a sender that
 * keeps its destination's window (512) full waits window / rate for each
 * receipt, 0.2–0.4 s at 1,300–2,600 msg/s. With 100 ms every envelope of
 * such a burst was stored, and from then on every submission took the
 * durable path (something of its destination's was waiting on disk): an
 * outbox row, a commit, a flush and a notice per message, and the client's
 * window no longer bounded what was in flight (docs/PERF_NOTES.md, branch
 * `onepace`). Waiting longer costs only a later "sent" for a destination
 * that never answers; a lost envelope is resent at the same time either way
 * (its retry counts from the first forward).
 */
export const FAST_GRACE_MS = 1000;

/**
 * The longest a submission waits in memory while its destination keeps
 * answering others: a destination that is alive but slower than the grace
 * (a sender over its maximum, a loaded machine) is no reason to store, which
 * would only add work where there is too much. As long as the retry of an
 * envelope in flight (delivery.ts, `retryMs`), so an envelope lost on its way
 * is sent again no later than if it had been stored at once.
 */
export const FAST_MAX_WAIT_MS = 5000;

/** A submission's answer: taken ("sent": durable in the outbox; "delivered"). */
export interface SubmitResult {
  id: string;
  state: "sent" | "delivered";
  users?: Record<string, string>;
}

/**
 * What a submitter hears, once, never before the call that took its
 * submission returns: its result, or the error that refused it after all
 * (a `DeliveryError`: the store failed, the group's node refused).
 */
export type SubmitAnswer = (r: SubmitResult | Error) => void;

/** One submission forwarded and not yet answered. */
export interface FastEntry {
  id: string;
  owner: UserName;
  dest: NodeId;
  bytes: Uint8Array;
  expiresAtMs: number;
  sentAtMs: number;
  firstHop: NodeId;
  /** The submission and any resubmission of the same id. */
  waiters: SubmitAnswer[];
  /** Its waiters have heard their answer (see {@linkcode answerFast}). */
  answered: boolean;
  /** Being stored (handed to the durable outbox); the commit has not run yet. */
  storing: boolean;
  /** A receipt that came while it was being stored. */
  outcome?: ReceiptStatus;
}

/**
 * Submissions in memory waiting for their receipt, oldest first. No timer of
 * its own: the delivery engine's tick (every 250 ms) asks for what is due, so
 * a message costs no timer and no wake-up here (each wake-up of the process
 * costs about 100 µs of CPU on this machine: docs/PERF_NOTES.md).
 */
export class FastLane {
  #byId = new Map<string, FastEntry>();
  #perDest = new Map<NodeId, number>();
  /** When each destination with entries here last answered one of them. */
  #heardAtMs = new Map<NodeId, number>();

  get size(): number {
    return this.#byId.size;
  }

  get(id: string): FastEntry | undefined {
    return this.#byId.get(id);
  }

  /** Entries for `dest` waiting here. */
  countTo(dest: NodeId): number {
    return this.#perDest.get(dest) ?? 0;
  }

  /** A submission forwarded now: `answer` hears it (through {@linkcode answerFast}). */
  add(entry: Omit<FastEntry, "waiters" | "storing" | "answered">, answer: SubmitAnswer): void {
    this.#byId.set(entry.id, { ...entry, waiters: [answer], storing: false, answered: false });
    this.#perDest.set(entry.dest, this.countTo(entry.dest) + 1);
  }

  /** A resubmission of an entry here: answered with it. */
  join(e: FastEntry, answer: SubmitAnswer): void {
    e.waiters.push(answer);
  }

  /** Takes an entry out (answered, or stored); its waiters are the caller's to answer. */
  delete(id: string): void {
    const e = this.#byId.get(id);
    if (!e) return;
    this.#byId.delete(id);
    const n = this.countTo(e.dest) - 1;
    if (n > 0) this.#perDest.set(e.dest, n);
    else {
      this.#perDest.delete(e.dest);
      this.#heardAtMs.delete(e.dest);
    }
  }

  /** `dest` answered one of the entries here (whatever the answer): it is alive. */
  heard(dest: NodeId, nowMs: number): void {
    if (this.#perDest.has(dest)) this.#heardAtMs.set(dest, nowMs);
  }

  /**
   * Entries no longer worth waiting for, oldest first, not being stored yet:
   * sent `graceMs` or longer before `nowMs` to a destination that has not
   * answered any entry here for as long, or sent `maxWaitMs` or longer before.
   */
  due(nowMs: number, graceMs: number, maxWaitMs = FAST_MAX_WAIT_MS): FastEntry[] {
    const due: FastEntry[] = [];
    // Map order is insertion order: the oldest first; stop at the first still in its grace.
    for (const e of this.#byId.values()) {
      if (e.sentAtMs + graceMs > nowMs) break;
      if (e.storing) continue;
      const heard = this.#heardAtMs.get(e.dest) ?? -Infinity;
      if (heard + graceMs > nowMs && e.sentAtMs + maxWaitMs > nowMs) continue;
      due.push(e);
    }
    return due;
  }
}

/**
 * Tells an entry's waiters `r`, once: a later call does nothing (an entry
 * answered "delivered" by its commit can still be in a batch whose flush
 * fails; its waiters heard their answer).
 */
export function answerFast(f: FastEntry, r: SubmitResult | Error): void {
  if (f.answered) return;
  f.answered = true;
  for (const w of f.waiters) w(r);
}
