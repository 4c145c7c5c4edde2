/** The message half of the SQLite node store. */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { NodeId, UserName } from "../ids.ts";
import type {
  AccountRecord,
  ContactPolicy,
  InboxKind,
  InboxRecord,
  InboxUsage,
  MessageStore,
  NoticeRecord,
  OutboxRecord,
} from "./message_store.ts";

type Row = Record<string, unknown>;

/**
 * Ids per statement of the reads and deletes that take many (`id IN (...)`):
 * one statement for 16 ids costs about half as much per id as one each.
 */
const IDS_PER_STATEMENT = 32;
/** Names known not to be accounts, kept in memory (a hostile peer may name any). */
const UNKNOWN_ACCOUNTS = 4_096;
const bytesOrNull = (v: unknown) => (v ? new Uint8Array(v as Uint8Array) : null);

function toAccount(r: Row): AccountRecord {
  return {
    name: r.name as UserName,
    publicKey: bytesOrNull(r.public_key),
    enrollHash: bytesOrNull(r.enroll_hash),
    bundle: bytesOrNull(r.bundle),
    listed: r.listed === 1,
    createdAtMs: r.created_at_ms as number,
  };
}

function toOutbox(r: Row): OutboxRecord {
  return {
    seq: r.seq as number,
    id: r.id as string,
    owner: r.owner as UserName,
    dest: r.dest as NodeId,
    bytes: new Uint8Array(r.bytes as Uint8Array),
    expiresAtMs: r.expires_at_ms as number,
  };
}

/** How the store reaches the disk for {@linkcode MessageStore.sync}. */
export interface WalSync {
  /** Flushes SQLite's write-ahead log to the disk (fdatasync), off the event loop. */
  sync(): Promise<void>;
  /** Told after each COMMIT of a transaction (lib/store/wal_checkpoints.ts counts them). */
  committed?(): void;
}

/**
 * Prepares the message statements on an open database (WAL mode,
 * synchronous=FULL). Without `wal` (an in-memory database) `sync` has nothing
 * to flush.
 */
