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
  /** Order of arrival; pages are read after a seq. */
  seq: number;
  id: string;
  owner: UserName;
  dest: NodeId;
  bytes: Uint8Array;
  /** This node's clock: when it is reported failed. */
  expiresAtMs: number;
}

/**
 * A delivery notice kept in its settled outbox row until the client
 * acknowledges it (the row's envelope bytes are gone by then).
 */
export interface NoticeRecord {
  /** The outbox row's seq (order of submission). */
  seq: number;
  /** The envelope's id (hex). */
  id: string;
  owner: UserName;
  /** What the client is told, as {@linkcode MessageStore.outboxSettle} kept it. */
  notice: string;
}

/** What kind of inbox row it is, for budgets (requests from strangers are counted apart). */
export type InboxKind = "request" | "message" | "notice";

/** An envelope (or a delivery notice) kept for a local user until their client acknowledges it. */
export interface InboxRecord {
  seq: number;
  id: string;
  owner: UserName;
  bytes: Uint8Array;
  receivedAtMs: number;
}

/** A row to add to an inbox. */
export interface InboxAdd {
  id: string;
  owner: UserName;
  bytes: Uint8Array;
  kind: InboxKind;
  receivedAtMs: number;
  /** This node's clock: when the row (and its de-duplication id) may be forgotten. */
  keepUntilMs: number;
  /** The node it came from (de-duplication is counted per origin); null for notices. */
  origin: NodeId | null;
}

/** What one user holds in their inbox. */
export interface InboxUsage {
  rows: number;
  bytes: number;
  requests: number;
}

/** Delivery state, stored by the node. */
export interface MessageStore {
  getAccount(name: UserName): AccountRecord | undefined;
  listAccounts(): AccountRecord[];
  putAccount(account: AccountRecord): void;
  /** Deletes an account with its inbox, outbox and contact policies. */
  deleteAccount(name: UserName): void;

  /**
   * Adds envelopes to the outbox; returns each row's seq (0 when the id was
   * there already and the row was ignored).
   */
  outboxAdd(rows: Array<Omit<OutboxRecord, "seq">>): number[];
  outboxDelete(ids: string[]): void;
  /**
   * Settles outbox rows by their destination's receipt: a row waits no more
   * (it leaves the destination's pages, the expiry and the usage) and keeps
   * only `notice` for its owner's client, until the client acknowledges it
   * ({@linkcode noticesDelete}) or `keepUntilMs` passes (purgeExpired).
   * Rows settled already are left as they are.
   */
  outboxSettle(rows: Array<{ id: string; notice: string; keepUntilMs: number }>): void;
  /** Up to `limit` notices of settled outbox rows of `owner`, oldest first. */
  noticesFor(owner: UserName, limit: number): NoticeRecord[];
  /** Deletes settled outbox rows of `owner` (the client took their notices); returns how many. */
  noticesDelete(owner: UserName, ids: string[]): number;
  /** Destination nodes with something in the outbox (waiting for a receipt). */
  outboxDestinations(): NodeId[];
  /** Up to `limit` envelopes for `dest` after `afterSeq` not settled yet, oldest first. */
  outboxPage(dest: NodeId, afterSeq: number, limit: number): OutboxRecord[];
  /** Up to `limit` unsettled envelopes (any destination) whose expiry is at or before `nowMs`. */
  outboxExpired(nowMs: number, limit: number): OutboxRecord[];
  /** Rows and bytes in the outbox per local user (settled rows not counted). */
  outboxUsage(): Map<UserName, { rows: number; bytes: number }>;

  /**
   * Stores rows in inboxes unless their id was delivered before; returns the
   * ids that were new, each with the seq its row got. Each id is remembered
   * until the row's `keepUntilMs`.
   */
  inboxAdd(rows: InboxAdd[]): Map<string, number>;
  /** Tells whether an envelope id was already delivered here. */
  wasDelivered(id: string): boolean;
  /** Of `ids`, those already delivered here (one read for many: cheaper per id than each alone). */
  deliveredAmong(ids: readonly string[]): Set<string>;
  /** Whether envelope `id` from node `origin` was delivered here (a receipt query's answer). */
  wasDeliveredFrom(id: string, origin: NodeId): boolean;
  /**
   * Whether `id` was delivered here from a node other than `origin` (ids are no secret: a relay
   * that saw one can send its own envelope under it first). Ids kept before origins were
   * recorded count as `origin`'s.
   */
  deliveredFromOther(id: string, origin: NodeId): boolean;
  /**
   * Remembers ids as delivered without an inbox row (file chunks, kept on
   * disk); returns the ids that were new.
   */
  markDelivered(
    rows: Array<{ id: string; keepUntilMs: number; origin: NodeId | null }>,
  ): Set<string>;
  /**
   * `owner`'s inbox rows after `afterSeq`, oldest first: at most `limit`, and
   * none past the one that brings their bytes to `maxBytes` or more.
   */
  inboxFor(owner: UserName, afterSeq: number, limit: number, maxBytes?: number): InboxRecord[];
  /**
   * Deletes rows the client took; returns the kind, size and origin (from the
   * de-duplication table; null when unknown) of each row deleted.
   */
  inboxDelete(
    owner: UserName,
    ids: string[],
  ): Array<{ kind: InboxKind; bytes: number; origin: NodeId | null }>;
  inboxCount(owner: UserName): number;
  /** What each user holds in their inbox. */
  inboxUsage(): Map<UserName, InboxUsage>;
  /** Inbox bytes per user and origin node (rows whose origin is known). */
  inboxByOrigin(): Array<{ owner: UserName; origin: NodeId; bytes: number }>;
  /** De-duplication ids remembered per origin node. */
  deliveredUsage(): Map<NodeId, number>;
  /**
   * Forgets inbox rows, de-duplication ids and settled outbox rows (their
   * notices) whose keep-until has passed (at most `limit` of each); says what
   * went, so budgets can give it back (settled rows hold no budget).
   */
  purgeExpired(nowMs: number, limit: number): {
    inbox: Array<{ owner: UserName; kind: InboxKind; bytes: number; origin: NodeId | null }>;
    delivered: Array<{ origin: NodeId | null }>;
  };

  setContactPolicy(owner: UserName, address: string, policy: ContactPolicy | null): void;
  contactPolicy(owner: UserName, address: string): ContactPolicy | null;

  /** Runs `fn` in one transaction (one fsync for everything in it). */
  transaction<T>(fn: () => T): T;
  /**
   * Runs `fn` in one transaction committed without waiting for the disk: it
   * survives a crash of the process at once, and a power loss once a
   * {@linkcode sync} started after it resolves. The group committer
   * (lib/node/committer.ts) pairs the two so that no fsync blocks the event loop.
   */
  transactionUnsynced<T>(fn: () => T): T;
  /**
   * Flushes every transaction committed so far to the disk, off the event
   * loop (fdatasync of SQLite's write-ahead log in a blocking-pool thread).
   *
   * @throws {Error} the flush failed (the disk's error): what was committed may not survive a power loss
   */
  sync(): Promise<void>;
}

/** A user's rule for a remote address. */
export type ContactPolicy = "allow" | "block";
