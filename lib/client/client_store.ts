/**
 * The client's own store (keys, contacts with their pinned identities and
 * ratchet sessions, history), in its own directory, never the node's.
 * Every decrypted message is stored together with the new ratchet state in
 * one transaction before it is shown or acknowledged.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Contact, MessageState } from "./api.ts";
import type { RequestMemory } from "./request_freshness.ts";

const SCHEMA = `
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

/** States of a transfer. */
export type TransferState =
  | "offered"
  | "sending"
  | "receiving"
  | "sent"
  | "complete"
  | "declined"
  | "cancelled"
  | "failed";

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

type Row = Record<string, unknown>;
const b = (v: unknown) => (v ? new Uint8Array(v as Uint8Array) : null);

function toContact(r: Row): ContactRow {
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

function toMessage(r: Row): MessageRow {
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

function toRequest(r: Row): RequestRow {
  return {
    address: r.address as string,
    intro: r.intro as string,
    identity: new Uint8Array(r.identity as Uint8Array),
    request: new Uint8Array(r.request as Uint8Array),
    receivedAtMs: r.received_at_ms as number,
  };
}

function toTransfer(r: Row): TransferRow {
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

/** The client store on node:sqlite. */
export class ClientStore {
  #db: DatabaseSync;
  #depth = 0;

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(SCHEMA);
  }
  #statements = new Map<string, StatementSync>();

  /** A prepared statement, prepared once per SQL text (preparing costs more than running). */
  #stmt(sql: string): StatementSync {
    let st = this.#statements.get(sql);
    if (!st) {
      st = this.#db.prepare(sql);
      this.#statements.set(sql, st);
    }
    return st;
  }

  getMeta(key: string): Uint8Array | null {
    return b(
      (this.#stmt("SELECT value FROM meta WHERE key = ?").get(key) as Row | undefined)?.value,
    );
  }

  setMeta(key: string, value: Uint8Array): void {
    this.#stmt(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
      .run(key, value);
  }

  contact(address: string): ContactRow | undefined {
    const r = this.#stmt("SELECT * FROM contacts WHERE address = ?").get(address) as
      | Row
      | undefined;
    return r ? toContact(r) : undefined;
  }

  contacts(): ContactRow[] {
    return (this.#stmt(
      "SELECT * FROM contacts ORDER BY coalesce(last_message_at_ms, 0) DESC, address",
    )
      .all() as Row[]).map(toContact);
  }

  putContact(c: ContactRow): void {
    this.#stmt(
      `INSERT INTO contacts (address, state, identity, expected_identity, key_changed, session, pending,
         out_seq, unread, last_message_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (address) DO UPDATE SET state = excluded.state, identity = excluded.identity,
         expected_identity = excluded.expected_identity, key_changed = excluded.key_changed,
         session = excluded.session, pending = excluded.pending, out_seq = excluded.out_seq,
         unread = excluded.unread, last_message_at_ms = excluded.last_message_at_ms`,
    ).run(
      c.address,
      c.state,
      c.identity,
      c.expectedIdentity,
      c.keyChanged ? 1 : 0,
      c.session,
      c.pending,
      c.outSeq,
      c.unread,
      c.lastMessageAtMs,
    );
  }

  putMessage(m: MessageRow): void {
    this.#stmt(
      `INSERT INTO messages (id, peer, direction, seq, text, sent_at_ms, received_at_ms, state, reason, envelope)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state,
         reason = excluded.reason, received_at_ms = excluded.received_at_ms, envelope = excluded.envelope`,
    ).run(
      m.id,
      m.peer,
      m.direction,
      m.seq,
      m.text,
      m.sentAtMs,
      m.receivedAtMs,
      m.state,
      m.reason,
      m.envelope,
    );
  }

  message(id: string): MessageRow | undefined {
    const r = this.#stmt("SELECT * FROM messages WHERE id = ?").get(id) as Row | undefined;
    return r ? toMessage(r) : undefined;
  }

  /** A conversation in order: by sender and its sequence, interleaved by time. */
  history(peer: string, limit: number): MessageRow[] {
    const rows = (this.#stmt(
      `SELECT * FROM (SELECT * FROM messages WHERE peer = ? ORDER BY sent_at_ms DESC, seq DESC LIMIT ?)
       ORDER BY sent_at_ms, direction, seq`,
    ).all(peer, limit) as Row[]).map(toMessage);
    return rows;
  }

  /** Outgoing messages the node has not taken yet (after a restart). */
  unsent(): MessageRow[] {
    return (this.#stmt(
      "SELECT * FROM messages WHERE envelope IS NOT NULL ORDER BY sent_at_ms, seq",
    )
      .all() as Row[]).map(toMessage);
  }

  /** Outgoing messages up to `seq` not yet marked read. */
  markOutRead(peer: string, upToSeq: number): string[] {
    const rows = this.#stmt(
      "SELECT id FROM messages WHERE peer = ? AND direction = 'out' AND seq <= ? AND state IN ('sent', 'delivered')",
    ).all(peer, upToSeq) as Row[];
    this.#stmt(
      "UPDATE messages SET state = 'read' WHERE peer = ? AND direction = 'out' AND seq <= ? AND state IN ('sent', 'delivered')",
    ).run(peer, upToSeq);
    return rows.map((r) => r.id as string);
  }

  /** Highest incoming sequence number from `peer`. */
  lastInSeq(peer: string): number {
    const r = this.#stmt(
      "SELECT max(seq) AS s FROM messages WHERE peer = ? AND direction = 'in'",
    ).get(peer) as
      | Row
      | undefined;
    return (r?.s as number | null) ?? 0;
  }

  request(address: string): RequestRow | undefined {
    return this.#requestRow("requests", address);
  }

  requests(): RequestRow[] {
    return this.#requestRows("requests");
  }

  putRequest(r: RequestRow): void {
    this.#putRequestRow("requests", r);
  }

  deleteRequest(address: string): void {
    this.#stmt("DELETE FROM requests WHERE address = ?").run(address);
  }

  /** The key claim made in the name of `address`, if any. */
  claim(address: string): RequestRow | undefined {
    return this.#requestRow("claims", address);
  }

  claims(): RequestRow[] {
    return this.#requestRows("claims");
  }

  putClaim(r: RequestRow): void {
    this.#putRequestRow("claims", r);
  }

  deleteClaim(address: string): void {
    this.#stmt("DELETE FROM claims WHERE address = ?").run(address);
  }

  #requestRow(table: "requests" | "claims", address: string): RequestRow | undefined {
    const r = this.#stmt(`SELECT * FROM ${table} WHERE address = ?`).get(address) as
      | Row
      | undefined;
    return r ? toRequest(r) : undefined;
  }

  #requestRows(table: "requests" | "claims"): RequestRow[] {
    return (this.#stmt(`SELECT * FROM ${table} ORDER BY received_at_ms`).all() as Row[])
      .map(toRequest);
  }

  #putRequestRow(table: "requests" | "claims", r: RequestRow): void {
    this.#stmt(
      `INSERT INTO ${table} (address, intro, identity, request, received_at_ms) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (address) DO UPDATE SET intro = excluded.intro, identity = excluded.identity,
         request = excluded.request, received_at_ms = excluded.received_at_ms`,
    ).run(r.address, r.intro, r.identity, r.request, r.receivedAtMs);
  }

  /**
   * What is remembered about request `hash` from `sender` (lib/client/request_freshness.ts),
   * after forgetting what has expired.
   */
  requestMemory(hash: string, sender: string, nowMs: number): RequestMemory {
    this.#stmt("DELETE FROM seen_requests WHERE until_ms < ?").run(nowMs);
    const count = (sql: string, ...args: string[]) =>
      (this.#stmt(sql).get(...args) as Row).n as number;
    return {
      seen: this.#stmt("SELECT 1 AS x FROM seen_requests WHERE hash = ?").get(hash) !== undefined,
      forSender: count("SELECT count(*) AS n FROM seen_requests WHERE sender = ?", sender),
      total: count("SELECT count(*) AS n FROM seen_requests"),
    };
  }

  /** Remembers a request's hash until `untilMs`, so a replay of it is refused. */
  rememberRequest(hash: string, sender: string, untilMs: number): void {
    this.#stmt("INSERT OR IGNORE INTO seen_requests (hash, sender, until_ms) VALUES (?, ?, ?)")
      .run(hash, sender, untilMs);
  }

  /** Records that an inbox id was handled; false when it already was. */
  markProcessed(id: string): boolean {
    return Number(
      this.#stmt("INSERT OR IGNORE INTO processed (id) VALUES (?)").run(id).changes,
    ) === 1;
  }

  wasProcessed(id: string): boolean {
    return this.#stmt("SELECT 1 AS x FROM processed WHERE id = ?").get(id) !== undefined;
  }

  putTransfer(t: TransferRow): void {
    this.#stmt(
      `INSERT INTO transfers (id, peer, direction, name, type, size, manifest, path, state, reason,
         done, done_bytes, attempts, created_at_ms, updated_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, path = excluded.path,
         state = excluded.state, reason = excluded.reason, done = excluded.done,
         done_bytes = excluded.done_bytes, attempts = excluded.attempts,
         updated_at_ms = excluded.updated_at_ms`,
    ).run(
      t.id,
      t.peer,
      t.direction,
      t.name,
      t.type,
      t.size,
      t.manifest,
      t.path,
      t.state,
      t.reason,
      t.done,
      t.doneBytes,
      JSON.stringify(t.attempts),
      t.createdAtMs,
      t.updatedAtMs,
    );
  }

  transfer(id: string): TransferRow | undefined {
    const r = this.#stmt("SELECT * FROM transfers WHERE id = ?").get(id) as Row | undefined;
    return r ? toTransfer(r) : undefined;
  }

  /** Every transfer, newest first. */
  transfers(): TransferRow[] {
    return (this.#stmt("SELECT * FROM transfers ORDER BY created_at_ms DESC, id")
      .all() as Row[])
      .map(toTransfer);
  }

  /** Keeps a sealed envelope until the node has taken it. */
  putOutgoing(id: string, envelope: Uint8Array): void {
    this.#stmt("INSERT OR REPLACE INTO outgoing (id, envelope) VALUES (?, ?)").run(
      id,
      envelope,
    );
  }

  deleteOutgoing(id: string): void {
    this.#stmt("DELETE FROM outgoing WHERE id = ?").run(id);
  }

  /** Sealed envelopes the node has not taken yet. */
  outgoing(): Array<{ id: string; envelope: Uint8Array }> {
    return (this.#stmt("SELECT * FROM outgoing").all() as Row[]).map((r) => ({
      id: r.id as string,
      envelope: new Uint8Array(r.envelope as Uint8Array),
    }));
  }

  transaction<T>(fn: () => T): T {
    if (this.#depth > 0) return fn();
    this.#depth++;
    // Prepared once: exec() parses the statement text on every call.
    this.#stmt("BEGIN IMMEDIATE").run();
    try {
      const out = fn();
      this.#stmt("COMMIT").run();
      return out;
    } catch (e) {
      this.#stmt("ROLLBACK").run();
      throw e;
    } finally {
      this.#depth--;
    }
  }

  integrityCheck(): string {
    return Object.values(this.#stmt("PRAGMA integrity_check").get() as Row)[0] as string;
  }

  close(): void {
    this.#db.close();
  }
}
