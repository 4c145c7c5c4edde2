/**
 * The client store's schema, row types and row readers (private to lib/client;
 * the types are exported through client_store.ts).
 */
import type { Contact, FileState, MessageState } from "./api.ts";

/** The tables (created when missing). */
export const SCHEMA = `
PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (
  address TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  identity BLOB,
  expected_identity BLOB,
  key_changed INTEGER NOT NULL DEFAULT 0,
  session BLOB,
  pending BLOB,
  out_seq INTEGER NOT NULL DEFAULT 0,
  unread INTEGER NOT NULL DEFAULT 0,
  last_message_at_ms INTEGER
) STRICT;
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY,
  peer TEXT NOT NULL,
  direction TEXT NOT NULL,
  seq INTEGER NOT NULL,
  text TEXT NOT NULL,
  sent_at_ms INTEGER NOT NULL,
  received_at_ms INTEGER,
  state TEXT NOT NULL,
  reason TEXT,
  envelope BLOB
) STRICT;
CREATE INDEX IF NOT EXISTS messages_peer ON messages (peer, direction, seq);
CREATE TABLE IF NOT EXISTS requests (
  address TEXT PRIMARY KEY,
  intro TEXT NOT NULL,
  identity BLOB NOT NULL,
  request BLOB NOT NULL,
  received_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS processed (id TEXT PRIMARY KEY) STRICT;
CREATE TABLE IF NOT EXISTS transfers (
  id TEXT PRIMARY KEY,
  peer TEXT NOT NULL,
  direction TEXT NOT NULL,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  size INTEGER NOT NULL,
  manifest BLOB NOT NULL,
  path TEXT,
  state TEXT NOT NULL,
  reason TEXT,
  done BLOB NOT NULL,
  done_bytes INTEGER NOT NULL,
  attempts TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS transfers_waiting ON transfers (state, direction, peer);
CREATE INDEX IF NOT EXISTS transfers_newest ON transfers (created_at_ms, id);
CREATE INDEX IF NOT EXISTS transfers_peer ON transfers (peer, created_at_ms);
CREATE TABLE IF NOT EXISTS outgoing (id TEXT PRIMARY KEY, envelope BLOB NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS claims (
  address TEXT PRIMARY KEY,
  intro TEXT NOT NULL,
  identity BLOB NOT NULL,
  request BLOB NOT NULL,
  received_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS seen_requests (
  hash TEXT PRIMARY KEY,
  sender TEXT NOT NULL,
  until_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS seen_requests_sender ON seen_requests (sender);
CREATE INDEX IF NOT EXISTS seen_requests_until ON seen_requests (until_ms);
`;

/** Inserts or replaces a contact row. */
export const CONTACT_UPSERT =
  `INSERT INTO contacts (address, state, identity, expected_identity, key_changed, session, pending,
  out_seq, unread, last_message_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (address) DO UPDATE SET state = excluded.state, identity = excluded.identity,
  expected_identity = excluded.expected_identity, key_changed = excluded.key_changed,
  session = excluded.session, pending = excluded.pending, out_seq = excluded.out_seq,
  unread = excluded.unread, last_message_at_ms = excluded.last_message_at_ms`;

