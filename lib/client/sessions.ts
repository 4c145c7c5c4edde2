/**
 * The client's Double Ratchet sessions while it runs: one queue for every
 * change to a session (sending, receiving, accepting), and each session's
 * state kept in memory after it is first read from the store. A message moves
 * the state in memory (`advance`, inside the write that stores what the
 * message did); the encoded state is written once per transaction, just
 * before its commit, so a burst of messages costs one encode. The store stays
 * the truth across restarts: a rolled-back turn makes the sessions forget
 * every state, and they are read again from the store.
 */
import type { Clock } from "../clock.ts";
import * as e2e from "../e2e/mod.ts";
import type { ClientStore, ContactRow } from "./client_store.ts";
import { FailedWork } from "./failed_work.ts";
import { NODE_AEAD } from "./node_aead.ts";
import { type NewEnvelope, newEnvelope, newEnvelopeId } from "./new_envelope.ts";
import { encodeInner, encodePayload, type Inner } from "./payload.ts";
import type { TurnCommit } from "./turn_commit.ts";

/** Options of {@linkcode Sessions}. */
export interface SessionsOptions {
  /** Our address. */
  self: string;
  store: ClientStore;
  /** Where sealed messages are stored (one transaction per turn). */
  turn: TurnCommit;
  clock: Clock;
  /** Envelope lifetime. */
  lifetimeMs: number;
}

/** A message encrypted from a state: the state after it and its envelope. Nothing stored yet. */
export interface Encrypted {
  newState: e2e.RatchetState;
  envelope: NewEnvelope;
}

/** A sealed message: its envelope, and the commit that must come before it leaves. */
export interface Sealed {
  envelope: NewEnvelope;
  committed: Promise<void>;
}

/** Options of {@linkcode Sessions.seal}. */
export interface SealOptions {
  /** What else changes in the contact row (counters), given the row as it is when written. */
  update?: (contact: ContactRow) => ContactRow;
  /** Further writes in the same transaction (the message row, the outgoing envelope...). */
  write?: (envelope: NewEnvelope) => void;
}

/**
 * Message keys derived for one contact's messages that then failed to decrypt,
 * within a minute from the first, past which that contact's messages may skip
 * only {@linkcode LIMITED_MAX_SKIP} keys until the minute ends. A forged
 * message can make the ratchet derive up to 2 × e2e.DEFAULT_MAX_SKIP keys
 * and run a DH step before its authentication fails (about 10 ms against 0.1
 * ms for a real message, PERF_NOTES `redteam2`); without this a contact could
 * keep a core busy. An honest contact's real messages authenticate, and a
 * copy of one read already fails before any derivation (current chain) or
 * after as many as its position (an older chain), so it is rarely counted.
 */
export const FAILED_SKIP_KEYS_PER_MINUTE = 2 * e2e.DEFAULT_MAX_SKIP;
/** Keys one message may skip in a chain from a contact past its budget. */
export const LIMITED_MAX_SKIP = 16;

/** Ratchet sessions, their queue and their states in memory. */
export class Sessions {
  #o: SessionsOptions;
  /** Keys derived for failed messages, per contact. */
  #failedWork = new FailedWork({ perMinute: FAILED_SKIP_KEYS_PER_MINUTE });
  #chain: Promise<void> = Promise.resolve();
  #states = new Map<string, e2e.RatchetState>();
  /** Sessions moved on in the open transaction, stored at its commit. */
  #moved = new Set<string>();

