/**
 * What a node keeps about groups, in its own SQLite file beside the node
 * store (`groups.db`, WAL, synchronous=FULL). Nothing here is secret: nodes
 * never hold group keys.
 *
 * | table           | what                                                                  |
 * | --------------- | --------------------------------------------------------------------- |
 * | `hub_groups`    | groups this node is the home of: epoch, name, admins, members (leaf keys), who asked to leave, the last accepted submission |
 * | `hub_fanout`    | fan-out envelopes of an accepted commit, staged in the same transaction until the outbox has them (by origin node, handed over in the order staged) |
 * | `member_groups` | this node's copy of each group with local users: epoch and member addresses, from the home node |
 * | `local_groups`  | per local user and group: `invited` (an invitation waits) or `joined`  |
 * | `decisions`     | what this node decided for a group envelope, by id, so a resend after a crash gets the same answer |
 * | `key_packages`  | key packages local users published, handed out once (the last-resort one until replaced) |
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";

/** A member as the hub lists it. */
export interface HubMemberRow {
  address: string;
  leaf: number;
  /** The member's MLS leaf signature key, hex. */
  key: string;
}

/** A group this node is the home of. */
export interface HubGroupRow {
  key: string;
  epoch: number;
  name: string;
  admins: string[];
  members: HubMemberRow[];
  /** Members who proposed to leave in this epoch (anyone may commit their removal). */
  leaving: string[];
  /** Invitees who declined (anyone may commit their removal). */
  declined: string[];
  /** The submission envelope accepted last (its resend is answered "stored" again). */
  lastEnvelope: string | null;
  createdAtMs: number;
  updatedAtMs: number;
}

/** This node's copy of a group with local users. */
export interface MemberGroupRow {
  key: string;
  epoch: number;
  members: string[];
  updatedAtMs: number;
}

/** A local user's standing in a group. */
export type LocalGroupState = "invited" | "joined";

/** A staged fan-out envelope. */
export interface FanoutRow {
  id: string;
  dest: string;
  bytes: Uint8Array;
  expiresAtMs: number;
  /** The node the submission came from (its staged bytes count against that node's share). */
  origin?: string;
}

const SCHEMA = `
PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS hub_groups (
  key TEXT PRIMARY KEY,
  epoch INTEGER NOT NULL,
  name TEXT NOT NULL,
  admins TEXT NOT NULL,
  members TEXT NOT NULL,
  leaving TEXT NOT NULL,
  declined TEXT NOT NULL,
  last_envelope TEXT,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS hub_fanout (
  id TEXT PRIMARY KEY,
  dest TEXT NOT NULL,
  bytes BLOB NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  origin TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE TABLE IF NOT EXISTS member_groups (
  key TEXT PRIMARY KEY,
  epoch INTEGER NOT NULL,
  members TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS local_groups (
  owner TEXT NOT NULL,
  key TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('invited', 'joined')),
  since_ms INTEGER NOT NULL,
  PRIMARY KEY (owner, key)
) STRICT;
CREATE INDEX IF NOT EXISTS local_groups_key ON local_groups (key);
CREATE TABLE IF NOT EXISTS decisions (
  id TEXT PRIMARY KEY,
  outcome TEXT NOT NULL,
  keep_until_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS decisions_keep ON decisions (keep_until_ms);
CREATE TABLE IF NOT EXISTS key_packages (
  owner TEXT NOT NULL,
  ref TEXT NOT NULL,
  bytes BLOB NOT NULL,
  last_resort INTEGER NOT NULL,
  not_after_ms INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (owner, ref)
) STRICT;
`;

type Row = Record<string, unknown>;

function toHub(r: Row): HubGroupRow {
  return {
    key: r.key as string,
    epoch: r.epoch as number,
    name: r.name as string,
    admins: JSON.parse(r.admins as string),
    members: JSON.parse(r.members as string),
    leaving: JSON.parse(r.leaving as string),
    declined: JSON.parse(r.declined as string),
    lastEnvelope: (r.last_envelope as string | null) ?? null,
    createdAtMs: r.created_at_ms as number,
    updatedAtMs: r.updated_at_ms as number,
  };
}

