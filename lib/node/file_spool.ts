/**
 * The file spool: chunk envelopes kept on disk for local users until their
 * client has taken them, so a file of any size never sits in the store or in
 * memory.
 *
 * Chunks of one file are appended to that file's current segment,
 * `<dataDir>/files/<user>/<fileId>-<seq>.seg`, as records
 *
 * ```text
 * magic "FCS1" (4) | chunk envelope id (16) | length u32 BE (4) | envelope bytes (length)
 * ```
 *
 * A chunk's record is written as soon as it arrives, at an offset reserved
 * for it; one `fdatasync` at a time makes every record written before it
 * durable (group commit, pipelined with the next writes). A chunk is reported
 * written (and so acknowledged) only once it and every record before it in
 * its segment are durable. A segment takes new chunks until it holds
 * {@linkcode SEGMENT_BYTES} (or a write to it failed), and its file is
 * deleted as soon as every chunk in it was taken or expired. After a crash
 * (kill -9, power loss) the node reads each segment's records up to the first
 * incomplete or unrecognisable one and cuts the file there: what it holds is
 * exactly the records before that point (a record cut off there was never
 * acknowledged). Chunks taken before the crash from a segment that still
 * existed are offered to the client again, which keeps what it already has.
 * A chunk is handed to its client only once durable, from the very bytes its
 * record was written from while they are kept (a bounded number), else read
 * back from its segment (always after a restart).
 *
 * Limits: the largest file a sender may announce, and a per-user and a total
 * quota of bytes on disk (a taken chunk's bytes count until its segment's
 * file is deleted, so a segment adds at most {@linkcode SEGMENT_BYTES} per
 * file being received), and a per-user and a total count of segment files
 * (each file sent starts one). Open file handles are capped
 * ({@linkcode MAX_OPEN_FILES}); the least recently used is closed.
 *
 * Files of the earlier layout (one `<fileId>-<index>-<id>.chunk` file per
 * chunk) are still read, handed over and deleted.
 */
import { constants } from "node:fs";
import { type FileHandle, open as openFile } from "node:fs/promises";
import { join } from "node:path";
import { SenderShare } from "../budget.ts";
import type { UserName } from "../ids.ts";
import type { Logger } from "../log.ts";

/**
 * What the spool says about a chunk before it is written ("taken": it holds a
 * chunk under that id from another origin node).
 */
export type SpoolVerdict = "ok" | "duplicate" | "taken" | "too-large" | "quota-full";

/** Options of {@linkcode FileSpool}. */
export interface FileSpoolOptions {
  /** Folder of the spool (`<dataDir>/files`). */
  dir: string;
  /** Largest file (plaintext bytes) a chunk may claim to belong to. */
  maxFileBytes: number;
  /** Bytes one user may have waiting here. */
  quotaBytes: number;
  /** Bytes all users together may have waiting here. */
  totalBytes: number;
  /**
   * Segment files one user may have here, at most (default
   * {@linkcode SEGMENTS_PER_USER}): each file sent starts one, so without a count a
   * sender of one small chunk per new file id made a file (an inode, a disk block)
   * per chunk, far more disk than the bytes charged.
   */
  segmentsPerUser?: number;
  /** Segment files of all users together, at most (default {@linkcode SEGMENTS_TOTAL}). */
  segmentsTotal?: number;
  /**
   * One sending node's share of a user's bytes and segments, in percent of the room the
   * other senders leave (default {@linkcode SENDER_SHARE_PERCENT}; 100: no share). Without
   * it one contact filled its user's quota while the user was offline, and every other
   * contact's file waited.
   */
  senderSharePercent?: number;
  /** A chunk not taken by its client within this long is deleted (the sender's file expired). */
  keepMs: number;
  /** Chunks kept in memory until taken, at most (default {@linkcode MAX_KEPT_COPIES}; 0: none). */
  keptCopies?: number;
  log: Logger;
}

