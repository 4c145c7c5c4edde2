/**
 * WAL checkpoints whose fsyncs run off the event loop.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that takes the log
 * past 1,000 pages: it fsyncs the log, copies its pages into the database
 * file and fsyncs that, all on the JS thread. With another program writing to
 * the same disk, those two fsyncs held each process of a message's way for
 * 5–300 ms, every ~300 messages (docs/PERF_NOTES.md, branch `tail`).
 *
 * Here the connection runs with `wal_autocheckpoint = 0` and, every
 * {@linkcode WalCheckpointsOptions.everyCommits} commits, one cycle runs:
 *
 * 1. A second connection opens a read transaction (the *pin*). Its read mark
 *    is the log's last frame now; a checkpoint copies no frame past a reader's
 *    mark, and the log does not start over while a reader holds a mark.
 * 2. fdatasync of the log, off the event loop: every frame up to the mark is
 *    on the disk before any of them is copied (SQLite's own first fsync).
 * 3. `wal_checkpoint(PASSIVE)` with `synchronous = OFF` for that one
 *    statement: the copy, on the JS thread, without fsync (CPU only).
 * 4. fdatasync of the database file, off the event loop (SQLite's second).
 * 5. The pin ends. Only now may the log start over (SQLite does it at the
 *    next write once every frame is copied), so no frame is overwritten before
 *    its page is on the disk: the order of SQLite's own checkpoint, with the
 *    waits moved off the event loop. A kill -9 at any step leaves a store
 *    SQLite recovers as after any crash (the log is intact until step 5).
 *
 * Under a steady stream of commits the log never has every frame copied when
 * a write starts, so it does not start over by itself: past
 * {@linkcode WalCheckpointsOptions.restartBytes} a cycle ends with SQLite's
 * own `wal_checkpoint(RESTART)` on the event loop (its fsyncs included, a few
 * frames to copy by then): at 1,000 messages a second about one a second in
 * a client, where SQLite's own came three or four times a second. Any failure (a descriptor, a full disk) turns
 * SQLite's automatic checkpoints back on for good, as before this module.
 *
 * The log's file keeps its size across a restart ({@linkcode JOURNAL_LIMIT_RESTARTS}
 * times the restart size, `journal_size_limit`): a restart comes past the
 * restart size, a few hundred KiB to a few MiB later, and a limit at the
 * restart size itself made SQLite cut that tail off at the first commit after
 * each restart (an `ftruncate` on the event loop, which frees the blocks; with
 * the `discard` mount option and no ext4 journal it waits for the disk's
 * discard, 3–5 ms here) and allocate them again a few hundred commits later
 * (docs/PERF_NOTES.md, branch `tail1k`). The file is still cut back after a
 * burst that took it past the limit.
 *
 * A cycle starts only when the log holds frames not yet copied (read from
 * the wal-index header in `-shm`): with every frame copied, a reader takes no
 * mark and would bound nothing.
 *
 * The descriptors of the database file and of `-shm` are never closed before
 * the database is: closing any descriptor of a file drops the process's POSIX
 * locks on it, SQLite's included.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";

/**
 * The log's file is cut back (`journal_size_limit`) only past this many times
 * the restart size: the log runs a little past the restart size before each
 * restart, and a cut there frees blocks the next pass allocates again.
 */
export const JOURNAL_LIMIT_RESTARTS = 2;

/** The log file's header (SQLite's wal.c). */
const WAL_HEADER_BYTES = 32;
/** Each frame's header before its page. */
const WAL_FRAME_HEADER_BYTES = 24;

/** Options of {@linkcode WalCheckpoints}. */
export interface WalCheckpointsOptions {
  /** Commits between two cycles (SQLite's own default, 1,000 pages, is ~250 of a client's). */
  everyCommits?: number;
  /** Log size past which a cycle ends with a checkpoint that starts the log over (16 MiB). */
  restartBytes?: number;
  /** False while the connection has a transaction open (a checkpoint then cannot run). */
  idle: () => boolean;
  /** Told once when cycles stop (SQLite checkpoints by itself again) and why. */
  onFallback?: (error: unknown) => void;
}

/** Checkpoints of one connection's log; see the module's doc. */
export class WalCheckpoints {
  #db: DatabaseSync;
  #path: string;
  #every: number;
  #restartBytes: number;
  #idle: () => boolean;
  #onFallback: (error: unknown) => void;
  #commits = 0;
  #running = false;
  #stopped = false;
  #pin: DatabaseSync | null = null;
  #pinRead: StatementSync | null = null;
  #wal: Deno.FsFile | null = null;
  #file: Deno.FsFile | null = null;
  #shm: Deno.FsFile | null = null;
  #header = new Uint8Array(100);

