/**
 * The client's own store (keys, contacts with their pinned identities and
 * ratchet sessions, history), in its own directory, never the node's.
 * Every decrypted message is stored together with the new ratchet state in
 * one transaction before it is shown or acknowledged.
 *
 * Writes of one event-loop turn share one transaction (lib/client/turn_commit.ts
 * opens it with {@linkcode ClientStore.begin} and commits it once the turn is
 * over). A write made outside such a turn while one is open first has the
 * turn committed (`onStrayWrite`), then commits on its own as before, so a
 * caller that writes and then acts still acts only on what is durable.
 *
 * What the core reads on every message is kept in memory, written through:
 * contact rows (a changed row is written once, at commit) and outgoing
 * messages not yet delivered. A rollback forgets both.
 *
 * A message's state changed in the open transaction (the node's answer, a
 * delivery notice) is kept in memory too and written before the next
 * statement on the messages table, at the latest at commit: the changes of
 * one turn in one UPDATE per state (up to {@linkcode IDS_PER_UPDATE} ids),
 * and two changes of one message (its answer, then its notice) in one.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { RequestMemory } from "./request_freshness.ts";
import { ClientGroupTables } from "./_group_tables.ts";
import { WalCheckpoints } from "../store/wal_checkpoints.ts";
import {
  b,
  CONTACT_UPSERT,
  type ContactRow,
  MESSAGE_INSERT_NEW,
  MESSAGE_UPSERT,
  type MessageRow,
  type RequestRow,
  type Row,
  SCHEMA,
  toContact,
  toMessage,
  toRequest,
  toTransfer,
  TRANSFER_UPSERT,
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

/** Outgoing messages kept in memory until delivered (more are read from the table). */
const PENDING_MESSAGES = 4096;
/**
 * Ids per UPDATE of the state changes written together (`id IN (...)`): an
 * UPDATE of 32 ids costs about half as much per id as one each.
 */
const IDS_PER_UPDATE = 32;
/** States after which a "sent", "held" or "delivered" may still come. */
const UNSETTLED: ReadonlySet<string> = new Set(["sending", "sent", "held"]);

/** Options of {@linkcode ClientStore}. */
export interface ClientStoreOptions {
  /**
   * SQLite's `synchronous` (WAL): NORMAL (the default) survives a crash of the
   * process, FULL also an OS crash or power loss, for an fsync per commit
   * (docs/SECURITY.md, docs/PERF_NOTES.md).
   */
  synchronous?: "NORMAL" | "FULL";
}

/** Statements that do not write (the group tables' reads). */
const READ_ONLY = /^\s*SELECT\b/i;

/** The client store on node:sqlite. */
export class ClientStore {
  #db: DatabaseSync;
  /** A transaction is open. */
  #open = false;
  /** Inside a write that belongs to the open transaction. */
  #writing = 0;
  #contacts = new Map<string, ContactRow>();
  /** Contacts changed in the open transaction, written at commit. */
  #dirty = new Set<string>();
  /** Outgoing messages still `sending`, `sent` or `held`, by id (oldest first). */
  #pending = new Map<string, MessageRow>();
  /** State changes of the open transaction not written yet, by id (the last one of each). */
  #states = new Map<string, { state: MessageRow["state"]; reason: string | null }>();
  #beforeCommit: Array<() => void> = [];
  #rolledBack: Array<() => void> = [];
  #stray: (() => void) | null = null;
  /** The log's checkpoints, their fsyncs off the event loop (none for ":memory:"). */
  #checkpoints: WalCheckpoints | null = null;

  /** The group tables (lib/client/_group_tables.ts), in this store's transactions. */
  readonly groups: ClientGroupTables;