/** A segment takes no more chunks once it holds this many bytes. */
export const SEGMENT_BYTES = 16 * 1024 * 1024;
/** Default {@linkcode FileSpoolOptions.segmentsPerUser} (`[Limits] file_segments_per_user`). */
export const SEGMENTS_PER_USER = 4096;
/** Default {@linkcode FileSpoolOptions.segmentsTotal} (`[Limits] file_segments_total`). */
export const SEGMENTS_TOTAL = 65_536;
/** Default {@linkcode FileSpoolOptions.senderSharePercent} (`[Limits] sender_share_percent`). */
export const SENDER_SHARE_PERCENT = 50;
/** File handles the spool keeps open at most (least recently used closed first). */
export const MAX_OPEN_FILES = 16;
/** Record header: magic, chunk id, length. */
export const RECORD_HEADER_BYTES = 24;
/** Largest record body read back (a chunk envelope is far smaller; larger means damage). */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;
const EMPTY = new Uint8Array(0);
const MAGIC = 0x46435331; // "FCS1"
const SEGMENT_NAME = /^([0-9a-f]{32})-([0-9a-f]{8})\.seg$/;
const LEGACY_NAME = /^([0-9a-f]{32})-([0-9a-f]{8})-([0-9a-f]{32})\.chunk$/;
/**
 * Read and write buffers kept for reuse (their size is the largest chunk seen so far): a
 * sender's window in flight (32 chunks of 256 KiB) besides the kept copies. With 16, a 256 MiB
 * file took 223 fresh buffers instead of 32 (the copies kept until taken hold the rest).
 */
const POOLED_BUFFERS = 32;
/**
 * Chunks whose written bytes stay in memory, at most, until their client takes
 * them (handed over from there instead of read back from their segment).
 */
export const MAX_KEPT_COPIES = 16;

interface Segment {
  user: UserName;
  /** The origin node of the chunk that opened it (counted in its share); absent after a restart. */
  origin?: string;
  fileId: string;
  path: string;
  /** Bytes written or reserved (the next record's offset). */
  size: number;
  /** Chunks admitted to it and not taken. */
  live: number;
  /** Bytes of taken chunks whose records are still on disk (charged until deletion). */
  takenBytes: number;
  /** Takes no more chunks (full, failed, or found after a restart). */
  sealed: boolean;
  deleted: boolean;
  /** Records not acknowledged yet, in offset order. */
  order: Rec[];
  /** Record writes in flight. */
  writes: number;
  syncing: boolean;
  /** Offset of the first record that failed (-1: none); nothing from there on counts. */
  failedAt: number;
  /** Operations using its handle now (it is closed only when none). */
  busy: number;
}

interface Rec {
  held: Held;
  /** The whole record, header and chunk (a view of `buf`), until it is written. */
  bytes: Uint8Array;
  /** The pooled buffer holding them, given back once written (or kept as the chunk's copy). */
  buf: Uint8Array | null;
  /** Where its header starts. */
  offset: number;
  state: "writing" | "written" | "synced";
  done: (e?: unknown) => void;
}

interface Held {
  id: string;
  /**
   * The proven origin node it came from; absent for a chunk read back after a
   * restart (the de-duplication table, which keeps origins, answers for those).
   */
  origin?: string;
  /** Its segment; null for a file of the earlier layout. */
  seg: Segment | null;
  /** The whole file (earlier layout). */
  file: string;
  /** Offset of the envelope bytes in the segment. */
  offset: number;
  /** Envelope bytes. */
  bytes: number;
  /** Bytes charged to the quotas (record header included). */
  charge: number;
  queued: boolean;
  written: boolean;
  /** When it was written (this node's clock; the file's mtime after a restart). */
  atMs: number;
  /**
   * The pooled buffer its record was written from (header, then envelope bytes), kept until it
   * is taken: the same bytes as on disk, handed over without reading them back. Null once
   * taken, dropped, or when {@linkcode MAX_KEPT_COPIES} were kept already (then read back).
   */
  copy?: Uint8Array | null;
}

/** Chunks waiting for local users' clients. */
export class FileSpool {
  #o: FileSpoolOptions;
  #users = new Map<UserName, Map<string, Held>>();
  #heldBytes = new Map<UserName, number>();
  #totalBytes = 0;
  /** Users whose folder exists (made once, not once per chunk). */
  #dirs = new Set<UserName>();
  /** The segment taking new chunks, per user and file. */
  #current = new Map<string, Segment>();
  /** Segments not deleted, per user and in all. */
  #segments = new Map<UserName, number>();
  #segmentsTotal = 0;
  #nextSeq = 0;
  /** Open handles, least recently used first. */
  #handles = new Map<Segment, Promise<FileHandle>>();
  #pool: Uint8Array[] = [];
  /** Chunks with a kept copy (at most {@linkcode MAX_KEPT_COPIES}). */
  #kept = 0;
  /** Each sending node's bytes (of chunks not taken yet) and segments, per user. */
  readonly byteShare: SenderShare;
  readonly segmentShare: SenderShare;

