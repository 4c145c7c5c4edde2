/** What a node keeps for delivery: accounts, outbox, inboxes, de-duplication, contact policy. */
import type { NodeId, UserName } from "../ids.ts";

/** A user with an account on this node. */
export interface AccountRecord {
  name: UserName;
  /** The client's device key (Ed25519, raw); null until the client enrolls. */
  publicKey: Uint8Array | null;
  /** SHA-256 of the one-time enrollment code; null once used. */
  enrollHash: Uint8Array | null;
  /** The client's published intro bundle (signed by its identity), or null. */
  bundle: Uint8Array | null;
  listed: boolean;
  createdAtMs: number;
}

/** An envelope this node keeps until its destination node acknowledges it. */
export interface OutboxRecord {
  id: string;
  owner: UserName;
  dest: NodeId;
  bytes: Uint8Array;
  expiresAtMs: number;
}

/** An envelope kept for a local user until their client acknowledges it. */
export interface InboxRecord {
  seq: number;
  id: string;
  owner: UserName;
  bytes: Uint8Array;
  receivedAtMs: number;
}

/** A user's rule for a remote address. */
export type ContactPolicy = "allow" | "block";

/** Delivery state, stored by the node. */
export interface MessageStore {
  getAccount(name: UserName): AccountRecord | undefined;
  listAccounts(): AccountRecord[];
  putAccount(account: AccountRecord): void;
  deleteAccount(name: UserName): void;

  /** Adds envelopes to the outbox (ignored when the id is there already). */
  outboxAdd(rows: OutboxRecord[]): void;
  outboxDelete(ids: string[]): void;
  /** Every outbox envelope in the order it was added. */
  outboxAll(): OutboxRecord[];

  /**
   * Stores envelopes in inboxes unless their id was delivered before; returns
   * the ids that were new. `keepUntilMs` bounds how long an id is remembered.
   */
  inboxAdd(rows: Array<Omit<InboxRecord, "seq"> & { keepUntilMs: number }>): Set<string>;
  /** Tells whether an envelope id was already delivered here. */
  wasDelivered(id: string): boolean;
  /**
   * Remembers ids as delivered without an inbox row (file chunks, kept on
   * disk); returns the ids that were new.
   */
  markDelivered(rows: Array<{ id: string; keepUntilMs: number }>): Set<string>;
  inboxFor(owner: UserName, afterSeq: number, limit: number): InboxRecord[];
  inboxDelete(owner: UserName, ids: string[]): void;
  inboxCount(owner: UserName): number;
  /** Forgets delivered ids whose keep-until has passed. */
  purgeDelivered(nowMs: number): number;

  setContactPolicy(owner: UserName, address: string, policy: ContactPolicy | null): void;
  contactPolicy(owner: UserName, address: string): ContactPolicy | null;

  /** Runs `fn` in one transaction (one fsync for everything in it). */
  transaction<T>(fn: () => T): T;
}