export function messageStatements(db: DatabaseSync, wal?: WalSync): MessageStore {
  const q = {
    // Prepared once: exec() parses the statement text on every call.
    begin: db.prepare("BEGIN IMMEDIATE"),
    // WAL with synchronous=NORMAL: COMMIT appends to the log without an fsync (still atomic, and
    // safe from a crash of the process); `sync()` flushes the log afterwards, off the event loop.
    syncNormal: db.prepare("PRAGMA synchronous = NORMAL"),
    syncFull: db.prepare("PRAGMA synchronous = FULL"),
    commit: db.prepare("COMMIT"),
    rollback: db.prepare("ROLLBACK"),
    getAccount: db.prepare("SELECT * FROM accounts WHERE name = ?"),
    listAccounts: db.prepare("SELECT * FROM accounts ORDER BY name"),
    putAccount: db.prepare(
      `INSERT INTO accounts (name, public_key, enroll_hash, bundle, listed, created_at_ms)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET public_key = excluded.public_key,
       enroll_hash = excluded.enroll_hash, bundle = excluded.bundle, listed = excluded.listed`,
    ),
    deleteAccount: db.prepare("DELETE FROM accounts WHERE name = ?"),
    deleteInboxOf: db.prepare("DELETE FROM inbox WHERE owner = ?"),
    deleteOutboxOf: db.prepare("DELETE FROM outbox WHERE owner = ?"),
    deleteContactsOf: db.prepare("DELETE FROM contacts WHERE owner = ?"),
    outboxAdd: db.prepare(
      "INSERT OR IGNORE INTO outbox (id, owner, dest, bytes, expires_at_ms) VALUES (?, ?, ?, ?, ?)",
    ),
    outboxDelete: db.prepare("DELETE FROM outbox WHERE id = ?"),
    // A settled row keeps its notice only: the envelope's bytes go, and its keep-until replaces
    // the envelope's expiry. It leaves the partial indexes of waiting rows (sqlite_node_store.ts).
    outboxSettle: db.prepare(
      "UPDATE outbox SET notice = ?, bytes = x'', expires_at_ms = ? WHERE id = ? AND notice IS NULL",
    ),
    noticesFor: db.prepare(
      "SELECT seq, id, owner, notice FROM outbox WHERE owner = ? AND notice IS NOT NULL " +
        "ORDER BY seq LIMIT ?",
    ),
    noticeDelete: db.prepare(
      "DELETE FROM outbox WHERE owner = ? AND id = ? AND notice IS NOT NULL",
    ),
    expiredNotices: db.prepare(
      "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE notice IS NOT NULL " +
        "AND expires_at_ms < ? LIMIT ?)",
    ),
    outboxDestinations: db.prepare("SELECT DISTINCT dest FROM outbox WHERE notice IS NULL"),
    outboxPage: db.prepare(
      "SELECT * FROM outbox WHERE dest = ? AND seq > ? AND notice IS NULL ORDER BY seq LIMIT ?",
    ),
    outboxExpired: db.prepare(
      "SELECT * FROM outbox WHERE expires_at_ms <= ? AND notice IS NULL " +
        "ORDER BY expires_at_ms LIMIT ?",
    ),
    outboxUsage: db.prepare(
      "SELECT owner, count(*) AS n, sum(length(bytes)) AS b FROM outbox WHERE notice IS NULL " +
        "GROUP BY owner",
    ),
    delivered: db.prepare("SELECT 1 AS x FROM delivered WHERE id = ?"),
    deliveredFrom: db.prepare("SELECT 1 AS x FROM delivered WHERE id = ? AND origin = ?"),
    deliveredFromOther: db.prepare(
      "SELECT 1 AS x FROM delivered WHERE id = ? AND origin IS NOT NULL AND origin != ?",
    ),
    markDelivered: db.prepare(
      "INSERT OR IGNORE INTO delivered (id, keep_until_ms, origin) VALUES (?, ?, ?)",
    ),
    inboxAdd: db.prepare(
      `INSERT INTO inbox (id, owner, bytes, received_at_ms, kind, keep_until_ms, origin)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    noticeAdd: db.prepare(
      `INSERT OR IGNORE INTO inbox (id, owner, bytes, received_at_ms, kind, keep_until_ms, origin)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    inboxFor: db.prepare(
      "SELECT seq, id, owner, bytes, received_at_ms FROM inbox WHERE owner = ? AND seq > ? " +
        "ORDER BY seq LIMIT ?",
    ),
    inboxCount: db.prepare("SELECT count(*) AS n FROM inbox WHERE owner = ?"),
    inboxUsage: db.prepare(
      `SELECT owner, count(*) AS n, sum(length(bytes)) AS b,
       sum(CASE WHEN kind = 'request' THEN 1 ELSE 0 END) AS r FROM inbox GROUP BY owner`,
    ),
    inboxByOrigin: db.prepare(
      `SELECT owner, origin, sum(b) AS b FROM (SELECT i.owner AS owner,
         coalesce(i.origin, d.origin) AS origin, length(i.bytes) AS b FROM inbox i
         LEFT JOIN delivered d ON i.origin IS NULL AND d.id = i.id)
       WHERE origin IS NOT NULL GROUP BY owner, origin`,
    ),
    deliveredUsage: db.prepare(
      "SELECT origin, count(*) AS n FROM delivered WHERE origin IS NOT NULL GROUP BY origin",
    ),
    expiredInbox: db.prepare(
      `SELECT id, owner, kind, length(bytes) AS b,
       coalesce(origin, (SELECT origin FROM delivered d WHERE d.id = inbox.id)) AS o
       FROM inbox WHERE keep_until_ms < ? LIMIT ?`,
    ),
    deleteInboxId: db.prepare("DELETE FROM inbox WHERE id = ?"),
    expiredDelivered: db.prepare(
      "SELECT id, origin FROM delivered WHERE keep_until_ms < ? LIMIT ?",
    ),
    deleteDeliveredId: db.prepare("DELETE FROM delivered WHERE id = ?"),
    setContact: db.prepare(
      `INSERT INTO contacts (owner, address, policy) VALUES (?, ?, ?)
       ON CONFLICT (owner, address) DO UPDATE SET policy = excluded.policy`,
    ),
    deleteContact: db.prepare("DELETE FROM contacts WHERE owner = ? AND address = ?"),
    contact: db.prepare("SELECT policy FROM contacts WHERE owner = ? AND address = ?"),
  };
  // One prepared statement per number of ids (1 to IDS_PER_STATEMENT), made when first needed.
  const deliveredIn: StatementSync[] = [];
  const inboxDeleteIn: StatementSync[] = [];
  const marks = (n: number) => new Array(n).fill("?").join(", ");
  /**
   * Runs `each` on `ids` in slices of at most IDS_PER_STATEMENT, with the statement for the
   * slice's size (the inbox's and the delivered table's statements that take many ids).
   */
  const inboxOrDeliveredSlices = (
    ids: readonly string[],
    cache: StatementSync[],
    sql: (marks: string) => string,
    each: (st: StatementSync, slice: string[]) => void,
  ) => {
    for (let i = 0; i < ids.length; i += IDS_PER_STATEMENT) {
      const slice = ids.slice(i, i + IDS_PER_STATEMENT);
      each(cache[slice.length] ??= db.prepare(sql(marks(slice.length))), slice);
    }
  };
  let depth = 0;
  // Accounts are few and read for every envelope: all of them kept in memory once read, written
  // through (every write of the table is a method below). Names that are not accounts are kept
  // too, bounded (oldest go), so a peer naming random users cannot crowd the real ones out.
  const accounts = new Map<string, AccountRecord>();
  const unknown = new Set<string>();
  // Policies likewise, bounded (least recently used go).
  const policies = new Map<string, ContactPolicy | null>();
  const POLICY_CACHE = 100_000;
  const store: MessageStore = {
    getAccount: (name) => {
      const known = accounts.get(name);
      if (known || unknown.has(name)) return known;
      const r = q.getAccount.get(name) as Row | undefined;
      if (r) {
        const a = toAccount(r);
        accounts.set(name, a);
        return a;
      }
      unknown.add(name);
      if (unknown.size > UNKNOWN_ACCOUNTS) unknown.delete(unknown.values().next().value!);
      return undefined;
    },
    listAccounts: () => (q.listAccounts.all() as Row[]).map(toAccount),
    putAccount: (a) => {
      accounts.delete(a.name);
      unknown.delete(a.name);
      q.putAccount.run(
        a.name,
        a.publicKey,
        a.enrollHash,
        a.bundle,
        a.listed ? 1 : 0,
        a.createdAtMs,
      );
    },
    deleteAccount: (name) =>
      store.transaction(() => {
        accounts.delete(name);
        unknown.delete(name);
        for (const k of [...policies.keys()]) if (k.startsWith(`${name}\n`)) policies.delete(k);
        q.deleteAccount.run(name);
        q.deleteInboxOf.run(name);
        q.deleteOutboxOf.run(name);
        q.deleteContactsOf.run(name);
      }),
    outboxAdd: (rows) =>
      store.transaction(() =>
        rows.map((r) => {
          const res = q.outboxAdd.run(r.id, r.owner, r.dest, r.bytes, r.expiresAtMs);
          return Number(res.changes) === 1 ? Number(res.lastInsertRowid) : 0;
        })
      ),
    outboxDelete: (ids) =>
      store.transaction(() => {
        for (const id of ids) q.outboxDelete.run(id);
      }),
    outboxSettle: (rows) =>
      store.transaction(() => {
        for (const r of rows) q.outboxSettle.run(r.notice, r.keepUntilMs, r.id);
      }),
    noticesFor: (owner, limit) =>
      (q.noticesFor.all(owner, limit) as Row[]).map((r): NoticeRecord => ({
        seq: r.seq as number,
        id: r.id as string,
        owner: r.owner as UserName,
        notice: r.notice as string,
      })),
    noticesDelete: (owner, ids) =>
      store.transaction(() => {
        let n = 0;
        for (const id of ids) n += Number(q.noticeDelete.run(owner, id).changes);
        return n;
      }),
    outboxDestinations: () => (q.outboxDestinations.all() as Row[]).map((r) => r.dest as NodeId),
    outboxPage: (dest, afterSeq, limit) =>
      (q.outboxPage.all(dest, afterSeq, limit) as Row[]).map(toOutbox),
    outboxExpired: (nowMs, limit) => (q.outboxExpired.all(nowMs, limit) as Row[]).map(toOutbox),
    outboxUsage: () =>
      new Map(
        (q.outboxUsage.all() as Row[]).map((r) => [
          r.owner as UserName,
          { rows: Number(r.n), bytes: Number(r.b ?? 0) },
        ]),
      ),
    inboxAdd: (rows) =>
      store.transaction(() => {
        const added = new Map<string, number>();
        for (const r of rows) {
          // Notices are this node's own, one per outbox entry: no de-duplication record.
          // One statement: the INSERT OR IGNORE says whether the id was new (no SELECT first).
          if (
            r.kind !== "notice" &&
            Number(q.markDelivered.run(r.id, r.keepUntilMs, r.origin).changes) !== 1
          ) continue;
          // A notice already waiting under its id (the same word twice about one envelope) is
          // kept once: it must not fail the batch it rides in.
          const { lastInsertRowid, changes } = (r.kind === "notice" ? q.noticeAdd : q.inboxAdd).run(
            r.id,
            r.owner,
            r.bytes,
            r.receivedAtMs,
            r.kind,
            r.keepUntilMs,
            r.origin,
          );
          if (Number(changes) === 1) added.set(r.id, Number(lastInsertRowid));
        }
        return added;
      }),
    wasDelivered: (id) => q.delivered.get(id) !== undefined,
    deliveredAmong: (ids) => {
      const found = new Set<string>();
      inboxOrDeliveredSlices(
        ids,
        deliveredIn,
        (m) => `SELECT id FROM delivered WHERE id IN (${m})`,
        (st, s) => {
          for (const r of st.all(...s) as Row[]) found.add(r.id as string);
        },
      );
      return found;
    },
    wasDeliveredFrom: (id, origin) => q.deliveredFrom.get(id, origin) !== undefined,
    deliveredFromOther: (id, origin) => q.deliveredFromOther.get(id, origin) !== undefined,
    markDelivered: (rows) =>
      store.transaction(() => {
        const added = new Set<string>();
        for (const r of rows) {
          if (Number(q.markDelivered.run(r.id, r.keepUntilMs, r.origin).changes) === 1) {
            added.add(r.id);
          }
        }
        return added;
      }),
    inboxFor: (owner, afterSeq, limit, maxBytes = Infinity) => {
      const rows: InboxRecord[] = [];
      let total = 0;
      // Row by row: the rows past `maxBytes` are never read (up to `limit` of 512 KiB each).
      for (const r of q.inboxFor.iterate(owner, afterSeq, limit) as Iterable<Row>) {
        const bytes = new Uint8Array(r.bytes as Uint8Array);
        rows.push({
          seq: r.seq as number,
          id: r.id as string,
          owner: r.owner as UserName,
          bytes,
          receivedAtMs: r.received_at_ms as number,
        });
        total += bytes.length;
        if (total >= maxBytes) break;
      }
      return rows;
    },
    inboxDelete: (owner, ids) =>
      store.transaction(() => {
        const gone: Array<{ kind: InboxKind; bytes: number; origin: NodeId | null }> = [];
        inboxOrDeliveredSlices(
          ids,
          inboxDeleteIn,
          (m) =>
            `DELETE FROM inbox WHERE owner = ? AND id IN (${m}) RETURNING kind, length(bytes) AS b, ` +
            // Rows of a store before version 6 have no origin: read from their de-duplication id.
            "coalesce(origin, (SELECT origin FROM delivered d WHERE d.id = inbox.id)) AS o",
          (st, s) => {
            for (const r of st.all(owner, ...s) as Row[]) {
              gone.push({
                kind: r.kind as InboxKind,
                bytes: Number(r.b),
                origin: (r.o as NodeId | null) ?? null,
              });
            }
          },
        );
        return gone;
      }),
    inboxCount: (owner) => (q.inboxCount.get(owner) as { n: number }).n,
    inboxUsage: () =>
      new Map(
        (q.inboxUsage.all() as Row[]).map((r): [UserName, InboxUsage] => [
          r.owner as UserName,
          { rows: Number(r.n), bytes: Number(r.b ?? 0), requests: Number(r.r ?? 0) },
        ]),
      ),
    inboxByOrigin: () =>
      (q.inboxByOrigin.all() as Row[]).map((r) => ({
        owner: r.owner as UserName,
        origin: r.origin as NodeId,
        bytes: Number(r.b),
      })),
    deliveredUsage: () =>
      new Map(
        (q.deliveredUsage.all() as Row[]).map((r) => [r.origin as NodeId, Number(r.n)]),
      ),
    purgeExpired: (nowMs, limit) =>
      store.transaction(() => {
        const inbox = (q.expiredInbox.all(nowMs, limit) as Row[]).map((r) => {
          q.deleteInboxId.run(r.id as string);
          return {
            owner: r.owner as UserName,
            kind: r.kind as InboxKind,
            bytes: Number(r.b),
            origin: (r.o as NodeId | null) ?? null,
          };
        });
        const delivered = (q.expiredDelivered.all(nowMs, limit) as Row[]).map((r) => {
          q.deleteDeliveredId.run(r.id as string);
          return { origin: (r.origin as NodeId | null) ?? null };
        });
        q.expiredNotices.run(nowMs, limit);
        return { inbox, delivered };
      }),
    setContactPolicy: (owner, address, policy: ContactPolicy | null) => {
      policies.delete(`${owner}\n${address}`);
      if (policy) q.setContact.run(owner, address, policy);
      else q.deleteContact.run(owner, address);
    },
    contactPolicy: (owner, address) => {
      const key = `${owner}\n${address}`;
      if (policies.has(key)) return policies.get(key)!;
      const p =
        ((q.contact.get(owner, address) as { policy: ContactPolicy } | undefined)?.policy) ??
          null;
      policies.set(key, p);
      if (policies.size > POLICY_CACHE) policies.delete(policies.keys().next().value!);
      return p;
    },
    transaction<T>(fn: () => T): T {
      if (depth > 0) return fn();
      depth++;
      q.begin.run();
      try {
        const out = fn();
        q.commit.run();
        wal?.committed?.();
        return out;
      } catch (e) {
        // SQLite rolls back by itself on some errors (a full disk): then there is nothing to roll
        // back, and a ROLLBACK would throw and hide the real error.
        if (db.isTransaction) q.rollback.run();
        throw e;
      } finally {
        depth--;
      }
    },
    transactionUnsynced<T>(fn: () => T): T {
      if (depth > 0) return fn();
      q.syncNormal.run();
      try {
        return store.transaction(fn);
      } finally {
        // Everything else (autocommits, admin writes) keeps an fsync per commit.
        q.syncFull.run();
      }
    },
    sync: () => wal ? wal.sync() : Promise.resolve(),
  };
  return store;
}
