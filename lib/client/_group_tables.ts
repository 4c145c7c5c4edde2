/**
 * The client store's group tables (private to lib/client; ClientStore opens
 * them as `store.groups`, on the same database, so their writes join its
 * transactions: a group's new MLS state is committed with the message or
 * change it came with).
 *
 * | table                | what                                                                |
 * | -------------------- | ------------------------------------------------------------------- |
 * | `groups`             | each group: name, home, our accepted MLS state (encodeGroupState, secret), admins, a commit of ours waiting for the home node, operations to retry |
 * | `group_invitations`  | invitations waiting for an answer, with their Welcome (opened only on accept) |
 * | `group_held`         | group messages that arrived ahead of our epoch (or before we accepted) |
 * | `group_messages`     | history, with each recipient's delivery state                       |
 * | `group_outgoing`     | sealed group envelopes the node has not taken yet                   |
 * | `group_sent`         | which message and recipients each sent envelope carried, until its receipt |
 * | `group_reads`        | how far each member has read our messages                           |
 * | `group_key_packages` | our key packages' secrets, until a Welcome uses them                |
 * | `group_files`        | file transfers that go through a group: file id → group and member  |
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";

/** The tables (created when missing). */
export const GROUP_SCHEMA = `
CREATE TABLE IF NOT EXISTS groups (
  key TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  home TEXT NOT NULL,
  state TEXT NOT NULL,
  mls BLOB,
  epoch INTEGER NOT NULL,
  admins TEXT NOT NULL,
  joined TEXT NOT NULL,
  leaving TEXT NOT NULL,
  declined TEXT NOT NULL,
  pending TEXT,
  pending_state BLOB,
  intents TEXT NOT NULL,
  out_seq INTEGER NOT NULL,
  unread INTEGER NOT NULL,
  last_message_at_ms INTEGER,
  created_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS group_invitations (
  key TEXT PRIMARY KEY,
  inviter TEXT NOT NULL,
  name TEXT NOT NULL,
  invitation BLOB NOT NULL,
  welcome BLOB NOT NULL,
  members INTEGER NOT NULL,
  received_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS group_held (
  id TEXT PRIMARY KEY,
  key TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  kind TEXT NOT NULL,
  sender TEXT NOT NULL,
  bytes BLOB NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  received_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS group_held_key ON group_held (key, epoch);
-- Every column but the bytes: heads are read without walking each message's overflow pages
-- (attempts and received_at_ms come after the bytes in the row).
CREATE INDEX IF NOT EXISTS group_held_heads
  ON group_held (key, epoch, received_at_ms, attempts, kind, sender, id);
CREATE TABLE IF NOT EXISTS group_messages (
  id TEXT PRIMARY KEY,
  key TEXT NOT NULL,
  sender TEXT NOT NULL,
  direction TEXT NOT NULL,
  kind TEXT NOT NULL,
  seq INTEGER NOT NULL,
  text TEXT NOT NULL,
  sent_at_ms INTEGER NOT NULL,
  received_at_ms INTEGER,
  state TEXT NOT NULL,
  reason TEXT,
  delivery TEXT NOT NULL,
  queued INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX IF NOT EXISTS group_messages_key ON group_messages (key, sent_at_ms);
CREATE TABLE IF NOT EXISTS group_outgoing (
  envelope_id TEXT PRIMARY KEY,
  key TEXT NOT NULL,
  message_id TEXT,
  kind TEXT NOT NULL,
  names TEXT NOT NULL,
  envelope BLOB NOT NULL,
  made_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS group_sent (
  envelope_id TEXT PRIMARY KEY,
  message_id TEXT NOT NULL,
  names TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS group_reads (
  key TEXT NOT NULL,
  reader TEXT NOT NULL,
  up_to INTEGER NOT NULL,
  PRIMARY KEY (key, reader)
) STRICT;
CREATE TABLE IF NOT EXISTS group_files (
  file_id TEXT PRIMARY KEY,
  key TEXT NOT NULL,
  peer TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS group_key_packages (
  ref TEXT PRIMARY KEY,
  secret BLOB NOT NULL,
  last_resort INTEGER NOT NULL,
  not_after_ms INTEGER NOT NULL
) STRICT;
`;

