/**
 * The event loop's stalls from WAL checkpoints, with SQLite's own checkpoint
 * (inside the COMMIT past 1,000 pages: two fsyncs on the JS thread) against
 * lib/store/wal_checkpoints.ts (the fsyncs off the event loop). Run by hand:
 *
 *   deno run -A bench/exp_wal_checkpoint.ts [ROUNDS] [--disk-load]
 *
 * Each round runs both ways one after the other (alternating which goes
 * first): RATE transactions a second (1,000) for SECONDS (10), each writing
 * ROWS rows of 200 bytes and one index entry, as a client's message turn
 * does; a 2-ms timer measures its own lateness meanwhile (EVERY: commits per
 * cycle, RESTART_MIB: the log's size that starts it over). `--disk-load`
 * starts a process that writes 4 MiB and fdatasyncs in a loop, as a file
 * transfer or another program does on a shared disk. Prints per way the
 * COMMIT's time on the JS thread (p99, max), the timer's lateness (p99, max,
 * turns ≥ 5 ms late), the CPU of the process per transaction, the largest
 * -wal file and the cycles' RESTART checkpoints (count, ms on the JS thread).
 * WAYS=cycles runs only the cycles. Figures only; JSON line last.
 */
// deno-lint-ignore-file no-console
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { WalCheckpoints } from "../lib/store/wal_checkpoints.ts";

const ROUNDS = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 3);
const DISK_LOAD = Deno.args.includes("--disk-load");
const RATE = Number(Deno.env.get("RATE") ?? 1000);
const SECONDS = Number(Deno.env.get("SECONDS") ?? 10);
const ROWS = Number(Deno.env.get("ROWS") ?? 3);
/** Commits per cycle (lib/store/wal_checkpoints.ts's default when unset). */
const EVERY = Deno.env.get("EVERY") ? Number(Deno.env.get("EVERY")) : undefined;
/** The log's size (MiB) past which a cycle starts it over (the module's default when unset). */
const RESTART_MIB = Deno.env.get("RESTART_MIB") ? Number(Deno.env.get("RESTART_MIB")) : undefined;
const WAYS = (Deno.env.get("WAYS") ?? "sqlite,cycles").split(",");

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 100) / 100 : 0;
};

/** CPU ms of this process so far (all threads). */
function cpuMs(): number {
  const f = Deno.readTextFileSync(`/proc/${Deno.pid}/stat`).split(") ")[1].split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

interface Result {
  way: string;
  commitP99Ms: number;
  commitMaxMs: number;
  lateP99Ms: number;
  lateMaxMs: number;
  turnsLate5Ms: number;
  cpuUsPerCommit: number;
  walMaxMiB: number;
  restarts: number;
  restartMs: number;
}

async function once(way: "sqlite" | "cycles", dir: string): Promise<Result> {
  const path = join(dir, `${way}.db`);
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
  db.exec(
    "CREATE TABLE m (id TEXT PRIMARY KEY, peer TEXT, body BLOB, at INTEGER);" +
      "CREATE INDEX m_peer ON m (peer, at);",
  );
  // The cycles' RESTART checkpoints (on the JS thread, their fsyncs included).
  const restarts: number[] = [];
  const exec = db.exec.bind(db);
  db.exec = (sql: string) => {
    if (!sql.includes("wal_checkpoint(RESTART)")) return exec(sql);
    const r0 = performance.now();
    exec(sql);
    restarts.push(performance.now() - r0);
  };
  const ck = way === "cycles"
    ? new WalCheckpoints(db, path, {
      idle: () => !db.isTransaction,
      everyCommits: EVERY,
      restartBytes: RESTART_MIB === undefined ? undefined : RESTART_MIB * 1024 * 1024,
    })
    : null;
  const insert = db.prepare("INSERT INTO m (id, peer, body, at) VALUES (?, ?, ?, ?)");
  const body = new Uint8Array(200).fill(7);
  const commits: number[] = [];
  const late: number[] = [];
  let walMax = 0;
  let n = 0;
  const t0 = performance.now();
  const total = RATE * SECONDS;
  // The watcher: a 2-ms timer measuring its own lateness.
  let due = t0 + 2;
  let watching = true;
  const watch = () => {
    if (!watching) return;
    const now = performance.now();
    late.push(now - due);
    due = now + 2;
    setTimeout(watch, 2);
  };
  setTimeout(watch, 2);
  const cpu0 = cpuMs();
  while (n < total) {
    const dueN = Math.min(total, Math.floor(((performance.now() - t0) * RATE) / 1000) + 1);
    while (n < dueN) {
      db.exec("BEGIN IMMEDIATE");
      for (let r = 0; r < ROWS; r++) insert.run(`${n}-${r}-${Math.random()}`, `p${r}`, body, n);
      const c0 = performance.now();
      db.exec("COMMIT");
      commits.push(performance.now() - c0);
      ck?.committed();
      n++;
      if (n % 100 === 0) walMax = Math.max(walMax, Deno.statSync(`${path}-wal`).size);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const cpu = cpuMs() - cpu0;
  watching = false;
  db.close();
  ck?.close();
  return {
    way,
    commitP99Ms: pct(commits, 0.99),
    commitMaxMs: pct(commits, 1),
    lateP99Ms: pct(late, 0.99),
    lateMaxMs: pct(late, 1),
    turnsLate5Ms: late.filter((x) => x >= 5).length,
    cpuUsPerCommit: Math.round((cpu * 1000) / total),
    walMaxMiB: Math.round((walMax / 1048576) * 10) / 10,
    restarts: restarts.length,
    restartMs: Math.round(restarts.reduce((a, b) => a + b, 0) * 10) / 10,
  };
}

await Deno.mkdir(".tmp", { recursive: true });
let loader: Deno.ChildProcess | null = null;
if (DISK_LOAD) {
  loader = new Deno.Command("bash", {
    args: [
      "-c",
      "while true; do dd if=/dev/zero of=.tmp/exp_wal_load bs=1M count=4 conv=fdatasync " +
      "status=none; done",
    ],
  }).spawn();
}
const results: Result[] = [];
try {
  for (let i = 0; i < ROUNDS; i++) {
    const order: Array<"sqlite" | "cycles"> = i % 2 === 0
      ? ["sqlite", "cycles"]
      : ["cycles", "sqlite"];
    for (const way of order.filter((w) => WAYS.includes(w))) {
      const dir = await Deno.makeTempDir({ dir: ".tmp", prefix: "exp-wal-" });
      try {
        const r = await once(way, dir);
        results.push(r);
        console.log(
          `${
            r.way.padEnd(6)
          } COMMIT p99 ${r.commitP99Ms} max ${r.commitMaxMs} ms; 2-ms timer late ` +
            `p99 ${r.lateP99Ms} max ${r.lateMaxMs} ms, ${r.turnsLate5Ms} turns ≥ 5 ms; CPU ` +
            `${r.cpuUsPerCommit} µs per transaction; -wal up to ${r.walMaxMiB} MiB; ` +
            `${r.restarts} RESTARTs (${r.restartMs} ms) ` +
            `(load ${Deno.loadavg()[0]})`,
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  }
} finally {
  if (loader) {
    loader.kill("SIGKILL");
    await loader.status;
    await Deno.remove(".tmp/exp_wal_load").catch(() => {});
  }
}
console.log(JSON.stringify({ bench: "exp_wal_checkpoint", diskLoad: DISK_LOAD, results }));