const MESSAGE_INSERT =
  `INSERT INTO messages (id, peer, direction, seq, text, sent_at_ms, received_at_ms, state, reason, envelope)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/**
 * Inserts a message row, or updates its state, reason, time received and
 * envelope: only a row of the same peer and direction (an id is no secret:
 * a peer's message can never change one of ours).
 */
export const MESSAGE_UPSERT =
  `${MESSAGE_INSERT} ON CONFLICT (id) DO UPDATE SET state = excluded.state,
  reason = excluded.reason, received_at_ms = excluded.received_at_ms, envelope = excluded.envelope
  WHERE messages.peer = excluded.peer AND messages.direction = excluded.direction`;

/** Inserts a message row unless its id is taken (by any row). */
export const MESSAGE_INSERT_NEW = `${MESSAGE_INSERT} ON CONFLICT (id) DO NOTHING`;

/** Inserts a transfer row, or updates what may change. */
export const TRANSFER_UPSERT =
  `INSERT INTO transfers (id, peer, direction, name, type, size, manifest, path, state, reason,
  done, done_bytes, attempts, created_at_ms, updated_at_ms)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, manifest = excluded.manifest, path = excluded.path,
  state = excluded.state, reason = excluded.reason, done = excluded.done,
  done_bytes = excluded.done_bytes, attempts = excluded.attempts,
  updated_at_ms = excluded.updated_at_ms`;

/** A contact row as stored. */
export interface ContactRow {
  address: string;
  state: Contact["state"];
  identity: Uint8Array | null;
  /** The identity an intro was sealed to, checked when they accept. */
  expectedIdentity: Uint8Array | null;
  keyChanged: boolean;
  session: Uint8Array | null;
  pending: Uint8Array | null;
  outSeq: number;
  unread: number;
  lastMessageAtMs: number | null;
}

/** A message row as stored. */
export interface MessageRow {
  id: string;
  peer: string;
  direction: "in" | "out";
  seq: number;
  text: string;
  sentAtMs: number;
  receivedAtMs: number | null;
  state: MessageState;
  reason: string | null;
  /** Encoded envelope of an outgoing message not yet accepted by the node. */
  envelope: Uint8Array | null;
}

/** A file transfer as stored (lib/client/file_transfers.ts). */
export interface TransferRow {
  /** File id, hex. */
  id: string;
  peer: string;
  direction: "in" | "out";
  /** The name as offered (sender's) or as it will be saved (receiver's, sanitised). */
  name: string;
  type: string;
  size: number;
  /** Encoded lib/e2e FileManifest (holds the file key). */
  manifest: Uint8Array;
  /** Sender: the file sent; receiver: the saved file once complete. */
  path: string | null;
  state: TransferState;
  reason: string | null;
  /** Bitmap of chunks stored at the receiver's node (out) or written (in). */
  done: Uint8Array;
  doneBytes: number;
  /** Chunk index → attempt, for chunks the receiver asked for again. */
  attempts: Record<string, number>;
  createdAtMs: number;
  updatedAtMs: number;
}

/** States of a transfer: the API's file states. */
export type TransferState = FileState;

/**
 * A chat request waiting for an answer; also a key claim (table `claims`): a
 * request from the address of an accepted contact, made with another key.
 */
export interface RequestRow {
  address: string;
  intro: string;
  identity: Uint8Array;
  request: Uint8Array;
  receivedAtMs: number;
}

/** A row as node:sqlite returns it. */
export type Row = Record<string, unknown>;
/** A nullable blob column. */
export const b = (v: unknown) => (v ? new Uint8Array(v as Uint8Array) : null);

/** Reads a row. */
export function toContact(r: Row): ContactRow {
  return {
    address: r.address as string,
    state: r.state as Contact["state"],
    identity: b(r.identity),
    expectedIdentity: b(r.expected_identity),
    keyChanged: r.key_changed === 1,
    session: b(r.session),
    pending: b(r.pending),
    outSeq: r.out_seq as number,
    unread: r.unread as number,
    lastMessageAtMs: (r.last_message_at_ms as number | null) ?? null,
  };
}

/** Reads a row. */
export function toMessage(r: Row): MessageRow {
  return {
    id: r.id as string,
    peer: r.peer as string,
    direction: r.direction as "in" | "out",
    seq: r.seq as number,
    text: r.text as string,
    sentAtMs: r.sent_at_ms as number,
    receivedAtMs: (r.received_at_ms as number | null) ?? null,
    state: r.state as MessageState,
    reason: (r.reason as string | null) ?? null,
    envelope: b(r.envelope),
  };
}

/** Reads a row. */
export function toRequest(r: Row): RequestRow {
  return {
    address: r.address as string,
    intro: r.intro as string,
    identity: new Uint8Array(r.identity as Uint8Array),
    request: new Uint8Array(r.request as Uint8Array),
    receivedAtMs: r.received_at_ms as number,
  };
}

/** Reads a row. */
export function toTransfer(r: Row): TransferRow {
  return {
    id: r.id as string,
    peer: r.peer as string,
    direction: r.direction as "in" | "out",
    name: r.name as string,
    type: r.type as string,
    size: r.size as number,
    manifest: new Uint8Array(r.manifest as Uint8Array),
    path: (r.path as string | null) ?? null,
    state: r.state as TransferState,
    reason: (r.reason as string | null) ?? null,
    done: new Uint8Array(r.done as Uint8Array),
    doneBytes: r.done_bytes as number,
    attempts: JSON.parse(r.attempts as string),
    createdAtMs: r.created_at_ms as number,
    updatedAtMs: r.updated_at_ms as number,
  };
}
