/**
 * The receiving side of one file transfer (private to lib/client): chunks
 * from the node are authenticated (lib/e2e: file id, index and final flag
 * are in the associated data), written at their offset in a temporary file
 * in the downloads folder, marked in a bitmap in the client store, and only
 * then acknowledged to the node, which deletes them. A chunk that fails to
 * authenticate (altered on the way) is asked for again, at most
 * {@linkcode MAX_ATTEMPTS} times, then the transfer fails loudly. Once every
 * chunk is there and the whole-file digest is known, the digest is checked;
 * only then is the file given its sanitised, unused name.
 *
 * Manifest v2 (docs/PROTOCOL.md §13): each chunk's SHA-256 is taken from the
 * plaintext as it is decrypted (32 bytes a chunk, kept in memory), and the
 * sender's digest comes after the chunks (`file-digest`), so the file is not
 * read back; only chunks written before a restart of this client are read
 * again to hash them. Manifest v1 (digest in the offer): the file is read back
 * once, as before.
 */
import { join } from "node:path";
import * as e2e from "../e2e/mod.ts";
import type { ChunkBody } from "../protocol/mod.ts";
import type { TransferRow } from "./client_store.ts";
import {
  type FileContext,
  type FileStep,
  hasBit,
  MAX_ATTEMPTS,
  nextTurn,
  NOTHING,
  PositionedFile,
  RateMeter,
  setBit,
} from "./_file_context.ts";
import { numberedFileName } from "./file_name.ts";
import { NODE_AEAD } from "./node_aead.ts";
import { NODE_CHACHA20_POLY1305, sha256Sync } from "./node_file_cipher.ts";
import { storeFailure } from "../store/mod.ts";

/**
 * Chunks written before their progress is stored and they are acknowledged: 1 MiB of 256 KiB
 * chunks, so a sender's 4 MiB window (file_transfers.ts) has four batches moving at once. With
 * 8 a 4 MiB window lost ~10 % of the rate (docs/PERF_NOTES.md, `bobrss`, `window4`).
 */
const ACK_BATCH = 4;
/** Buffers of queued chunks kept for reuse once written (the node pushes at most 4 MiB). */
const POOLED_CHUNKS = 16;
/**
 * A full disk is waited out: the write is tried again this often, at most
 * {@linkcode DISK_FULL_TRIES} times (an hour), before the transfer fails.
 * Meanwhile nothing is acknowledged, so the node keeps the chunks.
 */
const DISK_FULL_RETRY_MS = 1000;
const DISK_FULL_TRIES = 3600;
/**
 * v2, every chunk in and no digest: the sender is asked for it again (`file-digest-ask`) this
 * long after the last chunk came (in this run), then {@linkcode DIGEST_ASK_AGAIN_MS} after each
 * ask, at most {@linkcode MAX_ATTEMPTS} times in all (counted in the store, across restarts).
 */
export const DIGEST_WAIT_MS = 60_000;
export const DIGEST_ASK_AGAIN_MS = 10 * 60_000;

/** Where a transfer's data waits until it checks out. */
export function partPath(downloadsDir: string, id: string): string {
  return join(downloadsDir, `.${id}.part`);
}

/** One incoming transfer while it is being received. */
export class FileReceiving {
  row: TransferRow;
  readonly rate = new RateMeter();
  #ctx: FileContext;
  #dir: string;
  #manifest: e2e.FileManifest;
  #decryptor: e2e.FileDecryptor;
  #file: PositionedFile | null = null;
  /**
   * v2: each chunk's SHA-256 as it was decrypted in this run, and which are known
   * (made at the first chunk: a transfer no chunk came for holds no memory).
   */
  #digests: Uint8Array | null = null;
  #hashed: Uint8Array | null = null;
  /**
   * Each chunk is decrypted into this buffer, written and hashed from it, before the
   * next one is decrypted (the chain below runs one chunk at a time): one buffer for the
   * whole file instead of a fresh one per chunk.
   */
  #plain: Uint8Array | null = null;
  /** Buffers that held queued sealed chunks, written and free for the next ones. */
  #spare: Uint8Array[] = [];
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;
  #acks: string[] = [];
  #finishing = false;
  /** A flush waiting out a full disk, and how many times in a row it found it full. */
  #flushRetry: ReturnType<typeof setTimeout> | undefined;
  #flushFull = 0;
  /** When every chunk was first seen in without a digest in this run, or the last ask. */
  #waitingSinceMs: number | null = null;