  private constructor(o: FileSpoolOptions) {
    this.#o = o;
    this.byteShare = new SenderShare(o.senderSharePercent ?? SENDER_SHARE_PERCENT);
    this.segmentShare = new SenderShare(o.senderSharePercent ?? SENDER_SHARE_PERCENT);
  }

  /** Opens the spool, finding the chunks kept before a restart and cutting off torn records. */
  static async open(o: FileSpoolOptions): Promise<FileSpool> {
    const spool = new FileSpool(o);
    await Deno.mkdir(o.dir, { recursive: true, mode: 0o700 });
    for await (const u of Deno.readDir(o.dir)) {
      if (!u.isDirectory) continue;
      const user = u.name as UserName;
      const names: string[] = [];
      for await (const f of Deno.readDir(join(o.dir, u.name))) {
        if (SEGMENT_NAME.test(f.name) || LEGACY_NAME.test(f.name)) names.push(f.name);
        else if (f.name.endsWith(".part")) await Deno.remove(join(o.dir, u.name, f.name));
      }
      // Per file, in order.
      names.sort();
      for (const name of names) {
        const file = join(o.dir, u.name, name);
        const legacy = LEGACY_NAME.exec(name);
        if (legacy) await spool.#recoverLegacy(user, file, legacy[3]);
        else await spool.#recoverSegment(user, file, SEGMENT_NAME.exec(name)!);
      }
    }
    return spool;
  }

