/**
 * The file spool: chunk envelopes kept on disk for local users until their
 * client has taken them, one file per chunk under `<dataDir>/files/<user>/`,
 * so a file of any size never sits in the store or in memory. Each chunk is
 * written to a temporary name and renamed, so a crash leaves whole chunks or
 * none. Limits: the largest file a sender may announce, and a per-user quota
 * of bytes held here (taken chunks are deleted at once and free it).
 */
import { join } from "node:path";
import type { UserName } from "../ids.ts";
import type { Logger } from "../log.ts";

/** What the spool says about a chunk before it is written. */
export type SpoolVerdict = "ok" | "duplicate" | "too-large" | "quota-full";

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
  /** A chunk not taken by its client within this long is deleted (the sender's file expired). */
  keepMs: number;
  log: Logger;
}

interface Held {
  file: string;
  bytes: number;
  written: boolean;
  /** When it was written (this node's clock; the file's mtime after a restart). */
  atMs: number;
}

const NAME = /^([0-9a-f]{32})-([0-9a-f]{8})-([0-9a-f]{32})\.chunk$/;

/** Chunks waiting for local users' clients. */
export class FileSpool {
  #o: FileSpoolOptions;
  #users = new Map<UserName, Map<string, Held>>();
  #heldBytes = new Map<UserName, number>();
  #totalBytes = 0;
  /** Users whose folder exists (made once, not once per chunk). */
  #dirs = new Set<UserName>();

  private constructor(o: FileSpoolOptions) {
    this.#o = o;
  }

  /** Opens the spool, finding the chunks kept before a restart and removing half-written ones. */
  static async open(o: FileSpoolOptions): Promise<FileSpool> {
    const spool = new FileSpool(o);
    await Deno.mkdir(o.dir, { recursive: true, mode: 0o700 });
    for await (const u of Deno.readDir(o.dir)) {
      if (!u.isDirectory) continue;
      const user = u.name as UserName;
      const names: string[] = [];
      for await (const f of Deno.readDir(join(o.dir, u.name))) {
        if (NAME.test(f.name)) names.push(f.name);
        else if (f.name.endsWith(".part")) await Deno.remove(join(o.dir, u.name, f.name));
      }
      // Per file, in index order.
      names.sort();
      for (const name of names) {
        const file = join(o.dir, u.name, name);
        const { size, mtime } = await Deno.stat(file);
        spool.#add(user, NAME.exec(name)![3], {
          file,
          bytes: size,
          written: true,
          atMs: mtime?.getTime() ?? Date.now(),
        });
      }
    }
    return spool;
  }

  #add(user: UserName, id: string, held: Held): void {
    let m = this.#users.get(user);
    if (!m) this.#users.set(user, m = new Map());
    m.set(id, held);
    this.#heldBytes.set(user, (this.#heldBytes.get(user) ?? 0) + held.bytes);
    this.#totalBytes += held.bytes;
  }

  /** Bytes waiting for every user together. */
  get totalBytes(): number {
    return this.#totalBytes;
  }

  /** Bytes waiting for `user` (including chunks being written). */
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
  ): SpoolVerdict {
    if (this.#users.get(user)?.has(chunk.id)) return "duplicate";
    if (chunk.fileBytes > this.#o.maxFileBytes) return "too-large";
    if (this.heldBytes(user) + chunk.bytes > this.#o.quotaBytes) return "quota-full";
    if (this.#totalBytes + chunk.bytes > this.#o.totalBytes) return "quota-full";
    const name = `${chunk.fileId}-${chunk.index.toString(16).padStart(8, "0")}-${chunk.id}.chunk`;
    this.#add(user, chunk.id, {
      file: join(this.#o.dir, user, name),
      bytes: chunk.bytes,
      written: false,
      atMs: Date.now(),
    });
    return "ok";
  }

  /**
   * Writes an admitted chunk (temporary name, then rename).
   *
   * @throws {Error} the disk refused it (full, permissions); the reservation is released
   */
  async write(user: UserName, id: string, bytes: Uint8Array): Promise<void> {
    const held = this.#users.get(user)?.get(id);
    if (!held) throw new Error(`Cannot write chunk ${id}: not admitted`);
    try {
      if (!this.#dirs.has(user)) {
        await Deno.mkdir(join(this.#o.dir, user), { recursive: true, mode: 0o700 });
        this.#dirs.add(user);
      }
      await Deno.writeFile(`${held.file}.part`, bytes, { mode: 0o600 });
      await Deno.rename(`${held.file}.part`, held.file);
      held.written = true;
    } catch (e) {
      // The folder may have gone (removed by hand): made again for the next chunk.
      this.#dirs.delete(user);
      await Deno.remove(`${held.file}.part`).catch(() => {});
      this.#forget(user, id);
      throw e;
    }
  }

  #forget(user: UserName, id: string): Held | undefined {
    const m = this.#users.get(user);
    const held = m?.get(id);
    if (!m || !held) return undefined;
    m.delete(id);
    this.#heldBytes.set(user, this.heldBytes(user) - held.bytes);
    this.#totalBytes -= held.bytes;
    return held;
  }

  /** Written chunks of `user` in the order they should be handed over. */
  *pending(user: UserName): Generator<{ id: string; bytes: number }> {
    for (const [id, h] of this.#users.get(user) ?? []) {
      if (h.written) yield { id, bytes: h.bytes };
    }
  }

  /** Reads one chunk envelope. @throws {Error} gone */
  async read(user: UserName, id: string): Promise<Uint8Array> {
    const held = this.#users.get(user)?.get(id);
    if (!held?.written) throw new Error(`Cannot read chunk ${id}: not held`);
    return await Deno.readFile(held.file);
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

  /** Deletes chunks the client took. */
  async remove(user: UserName, ids: string[]): Promise<void> {
    for (const id of ids) {
      const held = this.#forget(user, id);
      if (!held) continue;
      await Deno.remove(held.file).catch((e) =>
        this.#o.log.warn("cannot delete a taken chunk", { user, why: (e as Error).message })
      );
    }
  }
}