/** A commit (or proposal) of ours the home node has not answered yet. */
export interface PendingChange {
  /** What it does, for views ("add bob@b", "remove carol@c", "rename", "leave"). */
  what: string;
  op: "create" | "commit" | "proposal";
  /** The submission envelope's id (its notice settles it). */
  envelopeId: string;
  /** The epoch it was made from. */
  epoch: number;
  /** The intent it carries out (removed from `intents` once accepted). */
  intent: Intent | null;
}

/** An operation the client carries out (again) when the group allows: a retry after losing a race. */
export type Intent =
  & { id: string; attempts: number }
  & (
    /** Adds several people in one commit (their key packages in base64, in the same order). */
    | { op: "add"; addresses: string[]; keyPackages: string[] }
    | { op: "remove"; address: string }
    | { op: "rename"; name: string }
    /** Propose our leaving (again, after a commit that did not remove us). */
    | { op: "leave"; proposedAt: number | null }
    /** Commit the proposals waiting (a member's leaving), not before `notBeforeMs`. */
    | { op: "commit-proposals"; notBeforeMs: number }
  );

/** A group as stored. */
export interface GroupRow {
  key: string;
  name: string;
  home: string;
  state: "active" | "left" | "removed";
  /** Our accepted MLS state (secret), or null once we are out. */
  mls: Uint8Array | null;
  epoch: number;
  admins: string[];
  /** Members seen to have joined (the others were invited and have not answered yet). */
  joined: string[];
  /** Members who proposed to leave in this epoch. */
  leaving: string[];
  /** Invitees who declined. */
  declined: string[];
  pending: PendingChange | null;
  pendingState: Uint8Array | null;
  intents: Intent[];
  outSeq: number;
  unread: number;
  lastMessageAtMs: number | null;
  createdAtMs: number;
}

/** An invitation as stored. */
export interface InvitationRow {
  key: string;
  inviter: string;
  name: string;
  invitation: Uint8Array;
  welcome: Uint8Array;
  members: number;
  receivedAtMs: number;
}

/** SQL: the held message's sender is an address of node `?`. */
const OF_NODE = "substr(sender, instr(sender, '@') + 1) = ?";

/** A held group message without its bytes. */
export type HeldHead = Omit<HeldRow, "bytes">;

function toHeldHead(r: Row): HeldHead {
  return {
    id: r.id as string,
    key: r.key as string,
    epoch: r.epoch as number,
    kind: r.kind as HeldRow["kind"],
    sender: r.sender as string,
    attempts: r.attempts as number,
    receivedAtMs: r.received_at_ms as number,
  };
}

/** A held group message. */
export interface HeldRow {
  id: string;
  key: string;
  epoch: number;
  kind: "application" | "commit" | "proposal";
  sender: string;
  bytes: Uint8Array;
  attempts: number;
  receivedAtMs: number;
}

/** A group message as stored. */
export interface GroupMessageRow {
  id: string;
  key: string;
  sender: string;
  direction: "in" | "out";
  /** `text`, or `event` (joined, left, renamed...: shown, never sent). */
  kind: "text" | "event";
  seq: number;
  text: string;
  sentAtMs: number;
  receivedAtMs: number | null;
  state: "sending" | "sent" | "delivered" | "failed";
  reason: string | null;
  /** Per recipient (outgoing): "sending", "sent", "delivered", or a failure. */
  delivery: Record<string, string>;
  /** Waiting to be encrypted (a proposal blocks sending until its commit). */
  queued: boolean;
}

/** A sealed group envelope kept until the node takes it. */
export interface GroupOutgoingRow {
  envelopeId: string;
  key: string;
  messageId: string | null;
  kind: "app" | "hub";
  /** Recipients' addresses (app) . */
  names: string[];
  envelope: Uint8Array;
  madeAtMs: number;
}

type Row = Record<string, unknown>;
const blob = (v: unknown) => (v ? new Uint8Array(v as Uint8Array) : null);

