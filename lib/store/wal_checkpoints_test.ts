import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { WalCheckpoints } from "./wal_checkpoints.ts";

async function tempDb(): Promise<{ dir: string; path: string; db: DatabaseSync }> {
  await Deno.mkdir(".tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: ".tmp", prefix: "walckpt-" });
  const path = join(dir, "s.db");
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
  return { dir, path, db };
}

/** Commits `n` rows of 2 KiB, one per transaction, a turn of the event loop apart every 10. */
async function commitRows(db: DatabaseSync, n: number, from: number, after?: () => void) {
  const insert = db.prepare("INSERT INTO t (id, v) VALUES (?, ?)");
  for (let i = from; i < from + n; i++) {
    db.exec("BEGIN IMMEDIATE");
    insert.run(i, new Uint8Array(2048).fill(i & 255));
    db.exec("COMMIT");
    after?.();
    if (i % 10 === 0) await new Promise((r) => setTimeout(r, 0));
  }
}

const walBytes = (path: string) => Deno.statSync(`${path}-wal`).size;

async function until(fn: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const restartBytes = 256 * 1024;

/** Cycles every 20 commits, a restart past {@linkcode restartBytes}; a failure fails the test. */
const cycling = (db: DatabaseSync, path: string) =>
  new WalCheckpoints(db, path, {
    everyCommits: 20,
    restartBytes,
    idle: () => !db.isTransaction,
    onFallback: (e) => {
      throw e;
    },
  });

Deno.test("WalCheckpoints copies the log in cycles and starts it over; every row stays", async () => {
  const { dir, path, db } = await tempDb();
  const ck = cycling(db, path);
  try {
    let largest = 0;
    await commitRows(db, 2_000, 0, () => {
      ck.committed();
      largest = Math.max(largest, walBytes(path));
    });
    // 2,000 rows of 2 KiB make a log of over 8 MiB without checkpoints (one page each); the
    // cycles keep it near the restart size and what is written during one cycle's two fsyncs.
    assert.ok(largest < 8 * restartBytes, `log reached ${largest} bytes`);
    // Idle, one more cycle copies what is left: a passive checkpoint then has nothing to copy.
    await commitRows(db, 20, 2_000, () => ck.committed());
    await until(() => {
      const r = db.prepare("PRAGMA wal_checkpoint(PASSIVE)").get() as Record<string, number>;
      return r.log === r.checkpointed;
    }, "the log copied");
  } finally {
    db.close();
    ck.close();
  }
  const again = new DatabaseSync(path);
  const n = (again.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n;
  assert.equal(n, 2_020);
  assert.equal(Object.values(again.prepare("PRAGMA integrity_check").get()!)[0], "ok");
  again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("WalCheckpoints: a restart does not cut the log's file back below the limit", async () => {
  const { dir, path, db } = await tempDb();
  const ck = cycling(db, path);
  try {
    // Each restart comes past restartBytes; with the limit at restartBytes, SQLite cut the file
    // back to it at the next commit (an ftruncate that frees blocks the log allocates again). A
    // file past twice the restart size (a slow disk, a long cycle) may still be cut back.
    let size = 0, cuts = 0, largest = 0;
    await commitRows(db, 1_500, 0, () => {
      ck.committed();
      const now = walBytes(path);
      if (now < size && size <= 2 * restartBytes) cuts++;
      size = now;
      largest = Math.max(largest, now);
    });
    assert.ok(largest > restartBytes, `the log never passed the restart size (${largest})`);
    assert.equal(cuts, 0, `the log's file was cut back ${cuts} times`);
  } finally {
    db.close();
    ck.close();
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("WalCheckpoints: a restart comes only once the log holds more than the restart size", async () => {
  const { dir, path, db } = await tempDb();
  // The frames the log holds since it last started over (the wal-index header, wal.c), each a
  // page of 4 KiB and its 24-byte header, when each RESTART checkpoint is asked for.
  const held: number[] = [];
  const shm = Deno.openSync(`${path}-shm`, { read: true });
  const exec = db.exec.bind(db);
  db.exec = (sql: string) => {
    if (/wal_checkpoint\(RESTART\)/.test(sql)) {
      const header = new Uint8Array(20);
      shm.seekSync(0, Deno.SeekMode.Start);
      shm.readSync(header);
      held.push(32 + new DataView(header.buffer).getUint32(16, true) * (24 + 4096));
    }
    exec(sql);
  };
  const ck = cycling(db, path);
  try {
    // The log's file keeps its high-water mark past the restart size after the first restart
    // (JOURNAL_LIMIT_RESTARTS): by the file's size every later cycle was due a restart, with
    // its two fsyncs on the event loop.
    await commitRows(db, 1_500, 0, () => ck.committed());
    assert.ok(held.length > 0, "the log never started over");
    const early = held.filter((bytes) => bytes <= restartBytes);
    assert.deepEqual(
      early,
      [],
      `${early.length} of ${held.length} restarts before the log held ${restartBytes} bytes`,
    );
  } finally {
    db.close();
    ck.close();
    shm.close();
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("WalCheckpoints turns SQLite's own checkpoints off (the log grows without cycles)", async () => {
  const { dir, path, db } = await tempDb();
  const ck = new WalCheckpoints(db, path, { everyCommits: 1e9, idle: () => true });
  try {
    await commitRows(db, 1_500, 0, () => ck.committed());
    // SQLite's default checkpoint (1,000 pages) would have started the log over.
    assert.ok(walBytes(path) > 1_500 * 2048, `log ${walBytes(path)} bytes`);
  } finally {
    db.close();
    ck.close();
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("WalCheckpoints hands back to SQLite when a cycle fails", async () => {
  const { dir, db } = await tempDb();
  let failed: unknown = null;
  // A path whose files do not exist: the cycle cannot open them.
  const ck = new WalCheckpoints(db, join(dir, "missing.db"), {
    everyCommits: 5,
    idle: () => true,
    onFallback: (e) => failed = e,
  });
  try {
    await commitRows(db, 10, 0, () => ck.committed());
    await until(() => failed !== null, "the fallback");
    const level = db.prepare("PRAGMA wal_autocheckpoint").get() as Record<string, number>;
    assert.equal(Object.values(level)[0], 1000);
  } finally {
    db.close();
    ck.close();
  }
  await Deno.remove(dir, { recursive: true });
});
