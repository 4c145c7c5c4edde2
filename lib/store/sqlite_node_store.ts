/** The node store on node:sqlite in WAL mode. */
import { DatabaseSync } from "node:sqlite";
import type { NodeId } from "../ids.ts";
import type { NodeStore, PeerRecord, PeerState } from "./node_store.ts";
import { messageStatements, type WalSync } from "./sqlite_message_store.ts";
import { WalCheckpoints } from "./wal_checkpoints.ts";
import { ORIGIN_PINS_SCHEMA, sqliteOriginPins } from "./sqlite_origin_pins.ts";
import { MAILBOX_SCHEMA, mailboxStatements } from "./sqlite_mailbox_store.ts";

// 3: origin_pins (routing keys that survive restarts), created by SCHEMA below.
// 4: outbox.notice (a settled row keeps its delivery notice until the client takes it).
const SCHEMA_VERSION = 6;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS peers (
  node_id TEXT PRIMARY KEY,
  public_key BLOB,
  expected_fingerprint TEXT,
  host TEXT,
  port INTEGER,
  state TEXT NOT NULL CHECK (state IN ('linked', 'pending', 'rejected')),
  created_at_ms INTEGER NOT NULL,
  last_error TEXT,
  last_error_at_ms INTEGER,
  presented_key BLOB,
  address TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS accounts (
  name TEXT PRIMARY KEY,
  public_key BLOB,
  enroll_hash BLOB,
  bundle BLOB,
  listed INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  owner TEXT NOT NULL,
  dest TEXT NOT NULL,
  bytes BLOB NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  notice TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS inbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  owner TEXT NOT NULL,
  bytes BLOB NOT NULL,
  received_at_ms INTEGER NOT NULL,
  kind TEXT NOT NULL DEFAULT 'message' CHECK (kind IN ('request', 'message', 'notice')),
  keep_until_ms INTEGER NOT NULL DEFAULT 0,
  origin TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS delivered (
  id TEXT PRIMARY KEY,
  keep_until_ms INTEGER NOT NULL,
  origin TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS contacts (
  owner TEXT NOT NULL,
  address TEXT NOT NULL,
  policy TEXT NOT NULL CHECK (policy IN ('allow', 'block')),
  PRIMARY KEY (owner, address)
) STRICT;
${ORIGIN_PINS_SCHEMA}
${MAILBOX_SCHEMA}`;

// Indexes on columns that version 1 lacked: made after the migration.
const INDEXES = `
CREATE INDEX IF NOT EXISTS inbox_owner ON inbox (owner, seq);
CREATE INDEX IF NOT EXISTS inbox_keep ON inbox (keep_until_ms);
DROP INDEX IF EXISTS outbox_dest;
DROP INDEX IF EXISTS outbox_expiry;
CREATE INDEX IF NOT EXISTS outbox_waiting ON outbox (dest, seq) WHERE notice IS NULL;
CREATE INDEX IF NOT EXISTS outbox_waiting_expiry ON outbox (expires_at_ms) WHERE notice IS NULL;
CREATE INDEX IF NOT EXISTS outbox_notices ON outbox (owner, seq) WHERE notice IS NOT NULL;
CREATE INDEX IF NOT EXISTS delivered_keep ON delivered (keep_until_ms);
`;

/**
 * Version 3 → 4: a settled outbox row keeps its notice (in place of an inbox
 * row of kind 'notice', which an older node wrote and this one still pushes).
 * The column is added unless SCHEMA has just created the table with it.
 */
function migrate3To4(db: DatabaseSync): string {
  const columns = db.prepare("PRAGMA table_info(outbox)").all() as Array<{ name: string }>;
  return columns.some((c) => c.name === "notice")
    ? ""
    : "ALTER TABLE outbox ADD COLUMN notice TEXT;";
}

/** Version 1 → 2: inbox rows get a kind and a keep-until, de-duplication ids an origin. */
const MIGRATE_1_TO_2 = `
ALTER TABLE inbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'message'
  CHECK (kind IN ('request', 'message', 'notice'));
ALTER TABLE inbox ADD COLUMN keep_until_ms INTEGER NOT NULL DEFAULT 0;
UPDATE inbox SET keep_until_ms = received_at_ms + 8 * 86400000;
ALTER TABLE delivered ADD COLUMN origin TEXT;
ALTER TABLE peers ADD COLUMN presented_key BLOB;
ALTER TABLE peers ADD COLUMN address TEXT;
UPDATE peers SET presented_key = public_key, public_key = NULL WHERE state = 'pending';
`;

/**
 * Version 4 → 5: a linked peer that keeps the address it connected from is a
 * stranger an open node linked at first contact (link_policy.ts isStranger):
 * budgeted, never dialled back. Before version 5 an approved peer kept its
 * address too, so every link made before is taken as the owner's.
 */
const MIGRATE_4_TO_5 = "UPDATE peers SET address = NULL WHERE state = 'linked';";

/**
 * Version 5 → 6: an inbox row keeps its origin node (each origin's share of a
 * user's inbox is given back when the row goes: delivery_budgets.ts). Rows of
 * before keep NULL and are read through the de-duplication table. Added
 * unless SCHEMA has just created the table with it.
 */
function migrate5To6(db: DatabaseSync): string {
  const columns = db.prepare("PRAGMA table_info(inbox)").all() as Array<{ name: string }>;
  return columns.some((c) => c.name === "origin")
    ? ""
    : "ALTER TABLE inbox ADD COLUMN origin TEXT;";
}

interface PeerRow {
  node_id: string;
  public_key: Uint8Array | null;
  expected_fingerprint: string | null;
  host: string | null;
  port: number | null;
  state: string;
  created_at_ms: number;
  last_error: string | null;
  last_error_at_ms: number | null;
  presented_key: Uint8Array | null;
  address: string | null;
}

function toPeer(row: PeerRow): PeerRecord {
  return {
    nodeId: row.node_id as NodeId,
    publicKey: row.public_key ? new Uint8Array(row.public_key) : null,
    presentedKey: row.presented_key ? new Uint8Array(row.presented_key) : null,
    address: row.address,
    expectedFingerprint: row.expected_fingerprint,
    host: row.host,
    port: row.port,
    state: row.state as PeerState,
    createdAtMs: row.created_at_ms,
    lastError: row.last_error,
    lastErrorAtMs: row.last_error_at_ms,
  };
}

/**
 * Flushes the write-ahead log of the database at `path` through a descriptor
 * of its own: fdatasync covers every write to the file, whoever made it. The
 * async call runs in Deno's blocking pool, so the event loop goes on meanwhile.
 */
function walSync(path: string): WalSync & { close(): void } {
  let file: Promise<Deno.FsFile> | null = null;
  let closed = false;
  return {
    async sync() {
      if (closed) throw new Error(`Cannot flush store ${JSON.stringify(path)}: it is closed`);
      // SQLite keeps the -wal file (same inode) while a connection is open.
      file ??= Deno.open(`${path}-wal`, { read: true }).catch((e) => {
        file = null;
        throw e;
      });
      await (await file).syncData();
    },
    close() {
      closed = true;
      file?.then((f) => f.close(), () => {});
      file = null;
    },
  };
}

/**
 * Opens (creating if needed) the store at `path`; `":memory:"` for tests.
 *
 * @throws {Error} when the file is not a fedchat store of a known version
 */
export function openSqliteNodeStore(path: string): NodeStore {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
  db.exec(SCHEMA);
  const version = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as
    | { value: string }
    | undefined;
  if (!version) {
    db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(String(SCHEMA_VERSION));
  } else if (Number(version.value) >= 1 && Number(version.value) < SCHEMA_VERSION) {
    const from = Number(version.value);
    // Version 3 only added origin_pins, which SCHEMA has just created.
    const steps = (from === 1 ? MIGRATE_1_TO_2 : "") + (from <= 3 ? migrate3To4(db) : "") +
      (from <= 4 ? MIGRATE_4_TO_5 : "") + migrate5To6(db);
    db.exec(
      `BEGIN; ${steps} UPDATE meta SET value = '${SCHEMA_VERSION}' WHERE key = 'schema'; COMMIT;`,
    );
  } else if (Number(version.value) !== SCHEMA_VERSION) {
    db.close();
    throw new Error(
      `Cannot open store ${JSON.stringify(path)}: schema version ${version.value}, ` +
        `this fedchat reads ${SCHEMA_VERSION}`,
    );
  }
  db.exec(INDEXES);
  const getPeer = db.prepare("SELECT * FROM peers WHERE node_id = ?");
  const listPeers = db.prepare("SELECT * FROM peers ORDER BY node_id");
  const putPeer = db.prepare(
    `INSERT INTO peers (node_id, public_key, expected_fingerprint, host, port, state,
       created_at_ms, last_error, last_error_at_ms, presented_key, address)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (node_id) DO UPDATE SET public_key = excluded.public_key,
       expected_fingerprint = excluded.expected_fingerprint, host = excluded.host,
       port = excluded.port, state = excluded.state, last_error = excluded.last_error,
       last_error_at_ms = excluded.last_error_at_ms, presented_key = excluded.presented_key,
       address = excluded.address, created_at_ms = excluded.created_at_ms`,
  );
  const deletePeer = db.prepare("DELETE FROM peers WHERE node_id = ?");
  const originPins = sqliteOriginPins(db);
  const checkpoints = path === ":memory:"
    ? undefined
    : new WalCheckpoints(db, path, { idle: () => !db.isTransaction });
  const wal = path === ":memory:"
    ? undefined
    : { ...walSync(path), committed: () => checkpoints!.committed() };
  return {
    ...messageStatements(db, wal),
    ...mailboxStatements(db),
    originPins,
    getPeer(nodeId) {
      const row = getPeer.get(nodeId) as PeerRow | undefined;
      return row ? toPeer(row) : undefined;
    },
    listPeers() {
      return (listPeers.all() as unknown as PeerRow[]).map(toPeer);
    },
    putPeer(p) {
      putPeer.run(
        p.nodeId,
        p.publicKey,
        p.expectedFingerprint,
        p.host,
        p.port,
        p.state,
        p.createdAtMs,
        p.lastError,
        p.lastErrorAtMs,
        p.presentedKey,
        p.address,
      );
    },
    deletePeer(nodeId) {
      deletePeer.run(nodeId);
    },
    integrityCheck() {
      const row = db.prepare("PRAGMA integrity_check").get() as Record<string, string>;
      return Object.values(row)[0];
    },
    close() {
      originPins.flush();
      wal?.close();
      db.close();
      checkpoints?.close();
    },
  };
}