  constructor(ctx: FileContext, row: TransferRow, downloadsDir: string) {
    this.#ctx = ctx;
    this.row = row;
    this.#dir = downloadsDir;
    this.#manifest = e2e.decodeFileManifest(row.manifest);
    this.#decryptor = new e2e.FileDecryptor(this.#manifest, {
      aead: NODE_AEAD,
      chacha20Poly1305: NODE_CHACHA20_POLY1305,
    });
  }

  async #open(): Promise<PositionedFile> {
    this.#file ??= new PositionedFile(
      await Deno.open(partPath(this.#dir, this.row.id), { read: true, write: true, create: true }),
    );
    return this.#file;
  }

  /**
   * The sender's whole-file digest (v2, `file-digest`): kept in the stored
   * manifest; the file is checked against it once every chunk is in. Returns
   * the store write (in the ratchet's transaction) and what to do after it.
   */
  takeDigest(digest: Uint8Array): FileStep {
    if (this.#manifest.version !== 2 || digest.length !== 32) return NOTHING;
    const known = this.#manifest.digest;
    if (known !== null) {
      if (e2e.constantTimeEqual(known, digest)) return NOTHING; // a repeat
      return {
        write: () => {},
        after: () => this.fail("Cannot save file: the sender sent two different digests", true),
      };
    }
    const manifest = { ...this.#manifest, digest };
    const encoded = e2e.encodeFileManifest(manifest);
    return {
      write: () => this.#ctx.store.putTransfer({ ...this.row, manifest: encoded }),
      after: () => {
        this.row.manifest = encoded;
        this.#manifest = manifest;
        if (this.row.state === "receiving" && this.complete) void this.finish();
      },
    };
  }

  /**
   * v2, every chunk in and no digest (it was lost: it came before the offer and this client
   * restarted, or it never came): asks the sender for it again, at most
   * {@linkcode MAX_ATTEMPTS} times (`row.attempts.digest`, stored), after
   * {@linkcode DIGEST_WAIT_MS} and then {@linkcode DIGEST_ASK_AGAIN_MS} apart. The answer is
   * an ordinary `file-digest` (takeDigest: a different one fails the transfer). Past the last
   * ask the transfer waits for the stall lifetime, as before. Run on the transfers' tick.
   */
  askDigest(now: number): void {
    const m = this.#manifest;
    if (this.row.state !== "receiving" || m.version !== 2 || m.digest !== null) return;
    const asked = this.row.attempts.digest ?? 0;
    if (asked >= MAX_ATTEMPTS) return;
    // doneBytes first: the bitmap is read only once the bytes say every chunk is in.
    if (this.row.doneBytes !== this.row.size || !this.complete) {
      this.#waitingSinceMs = null;
      return;
    }
    if (this.#waitingSinceMs === null) {
      this.#waitingSinceMs = now;
      return;
    }
    if (now - this.#waitingSinceMs < (asked === 0 ? DIGEST_WAIT_MS : DIGEST_ASK_AGAIN_MS)) return;
    this.#waitingSinceMs = now;
    const attempt = asked + 1;
    this.#ctx.log.info("every chunk is in but no digest: asking the sender", {
      id: this.row.id,
      attempt,
    });
    void this.#ctx.sendInner(
      this.row.peer,
      { t: "file-digest-ask", id: this.row.id, attempt },
      () => {
        // Counted once sealed (then kept in the outbox until the node takes it): an ask that
        // could not be sealed costs no attempt.
        this.row.attempts = { ...this.row.attempts, digest: attempt };
        this.#ctx.store.putTransfer(this.row);
      },
    ).catch((e) => this.#ctx.log.info("cannot ask for a file digest yet", { why: String(e) }));
  }

  get complete(): boolean {
    for (let i = 0; i < this.#decryptor.chunkCount; i++) {
      if (!hasBit(this.row.done, i)) return false;
    }
    return true;
  }

  /**
   * Queues one chunk (chunks are written one after another). With `keep` (the
   * node's message is lent: in process), the message is kept until the chunk
   * is written and then handed back; else its sealed bytes are copied before
   * this returns (into a buffer reused once the chunk is written), as the
   * message may be reused as soon as its handler returns.
   */
  take(id: string, chunk: ChunkBody, keep?: () => () => void): void {
    this.#queued++;
    let release: () => void;
    let kept = chunk;
    if (keep) {
      release = keep();
    } else {
      const spare = this.#spare.pop();
      const buf = spare && spare.length >= chunk.sealed.length
        ? spare
        : new Uint8Array(chunk.sealed.length);
      buf.set(chunk.sealed);
      kept = { ...chunk, sealed: buf.subarray(0, chunk.sealed.length) };
      release = () => {
        if (this.#spare.length < POOLED_CHUNKS) this.#spare.push(buf);
      };
    }
    this.#chain = this.#chain.then(() => this.#write(id, kept)).catch((e) =>
      this.fail(`Cannot save file: ${(e as Error).message}`)
    ).finally(() => {
      // Decrypted (into #plain) and written, or dropped: nothing refers to the sealed bytes now.
      release();
      if (--this.#queued === 0 || this.#acks.length >= ACK_BATCH) this.#flush();
    });
  }

  async #write(id: string, c: ChunkBody): Promise<void> {
    // The write below is synchronous: one chunk per turn of the event loop, so the node's
    // sockets and the messages meanwhile are not held up for a queue of chunks.
    await nextTurn();
    this.#acks.push(id);
    if (this.row.state !== "receiving" || hasBit(this.row.done, c.index)) return;
    if (c.index >= this.#decryptor.chunkCount) return;
    let plain: Uint8Array;
    try {
      this.#plain ??= new Uint8Array(this.#manifest.chunkBytes);
      plain = await this.#decryptor.decryptChunk(c.index, c.sealed, { into: this.#plain });
    } catch {
      return this.#altered(c.index);
    }
    const file = await this.#open();
    await this.#whenRoom(() => file.writeAtSync(c.index * this.#manifest.chunkBytes, plain));
    if (this.#manifest.version === 2) {
      const count = this.#decryptor.chunkCount;
      this.#digests ??= new Uint8Array(32 * count);
      this.#hashed ??= new Uint8Array(Math.ceil(count / 8));
      this.#digests.set(sha256Sync(plain), c.index * 32);
      setBit(this.#hashed, c.index);
    }
    setBit(this.row.done, c.index);
    this.row.doneBytes += plain.length;
    this.rate.add(this.#ctx.clock.nowMs(), this.row.doneBytes);
  }

  #altered(index: number): void {
    const attempt = (this.row.attempts[index] ?? 0) + 1;
    this.#ctx.log.warn("a file chunk failed to authenticate", { id: this.row.id, index, attempt });
    if (attempt > MAX_ATTEMPTS) {
      return this.fail(
        `Cannot receive file: chunk ${index} arrived altered ${MAX_ATTEMPTS} times; giving up`,
        true,
      );
    }
    this.row.attempts = { ...this.row.attempts, [index]: attempt };
    void this.#ctx.sendInner(
      this.row.peer,
      { t: "file-resend", id: this.row.id, index, attempt },
      () => this.#ctx.store.putTransfer(this.row),
    ).catch((e) => this.#ctx.log.warn("cannot ask for a chunk again", { why: String(e) }));
  }

  /**
   * Runs a write, trying it again while the disk is full (the condition is
   * reported by the node and the store as it happens); any other error, or a
   * disk still full after {@linkcode DISK_FULL_TRIES}, is thrown.
   */
  async #whenRoom(write: () => unknown): Promise<void> {
    for (let tries = 1;; tries++) {
      try {
        await write();
        return;
      } catch (e) {
        if (storeFailure(e) !== "disk-full" || tries >= DISK_FULL_TRIES) throw e;
        if (this.row.state !== "receiving") throw e;
        if (tries === 1) {
          this.#ctx.log.warn("the disk is full: the file waits for room", { id: this.row.id });
        }
        await new Promise((resolve) => setTimeout(resolve, DISK_FULL_RETRY_MS));
      }
    }
  }

  /** Stores progress, then acknowledges the chunks written so far (the node deletes them). */
  #flush(): void {
    if (this.#acks.length === 0) return;
    const ids = this.#acks;
    this.#acks = [];
    if (this.row.state === "receiving" || this.row.state === "complete") {
      this.row.updatedAtMs = this.#ctx.clock.nowMs();
      try {
        this.#ctx.store.putTransfer(this.row);
      } catch (e) {
        if (storeFailure(e) !== "disk-full" || ++this.#flushFull >= DISK_FULL_TRIES) throw e;
        // Progress not stored: nothing is acknowledged yet (the node keeps the chunks); the
        // next chunk written, or this timer, tries again.
        this.#acks = ids.concat(this.#acks);
        this.#flushRetry ??= setTimeout(() => {
          this.#flushRetry = undefined;
          if (this.row.state !== "receiving") return;
          try {
            this.#flush();
          } catch (e) {
            this.fail(`Cannot save file: ${(e as Error).message}`);
          }
        }, DISK_FULL_RETRY_MS);
        return;
      }
      this.#flushFull = 0;
    }
    this.#ctx.connection.send({ type: "chunkAck", ids });
    if (this.row.state === "receiving" && this.complete) void this.finish();
    else this.#ctx.changed(this.row);
  }

  /** Checks the whole file against the sender's digest and saves it under its name. */
  async finish(): Promise<void> {
    if (this.#finishing || this.row.state !== "receiving") return;
    // v2: the digest comes after the chunks; finish() runs again when it does.
    const expected = this.#manifest.digest;
    if (expected === null) return;
    this.#finishing = true;
    const part = partPath(this.#dir, this.row.id);
    try {
      const file = await this.#open();
      await file.truncate(this.row.size);
      await file.syncData();
      if (!e2e.constantTimeEqual(await this.#digest(file), expected)) {
        await Deno.remove(part).catch(() => {});
        return this.fail("Cannot save file: its content does not match the sender's digest", true);
      }
      this.close();
      const saved = await placeWithoutOverwriting(part, this.#dir, this.row.name);
      this.row.path = saved.path;
      this.row.name = saved.name;
      this.row.state = "complete";
      this.row.updatedAtMs = this.#ctx.clock.nowMs();
      await this.#ctx.sendInner(
        this.row.peer,
        { t: "file-done", id: this.row.id },
        () => this.#ctx.store.putTransfer(this.row),
      ).catch((e) => {
        this.#ctx.store.putTransfer(this.row);
        this.#ctx.log.info("file saved; the sender is not told yet", { why: String(e) });
      });
      this.#ctx.changed(this.row, true);
    } catch (e) {
      this.fail(`Cannot save file: ${(e as Error).message}`, true);
    } finally {
      this.#finishing = false;
    }
  }

  /**
   * The whole-file digest of what was received: from the chunk digests taken
   * while decrypting (v2), reading back only the chunks not hashed in this run
   * (all of them for v1).
   */
  async #digest(file: PositionedFile): Promise<Uint8Array> {
    const { chunkBytes, version } = this.#manifest;
    const count = this.#decryptor.chunkCount;
    const d = new e2e.FileDigester(chunkBytes, version);
    let buf: Uint8Array | null = null;
    for (let i = 0; i < count; i++) {
      if (this.#digests && this.#hashed && hasBit(this.#hashed, i)) {
        d.add(this.#digests.subarray(i * 32, i * 32 + 32));
        continue;
      }
      buf ??= new Uint8Array(chunkBytes);
      const len = Math.min(chunkBytes, this.row.size - i * chunkBytes);
      d.add(sha256Sync(file.readIntoSync(i * chunkBytes, buf.subarray(0, len))));
      await nextTurn(); // one synchronous read per turn
    }
    return d.finish(this.row.size);
  }

  /** Ends the transfer with an error; `tell` lets the sender know. */
  fail(reason: string, tell = false): void {
    if (this.row.state !== "receiving") return;
    this.#ctx.log.warn("file transfer failed", { id: this.row.id, why: reason });
    this.row.state = "failed";
    this.row.reason = reason;
    this.row.updatedAtMs = this.#ctx.clock.nowMs();
    try {
      this.#ctx.store.putTransfer(this.row);
    } catch (e) {
      // Failed in memory and to the user now; the store says so once it can be written.
      this.#ctx.log.warn("cannot store the failed transfer", { why: (e as Error).message });
    }
    this.close();
    void Deno.remove(partPath(this.#dir, this.row.id)).catch(() => {});
    if (tell) {
      void this.#ctx.sendInner(this.row.peer, { t: "file-cancel", id: this.row.id, reason })
        .catch(() => {});
    }
    this.#ctx.changed(this.row, true);
  }

  close(): void {
    clearTimeout(this.#flushRetry);
    this.#flushRetry = undefined;
    this.#file?.close();
    this.#file = null;
  }
}

/**
 * Gives the checked file its name: `name`, else `name (1)`, `name (2)`...
 * A hard link never replaces an existing file, so nothing is overwritten
 * even when another program creates the same name meanwhile.
 */
async function placeWithoutOverwriting(
  part: string,
  dir: string,
  safeName: string,
): Promise<{ path: string; name: string }> {
  for (let n = 0; n < 10_000; n++) {
    const name = numberedFileName(safeName, n);
    const path = join(dir, name);
    try {
      await Deno.link(part, path);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) continue;
      throw e;
    }
    await Deno.remove(part);
    return { path, name };
  }
  throw new Error(`no free name for "${safeName}" in the downloads folder`);
}
