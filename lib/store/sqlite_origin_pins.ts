/**
 * Routing pins in the node store: origin keys the router believes (proven by a link
 * handshake, or confirmed through two neighbours) and the own-seq reservation, so that
 * after a restart nobody who speaks first for a known id can take it over. The table is
 * created by the node store's schema (version 2).
 */
import type { DatabaseSync } from "node:sqlite";
import type { NodeId } from "../ids.ts";

/** How a pinned key was proven. */
export type OriginPinSource = "link" | "confirmed";

/** One pinned origin key. */
export interface OriginPinRecord {
  readonly node: NodeId;
  readonly key: Uint8Array;
  readonly source: OriginPinSource;
}

/** Durable routing pins (the router's `OriginPins`). */
export interface OriginPinStore {
  /** Every pin, oldest first. */
  load(): OriginPinRecord[];
  /**
   * Saves (or replaces) the pin of `node`. Writes are batched into one transaction a moment
   * later (a federation's worth of confirmations must not cost one fsync each); a crash
   * loses at most that moment's pins, which are learnt again.
   */
  save(node: NodeId, key: Uint8Array, source: OriginPinSource): void;
  /** Writes batched pins now (the store calls it before closing). */
  flush(): void;
  /** Deletes the pin of `node` (the owner forgot it). */
  forget(node: NodeId): void;
  /** The highest own announcement seq reserved, 0 if none. */
  loadSeq(): number;
  /** Reserves own seqs up to `seq`. */
  saveSeq(seq: number): void;
}

/** The schema part this file reads and writes (run by the node store). */
export const ORIGIN_PINS_SCHEMA = `
CREATE TABLE IF NOT EXISTS origin_pins (
  node_id TEXT PRIMARY KEY,
  public_key BLOB NOT NULL CHECK (length(public_key) = 32),
  source TEXT NOT NULL CHECK (source IN ('link', 'confirmed')),
  pinned_at_ms INTEGER NOT NULL
) STRICT;
`;

interface PinRow {
  node_id: string;
  public_key: Uint8Array;
  source: string;
}

/** How long saves wait to be written together. */
const BATCH_MS = 100;

/** Pins over an open node-store database; `nowMs` stamps each pin. */
export function sqliteOriginPins(db: DatabaseSync, nowMs: () => number = Date.now): OriginPinStore {
  const pending = new Map<NodeId, { key: Uint8Array; source: OriginPinSource; atMs: number }>();
  let timer: number | undefined;
  const list = db.prepare(
    "SELECT node_id, public_key, source FROM origin_pins ORDER BY pinned_at_ms",
  );
  const put = db.prepare(
    `INSERT INTO origin_pins (node_id, public_key, source, pinned_at_ms) VALUES (?, ?, ?, ?)
     ON CONFLICT (node_id) DO UPDATE SET public_key = excluded.public_key,
       source = excluded.source, pinned_at_ms = excluded.pinned_at_ms`,
  );
  const del = db.prepare("DELETE FROM origin_pins WHERE node_id = ?");
  const getSeq = db.prepare("SELECT value FROM meta WHERE key = 'routing_seq'");
  const putSeq = db.prepare(
    `INSERT INTO meta (key, value) VALUES ('routing_seq', ?)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  );
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending.size === 0) return;
    db.exec("BEGIN");
    try {
      for (const [node, p] of pending) put.run(node, p.key, p.source, p.atMs);
      db.exec("COMMIT");
    } catch (e) {
      db.exec("ROLLBACK");
      throw e;
    } finally {
      pending.clear();
    }
  };
  return {
    flush,
    forget(node) {
      pending.delete(node);
      del.run(node);
    },
    load() {
      flush();
      return (list.all() as unknown as PinRow[])
        .filter((r) => r.source === "link" || r.source === "confirmed")
        .map((r) => ({
          node: r.node_id as NodeId,
          key: new Uint8Array(r.public_key),
          source: r.source as OriginPinSource,
        }));
    },
    save(node, key, source) {
      if (key.length !== 32) throw new RangeError("Cannot save origin pin: key is not 32 bytes");
      pending.set(node, { key: key.slice(), source, atMs: Math.floor(nowMs()) });
      if (timer === undefined) {
        timer = setTimeout(flush, BATCH_MS) as unknown as number;
        Deno.unrefTimer(timer);
      }
    },
    loadSeq() {
      const row = getSeq.get() as { value: string } | undefined;
      const seq = Number(row?.value ?? 0);
      return Number.isSafeInteger(seq) && seq >= 0 ? seq : 0;
    },
    saveSeq(seq) {
      putSeq.run(String(seq));
    },
  };
}