  constructor(path: string, { synchronous = "NORMAL" }: ClientStoreOptions = {}) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(SCHEMA);
    if (synchronous === "FULL") this.#db.exec("PRAGMA synchronous = FULL");
    if (path !== ":memory:") {
      this.#checkpoints = new WalCheckpoints(this.#db, path, {
        idle: () => !this.#db.isTransaction,
      });
    }
    // A group write outside the turn's writes commits the turn first, as every write here does.
    this.groups = new ClientGroupTables(this.#db, (sql) => {
      if (!READ_ONLY.test(sql)) this.#mutating();
      return this.#stmt(sql);
    });
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
    this.#mutating();
    this.#stmt(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
      .run(key, value);
  }

  /** A contact row (from memory after the first read; treat it as immutable). */
  contact(address: string): ContactRow | undefined {
    const cached = this.#contacts.get(address);
    if (cached) return cached;
    const r = this.#stmt("SELECT * FROM contacts WHERE address = ?").get(address) as
      | Row
      | undefined;
    if (!r) return undefined;
    const c = toContact(r);
    this.#contacts.set(address, c);
    return c;
  }

  contacts(): ContactRow[] {
    this.#writeDirty();
    return (this.#stmt(
      "SELECT * FROM contacts ORDER BY coalesce(last_message_at_ms, 0) DESC, address",
    )
      .all() as Row[]).map(toContact);
  }

  /**
   * Stores a contact row. Its ratchet session is not changed here: an existing
   * row keeps its session (only {@linkcode setSession} changes it), so a row
   * read before the session moved on can never put an older one back.
   * Inside a transaction the row is written once, at commit.
   */
  putContact(c: ContactRow): void {
    this.#mutating();
    const prev = this.contact(c.address);
    // A row made from the one in memory (a counter changed) has its session already: no copy.
    this.#putContactRow(prev && c.session !== prev.session ? { ...c, session: prev.session } : c);
  }

  /** Changes a contact's ratchet session (encoded). @throws {TypeError} no such contact */
  setSession(address: string, session: Uint8Array): void {
    this.#mutating();
    const prev = this.contact(address);
    if (!prev) throw new TypeError(`Cannot store a session: no contact ${address}`);
    this.#putContactRow({ ...prev, session });
  }

  #putContactRow(c: ContactRow): void {
    this.#contacts.set(c.address, c);
    if (this.#open) this.#dirty.add(c.address);
    else this.#writeContact(c);
  }

  /** Writes the contacts changed in the open transaction. */
  #writeDirty(): void {
    for (const address of this.#dirty) this.#writeContact(this.#contacts.get(address)!);
    this.#dirty.clear();
  }

  #writeContact(c: ContactRow): void {
    this.#stmt(
      CONTACT_UPSERT,
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

  /** Stores a message row, or updates the row of the same peer and direction under its id. */
  putMessage(m: MessageRow): void {
    this.#mutating();
    this.#writeStates();
    this.#runMessage(MESSAGE_UPSERT, m);
    this.#remember(m);
  }

  /** Stores a new message row: false, and nothing written, when its id is taken already. */
  addMessage(m: MessageRow): boolean {
    this.#mutating();
    this.#writeStates();
    const added = Number(this.#runMessage(MESSAGE_INSERT_NEW, m).changes) === 1;
    if (added) this.#remember(m);
    return added;
  }

  #runMessage(sql: string, m: MessageRow) {
    return this.#stmt(sql).run(
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

  /**
   * Changes a message's state; its envelope is no longer needed. Inside a
   * transaction the change is written with the others of the transaction,
   * before the next statement on the messages table or at commit.
   */
  setMessageState(id: string, state: MessageRow["state"], reason: string | null): void {
    this.#mutating();
    if (this.#open) {
      // A later change of the same message replaces the earlier one: one row change.
      this.#states.set(id, { state, reason });
    } else {
      this.#stmt("UPDATE messages SET state = ?, reason = ?, envelope = NULL WHERE id = ?").run(
        state,
        reason,
        id,
      );
    }
    // Settled (the common "delivered"): forgotten without a copy made to be dropped.
    if (!UNSETTLED.has(state)) this.#pending.delete(id);
    else {
      const m = this.#pending.get(id);
      if (m) this.#remember({ ...m, state, reason, envelope: null });
    }
  }

  /**
   * Writes the state changes kept since the last statement on the messages
   * table: one UPDATE per state and reason for up to {@linkcode IDS_PER_UPDATE} ids.
   */
  #writeStates(): void {
    if (this.#states.size === 0) return;
    const byState = new Map<string, string[]>();
    for (const [id, { state, reason }] of this.#states) {
      // The key keeps a null reason apart from an empty one.
      const key = reason === null ? state : `${state}\n${reason}`;
      const ids = byState.get(key);
      if (ids) ids.push(id);
      else byState.set(key, [id]);
    }
    this.#states.clear();
    for (const [key, ids] of byState) {
      const cut = key.indexOf("\n");
      const state = cut < 0 ? key : key.slice(0, cut);
      const reason = cut < 0 ? null : key.slice(cut + 1);
      for (let i = 0; i < ids.length; i += IDS_PER_UPDATE) {
        const slice = ids.slice(i, i + IDS_PER_UPDATE);
        this.#stmt(
          "UPDATE messages SET state = ?, reason = ?, envelope = NULL WHERE id IN (" +
            `${slice.map(() => "?").join(", ")})`,
        ).run(state, reason, ...slice);
      }
    }
  }

  /** Keeps outgoing messages in memory while a `sent`, `held` or `delivered` may still come. */
  #remember(m: MessageRow): void {
    // An incoming row never changes an outgoing one (MESSAGE_UPSERT, addMessage): nothing to forget.
    if (m.direction !== "out") return;
    this.#pending.delete(m.id);
    if (!UNSETTLED.has(m.state)) return;
    this.#pending.set(m.id, m);
    if (this.#pending.size > PENDING_MESSAGES) {
      this.#pending.delete(this.#pending.keys().next().value!);
    }
  }

  /** A message row (treat it as immutable). */
  message(id: string): MessageRow | undefined {
    const pending = this.#pending.get(id);
    if (pending) return pending;
    this.#writeStates();
    const r = this.#stmt("SELECT * FROM messages WHERE id = ?").get(id) as Row | undefined;
    return r ? toMessage(r) : undefined;
  }

  /** A conversation in order: by sender and its sequence, interleaved by time. */
  history(peer: string, limit: number): MessageRow[] {
    this.#writeStates();
    const rows = (this.#stmt(
      `SELECT * FROM (SELECT * FROM messages WHERE peer = ? ORDER BY sent_at_ms DESC, seq DESC LIMIT ?)
       ORDER BY sent_at_ms, direction, seq`,
    ).all(peer, limit) as Row[]).map(toMessage);
    return rows;
  }

  /** Outgoing messages the node has not taken yet (after a restart). */
  unsent(): MessageRow[] {
    this.#writeStates();
    return (this.#stmt(
      "SELECT * FROM messages WHERE envelope IS NOT NULL ORDER BY sent_at_ms, seq",
    )
      .all() as Row[]).map(toMessage);
  }

  /** Outgoing messages up to `seq` not yet marked read. */
  markOutRead(peer: string, upToSeq: number): string[] {
    this.#mutating();
    this.#writeStates();
    const rows = this.#stmt(
      "SELECT id FROM messages WHERE peer = ? AND direction = 'out' AND seq <= ? AND state IN ('sent', 'delivered')",
    ).all(peer, upToSeq) as Row[];
    this.#stmt(
      "UPDATE messages SET state = 'read' WHERE peer = ? AND direction = 'out' AND seq <= ? AND state IN ('sent', 'delivered')",
    ).run(peer, upToSeq);
    const ids = rows.map((r) => r.id as string);
    for (const id of ids) this.#pending.delete(id);
    return ids;
  }

  /** Highest incoming sequence number from `peer`. */
  lastInSeq(peer: string): number {
    this.#writeStates();
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
    this.#mutating();
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
    this.#mutating();
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
    this.#mutating();
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
      forNode: count(
        "SELECT count(*) AS n FROM seen_requests WHERE substr(sender, instr(sender, '@') + 1) = ?",
        sender.slice(sender.indexOf("@") + 1),
      ),
      // A new request from an address already waiting replaces its row: not counted.
      waitingFromNode: count(
        `SELECT count(*) AS n FROM requests
           WHERE substr(address, instr(address, '@') + 1) = ? AND address != ?`,
        sender.slice(sender.indexOf("@") + 1),
        sender,
      ),
      waiting: count("SELECT count(*) AS n FROM requests WHERE address != ?", sender),
      total: count("SELECT count(*) AS n FROM seen_requests"),
    };
  }

  /** Remembers a request's hash until `untilMs`, so a replay of it is refused. */
  rememberRequest(hash: string, sender: string, untilMs: number): void {
    this.#mutating();
    this.#stmt("INSERT OR IGNORE INTO seen_requests (hash, sender, until_ms) VALUES (?, ?, ?)")
      .run(hash, sender, untilMs);
  }

  /** Records that an inbox id was handled; false when it already was. */
  markProcessed(id: string): boolean {
    this.#mutating();
    return Number(
      this.#stmt("INSERT OR IGNORE INTO processed (id) VALUES (?)").run(id).changes,
    ) === 1;
  }

  /**
   * Whether an inbox id was handled: recorded by {@linkcode markProcessed}, or
   * by the incoming message row stored under that id (lib/client/inbox.ts
   * `Step.messageId`).
   */
  wasProcessed(id: string): boolean {
    this.#writeStates();
    return this.#stmt(
      "SELECT 1 AS x FROM processed WHERE id = ?1 UNION ALL " +
        "SELECT 1 FROM messages WHERE id = ?1 AND direction = 'in' LIMIT 1",
    ).get(id) !== undefined;
  }

  putTransfer(t: TransferRow): void {
    this.#mutating();
    this.#stmt(
      TRANSFER_UPSERT,
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

  /** Incoming transfers in `state`: from `peer`, or from everyone. */
  incomingTransfers(state: "offered" | "receiving", peer?: string): number {
    const row = peer === undefined
      ? this.#stmt(
        "SELECT COUNT(*) AS n FROM transfers WHERE state = ? AND direction = 'in'",
      ).get(state)
      : this.#stmt(
        "SELECT COUNT(*) AS n FROM transfers WHERE state = ? AND direction = 'in' AND peer = ?",
      ).get(state, peer);
    return Number((row as { n: number }).n);
  }

  /** Every transfer, newest first. */
  transfers(): TransferRow[] {
    return (this.#stmt("SELECT * FROM transfers ORDER BY created_at_ms DESC, id")
      .all() as Row[])
      .map(toTransfer);
  }

  /**
   * Transfers newest first: at most `limit`, only in `states` when given, only
   * with `peer` when given (ended transfers stay in the table, so a list of them
   * all grows with every offer a contact ever made).
   */
  transfersWhere(
    { states, peer, direction, limit = -1 }: {
      states?: readonly string[];
      peer?: string;
      direction?: "in" | "out";
      /** Rows at most (default: all). */
      limit?: number;
    },
  ): TransferRow[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (states) {
      where.push(`state IN (${states.map(() => "?").join(", ")})`);
      args.push(...states);
    }
    if (peer !== undefined) {
      where.push("peer = ?");
      args.push(peer);
    }
    if (direction !== undefined) {
      where.push("direction = ?");
      args.push(direction);
    }
    const sql = `SELECT * FROM transfers ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY created_at_ms DESC, id LIMIT ?`;
    return (this.#stmt(sql).all(...args, limit) as Row[]).map(toTransfer);
  }

  /**
   * Deletes ended transfers (`ended` states) updated before `beforeMs`, and
   * those past the newest `keep` of them; returns how many went.
   */
  pruneTransfers(ended: readonly string[], beforeMs: number, keep: number): number {
    this.#mutating();
    const states = ended.map(() => "?").join(", ");
    return Number(
      this.#stmt(
        `DELETE FROM transfers WHERE state IN (${states}) AND (updated_at_ms < ? OR id IN (
           SELECT id FROM transfers WHERE state IN (${states})
           ORDER BY created_at_ms DESC, id LIMIT -1 OFFSET ?))`,
      ).run(...ended, beforeMs, ...ended, keep).changes,
    );
  }

  /** Keeps a sealed envelope until the node has taken it. */
  putOutgoing(id: string, envelope: Uint8Array): void {
    this.#mutating();
    this.#stmt("INSERT OR REPLACE INTO outgoing (id, envelope) VALUES (?, ?)").run(
      id,
      envelope,
    );
  }

  deleteOutgoing(id: string): void {
    this.#mutating();
    this.#stmt("DELETE FROM outgoing WHERE id = ?").run(id);
  }

  /** Sealed envelopes the node has not taken yet. */
  outgoing(): Array<{ id: string; envelope: Uint8Array }> {
    return (this.#stmt("SELECT * FROM outgoing").all() as Row[]).map((r) => ({
      id: r.id as string,
      envelope: new Uint8Array(r.envelope as Uint8Array),
    }));
  }

  /**
   * Runs `fn` in a transaction, committed when this returns. Inside a write of
   * the open turn it joins that turn; otherwise an open turn is committed first.
   */
  transaction<T>(fn: () => T): T {
    if (this.#open && this.#writing > 0) return fn();
    if (this.#open) this.#strayWrite();
    this.begin();
    try {
      const out = this.within(fn);
      this.commit();
      return out;
    } catch (e) {
      this.rollback();
      throw e;
    }
  }

  /** True while a transaction is open. */
  get inTransaction(): boolean {
    return this.#open;
  }

  /** Opens a transaction (lib/client/turn_commit.ts); a no-op when one is open. */
  begin(): void {
    if (this.#open) return;
    // Prepared once: exec() parses the statement text on every call.
    this.#stmt("BEGIN IMMEDIATE").run();
    this.#open = true;
  }

  /** Runs `fn` as a write of the open transaction. */
  within<T>(fn: () => T): T {
    this.#writing++;
    try {
      return fn();
    } finally {
      this.#writing--;
    }
  }

  /**
   * Commits the open transaction: the `beforeCommit` hooks run (they may still
   * write), then the changed contact rows are written. @throws {Error} SQLite's
   */
  commit(): void {
    if (!this.#open) return;
    this.within(() => {
      for (const hook of this.#beforeCommit) hook();
      this.#writeDirty();
      this.#writeStates();
    });
    this.#stmt("COMMIT").run();
    this.#open = false;
    this.#checkpoints?.committed();
  }

  /** Rolls the open transaction back; what was kept in memory is forgotten. */
  rollback(): void {
    try {
      if (this.#db.isTransaction) this.#stmt("ROLLBACK").run();
    } finally {
      this.#open = false;
      this.#contacts.clear();
      this.#dirty.clear();
      this.#states.clear();
      this.#pending.clear();
      for (const hook of this.#rolledBack) hook();
    }
  }

  /** `hook` runs inside every commit, before it (to write what was kept in memory). */
  onBeforeCommit(hook: () => void): void {
    this.#beforeCommit.push(hook);
  }

  /** `hook` runs after every rollback (to forget what was kept in memory). */
  onRollback(hook: () => void): void {
    this.#rolledBack.push(hook);
  }

  /** `commitTurn` commits the open turn when something writes outside it. */
  onStrayWrite(commitTurn: () => void): void {
    this.#stray = commitTurn;
  }

  #strayWrite(): void {
    if (!this.#stray) throw new Error("Cannot write: a transaction is open and nothing commits it");
    this.#stray();
  }

  /** Called first by every method that writes. */
  #mutating(): void {
    if (this.#open && this.#writing === 0) this.#strayWrite();
  }

  integrityCheck(): string {
    return Object.values(this.#stmt("PRAGMA integrity_check").get() as Row)[0] as string;
  }

  close(): void {
    if (this.#open) this.rollback();
    this.#db.close();
    this.#checkpoints?.close();
  }
}