  /** Turns SQLite's automatic checkpoints off on `db` (the database at `path`). */
  constructor(db: DatabaseSync, path: string, {
    everyCommits = 250,
    restartBytes = 16 * 1024 * 1024,
    idle,
    onFallback = () => {},
  }: WalCheckpointsOptions) {
    this.#db = db;
    this.#path = path;
    this.#every = everyCommits;
    this.#restartBytes = restartBytes;
    this.#idle = idle;
    this.#onFallback = onFallback;
    // A log started over keeps its file, cut back to this size: later frames overwrite blocks
    // the file has (cheaper for the disk than growing it again).
    db.exec(
      `PRAGMA wal_autocheckpoint = 0; ` +
        `PRAGMA journal_size_limit = ${JOURNAL_LIMIT_RESTARTS * restartBytes}`,
    );
  }

  /** Counts a commit of the connection; starts a cycle when one is due. */
  committed(): void {
    if (this.#stopped || ++this.#commits < this.#every || this.#running) return;
    this.#commits = 0;
    this.#running = true;
    this.#cycle().catch((e) => this.#fallback(e)).finally(() => {
      this.#running = false;
    });
  }

  /**
   * The log's frames now and how many of them are copied into the database,
   * from the wal-index header in `-shm` (SQLite's wal.c): the page size at
   * byte 14 (1 for 65,536), mxFrame at byte 16 of the header (48 bytes, kept
   * twice), then the checkpoint info, whose nBackfill comes first (byte 96).
   * Native order, and every platform Deno runs on is little-endian. Read
   * between this connection's transactions; a write by another process at
   * this instant could tear it (the stores have one writer). Null when the
   * header cannot be read whole.
   */
  #log(): { bytes: number; frames: number; copied: number } | null {
    this.#shm!.seekSync(0, Deno.SeekMode.Start);
    let n = 0;
    while (n < this.#header.length) {
      const got = this.#shm!.readSync(this.#header.subarray(n));
      if (got === null) return null;
      n += got;
    }
    const v = new DataView(this.#header.buffer);
    const page = v.getUint16(14, true) === 1 ? 65_536 : v.getUint16(14, true);
    const frames = v.getUint32(16, true);
    return {
      bytes: WAL_HEADER_BYTES + frames * (WAL_FRAME_HEADER_BYTES + page),
      frames,
      copied: v.getUint32(96, true),
    };
  }

  /** True when the log holds frames not yet copied into the database. */
  #behind(): boolean {
    const log = this.#log();
    return log !== null && log.frames > log.copied;
  }

  async #cycle(): Promise<void> {
    // SQLite keeps these files (same inodes) while a connection is open.
    this.#shm ??= Deno.openSync(`${this.#path}-shm`, { read: true });
    this.#file ??= Deno.openSync(this.#path, { read: true });
    this.#wal ??= Deno.openSync(`${this.#path}-wal`, { read: true });
    if (!this.#idle() || !this.#behind()) return;
    this.#pin ??= new DatabaseSync(this.#path);
    this.#pinRead ??= this.#pin.prepare("SELECT count(*) FROM sqlite_schema");
    this.#pin.exec("BEGIN");
    try {
      this.#pinRead.get();
      await this.#wal.syncData();
      if (this.#stopped) return;
      while (!this.#idle()) {
        await new Promise((r) => setTimeout(r, 1));
        if (this.#stopped) return;
      }
      const level = (this.#db.prepare("PRAGMA synchronous").get() as { synchronous: number })
        .synchronous;
      this.#db.exec("PRAGMA synchronous = OFF");
      try {
        this.#db.exec("PRAGMA wal_checkpoint(PASSIVE)");
      } finally {
        this.#db.exec(`PRAGMA synchronous = ${level}`);
      }
      await this.#file.syncData();
    } finally {
      if (this.#pin.isOpen && this.#pin.isTransaction) this.#pin.exec("COMMIT");
    }
    if (this.#stopped || !this.#idle()) return;
    // What the log holds since it last started over, not its file's size: the file keeps its
    // high-water mark (JOURNAL_LIMIT_RESTARTS), and by its size every cycle after the first
    // restart was due one (an fsync of the log and one of the database on the event loop).
    if ((this.#log()?.bytes ?? 0) > this.#restartBytes && this.#idle()) {
      this.#db.exec("PRAGMA wal_checkpoint(RESTART)");
    }
  }

  #fallback(e: unknown): void {
    if (this.#stopped) return;
    this.#stop();
    if (this.#db.isOpen) this.#db.exec("PRAGMA wal_autocheckpoint = 1000");
    this.#onFallback(e);
  }

  #stop(): void {
    this.#stopped = true;
    if (this.#pin?.isOpen) {
      if (this.#pin.isTransaction) this.#pin.exec("COMMIT");
      this.#pin.close();
    }
    this.#wal?.close();
    this.#wal = null;
  }

  /** Stops the cycles; call after the connection is closed (see the module's doc). */
  close(): void {
    if (!this.#stopped) this.#stop();
    this.#file?.close();
    this.#file = null;
    this.#shm?.close();
    this.#shm = null;
  }
}
