/** The mailbox half of the SQLite node store (tables made by the node store's schema). */
import type { DatabaseSync } from "node:sqlite";
import type { NodeId, UserName } from "../ids.ts";
import type { CustodyRecord, HeldRecord, MailboxStore } from "./mailbox_store.ts";

/** The tables this file reads and writes (new tables only: older stores just gain them). */
export const MAILBOX_SCHEMA = `
CREATE TABLE IF NOT EXISTS own_mailboxes (
  node_id TEXT PRIMARY KEY,
  added_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS mailbox_served (
  node_id TEXT PRIMARY KEY,
  quota_bytes INTEGER NOT NULL,
  added_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS mailbox_held (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  for_node TEXT NOT NULL,
  origin TEXT NOT NULL,
  bytes BLOB NOT NULL,
  keep_until_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS mailbox_held_for ON mailbox_held (for_node, seq);
CREATE INDEX IF NOT EXISTS mailbox_held_keep ON mailbox_held (keep_until_ms);
CREATE TABLE IF NOT EXISTS custody (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  dest TEXT NOT NULL,
  mailbox TEXT NOT NULL,
  expires_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS custody_dest ON custody (dest);
CREATE INDEX IF NOT EXISTS custody_expiry ON custody (expires_at_ms);
CREATE TABLE IF NOT EXISTS known_mailboxes (
  node_id TEXT PRIMARY KEY,
  mailboxes TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;
`;

type Row = Record<string, unknown>;

function toHeld(r: Row): HeldRecord {
  return {
    seq: r.seq as number,
    id: r.id as string,
    forNode: r.for_node as NodeId,
    origin: r.origin as NodeId,
    bytes: new Uint8Array(r.bytes as Uint8Array),
    keepUntilMs: r.keep_until_ms as number,
  };
}

function toCustody(r: Row): CustodyRecord {
  return {
    id: r.id as string,
    owner: r.owner as UserName,
    dest: r.dest as NodeId,
    mailbox: r.mailbox as NodeId,
    expiresAtMs: r.expires_at_ms as number,
  };
}