  constructor(options: SessionsOptions) {
    this.#o = options;
    const store = options.store;
    store.onBeforeCommit(() => {
      for (const address of this.#moved) {
        store.setSession(address, e2e.encodeRatchetState(this.#states.get(address)!));
      }
      this.#moved.clear();
    });
    store.onRollback(() => {
      this.#states.clear();
      this.#moved.clear();
    });
  }

  /**
   * Runs `fn` after everything queued before it. Every change to a session goes
   * through this one queue, so two never read the same state and one never
   * overwrites the other's; so does every write of a contact row.
   */
  exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.then(() => {}, () => {});
    return run;
  }

  /** The contact's current ratchet state. @throws {TypeError} no session */
  current(contact: ContactRow): e2e.RatchetState {
    let state = this.#states.get(contact.address);
    if (!state) {
      if (!contact.session) throw new TypeError(`No session with ${contact.address}`);
      state = e2e.decodeRatchetState(contact.session);
      this.#states.set(contact.address, state);
    }
    return state;
  }

  /**
   * The session with `address` is now `state`, whose encoding the caller
   * stored ({@linkcode ClientStore.setSession}) in the same transaction.
   */
  settle(address: string, state: e2e.RatchetState): void {
    this.#states.set(address, state);
    this.#moved.delete(address);
  }

  /**
   * The session with `address` moved on to `state`: call inside the write
   * that stores what the message did; the state is stored at its commit.
   *
   * @throws {Error} outside a transaction (the state would not be stored)
   */
  advance(address: string, state: e2e.RatchetState): void {
    if (!this.#o.store.inTransaction) {
      throw new Error("Cannot advance a session outside a transaction");
    }
    this.#states.set(address, state);
    this.#moved.add(address);
  }

  /**
   * Encrypts `inner` to `peer` from `state` (ad = the new envelope's id), at
   * once (node:crypto's AES-GCM: no promise per message). Stores nothing.
   */
  encrypt(peer: string, state: e2e.RatchetState, inner: Inner): Encrypted {
    const nowMs = this.#o.clock.nowMs();
    const id = newEnvelopeId(nowMs);
    const { newState, message } = e2e.ratchetEncryptSync({
      aead: NODE_AEAD,
      state,
      plaintext: encodeInner(inner),
      ad: id,
    });
    const envelope = newEnvelope({
      id,
      from: this.#o.self,
      to: peer,
      kind: "message",
      body: encodePayload({ kind: "ratchet", message }),
      nowMs,
      lifetimeMs: this.#o.lifetimeMs,
    });
    return { newState, envelope };
  }

  /**
   * Encrypts `inner` for `contact` and writes, in this turn's transaction, the
   * contact's `update`, the new session and `write`. Call inside
   * {@linkcode exclusive}; let the envelope leave only once `committed` resolves.
   */
  seal(contact: ContactRow, inner: Inner, options: SealOptions = {}): Sealed {
    const peer = contact.address;
    const { newState, envelope } = this.encrypt(peer, this.current(contact), inner);
    const store = this.#o.store;
    const committed = this.#o.turn.write(() => {
      if (options.update) store.putContact(options.update(store.contact(peer) ?? contact));
      this.advance(peer, newState);
      options.write?.(envelope);
    });
    return { envelope, committed };
  }

  /**
   * Decrypts a ratchet message from `contact`, bound to its envelope id. The new
   * state is returned, not kept: {@linkcode advance} to it in the write that
   * stores what the message did. A failure changes nothing.
   *
   * @throws {e2e.DecryptError} the message does not decrypt (uniform)
   */
  async decrypt(
    contact: ContactRow,
    message: Uint8Array,
    envelopeId: Uint8Array,
  ): Promise<{ newState: e2e.RatchetState; plaintext: Uint8Array }> {
    const peer = contact.address;
    const now = this.#o.clock.nowMs();
    const limited = this.#failedWork.limited(peer, now);
    const work = { derivedKeys: 0 };
    try {
      return await e2e.ratchetDecrypt({
        aead: NODE_AEAD,
        state: this.current(contact),
        message,
        ad: envelopeId,
        work,
        ...(limited ? { maxSkip: LIMITED_MAX_SKIP } : {}),
      });
    } catch (err) {
      this.#failedWork.add(peer, work.derivedKeys, now);
      throw err;
    }
  }

  /**
   * Work spent on messages that failed: keys derived for them since start,
   * contacts counted now, and messages decrypted under the limit.
   */
  failedWork(): { derivedKeys: number; contacts: number; limitedMessages: number } {
    const { work, senders, limitedMessages } = this.#failedWork.stats();
    return { derivedKeys: work, contacts: senders, limitedMessages };
  }
}
