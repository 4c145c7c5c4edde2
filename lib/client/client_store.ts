/**
 * The client's own store (keys, contacts with their pinned identities and
 * ratchet sessions, history), in its own directory, never the node's.
 * Every decrypted message is stored together with the new ratchet state in
 * one transaction before it is shown or acknowledged.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { RequestMemory } from "./request_freshness.ts";
import { ClientGroupTables } from "./_group_tables.ts";
import {
  b,
  type ContactRow,
  type MessageRow,
  type RequestRow,
  type Row,
  SCHEMA,
  toContact,
  toMessage,
  toRequest,
  toTransfer,
  type TransferRow,
} from "./_store_rows.ts";

export type {
  GroupMessageRow,
  GroupOutgoingRow,
  GroupRow,
  HeldRow,
  Intent,
  InvitationRow,
  PendingChange,
} from "./_group_tables.ts";
export type {
  ContactRow,
  MessageRow,
  RequestRow,
  TransferRow,
  TransferState,
} from "./_store_rows.ts";

/** The client store on node:sqlite. */
export class ClientStore {
  #db: DatabaseSync;
  #depth = 0;

  /** The group tables (lib/client/_group_tables.ts), in this store's transactions. */
  readonly groups: ClientGroupTables;

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(SCHEMA);
    this.groups = new ClientGroupTables(this.#db, (sql) => this.#stmt(sql));
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