  async #recoverLegacy(user: UserName, file: string, id: string): Promise<void> {
    const { size, mtime } = await Deno.stat(file);
    const atMs = mtime?.getTime() ?? Date.now();
    this.#add(user, {
      id,
      seg: null,
      file,
      offset: 0,
      bytes: size,
      charge: size,
      queued: true,
      written: true,
      atMs,
    });
  }

  async #recoverSegment(user: UserName, path: string, name: RegExpExecArray): Promise<void> {
    const seq = parseInt(name[2], 16);
    this.#nextSeq = Math.max(this.#nextSeq, seq + 1);
    const { size, mtime } = await Deno.stat(path);
    const atMs = mtime?.getTime() ?? Date.now();
    const seg = this.#segment(user, name[1], path);
    seg.sealed = true;
    const h = await openFile(path, "r+");
    try {
      const header = new Uint8Array(RECORD_HEADER_BYTES);
      const view = new DataView(header.buffer);
      let at = 0;
      // Bounded by the file's size: each record moves `at` forward by at least its header.
      while (at < size) {
        const { bytesRead } = await h.read(header, 0, RECORD_HEADER_BYTES, at);
        const length = view.getUint32(20);
        const end = at + RECORD_HEADER_BYTES + length;
        if (
          bytesRead < RECORD_HEADER_BYTES || view.getUint32(0) !== MAGIC ||
          length > MAX_RECORD_BYTES || end > size
        ) {
          this.#o.log.warn("spool segment cut at a torn record", { user, offset: at, size });
          await h.truncate(at);
          break;
        }
        const id = toHex(header.subarray(4, 20));
        if (!this.#users.get(user)?.has(id)) {
          this.#add(user, {
            id,
            seg,
            file: path,
            offset: at + RECORD_HEADER_BYTES,
            bytes: length,
            charge: RECORD_HEADER_BYTES + length,
            queued: true,
            written: true,
            atMs,
          });
          seg.live++;
        } else seg.takenBytes += RECORD_HEADER_BYTES + length;
        at = end;
      }
      seg.size = at;
    } finally {
      await h.close();
    }
    if (seg.live === 0) {
      this.#release(user, seg.takenBytes);
      this.#segmentGone(seg);
      await Deno.remove(path).catch(() => {});
    }
  }

  #segment(user: UserName, fileId: string, path?: string): Segment {
    const seq = path ? 0 : this.#nextSeq++;
    this.#segments.set(user, (this.#segments.get(user) ?? 0) + 1);
    this.#segmentsTotal++;
    return {
      user,
      fileId,
      path: path ?? join(this.#o.dir, user, `${fileId}-${seq.toString(16).padStart(8, "0")}.seg`),
      size: 0,
      live: 0,
      takenBytes: 0,
      sealed: false,
      deleted: false,
      order: [],
      writes: 0,
      syncing: false,
      failedAt: -1,
      busy: 0,
    };
  }

  /** Marks a segment deleted and gives back its place in the counts. */
  #segmentGone(seg: Segment): void {
    seg.deleted = true;
    if (seg.origin !== undefined) this.segmentShare.release(seg.user, seg.origin, 1);
    const n = (this.#segments.get(seg.user) ?? 1) - 1;
    if (n > 0) this.#segments.set(seg.user, n);
    else this.#segments.delete(seg.user);
    this.#segmentsTotal--;
  }

  /** Segment files kept, for every user together. */
  get segments(): number {
    return this.#segmentsTotal;
  }

  #add(user: UserName, held: Held): void {
    let m = this.#users.get(user);
    if (!m) this.#users.set(user, m = new Map());
    m.set(held.id, held);
    this.#heldBytes.set(user, this.heldBytes(user) + held.charge);
    this.#totalBytes += held.charge;
  }

  #release(user: UserName, bytes: number): void {
    if (bytes === 0) return;
    this.#heldBytes.set(user, this.heldBytes(user) - bytes);
    this.#totalBytes -= bytes;
  }

  /** Bytes on disk for every user together. */
  get totalBytes(): number {
    return this.#totalBytes;
  }

  /** Bytes on disk (or reserved) for `user`. */
  heldBytes(user: UserName): number {
    return this.#heldBytes.get(user) ?? 0;
  }

  /**
   * Checks a chunk against the limits and, when it fits, reserves its room.
   * Call {@linkcode write} next (or {@linkcode remove} to give the room back).
   */
  admit(
    user: UserName,
    chunk: { id: string; fileId: string; index: number; fileBytes: number; bytes: number },
    origin?: string,
  ): SpoolVerdict {
    const held = this.#users.get(user)?.get(chunk.id);
    if (held) {
      // Ids are no secret: another node's chunk under this id is not a copy of it.
      const other = held.origin !== undefined && origin !== undefined && held.origin !== origin;
      return other ? "taken" : "duplicate";
    }
    if (chunk.fileBytes > this.#o.maxFileBytes) return "too-large";
    const charge = RECORD_HEADER_BYTES + chunk.bytes;
    if (this.heldBytes(user) + charge > this.#o.quotaBytes) return "quota-full";
    if (this.#totalBytes + charge > this.#o.totalBytes) return "quota-full";
    if (
      origin !== undefined &&
      !this.byteShare.fits(user, origin, charge, this.heldBytes(user), this.#o.quotaBytes)
    ) return "quota-full";
    const key = `${user}/${chunk.fileId}`;
    let seg = this.#current.get(key);
    if (!seg || seg.sealed || seg.deleted) {
      const perUser = this.#o.segmentsPerUser ?? SEGMENTS_PER_USER;
      const mine = this.#segments.get(user) ?? 0;
      if (
        mine >= perUser || this.#segmentsTotal >= (this.#o.segmentsTotal ?? SEGMENTS_TOTAL) ||
        (origin !== undefined && !this.segmentShare.fits(user, origin, 1, mine, perUser))
      ) return "quota-full";
      this.#current.set(key, seg = this.#segment(user, chunk.fileId));
      if (origin !== undefined) {
        seg.origin = origin;
        this.segmentShare.take(user, origin, 1);
      }
    }
    if (origin !== undefined) this.byteShare.take(user, origin, charge);
    seg.live++;
    this.#add(user, {
      id: chunk.id,
      seg,
      file: seg.path,
      offset: -1,
      bytes: chunk.bytes,
      charge,
      queued: false,
      written: false,
      atMs: Date.now(),
      origin,
    });
    return "ok";
  }

  /**
   * Writes an admitted chunk; resolves once it is durable, and once every
   * chunk before it in its segment is (after a crash the node reads a
   * segment up to its first torn record, so a chunk is acknowledged only
   * when nothing before it can be torn). Writes go to the disk at once, at
   * offsets reserved here; one `fdatasync` at a time covers every write done
   * before it, so the disk is never idle while chunks wait and a slow sync
   * does not hold the next chunks' writes back. `bytes` are copied (into a
   * pooled buffer, given back once written, or kept until the chunk is taken:
   * see {@linkcode withChunk}) before this returns: the caller may reuse them
   * at once (a link's record buffer, SecureChannel.lendLargeRecords).
   *
   * @throws {Error} the disk refused it (full, permissions); the reservation is released
   */
  write(user: UserName, id: string, bytes: Uint8Array): Promise<void> {
    const held = this.#users.get(user)?.get(id);
    if (!held || held.queued || !held.seg) {
      return Promise.reject(new Error(`Cannot write chunk ${id}: not admitted`));
    }
    if (bytes.length !== held.bytes) {
      return Promise.reject(new RangeError(`Cannot write chunk ${id}: not the size admitted`));
    }
    const seg = held.seg;
    held.queued = true;
    if (seg.failedAt >= 0 || seg.deleted) {
      this.#dropUnwritten(held);
      return Promise.reject(new Error(`Cannot write chunk ${id}: its segment failed`));
    }
    const offset = seg.size;
    seg.size += RECORD_HEADER_BYTES + bytes.length;
    if (seg.size >= SEGMENT_BYTES) seg.sealed = true;
    held.offset = offset + RECORD_HEADER_BYTES;
    // Header and chunk in one buffer: one write per record.
    const length = RECORD_HEADER_BYTES + bytes.length;
    const buf = this.#takeBuffer(length);
    const view = new DataView(buf.buffer, buf.byteOffset, RECORD_HEADER_BYTES);
    view.setUint32(0, MAGIC);
    buf.set(fromHex(id), 4);
    view.setUint32(20, bytes.length);
    buf.set(bytes, RECORD_HEADER_BYTES);
    return new Promise((resolve, reject) => {
      const rec: Rec = {
        held,
        bytes: buf.subarray(0, length),
        buf,
        offset,
        state: "writing",
        done: (e) => e === undefined ? resolve() : reject(e),
      };
      seg.order.push(rec);
      void this.#writeRecord(seg, rec);
    });
  }

  async #writeRecord(seg: Segment, rec: Rec): Promise<void> {
    seg.busy++;
    seg.writes++;
    try {
      if (!this.#dirs.has(seg.user)) {
        await Deno.mkdir(join(this.#o.dir, seg.user), { recursive: true, mode: 0o700 });
        this.#dirs.add(seg.user);
      }
      const h = await this.#handle(seg);
      await writeAll(h, rec.bytes, rec.offset);
      rec.state = "written";
      // Kept for the client (handed over once durable), while there is room and it is wanted.
      const wanted = this.#users.get(seg.user)?.get(rec.held.id) === rec.held;
      const room = this.#kept < (this.#o.keptCopies ?? MAX_KEPT_COPIES);
      if (rec.buf && wanted && room && !rec.held.copy) {
        rec.held.copy = rec.buf;
        this.#kept++;
        rec.buf = null;
      }
    } catch (e) {
      this.#fail(seg, rec.offset, e);
    } finally {
      seg.busy--;
      seg.writes--;
      if (rec.buf) this.#giveBuffer(rec.buf);
      rec.buf = null;
      rec.bytes = EMPTY;
    }
    await this.#sync(seg);
  }

  /** Makes the written records durable, one fdatasync at a time; acknowledges in offset order. */
  async #sync(seg: Segment): Promise<void> {
    if (seg.syncing) return;
    const batch = seg.order.filter((r) => r.state === "written");
    if (batch.length === 0) return await this.#settled(seg);
    seg.syncing = true;
    seg.busy++;
    try {
      await (await this.#handle(seg)).datasync();
      for (const r of batch) if (r.state === "written") r.state = "synced";
    } catch (e) {
      this.#fail(seg, batch[0].offset, e);
    } finally {
      seg.syncing = false;
      seg.busy--;
    }
    const now = Date.now();
    while (seg.order[0]?.state === "synced") {
      const r = seg.order.shift()!;
      r.held.written = true;
      r.held.atMs = now;
      r.done();
    }
    // Writes that finished during this sync get the next one.
    if (seg.order.some((r) => r.state === "written")) void this.#sync(seg);
    else await this.#settled(seg);
  }

  /**
   * A write or sync failed at `offset`: that record and every one after it in
   * the segment fail (a restart would stop reading there), and the segment
   * takes no more; its file is cut back there once its writes have ended.
   */
  #fail(seg: Segment, offset: number, e: unknown): void {
    if (seg.failedAt < 0 || offset < seg.failedAt) seg.failedAt = offset;
    seg.sealed = true;
    // The folder may have gone (removed by hand): made again for the next chunk.
    this.#dirs.delete(seg.user);
    const gone = seg.order.filter((r) => r.offset >= seg.failedAt);
    seg.order = seg.order.filter((r) => r.offset < seg.failedAt);
    for (const r of gone) {
      this.#dropUnwritten(r.held);
      r.done(e);
    }
  }

  /** Nothing in flight: cut a failed segment back, and delete one nothing needs. */
  async #settled(seg: Segment): Promise<void> {
    if (seg.writes > 0 || seg.syncing) return;
    if (seg.failedAt >= 0 && seg.size > seg.failedAt && !seg.deleted) {
      seg.size = seg.failedAt;
      seg.busy++;
      try {
        await (await this.#handle(seg)).truncate(seg.failedAt);
      } catch {
        /* a restart cuts it at the torn record */
      } finally {
        seg.busy--;
      }
    }
    await this.#maybeDelete(seg);
  }

  /** A chunk whose record is not on disk (failed, or removed before): its room is given back. */
  #dropUnwritten(held: Held): void {
    this.#dropCopy(held);
    const m = this.#users.get(held.seg!.user);
    // A chunk taken meanwhile is counted in its segment's taken bytes (freed with the segment).
    if (m?.get(held.id) !== held) return;
    m.delete(held.id);
    held.seg!.live--;
    this.#release(held.seg!.user, held.charge);
    this.#unshare(held.seg!.user, held);
  }

  #handle(seg: Segment): Promise<FileHandle> {
    let p = this.#handles.get(seg);
    if (p) {
      this.#handles.delete(seg);
      this.#handles.set(seg, p);
      return p;
    }
    // Positional reads and writes: not O_APPEND, which would ignore the position.
    const opened = openFile(seg.path, constants.O_RDWR | constants.O_CREAT, 0o600);
    opened.catch(() => {
      if (this.#handles.get(seg) === opened) this.#handles.delete(seg);
    });
    this.#handles.set(seg, p = opened);
    for (const [other, op] of this.#handles) {
      if (this.#handles.size <= MAX_OPEN_FILES) break;
      if (other.busy > 0) continue;
      this.#handles.delete(other);
      op.then((h) => h.close()).catch(() => {});
    }
    return p;
  }

  /** Deletes a segment's file once nothing in it is wanted and nothing uses it. */
  async #maybeDelete(seg: Segment): Promise<void> {
    if (seg.live > 0 || seg.order.length > 0 || seg.writes > 0 || seg.syncing || seg.busy > 0) {
      return;
    }
    if (!seg.deleted) {
      this.#segmentGone(seg);
      const key = `${seg.user}/${seg.fileId}`;
      if (this.#current.get(key) === seg) this.#current.delete(key);
      this.#release(seg.user, seg.takenBytes);
      seg.takenBytes = 0;
    }
    const p = this.#handles.get(seg);
    this.#handles.delete(seg);
    await p?.then((h) => h.close()).catch(() => {});
    await Deno.remove(seg.path).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) {
        this.#o.log.warn("cannot delete a spool segment", { why: (e as Error).message });
      }
    });
  }

  /** Largest file (plaintext bytes) a chunk may claim to belong to. */
  get maxFileBytes(): number {
    return this.#o.maxFileBytes;
  }

  /** Whether chunk `id` of `user` is held (admitted, written or not). */
  holds(user: UserName, id: string): boolean {
    return this.#users.get(user)?.has(id) === true;
  }

  /** Whether chunk `id` of `user` is held and durable (written, and every record before it). */
  isDurable(user: UserName, id: string): boolean {
    return this.#users.get(user)?.get(id)?.written === true;
  }

  /** Written chunks of `user` in the order they should be handed over. */
  *pending(user: UserName): Generator<{ id: string; bytes: number }> {
    for (const [id, h] of this.#users.get(user) ?? []) {
      if (h.written) yield { id, bytes: h.bytes };
    }
  }

  /**
   * Lends one durable chunk envelope to `use` for the duration of that
   * (synchronous) call only, then reuses its buffer: `use` must copy what it
   * keeps. A chunk written in this run is lent from the bytes its record was
   * written from, at once (the first time; {@linkcode MAX_KEPT_COPIES} at most
   * are kept); else it is read back from its segment.
   *
   * @throws {Error} gone
   */
  async withChunk(user: UserName, id: string, use: (envelope: Uint8Array) => void): Promise<void> {
    const held = this.#users.get(user)?.get(id);
    if (!held?.written) throw new Error(`Cannot read chunk ${id}: not held`);
    if (held.copy) {
      const copy = held.copy;
      try {
        return use(copy.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + held.bytes));
      } finally {
        this.#dropCopy(held);
      }
    }
    const seg = held.seg;
    if (!seg) return use(await Deno.readFile(held.file));
    const buf = this.#takeBuffer(held.bytes);
    seg.busy++;
    try {
      const h = await this.#handle(seg);
      let at = 0;
      // Bounded: each pass reads at least one byte or stops.
      while (at < held.bytes) {
        const { bytesRead } = await h.read(buf, at, held.bytes - at, held.offset + at);
        if (bytesRead === 0) throw new Error(`Cannot read chunk ${id}: its segment is short`);
        at += bytesRead;
      }
      use(buf.subarray(0, held.bytes));
    } finally {
      seg.busy--;
      this.#giveBuffer(buf);
      await this.#maybeDelete(seg);
    }
  }

  /** Gives a chunk's kept copy back to the pool (taken, dropped, or handed over). */
  #dropCopy(held: Held): void {
    if (!held.copy) return;
    this.#giveBuffer(held.copy);
    held.copy = null;
    this.#kept--;
  }

  /** A buffer of at least `n` bytes from the pool, or a new one. */
  #takeBuffer(n: number): Uint8Array {
    const buf = this.#pool.pop();
    return buf && buf.length >= n ? buf : new Uint8Array(n);
  }

  /** Gives a buffer back once nothing refers to it any more. */
  #giveBuffer(buf: Uint8Array): void {
    if (this.#pool.length < POOLED_BUFFERS) this.#pool.push(buf);
  }

  /**
   * Deletes chunks written more than `keepMs` before `nowMs` that no client
   * took; returns how many went.
   */
  async expire(nowMs: number): Promise<number> {
    let gone = 0;
    for (const [user, chunks] of this.#users) {
      const old = [...chunks].filter(([, h]) => h.written && nowMs - h.atMs > this.#o.keepMs);
      if (old.length === 0) continue;
      await this.remove(user, old.map(([id]) => id));
      gone += old.length;
    }
    if (gone > 0) this.#o.log.info("expired chunks no client took", { chunks: gone });
    return gone;
  }

  /** A chunk left the spool's index: its bytes leave its sender's share. */
  #unshare(user: UserName, held: Held): void {
    if (held.origin !== undefined) this.byteShare.release(user, held.origin, held.charge);
  }

  /** Forgets chunks the client took (all at once), then deletes the files nothing needs. */
  async remove(user: UserName, ids: string[]): Promise<void> {
    const m = this.#users.get(user);
    if (!m) return;
    const segments = new Set<Segment>();
    const legacy: string[] = [];
    for (const id of ids) {
      const held = m.get(id);
      if (!held) continue;
      if (!held.seg) {
        m.delete(id);
        this.#release(user, held.charge);
        legacy.push(held.file);
      } else if (!held.queued) {
        this.#dropUnwritten(held);
      } else {
        m.delete(id);
        this.#dropCopy(held);
        this.#unshare(user, held);
        held.seg.live--;
        // Its record stays on disk (and counted) until its segment's file goes.
        held.seg.takenBytes += held.charge;
        segments.add(held.seg);
      }
    }
    for (const seg of segments) await this.#maybeDelete(seg);
    for (const file of legacy) {
      await Deno.remove(file).catch((e) =>
        this.#o.log.warn("cannot delete a taken chunk", { user, why: (e as Error).message })
      );
    }
  }

  /** Closes the open files (the spool is not used after this). */
  async close(): Promise<void> {
    const handles = [...this.#handles.values()];
    this.#handles.clear();
    await Promise.all(handles.map((p) => p.then((h) => h.close()).catch(() => {})));
  }
}

async function writeAll(h: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let at = 0;
  // Bounded: each pass writes at least one byte or throws.
  while (at < bytes.length) {
    const { bytesWritten } = await h.write(bytes, at, bytes.length - at, position + at);
    if (bytesWritten === 0) throw new Error("Cannot write to the spool: no progress");
    at += bytesWritten;
  }
}

function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
