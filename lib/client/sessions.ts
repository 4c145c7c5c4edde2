/**
 * The client's Double Ratchet sessions while it runs: one queue for every
 * change to a session (sending, receiving, accepting), and each session's
 * state kept in memory after it is first read from the store, so a message
 * costs one encode and one store write, not a decode too. The store stays the
 * truth across restarts: a state enters memory only once it is committed
 * (`settle`), in the same transaction as whatever the message did.
 */
import type { Clock } from "../clock.ts";
import * as e2e from "../e2e/mod.ts";
import type { ClientStore, ContactRow } from "./client_store.ts";
import { NODE_AEAD } from "./node_aead.ts";
import { type NewEnvelope, newEnvelope, newEnvelopeId } from "./new_envelope.ts";
import { encodeInner, encodePayload, type Inner } from "./payload.ts";

/** Options of {@linkcode Sessions}. */
export interface SessionsOptions {
  /** Our address. */
  self: string;
  store: ClientStore;
  clock: Clock;
  /** Envelope lifetime. */
  lifetimeMs: number;
}

/** A message encrypted from a state: the state after it and its envelope. Nothing stored yet. */
export interface Encrypted {
  newState: e2e.RatchetState;
  envelope: NewEnvelope;
}

/** Options of {@linkcode Sessions.seal}. */
export interface SealOptions {
  /** What else changes in the contact row (counters), applied before the new session is set. */
  update?: (contact: ContactRow) => ContactRow;
  /** Further writes in the same transaction (the message row, the outgoing envelope...). */
  write?: (envelope: NewEnvelope) => void;
}

/** Ratchet sessions, their queue and their states in memory. */
export class Sessions {
  #o: SessionsOptions;
  #chain: Promise<void> = Promise.resolve();
  #states = new Map<string, e2e.RatchetState>();

  constructor(options: SessionsOptions) {
    this.#o = options;
  }

  /**
   * Runs `fn` after everything queued before it. Every change to a session goes
   * through this one queue, so two never read the same state and one never
   * overwrites the other's; so does every write of a contact row.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
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

  /** The committed state of `address` is `state` (call right after the commit). */
  settle(address: string, state: e2e.RatchetState): void {
    this.#states.set(address, state);
  }

  /** Encrypts `inner` to `peer` from `state` (ad = the new envelope's id). Stores nothing. */
  async encrypt(peer: string, state: e2e.RatchetState, inner: Inner): Promise<Encrypted> {
    const id = newEnvelopeId();
    const { newState, message } = await e2e.ratchetEncrypt({
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
      nowMs: this.#o.clock.nowMs(),
      lifetimeMs: this.#o.lifetimeMs,
    });
    return { newState, envelope };
  }

  /**
   * Encrypts `inner` for `contact` and stores the new session (with `update`) and
   * `write` in one transaction, before anything leaves. Call inside {@linkcode exclusive}.
   */
  async seal(contact: ContactRow, inner: Inner, options: SealOptions = {}): Promise<NewEnvelope> {
    const { newState, envelope } = await this.encrypt(
      contact.address,
      this.current(contact),
      inner,
    );
    const row = {
      ...(options.update ? options.update(contact) : contact),
      session: e2e.encodeRatchetState(newState),
    };
    this.#o.store.transaction(() => {
      this.#o.store.putContact(row);
      options.write?.(envelope);
    });
    this.settle(contact.address, newState);
    return envelope;
  }

  /**
   * Decrypts a ratchet message from `contact`, bound to its envelope id. The new
   * state is returned, not kept: store it with what the message did, then
   * {@linkcode settle}. A failure changes nothing.
   *
   * @throws {e2e.DecryptError} the message does not decrypt (uniform)
   */
  async decrypt(
    contact: ContactRow,
    message: Uint8Array,
    envelopeId: Uint8Array,
  ): Promise<{ newState: e2e.RatchetState; plaintext: Uint8Array }> {
    return await e2e.ratchetDecrypt({
      aead: NODE_AEAD,
      state: this.current(contact),
      message,
      ad: envelopeId,
    });
  }
}
