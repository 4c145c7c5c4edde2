/**
 * WAL checkpoints with their fsyncs off the event loop (lib/store/wal_checkpoints.ts)
 * keep SQLite's order against power loss, read off the system calls of a
 * writer (tests/_helpers/wal_writer_child.ts) under strace:
 *
 * - the log is flushed before frames are copied into the database: each run
 *   of writes to the database file follows a flush of the log made after the
 *   previous run;
 * - the database is flushed before the log starts over: when the log's header
 *   is written again (offset 0: a new log over the old frames), every page
 *   written into the database before it has been flushed.
 *
 * Ignored where strace is not installed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";

const CHILD = new URL("./_helpers/wal_writer_child.ts", import.meta.url).pathname;

/** strace, where installed (.ci/run installs it; the test is ignored without it). */
const STRACE = ["/usr/bin/strace", "/bin/strace"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

/** One system call on the store's files, in the order it completed. */
interface Call {
  name: string;
  file: "db" | "wal";
  offset?: number;
}

/** The calls on `path` and `path-wal` in strace's `-f -y` output, as they completed. */
function callsOn(trace: string, path: string): Call[] {
  const calls: Call[] = [];
  const open = new Map<string, string>();
  const fileOf = (fd: string): "db" | "wal" | undefined =>
    fd.endsWith(`${path}>`) ? "db" : fd.endsWith(`${path}-wal>`) ? "wal" : undefined;
  const add = (line: string) => {
    const m = /(pwrite64|fdatasync|fsync)\(\d+(<[^>]*>)(.*)\)\s+=\s+(-?\d+)/.exec(line);
    if (!m || Number(m[4]) < 0) return;
    const file = fileOf(m[2]);
    if (!file) return;
    const offset = m[1] === "pwrite64" ? Number(/, (\d+)$/.exec(m[3])?.[1]) : undefined;
    calls.push({ name: m[1], file, offset });
  };
  for (const line of trace.split("\n")) {
    const pid = line.split(/\s+/)[0];
    if (line.endsWith("<unfinished ...>")) {
      open.set(pid, line.slice(0, -"<unfinished ...>".length).trimEnd());
    } else if (/<\.\.\. \w+ resumed>/.test(line)) {
      const start = open.get(pid);
      open.delete(pid);
      if (start) add(start + line.replace(/^.*resumed>/, ""));
    } else add(line);
  }
  return calls;
}

Deno.test({
  name:
    "WalCheckpoints keep SQLite's order: log flushed before a copy, database flushed before the log starts over",
  ignore: !STRACE,
  fn: async (t) => {
    await Deno.mkdir(".tmp", { recursive: true });
    const dir = await Deno.makeTempDir({ dir: ".tmp", prefix: "walorder-" });
    const path = join(Deno.cwd(), dir, "s.db");
    try {
      const out = await new Deno.Command(STRACE!, {
        args: [
          "-f",
          "-qq",
          "-y",
          "-e",
          "trace=pwrite64,fdatasync,fsync",
          "-o",
          `${path}.trace`,
          Deno.execPath(),
          "run",
          "--allow-read",
          "--allow-write=.tmp",
          CHILD,
          path,
          "1500",
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const calls = callsOn(await Deno.readTextFile(`${path}.trace`), path);
      let dbUnflushed = false, walFlushedSinceCopy = true, inCopy = false;
      let copies = 0, restarts = 0, headers = 0;
      for (const c of calls) {
        const write = c.name === "pwrite64";
        if (c.file === "db" && write) {
          if (!inCopy) {
            assert.ok(walFlushedSinceCopy, `copy ${copies + 1} started without a flush of the log`);
            copies++;
            walFlushedSinceCopy = false;
          }
          inCopy = true;
          dbUnflushed = true;
          continue;
        }
        inCopy = false;
        if (c.file === "db") dbUnflushed = false;
        else if (!write) walFlushedSinceCopy = true;
        else if (c.offset === 0 && headers++ > 0) {
          assert.ok(
            !dbUnflushed,
            `the log started over (${restarts + 1}) before the database was flushed`,
          );
          restarts++;
        }
      }
      await t.step(`${copies} copies, ${restarts} restarts of the log`, () => {
        // The writer pauses every 64 rows, so cycles copy the whole log and it starts over.
        assert.ok(copies >= 5, `only ${copies} copies`);
        assert.ok(restarts >= 3, `only ${restarts} restarts`);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