function toGroup(r: Row): GroupRow {
  return {
    key: r.key as string,
    name: r.name as string,
    home: r.home as string,
    state: r.state as GroupRow["state"],
    mls: blob(r.mls),
    epoch: r.epoch as number,
    admins: JSON.parse(r.admins as string),
    joined: JSON.parse(r.joined as string),
    leaving: JSON.parse(r.leaving as string),
    declined: JSON.parse(r.declined as string),
    pending: r.pending ? JSON.parse(r.pending as string) : null,
    pendingState: blob(r.pending_state),
    intents: JSON.parse(r.intents as string),
    outSeq: r.out_seq as number,
    unread: r.unread as number,
    lastMessageAtMs: (r.last_message_at_ms as number | null) ?? null,
    createdAtMs: r.created_at_ms as number,
  };
}

function toMessage(r: Row): GroupMessageRow {
  return {
    id: r.id as string,
    key: r.key as string,
    sender: r.sender as string,
    direction: r.direction as "in" | "out",
    kind: r.kind as "text" | "event",
    seq: r.seq as number,
    text: r.text as string,
    sentAtMs: r.sent_at_ms as number,
    receivedAtMs: (r.received_at_ms as number | null) ?? null,
    state: r.state as GroupMessageRow["state"],
    reason: (r.reason as string | null) ?? null,
    delivery: JSON.parse(r.delivery as string),
    queued: r.queued === 1,
  };
}

/** Statements over the group tables. */
export class ClientGroupTables {
  #stmt: (sql: string) => StatementSync;

  constructor(db: DatabaseSync, stmt: (sql: string) => StatementSync) {
    db.exec(GROUP_SCHEMA);
    this.#stmt = stmt;
  }

  // --- groups ---------------------------------------------------------------------------------

  group(key: string): GroupRow | undefined {
    const r = this.#stmt("SELECT * FROM groups WHERE key = ?").get(key) as Row | undefined;
    return r ? toGroup(r) : undefined;
  }

