/**
 * WAL checkpoints with their fsyncs off the event loop (lib/store/wal_checkpoints.ts)
 * survive kill -9 at any step of a cycle: a writer process is killed after
 * 300, 1,200 and 3,000 committed rows (many cycles and log restarts each),
 * and each time the store is sound and holds every row whose COMMIT returned.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";

const CHILD = new URL("./_helpers/wal_writer_child.ts", import.meta.url).pathname;

async function killAfter(path: string, rows: number): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write=.tmp", CHILD, path],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let last = -1, seen = 0, buf = "";
  const d = new TextDecoder();
  for await (const c of child.stdout) {
    buf += d.decode(c, { stream: true });
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const l of lines) {
      last = Number(l);
      seen++;
    }
    if (seen >= rows) break;
  }
  child.kill("SIGKILL");
  await child.status;
  return last;
}

Deno.test("WalCheckpoints: kill -9 mid-stream loses no committed row and leaves a sound store", async () => {
  await Deno.mkdir(".tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: ".tmp", prefix: "walcrash-" });
  const path = join(dir, "s.db");
  try {
    for (const rows of [300, 1_200, 3_000]) {
      const last = await killAfter(path, rows);
      const db = new DatabaseSync(path);
      const ok = Object.values(db.prepare("PRAGMA integrity_check").get()!)[0];
      const { n, top } = db.prepare("SELECT count(*) AS n, max(id) AS top FROM t").get() as {
        n: number;
        top: number;
      };
      db.close();
      assert.equal(ok, "ok");
      assert.ok(top >= last, `row ${last} was committed, the store ends at ${top}`);
      assert.equal(n, top + 1, "rows missing below the last");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