/** The node's group tables. */
export class GroupStore {
  #db: DatabaseSync;
  #statements = new Map<string, StatementSync>();
  #depth = 0;

  /** Opens (creating) the store at `path`; `":memory:"` for tests. */
  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(SCHEMA);
    // groups.db made before fan-out was counted by origin: its staged rows count as origin "".
    const columns = this.#db.prepare("PRAGMA table_info(hub_fanout)").all() as Row[];
    if (!columns.some((c) => c.name === "origin")) {
      this.#db.exec("ALTER TABLE hub_fanout ADD COLUMN origin TEXT NOT NULL DEFAULT ''");
    }
  }

  #stmt(sql: string): StatementSync {
    let st = this.#statements.get(sql);
    if (!st) {
      st = this.#db.prepare(sql);
      this.#statements.set(sql, st);
    }
    return st;
  }

  /** Runs `fn` in one transaction. */
  transaction<T>(fn: () => T): T {
    if (this.#depth > 0) return fn();
    this.#depth++;
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

  // --- the hub --------------------------------------------------------------------------------

  hubGroup(key: string): HubGroupRow | undefined {
    const r = this.#stmt("SELECT * FROM hub_groups WHERE key = ?").get(key) as Row | undefined;
    return r ? toHub(r) : undefined;
  }

  hubGroupCount(): number {
    return (this.#stmt("SELECT count(*) AS n FROM hub_groups").get() as Row).n as number;
  }

  putHubGroup(g: HubGroupRow): void {
    this.#stmt(
      `INSERT INTO hub_groups (key, epoch, name, admins, members, leaving, declined, last_envelope,
         created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET epoch = excluded.epoch, name = excluded.name,
         admins = excluded.admins, members = excluded.members, leaving = excluded.leaving,
         declined = excluded.declined, last_envelope = excluded.last_envelope,
         updated_at_ms = excluded.updated_at_ms`,
    ).run(
      g.key,
      g.epoch,
      g.name,
      JSON.stringify(g.admins),
      JSON.stringify(g.members),
      JSON.stringify(g.leaving),
      JSON.stringify(g.declined),
      g.lastEnvelope,
      g.createdAtMs,
      g.updatedAtMs,
    );
  }

  /** Stages fan-out rows (built one at a time by `rows`); returns the bytes of those new here. */
  stageFanout(rows: Iterable<FanoutRow>, origin = ""): number {
    let bytes = 0;
    for (const r of rows) {
      const changes = this.#stmt(
        `INSERT OR IGNORE INTO hub_fanout (id, dest, bytes, expires_at_ms, origin)
         VALUES (?, ?, ?, ?, ?)`,
      ).run(r.id, r.dest, r.bytes, r.expiresAtMs, origin).changes;
      if (Number(changes) > 0) bytes += r.bytes.length;
    }
    return bytes;
  }

  /**
   * The oldest staged fan-out rows, in the order staged: as many as fit in
   * `maxBytes`, and at least one; none for node `skip`.
   */
  stagedFanout(maxBytes = Infinity, skip: string | null = null): FanoutRow[] {
    const sizes = this.#stmt(
      `SELECT rowid AS r, length(bytes) AS n FROM hub_fanout WHERE dest != ?
       ORDER BY rowid LIMIT 1024`,
    ).all(skip ?? "") as Row[];
    if (sizes.length === 0) return [];
    let last = sizes[0].r as number;
    let sum = 0;
    for (const s of sizes) {
      sum += s.n as number;
      if (sum > maxBytes && s !== sizes[0]) break;
      last = s.r as number;
    }
    return (this.#stmt(
      "SELECT * FROM hub_fanout WHERE rowid <= ? AND dest != ? ORDER BY rowid",
    ).all(last, skip ?? "") as Row[]).map((r) => ({
      id: r.id as string,
      dest: r.dest as string,
      bytes: new Uint8Array(r.bytes as Uint8Array),
      expiresAtMs: r.expires_at_ms as number,
      origin: r.origin as string,
    }));
  }

  /** Rows staged. */
  stagedFanoutCount(): number {
    return (this.#stmt("SELECT count(*) AS n FROM hub_fanout").get() as Row).n as number;
  }

  /** Bytes staged per origin node. */
  stagedFanoutUsage(): Map<string, number> {
    const rows = this.#stmt(
      "SELECT origin, sum(length(bytes)) AS n FROM hub_fanout GROUP BY origin",
    ).all() as Row[];
    return new Map(rows.map((r) => [r.origin as string, r.n as number]));
  }

  unstageFanout(ids: readonly string[]): void {
    this.transaction(() => {
      for (const id of ids) this.#stmt("DELETE FROM hub_fanout WHERE id = ?").run(id);
    });
  }

  // --- member copies and local users ----------------------------------------------------------

  memberGroup(key: string): MemberGroupRow | undefined {
    const r = this.#stmt("SELECT * FROM member_groups WHERE key = ?").get(key) as Row | undefined;
    return r
      ? {
        key,
        epoch: r.epoch as number,
        members: JSON.parse(r.members as string),
        updatedAtMs: r.updated_at_ms as number,
      }
      : undefined;
  }

  putMemberGroup(g: MemberGroupRow): void {
    this.#stmt(
      `INSERT INTO member_groups (key, epoch, members, updated_at_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET epoch = excluded.epoch, members = excluded.members,
         updated_at_ms = excluded.updated_at_ms`,
    ).run(g.key, g.epoch, JSON.stringify(g.members), g.updatedAtMs);
  }

  deleteMemberGroup(key: string): void {
    this.#stmt("DELETE FROM member_groups WHERE key = ?").run(key);
  }

  localState(owner: string, key: string): LocalGroupState | null {
    const r = this.#stmt("SELECT state FROM local_groups WHERE owner = ? AND key = ?").get(
      owner,
      key,
    ) as Row | undefined;
    return (r?.state as LocalGroupState | undefined) ?? null;
  }

  setLocalState(owner: string, key: string, state: LocalGroupState | null, nowMs: number): void {
    if (state === null) {
      this.#stmt("DELETE FROM local_groups WHERE owner = ? AND key = ?").run(owner, key);
      return;
    }
    this.#stmt(
      `INSERT INTO local_groups (owner, key, state, since_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (owner, key) DO UPDATE SET state = excluded.state, since_ms = excluded.since_ms`,
    ).run(owner, key, state, nowMs);
  }

  /** Local users with a standing in group `key`. */
  localUsersOf(key: string): Array<{ owner: string; state: LocalGroupState }> {
    return (this.#stmt("SELECT owner, state FROM local_groups WHERE key = ?").all(key) as Row[])
      .map((r) => ({ owner: r.owner as string, state: r.state as LocalGroupState }));
  }

  /** Member lists of the groups `owner` joined (this node's copies). */
  joinedMemberLists(owner: string): string[][] {
    const rows = this.#stmt(
      `SELECT m.members FROM local_groups l JOIN member_groups m ON m.key = l.key
       WHERE l.owner = ? AND l.state = 'joined'`,
    ).all(owner) as Row[];
    return rows.map((r) => JSON.parse(r.members as string));
  }

  /** Per local user: groups (any standing) and invitations waiting. */
  localUsage(): Map<string, { groups: number; invited: number }> {
    const out = new Map<string, { groups: number; invited: number }>();
    const rows = this.#stmt(
      "SELECT owner, count(*) AS n, sum(state = 'invited') AS i FROM local_groups GROUP BY owner",
    ).all() as Row[];
    for (const r of rows) {
      out.set(r.owner as string, { groups: r.n as number, invited: Number(r.i ?? 0) });
    }
    return out;
  }

  /** Invitations older than `beforeMs` nobody answered: forgotten. Returns their owners. */
  expireInvitations(beforeMs: number): string[] {
    const rows = this.#stmt(
      "SELECT owner FROM local_groups WHERE state = 'invited' AND since_ms < ?",
    ).all(beforeMs) as Row[];
    this.#stmt("DELETE FROM local_groups WHERE state = 'invited' AND since_ms < ?").run(beforeMs);
    return rows.map((r) => r.owner as string);
  }

  /** Forgets everything of a removed account. */
  forgetUser(owner: string): void {
    this.transaction(() => {
      this.#stmt("DELETE FROM local_groups WHERE owner = ?").run(owner);
      this.#stmt("DELETE FROM key_packages WHERE owner = ?").run(owner);
    });
  }

  // --- decisions ------------------------------------------------------------------------------

  decision(id: string): unknown {
    const r = this.#stmt("SELECT outcome FROM decisions WHERE id = ?").get(id) as Row | undefined;
    return r ? JSON.parse(r.outcome as string) : undefined;
  }

  putDecision(id: string, outcome: unknown, keepUntilMs: number): void {
    this.#stmt(
      "INSERT OR REPLACE INTO decisions (id, outcome, keep_until_ms) VALUES (?, ?, ?)",
    ).run(id, JSON.stringify(outcome), keepUntilMs);
  }

  purgeDecisions(nowMs: number): void {
    this.#stmt("DELETE FROM decisions WHERE keep_until_ms < ?").run(nowMs);
  }

  // --- key packages ---------------------------------------------------------------------------

  /** Adds key packages; a new last-resort one replaces the old. Returns how many were new. */
  addKeyPackages(
    owner: string,
    rows: ReadonlyArray<
      { ref: string; bytes: Uint8Array; lastResort: boolean; notAfterMs: number }
    >,
  ): number {
    let added = 0;
    this.transaction(() => {
      let seq = ((this.#stmt("SELECT max(seq) AS s FROM key_packages WHERE owner = ?").get(
        owner,
      ) as Row).s as number | null) ?? 0;
      for (const r of rows) {
        if (r.lastResort) {
          this.#stmt("DELETE FROM key_packages WHERE owner = ? AND last_resort = 1").run(owner);
        }
        added += Number(
          this.#stmt(
            `INSERT OR IGNORE INTO key_packages (owner, ref, bytes, last_resort, not_after_ms, seq)
             VALUES (?, ?, ?, ?, ?, ?)`,
          ).run(owner, r.ref, r.bytes, r.lastResort ? 1 : 0, r.notAfterMs, ++seq).changes,
        );
      }
    });
    return added;
  }

  /** One-time key packages of `owner` still valid at `nowMs`, and whether a last-resort one is. */
  keyPackageCount(owner: string, nowMs: number): { oneTime: number; lastResort: boolean } {
    const r = this.#stmt(
      `SELECT sum(last_resort = 0) AS o, sum(last_resort = 1) AS l FROM key_packages
       WHERE owner = ? AND not_after_ms > ?`,
    ).get(owner, nowMs) as Row;
    return { oneTime: Number(r.o ?? 0), lastResort: Number(r.l ?? 0) > 0 };
  }

  /**
   * Takes one key package of `owner` valid at `nowMs`: the oldest one-time
   * package (deleted, so it is handed out once), else the last-resort one (kept).
   */
  takeKeyPackage(owner: string, nowMs: number): Uint8Array | null {
    return this.transaction(() => {
      this.#stmt("DELETE FROM key_packages WHERE owner = ? AND not_after_ms <= ?").run(
        owner,
        nowMs,
      );
      const r = this.#stmt(
        `SELECT ref, bytes, last_resort FROM key_packages WHERE owner = ?
         ORDER BY last_resort, seq LIMIT 1`,
      ).get(owner) as Row | undefined;
      if (!r) return null;
      if (r.last_resort === 0) {
        this.#stmt("DELETE FROM key_packages WHERE owner = ? AND ref = ?").run(
          owner,
          r.ref as string,
        );
      }
      return new Uint8Array(r.bytes as Uint8Array);
    });
  }

  /** Key packages held per user. */
  keyPackageUsage(): Map<string, number> {
    const rows = this.#stmt("SELECT owner, count(*) AS n FROM key_packages GROUP BY owner")
      .all() as Row[];
    return new Map(rows.map((r) => [r.owner as string, r.n as number]));
  }

  close(): void {
    this.#db.close();
  }
}