/** Prepares the mailbox statements on an open database (writes join the caller's transaction). */
export function mailboxStatements(db: DatabaseSync): MailboxStore {
  const q = {
    own: db.prepare("SELECT node_id FROM own_mailboxes ORDER BY node_id"),
    ownAdd: db.prepare(
      "INSERT OR IGNORE INTO own_mailboxes (node_id, added_at_ms) VALUES (?, ?)",
    ),
    ownDelete: db.prepare("DELETE FROM own_mailboxes WHERE node_id = ?"),
    served: db.prepare("SELECT * FROM mailbox_served ORDER BY node_id"),
    servedPut: db.prepare(
      `INSERT INTO mailbox_served (node_id, quota_bytes, added_at_ms) VALUES (?, ?, ?)
       ON CONFLICT (node_id) DO UPDATE SET quota_bytes = excluded.quota_bytes`,
    ),
    servedDelete: db.prepare("DELETE FROM mailbox_served WHERE node_id = ?"),
    holdAdd: db.prepare(
      `INSERT OR IGNORE INTO mailbox_held (id, for_node, origin, bytes, keep_until_ms)
       VALUES (?, ?, ?, ?, ?)`,
    ),
    heldFor: db.prepare(
      "SELECT * FROM mailbox_held WHERE for_node = ? AND seq > ? ORDER BY seq LIMIT ?",
    ),
    heldDelete: db.prepare(
      "DELETE FROM mailbox_held WHERE id = ? RETURNING for_node, origin, length(bytes) AS b",
    ),
    heldByNode: db.prepare(
      "SELECT for_node AS k, sum(length(bytes)) AS b FROM mailbox_held GROUP BY for_node",
    ),
    heldByOrigin: db.prepare(
      "SELECT origin AS k, sum(length(bytes)) AS b FROM mailbox_held GROUP BY origin",
    ),
    heldByPair: db.prepare(
      `SELECT for_node, origin, sum(length(bytes)) AS b FROM mailbox_held
       GROUP BY for_node, origin`,
    ),
    heldOrigin: db.prepare("SELECT origin FROM mailbox_held WHERE id = ?"),
    heldNodes: db.prepare("SELECT DISTINCT for_node FROM mailbox_held"),
    heldExpired: db.prepare(
      "SELECT * FROM mailbox_held WHERE keep_until_ms <= ? ORDER BY keep_until_ms LIMIT ?",
    ),
    custodyAdd: db.prepare(
      `INSERT OR REPLACE INTO custody (id, owner, dest, mailbox, expires_at_ms)
       VALUES (?, ?, ?, ?, ?)`,
    ),
    custodyGet: db.prepare("SELECT * FROM custody WHERE id = ?"),
    custodyDelete: db.prepare("DELETE FROM custody WHERE id = ?"),
    custodyFor: db.prepare("SELECT * FROM custody WHERE dest = ? LIMIT ?"),
    custodyDests: db.prepare("SELECT DISTINCT dest FROM custody"),
    custodyExpired: db.prepare(
      "SELECT * FROM custody WHERE expires_at_ms <= ? ORDER BY expires_at_ms LIMIT ?",
    ),
    known: db.prepare("SELECT node_id, mailboxes FROM known_mailboxes"),
    knownPut: db.prepare(
      `INSERT INTO known_mailboxes (node_id, mailboxes, updated_at_ms) VALUES (?, ?, ?)
       ON CONFLICT (node_id) DO UPDATE SET mailboxes = excluded.mailboxes,
         updated_at_ms = excluded.updated_at_ms`,
    ),
    knownDelete: db.prepare("DELETE FROM known_mailboxes WHERE node_id = ?"),
  };
  const sums = (rows: Row[]) => new Map(rows.map((r) => [r.k as NodeId, Number(r.b ?? 0)]));
  return {
    ownMailboxes: () => (q.own.all() as Row[]).map((r) => r.node_id as NodeId),
    setOwnMailbox: (node, on, nowMs) =>
      void (on ? q.ownAdd.run(node, nowMs) : q.ownDelete.run(node)),
    servedNodes: () =>
      (q.served.all() as Row[]).map((r) => ({
        node: r.node_id as NodeId,
        quotaBytes: r.quota_bytes as number,
        addedAtMs: r.added_at_ms as number,
      })),
    putServed: (s) => void q.servedPut.run(s.node, s.quotaBytes, s.addedAtMs),
    deleteServed: (node) => void q.servedDelete.run(node),
    holdAdd: (rows) => {
      const added = new Set<string>();
      for (const r of rows) {
        const res = q.holdAdd.run(r.id, r.forNode, r.origin, r.bytes, r.keepUntilMs);
        if (Number(res.changes) === 1) added.add(r.id);
      }
      return added;
    },
    heldFor: (node, afterSeq, limit) => (q.heldFor.all(node, afterSeq, limit) as Row[]).map(toHeld),
    heldDelete: (ids) => {
      const gone: Array<{ forNode: NodeId; origin: NodeId; bytes: number }> = [];
      for (const id of ids) {
        const r = q.heldDelete.get(id) as Row | undefined;
        if (r) {
          gone.push({
            forNode: r.for_node as NodeId,
            origin: r.origin as NodeId,
            bytes: Number(r.b),
          });
        }
      }
      return gone;
    },
    heldUsage: () => ({
      byNode: sums(q.heldByNode.all() as Row[]),
      byOrigin: sums(q.heldByOrigin.all() as Row[]),
      byPair: (q.heldByPair.all() as Row[]).map((r) => ({
        forNode: r.for_node as NodeId,
        origin: r.origin as NodeId,
        bytes: Number(r.b ?? 0),
      })),
    }),
    heldOrigin: (id) => (q.heldOrigin.get(id) as Row | undefined)?.origin as NodeId | undefined,
    heldNodes: () => (q.heldNodes.all() as Row[]).map((r) => r.for_node as NodeId),
    heldExpired: (nowMs, limit) => (q.heldExpired.all(nowMs, limit) as Row[]).map(toHeld),
    custodyAdd: (rows) => {
      for (const r of rows) q.custodyAdd.run(r.id, r.owner, r.dest, r.mailbox, r.expiresAtMs);
    },
    custodyGet: (id) => {
      const r = q.custodyGet.get(id) as Row | undefined;
      return r ? toCustody(r) : undefined;
    },
    custodyDelete: (ids) => {
      for (const id of ids) q.custodyDelete.run(id);
    },
    custodyFor: (dest, limit) => (q.custodyFor.all(dest, limit) as Row[]).map(toCustody),
    custodyDestinations: () => (q.custodyDests.all() as Row[]).map((r) => r.dest as NodeId),
    custodyExpired: (nowMs, limit) => (q.custodyExpired.all(nowMs, limit) as Row[]).map(toCustody),
    knownMailboxes: () =>
      new Map(
        (q.known.all() as Row[]).map((r) => [
          r.node_id as NodeId,
          (r.mailboxes as string).split(",").filter((m) => m !== "") as NodeId[],
        ]),
      ),
    setKnownMailboxes: (node, mailboxes, nowMs) =>
      void (mailboxes.length > 0
        ? q.knownPut.run(node, mailboxes.join(","), nowMs)
        : q.knownDelete.run(node)),
  };
}