  list(): GroupRow[] {
    return (this.#stmt(
      "SELECT * FROM groups ORDER BY coalesce(last_message_at_ms, created_at_ms) DESC, key",
    ).all() as Row[]).map(toGroup);
  }

  put(g: GroupRow): void {
    this.#stmt(
      `INSERT INTO groups (key, name, home, state, mls, epoch, admins, joined, leaving, declined,
         pending, pending_state, intents, out_seq, unread, last_message_at_ms, created_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET name = excluded.name, state = excluded.state,
         mls = excluded.mls, epoch = excluded.epoch, admins = excluded.admins,
         joined = excluded.joined, leaving = excluded.leaving, declined = excluded.declined,
         pending = excluded.pending, pending_state = excluded.pending_state,
         intents = excluded.intents, out_seq = excluded.out_seq, unread = excluded.unread,
         last_message_at_ms = excluded.last_message_at_ms`,
    ).run(
      g.key,
      g.name,
      g.home,
      g.state,
      g.mls,
      g.epoch,
      JSON.stringify(g.admins),
      JSON.stringify(g.joined),
      JSON.stringify(g.leaving),
      JSON.stringify(g.declined),
      g.pending ? JSON.stringify(g.pending) : null,
      g.pendingState,
      JSON.stringify(g.intents),
      g.outSeq,
      g.unread,
      g.lastMessageAtMs,
      g.createdAtMs,
    );
  }

  count(): number {
    return (this.#stmt("SELECT count(*) AS n FROM groups WHERE state = 'active'").get() as Row)
      .n as number;
  }

  // --- invitations ----------------------------------------------------------------------------

  invitation(key: string): InvitationRow | undefined {
    const r = this.#stmt("SELECT * FROM group_invitations WHERE key = ?").get(key) as
      | Row
      | undefined;
    return r ? toInvitation(r) : undefined;
  }

  /** Invitations waiting that arrived at `sinceMs` or later (older ones have expired). */
  invitations(sinceMs = 0): InvitationRow[] {
    return (this.#stmt(
      "SELECT * FROM group_invitations WHERE received_at_ms >= ? ORDER BY received_at_ms",
    ).all(sinceMs) as Row[]).map(toInvitation);
  }

  /** Forgets invitations that arrived before `sinceMs` (expired); returns how many. */
  expireInvitations(sinceMs: number): number {
    return Number(
      this.#stmt("DELETE FROM group_invitations WHERE received_at_ms < ?").run(sinceMs).changes,
    );
  }

  putInvitation(i: InvitationRow): void {
    this.#stmt(
      `INSERT OR REPLACE INTO group_invitations (key, inviter, name, invitation, welcome, members,
         received_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(i.key, i.inviter, i.name, i.invitation, i.welcome, i.members, i.receivedAtMs);
  }

  deleteInvitation(key: string): void {
    this.#stmt("DELETE FROM group_invitations WHERE key = ?").run(key);
  }

  /**
   * Invitations waiting (arrived at `sinceMs` or later), in all, from `inviter`
   * and from the addresses of its node.
   */
  invitationCounts(
    inviter: string,
    sinceMs = 0,
  ): { total: number; fromInviter: number; fromNode: number } {
    const total = (this.#stmt(
      "SELECT count(*) AS n FROM group_invitations WHERE received_at_ms >= ?",
    ).get(sinceMs) as Row).n as number;
    const fromInviter = (this.#stmt(
      "SELECT count(*) AS n FROM group_invitations WHERE inviter = ? AND received_at_ms >= ?",
    ).get(inviter, sinceMs) as Row).n as number;
    const fromNode = (this.#stmt(
      "SELECT count(*) AS n FROM group_invitations WHERE " +
        "substr(inviter, instr(inviter, '@') + 1) = ? AND received_at_ms >= ?",
    ).get(inviter.slice(inviter.indexOf("@") + 1), sinceMs) as Row).n as number;
    return { total, fromInviter, fromNode };
  }

  // --- held messages --------------------------------------------------------------------------

  hold(h: HeldRow): void {
    this.#stmt(
      `INSERT OR IGNORE INTO group_held (id, key, epoch, kind, sender, bytes, attempts,
         received_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(h.id, h.key, h.epoch, h.kind, h.sender, h.bytes, h.attempts, h.receivedAtMs);
  }

  /**
   * A group's held messages without their bytes (up to 1,000 of up to 512 KiB:
   * reading them all for each step cost seconds), by epoch and arrival.
   */
  heldHeads(key: string): HeldHead[] {
    return (this.#stmt(
      `SELECT id, key, epoch, kind, sender, attempts, received_at_ms FROM group_held
         WHERE key = ? ORDER BY epoch, received_at_ms`,
    ).all(key) as Row[]).map(toHeldHead);
  }

  /** The bytes of held message `id`. */
  heldBytes(id: string): Uint8Array | undefined {
    const r = this.#stmt("SELECT bytes FROM group_held WHERE id = ?").get(id) as Row | undefined;
    return r ? new Uint8Array(r.bytes as Uint8Array) : undefined;
  }

  /** How many messages and bytes a group holds: from addresses of `node`, or from everyone. */
  heldUsage(key: string, node?: string): { count: number; bytes: number } {
    // length() of a BLOB is read from its header: the bytes are not loaded.
    const r = (node === undefined
      ? this.#stmt(
        "SELECT count(*) AS n, coalesce(sum(length(bytes)), 0) AS b FROM group_held WHERE key = ?",
      ).get(key)
      : this.#stmt(
        `SELECT count(*) AS n, coalesce(sum(length(bytes)), 0) AS b FROM group_held
           WHERE key = ? AND ${OF_NODE}`,
      ).get(key, node)) as Row;
    return { count: Number(r.n), bytes: Number(r.b) };
  }

  /**
   * The held message to give up first (from addresses of `node`, or from anyone): one tried
   * more than `maxAttempts` times (never tried again), else the furthest ahead.
   */
  heldToDrop(key: string, maxAttempts: number, node?: string): HeldHead | undefined {
    const order = "ORDER BY attempts > ? DESC, epoch DESC, received_at_ms DESC LIMIT 1";
    const cols = "id, key, epoch, kind, sender, attempts, received_at_ms";
    const r = node === undefined
      ? this.#stmt(`SELECT ${cols} FROM group_held WHERE key = ? ${order}`).get(key, maxAttempts)
      : this.#stmt(`SELECT ${cols} FROM group_held WHERE key = ? AND ${OF_NODE} ${order}`)
        .get(key, node, maxAttempts);
    return r ? toHeldHead(r as Row) : undefined;
  }

  unhold(id: string): void {
    this.#stmt("DELETE FROM group_held WHERE id = ?").run(id);
  }

  heldAttempt(id: string): void {
    this.#stmt("UPDATE group_held SET attempts = attempts + 1 WHERE id = ?").run(id);
  }

  dropHeld(key: string): void {
    this.#stmt("DELETE FROM group_held WHERE key = ?").run(key);
  }

  // --- messages -------------------------------------------------------------------------------

  putMessage(m: GroupMessageRow): void {
    this.#stmt(
      `INSERT INTO group_messages (id, key, sender, direction, kind, seq, text, sent_at_ms,
         received_at_ms, state, reason, delivery, queued) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, reason = excluded.reason,
         delivery = excluded.delivery, queued = excluded.queued`,
    ).run(
      m.id,
      m.key,
      m.sender,
      m.direction,
      m.kind,
      m.seq,
      m.text,
      m.sentAtMs,
      m.receivedAtMs,
      m.state,
      m.reason,
      JSON.stringify(m.delivery),
      m.queued ? 1 : 0,
    );
  }

  message(id: string): GroupMessageRow | undefined {
    const r = this.#stmt("SELECT * FROM group_messages WHERE id = ?").get(id) as Row | undefined;
    return r ? toMessage(r) : undefined;
  }

  /** A group's history, oldest first: by time, then by each sender's order. */
  history(key: string, limit: number): GroupMessageRow[] {
    return (this.#stmt(
      `SELECT * FROM (SELECT * FROM group_messages WHERE key = ?
         ORDER BY sent_at_ms DESC, seq DESC LIMIT ?) ORDER BY sent_at_ms, sender, seq`,
    ).all(key, limit) as Row[]).map(toMessage);
  }

  queued(key: string): GroupMessageRow[] {
    return (this.#stmt(
      "SELECT * FROM group_messages WHERE key = ? AND queued = 1 ORDER BY seq",
    ).all(key) as Row[]).map(toMessage);
  }

  /** Highest seq of incoming texts per sender in a group. */
  lastInSeqs(key: string): Record<string, number> {
    const rows = this.#stmt(
      `SELECT sender, max(seq) AS s FROM group_messages WHERE key = ? AND direction = 'in'
       AND kind = 'text' GROUP BY sender`,
    ).all(key) as Row[];
    return Object.fromEntries(rows.map((r) => [r.sender as string, r.s as number]));
  }

  // --- outgoing -------------------------------------------------------------------------------

  putOutgoing(o: GroupOutgoingRow): void {
    this.#stmt(
      `INSERT OR REPLACE INTO group_outgoing (envelope_id, key, message_id, kind, names, envelope,
         made_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      o.envelopeId,
      o.key,
      o.messageId,
      o.kind,
      JSON.stringify(o.names),
      o.envelope,
      o.madeAtMs,
    );
  }

  outgoing(): GroupOutgoingRow[] {
    return (this.#stmt("SELECT * FROM group_outgoing ORDER BY made_at_ms").all() as Row[]).map(
      toOutgoing,
    );
  }

  outgoingRow(envelopeId: string): GroupOutgoingRow | undefined {
    const r = this.#stmt("SELECT * FROM group_outgoing WHERE envelope_id = ?").get(envelopeId) as
      | Row
      | undefined;
    return r ? toOutgoing(r) : undefined;
  }

  deleteOutgoing(envelopeId: string): void {
    this.#stmt("DELETE FROM group_outgoing WHERE envelope_id = ?").run(envelopeId);
  }

  // --- sent envelopes → messages ---------------------------------------------------------------

  /** Remembers which message a sent envelope carried, and to whom (for its notice). */
  putSent(envelopeId: string, messageId: string, names: readonly string[]): void {
    this.#stmt(
      "INSERT OR REPLACE INTO group_sent (envelope_id, message_id, names) VALUES (?, ?, ?)",
    ).run(envelopeId, messageId, JSON.stringify(names));
  }

  sent(envelopeId: string): { messageId: string; names: string[] } | undefined {
    const r = this.#stmt("SELECT * FROM group_sent WHERE envelope_id = ?").get(envelopeId) as
      | Row
      | undefined;
    return r
      ? { messageId: r.message_id as string, names: JSON.parse(r.names as string) }
      : undefined;
  }

  deleteSent(envelopeId: string): void {
    this.#stmt("DELETE FROM group_sent WHERE envelope_id = ?").run(envelopeId);
  }

  // --- reads ----------------------------------------------------------------------------------

  setRead(key: string, reader: string, upTo: number): void {
    this.#stmt(
      `INSERT INTO group_reads (key, reader, up_to) VALUES (?, ?, ?)
       ON CONFLICT (key, reader) DO UPDATE SET up_to = max(up_to, excluded.up_to)`,
    ).run(key, reader, upTo);
  }

  reads(key: string): Record<string, number> {
    const rows = this.#stmt("SELECT reader, up_to FROM group_reads WHERE key = ?").all(
      key,
    ) as Row[];
    return Object.fromEntries(rows.map((r) => [r.reader as string, r.up_to as number]));
  }

  // --- files --------------------------------------------------------------------------------

  /** The group a file transfer's messages go through, and the member at the other end. */
  fileRoute(fileId: string): { key: string; peer: string } | undefined {
    const r = this.#stmt("SELECT key, peer FROM group_files WHERE file_id = ?").get(fileId) as
      | Row
      | undefined;
    return r ? { key: r.key as string, peer: r.peer as string } : undefined;
  }

  putFileRoute(fileId: string, key: string, peer: string): void {
    this.#stmt("INSERT OR IGNORE INTO group_files (file_id, key, peer) VALUES (?, ?, ?)").run(
      fileId,
      key,
      peer,
    );
  }

  // --- key packages ---------------------------------------------------------------------------

  putKeyPackage(ref: string, secret: Uint8Array, lastResort: boolean, notAfterMs: number): void {
    this.#stmt(
      `INSERT OR REPLACE INTO group_key_packages (ref, secret, last_resort, not_after_ms)
       VALUES (?, ?, ?, ?)`,
    ).run(ref, secret, lastResort ? 1 : 0, notAfterMs);
  }

  keyPackageSecrets(): Array<{ ref: string; secret: Uint8Array; lastResort: boolean }> {
    return (this.#stmt("SELECT * FROM group_key_packages").all() as Row[]).map((r) => ({
      ref: r.ref as string,
      secret: new Uint8Array(r.secret as Uint8Array),
      lastResort: r.last_resort === 1,
    }));
  }

  deleteKeyPackage(ref: string): void {
    this.#stmt("DELETE FROM group_key_packages WHERE ref = ?").run(ref);
  }

  /** Forgets secrets past their lifetime (and a day of grace). */
  expireKeyPackages(nowMs: number): void {
    this.#stmt("DELETE FROM group_key_packages WHERE not_after_ms < ?").run(nowMs - 86_400_000);
  }

  hasLastResort(nowMs: number): boolean {
    return this.#stmt(
      "SELECT 1 AS x FROM group_key_packages WHERE last_resort = 1 AND not_after_ms > ?",
    ).get(nowMs + 7 * 86_400_000) !== undefined;
  }
}

function toInvitation(r: Row): InvitationRow {
  return {
    key: r.key as string,
    inviter: r.inviter as string,
    name: r.name as string,
    invitation: new Uint8Array(r.invitation as Uint8Array),
    welcome: new Uint8Array(r.welcome as Uint8Array),
    members: r.members as number,
    receivedAtMs: r.received_at_ms as number,
  };
}

function toOutgoing(r: Row): GroupOutgoingRow {
  return {
    envelopeId: r.envelope_id as string,
    key: r.key as string,
    messageId: (r.message_id as string | null) ?? null,
    kind: r.kind as "app" | "hub",
    names: JSON.parse(r.names as string),
    envelope: new Uint8Array(r.envelope as Uint8Array),
    madeAtMs: r.made_at_ms as number,
  };
}
