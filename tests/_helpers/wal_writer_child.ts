/**
 * Child of tests/wal_checkpoint_crash_test.ts: writes rows of 2 KiB, one per
 * transaction, into the store at `Deno.args[0]` with {@linkcode WalCheckpoints}
 * cycling every 16 commits (the log starts over past 128 KiB), and prints each
 * row's id once its COMMIT returned. The parent kills it with SIGKILL, or
 * gives a count (`Deno.args[1]`): then it stops after that many rows and
 * closes the store, pausing 30 ms after every 64 rows (a cycle then copies
 * the whole log and the next write starts it over).
 */
// deno-lint-ignore-file no-console
import { DatabaseSync } from "node:sqlite";
import { WalCheckpoints } from "../../lib/store/wal_checkpoints.ts";

const path = Deno.args[0];
const db = new DatabaseSync(path);
db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
db.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
const ck = new WalCheckpoints(db, path, {
  everyCommits: 16,
  restartBytes: 128 * 1024,
  idle: () => !db.isTransaction,
  onFallback: (e) => {
    console.error(`fallback: ${e}`);
    Deno.exit(2);
  },
});
const first = Number(
  (db.prepare("SELECT coalesce(max(id), -1) + 1 AS n FROM t").get() as {
    n: number;
  }).n,
);
const insert = db.prepare("INSERT INTO t (id, v) VALUES (?, ?)");
const end = Deno.args[1] === undefined ? Infinity : first + Number(Deno.args[1]);
for (let i = first; i < end; i++) {
  db.exec("BEGIN IMMEDIATE");
  insert.run(i, new Uint8Array(2048).fill(i & 255));
  db.exec("COMMIT");
  ck.committed();
  console.log(i);
  // A turn of the event loop now and then, so the cycles' fsyncs come back mid-stream.
  if (i % 4 === 0) await new Promise((r) => setTimeout(r, 0));
  if (end !== Infinity && i % 64 === 63) await new Promise((r) => setTimeout(r, 30));
}
db.close();
ck.close();
