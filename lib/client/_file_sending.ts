/**
 * The sending side of one file transfer (private to lib/client): reads the
 * file at chunk offsets into one reused buffer, hashes and seals each chunk
 * (lib/e2e with the node:crypto fast paths, synchronous), and
 * keeps at most `windowBytes` of chunks that the receiver's node has not
 * acknowledged yet. The node forwards a chunk without storing it; the
 * destination node's signed receipt comes back as a chunk result. A chunk
 * with no result after `retryMs` is sent again under the same envelope id
 * (the destination's de-duplication makes that harmless), so a broken link
 * or a restarted relay only delays the transfer. Which chunks are stored is
 * a bitmap in the client store, so a restarted client goes on from there.
 *
 * Manifest v2 (docs/PROTOCOL.md §13): the file is read once. Each chunk's
 * SHA-256 is kept (32 bytes a chunk, in memory) as it is sealed; once every
 * chunk has been read, the whole-file digest goes to the receiver through the
 * ratchet (`file-digest`) and into the stored manifest. A chunk read again
 * (a resend) whose bytes differ from the first read, or a file whose size or
 * modification time changed, fails the transfer: the receiver is told and
 * saves nothing. After a restart, the chunks sent before it are read again to
 * hash them (the only second read).
 */
import { SEND_ROOM_BYTES } from "../channel/mod.ts";
import { freeNow } from "../cipher_slices.ts";
import * as e2e from "../e2e/mod.ts";
import type { Address } from "../ids.ts";
import {
  chunkBodyParts,
  chunkEnvelopeIdWith,
  type ChunkResult,
  DEFAULT_TTL,
  encodeChunkSubmitParts,
  encodeEnvelopeParts,
  envelopeIdHex,
} from "../protocol/mod.ts";
import type { TransferRow } from "./client_store.ts";
import {
  clearBit,
  type FileContext,
  hasBit,
  MAX_ATTEMPTS,
  nextTurn,
  PositionedFile,
  RateMeter,
  setBit,
} from "./_file_context.ts";
import { NODE_AEAD } from "./node_aead.ts";
import { NODE_CHACHA20_POLY1305, sha256Sync } from "./node_file_cipher.ts";

/**
 * Chunks handed to a node in this process and not handed back yet, at most, for all of a
 * client's transfers together: the next one waits for one of them. That node hands a chunk back
 * only once the link it went on is below its high-water mark (lib/federation forwarder, `sent`),
 * so the link holds at most its high water plus this many chunks, under its pause mark (high
 * water plus one frame): it goes on reading what comes back (the receipts that open the window).
 * Counted only on a link that always hands back (`handsBack`), per connection (a reconnection
 * starts again from zero); nothing handed back for `retryMs` also starts again from zero (a
 * safety net: a pump never waits for good).
 */
export const MAX_LENT = 3;

/**
 * `chunkSubmit` buffers kept for reuse per transfer: the node hands one back once it is done
 * with it (sealed onto its link, and that link is below its high-water mark). One per chunk a
 * batch may hold (see `pump`).
 */
const POOLED_MESSAGES = MAX_LENT;

/** The chunks a client's transfers have handed to its node and not got back (see MAX_LENT). */
export class LentChunks {
  #count = 0;
  #epoch = 0;
  #atMs = 0;
  #waiting = new Set<() => void>();

  /**
   * Reserves room for one more chunk and returns the token to give it back with, or null when
   * the transfer must wait (`wake` then runs once one comes back). Reserved before the chunk is
   * read: another transfer's pump cannot take the same room meanwhile.
   */
  take(nowMs: number, retryMs: number, wake: () => void): number | null {
    if (this.#count >= MAX_LENT) {
      if (nowMs - this.#atMs < retryMs) {
        this.#waiting.add(wake);
        return null;
      }
      this.reset();
    }
    this.#count++;
    this.#atMs = nowMs;
    return this.#epoch;
  }

  /** One handed back (ignored when lent before a reset). */
  back(token: number, nowMs: number): void {
    if (token !== this.#epoch) return;
    this.#count--;
    this.#atMs = nowMs;
    this.#wake();
  }

  /** What is out is not waited for any more (a new connection, or nothing came back). */
  reset(): void {
    this.#epoch++;
    this.#count = 0;
    this.#wake();
  }

  #wake(): void {
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const fn of waiting) fn();
  }
}

/** Why a transfer stops when the file is not what was offered any more. */
const CHANGED = "Cannot send file: it changed while it was being sent; send it again";

class FileChanged extends Error {}

interface InFlight {
  index: number;
  bytes: number;
  sentAtMs: number;
}

/** One outgoing transfer while it is being sent. */
export class FileSending {
  row: TransferRow;
  readonly rate = new RateMeter();
  #ctx: FileContext;
  #manifest: e2e.FileManifest;
  #sealer: e2e.FileChunkSealer;
  #file: PositionedFile | null = null;
  /** The read buffer, reused for every chunk (its bytes are sealed before the next read). */
  #buf: Uint8Array | null = null;
  /** `chunkSubmit` buffers the node is done with, reused for the next chunks. */
  #messages: Uint8Array<ArrayBuffer>[] = [];
  /** v2 before the digest is sent: each chunk's SHA-256, and which are known. */
  #digests: Uint8Array | null = null;
  #hashed: Uint8Array | null = null;
  #hashedCount = 0;
  #digestSending = false;
  /** The file's modification time when offered (this run) or first opened. */
  #mtimeMs: number | null;
  #inflight = new Map<string, InFlight>();
  #inflightIdx = new Set<number>();
  #inflightBytes = 0;
  #cursor = 0;
  #redo: number[] = [];
  #pumping = false;
  #retryAtMs = 0;
  #dirty = false;
  #windowBytes: number;
  /** Chunks handed to the node and not back yet, shared with the client's other transfers. */
  #lent: LentChunks;
  /** Woken while pumping (a chunk came back): pump again once done. */
  #woken = false;
  #wake = () => {
    this.#woken = true;
    if (!this.#pumping) void this.pump();
  };
  #retryMs: number;
  #byChunkId: Map<string, FileSending>;

  constructor(
    ctx: FileContext,
    row: TransferRow,
    { windowBytes, retryMs, byChunkId, mtimeMs = null, lent = new LentChunks() }: {
      windowBytes: number;
      retryMs: number;
      /** Chunks handed to the node and not back yet, for all of this client's transfers. */
      lent?: LentChunks;
      /** Where chunk envelope ids in flight are registered, to route results back. */
      byChunkId: Map<string, FileSending>;
      /** The file's modification time when it was offered, if known. */
      mtimeMs?: number | null;
    },
  ) {
    this.#byChunkId = byChunkId;
    this.#lent = lent;
    this.#ctx = ctx;
    this.row = row;
    this.#manifest = e2e.decodeFileManifest(row.manifest);
    this.#sealer = new e2e.FileChunkSealer(this.#manifest, {
      aead: NODE_AEAD,
      chacha20Poly1305: NODE_CHACHA20_POLY1305,
    });
    this.#windowBytes = windowBytes;
    this.#retryMs = retryMs;
    this.#mtimeMs = mtimeMs;
    if (this.#manifest.digest === null) {
      const count = this.#sealer.chunkCount;
      this.#digests = new Uint8Array(32 * count);
      this.#hashed = new Uint8Array(Math.ceil(count / 8));
    }
  }

  /** Whether the receiver has (or is being sent) the whole-file digest. */
  get #digestSent(): boolean {
    return this.#manifest.digest !== null;
  }

  #done(): boolean {
    // Cheap test first: the byte count reaches the size only when every chunk is in.
    if (this.row.doneBytes < this.row.size) return false;
    for (let i = 0; i < this.#sealer.chunkCount; i++) if (!hasBit(this.row.done, i)) return false;
    return true;
  }

  #next(): number | null {
    while (this.#redo.length > 0) {
      const i = this.#redo.shift()!;
      if (!hasBit(this.row.done, i) && !this.#inflightIdx.has(i)) return i;
    }
    while (this.#cursor < this.#sealer.chunkCount) {
      const i = this.#cursor++;
      if (!hasBit(this.row.done, i) && !this.#inflightIdx.has(i)) return i;
    }
    return null;
  }

  async #open(): Promise<PositionedFile> {
    if (this.#file) return this.#file;
    const file = new PositionedFile(await Deno.open(this.row.path!, { read: true }));
    const info = await file.stat();
    const mtimeMs = info.mtime?.getTime() ?? null;
    if (info.size !== this.row.size || (this.#mtimeMs !== null && mtimeMs !== this.#mtimeMs)) {
      file.close();
      throw new FileChanged(CHANGED);
    }
    this.#mtimeMs ??= mtimeMs;
    this.#file = file;
    return file;
  }

  /** Reads chunk `index` into the reused buffer; valid until the next read. */
  async #read(index: number): Promise<Uint8Array> {
    const file = await this.#open();
    const bytes = this.#sealer.plainChunkBytes(index);
    this.#buf ??= new Uint8Array(this.#manifest.chunkBytes);
    const plain = file.readIntoSync(
      index * this.#manifest.chunkBytes,
      this.#buf.subarray(0, bytes),
    );
    this.#noteDigest(index, plain);
    return plain;
  }

  /** Keeps chunk `index`'s SHA-256 (v2, digest not sent); a second read must give the same. */
  #noteDigest(index: number, plain: Uint8Array): void {
    if (!this.#digests || !this.#hashed) return;
    const h = sha256Sync(plain);
    const at = index * 32;
    if (hasBit(this.#hashed, index)) {
      if (!e2e.constantTimeEqual(h, this.#digests.subarray(at, at + 32))) {
        throw new FileChanged(CHANGED);
      }
      return;
    }
    this.#digests.set(h, at);
    setBit(this.#hashed, index);
    this.#hashedCount++;
  }

  /**
   * Sends chunks while the window has room; one pump at a time. On a link that hands chunks
   * back (in process), up to {@linkcode MAX_LENT} chunks are read and sealed first and then
   * handed over together, in one turn: the node proves the envelopes it is given in one turn as
   * one batch (lib/federation provenance), so one Ed25519 signature covers them, and the relay
   * and the destination verify it once for all of them. Nothing else about the proof changes.
   */
  async pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    this.#woken = false;
    /** Chunks sealed and not handed over yet, each with the room reserved for it (or null). */
    const ready: Array<{ message: Uint8Array<ArrayBuffer>; token: number | null }> = [];
    /** Room reserved for the chunk being read, until it is ready. */
    let token: number | null = null;
    try {
      const handsBack = this.#ctx.connection.handsBack;
      const most = handsBack ? MAX_LENT : 1;
      while (this.#canSend()) {
        while (ready.length < most && this.#canSend()) {
          if (handsBack) {
            token = this.#lent.take(this.#ctx.clock.nowMs(), this.#retryMs, this.#wake);
            if (token === null) break;
          }
          const index = this.#next();
          if (index === null) {
            // Nothing (more) to read: the room reserved for it is not kept.
            if (token !== null) this.#lent.back(token, this.#ctx.clock.nowMs());
            token = null;
            break;
          }
          const plain = await this.#read(index);
          const attempt = this.row.attempts[index] ?? 0;
          const id = chunkEnvelopeIdWith(sha256Sync, this.#manifest.fileId, index, attempt);
          const hex = envelopeIdHex(id);
          this.#inflight.set(hex, {
            index,
            bytes: plain.length,
            sentAtMs: this.#ctx.clock.nowMs(),
          });
          this.#byChunkId.set(hex, this);
          this.#inflightIdx.add(index);
          this.#inflightBytes += plain.length;
          // Sealed (synchronously, node:crypto) before the buffer is read into again.
          ready.push({ message: await this.#seal(id, index, plain), token });
          token = null;
        }
        if (ready.length === 0) break;
        // Handed over in one go: the node gets them in the same turn (one proof for all).
        for (const r of ready.splice(0)) this.#send(r.message, r.token);
        // The reads are synchronous: let the node write these chunks onto its link (its socket
        // writes wait for the next turn) before the next ones, else a window's worth waits
        // unsent and the link's limit closes it.
        await nextTurn();
      }
      if (
        !this.#digestSent && this.#cursor >= this.#sealer.chunkCount &&
        this.row.state === "sending" && this.#ctx.connection.up
      ) await this.#sendDigest();
    } catch (e) {
      if (e instanceof FileChanged) this.fail(e.message, true);
      else this.fail(`Cannot send file: ${(e as Error).message}`);
    } finally {
      const now = this.#ctx.clock.nowMs();
      if (token !== null) this.#lent.back(token, now);
      // Sealed but not handed over (the transfer failed meanwhile): their room is free again.
      for (const r of ready) if (r.token !== null) this.#lent.back(r.token, now);
      this.#pumping = false;
    }
    // A chunk came back while this pump was still running (sending the digest).
    if (this.#woken) void this.pump();
  }

  /** Whether the pump may send another chunk now. */
  #canSend(): boolean {
    return this.row.state === "sending" && this.#ctx.connection.up &&
      this.#inflightBytes < this.#windowBytes && this.#ctx.clock.nowMs() >= this.#retryAtMs;
  }

  /**
   * Every chunk was read once: the whole-file digest goes to the receiver
   * (through the ratchet) and into the stored manifest. Runs inside the pump
   * (it may read the file, into the shared buffer); the send itself is not
   * waited for, so chunks go on moving meanwhile.
   */
  async #sendDigest(): Promise<void> {
    if (this.#digestSending || !this.#digests || !this.#hashed) return;
    const count = this.#sealer.chunkCount;
    // Chunks sent before a restart were never hashed in this run.
    for (let i = 0; i < count && this.#hashedCount < count; i++) {
      if (hasBit(this.#hashed, i)) continue;
      await this.#read(i);
      await nextTurn(); // one synchronous read per turn
    }
    const info = await (await this.#open()).stat();
    if (info.size !== this.row.size || (info.mtime?.getTime() ?? null) !== this.#mtimeMs) {
      throw new FileChanged(CHANGED);
    }
    const d = new e2e.FileDigester(this.#manifest.chunkBytes, 2);
    for (let i = 0; i < count; i++) d.add(this.#digests.subarray(i * 32, i * 32 + 32));
    const manifest = { ...this.#manifest, digest: d.finish(this.row.size) };
    const encoded = e2e.encodeFileManifest(manifest);
    this.#digestSending = true;
    this.#ctx.sendInner(
      this.row.peer,
      { t: "file-digest", id: this.row.id, digest: manifest.digest.toHex() },
      () => this.#ctx.store.putTransfer({ ...this.row, manifest: encoded }),
    ).then(() => {
      this.row.manifest = encoded;
      this.#manifest = manifest;
      if (this.#done() && this.row.state === "sending") this.#setState("sent", this.row.reason);
    }, (e) => {
      // Not sent (the node is away): a later pump tries again; a repeat is harmless.
      this.#ctx.log.info("cannot send a file digest yet", { id: this.row.id, why: String(e) });
    }).finally(() => {
      this.#digestSending = false;
    });
  }

  /** Seals chunk `index` into a `chunkSubmit` message (a pooled buffer when there is one). */
  async #seal(id: Uint8Array, index: number, plain: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    const sealed = await this.#sealer.sealParts(index, plain);
    const now = this.#ctx.clock.nowMs();
    // Ciphertext and tag are copied once, into the client message (not into a chunk body, then
    // an envelope, then the message), and that message into a buffer the node hands back once
    // it has sealed the chunk onto its link (no fresh 256 KiB buffer per chunk).
    const parts = encodeEnvelopeParts({
      id,
      kind: "chunk",
      ttl: DEFAULT_TTL,
      createdAtMs: now,
      expiresAtMs: now + this.#ctx.lifetimeMs,
      from: this.#ctx.self,
      to: this.row.peer as Address,
    }, chunkBodyParts({ fileId: this.#manifest.fileId, index, fileBytes: this.row.size }, sealed));
    // With room before it, a remote link frames it where it lies (no frame copy, one write).
    const message = encodeChunkSubmitParts(parts, this.#messages.pop(), SEND_ROOM_BYTES);
    // Copied: the cipher's fresh slices are freed now, not at the next scavenge (which holds
    // several MiB of them during a file).
    for (const p of sealed) freeNow(p);
    return message;
  }

  /** `token`: room reserved in the lent chunks (given back once the node hands the chunk back). */
  #send(message: Uint8Array<ArrayBuffer>, token: number | null): void {
    // Not connected: the chunk stays in flight and goes again after the retry delay.
    const queued = this.#ctx.connection.sendEncoded(message, () => {
      if (this.#messages.length < POOLED_MESSAGES) {
        this.#messages.push(new Uint8Array(message.buffer));
      }
      if (token !== null) this.#lent.back(token, this.#ctx.clock.nowMs());
    });
    if (!queued && token !== null) this.#lent.back(token, this.#ctx.clock.nowMs());
  }

  /** Takes what the receiver's node did with chunks. Returns true when something changed. */
  onResult(r: ChunkResult): boolean {
    const f = this.#inflight.get(r.id);
    if (!f) return false;
    this.#forget(r.id, f);
    const now = this.#ctx.clock.nowMs();
    if (r.state === "stored") {
      if (!hasBit(this.row.done, f.index)) {
        setBit(this.row.done, f.index);
        this.row.doneBytes += f.bytes;
        this.#dirty = true;
        this.rate.add(now, this.row.doneBytes);
      }
      // A mailbox holds it ("held at mailbox M"): the sender may go offline once all are.
      this.row.reason = r.reason ?? null;
      const sent = this.#done() && this.#digestSent && this.row.state === "sending";
      if (sent) this.#setState("sent", this.row.reason);
      else this.#ctx.changed(this.row);
    } else if (r.state === "retry") {
      this.#redo.push(f.index);
      this.#retryAtMs = now + 1000;
      // Why it waits (a mailbox over its quota, say) is shown; the chunk stays here.
      if (r.reason && r.reason !== this.row.reason) {
        this.row.reason = r.reason;
        this.#ctx.changed(this.row);
      }
    } else {
      this.fail(`Cannot send file: ${r.reason ?? "refused by the receiver's node"}`, true);
    }
    return true;
  }

  #forget(id: string, f: InFlight): void {
    this.#inflight.delete(id);
    this.#byChunkId.delete(id);
    this.#inflightIdx.delete(f.index);
    this.#inflightBytes -= f.bytes;
  }

  /** Sends again what waited too long (or everything, after a reconnection). */
  retry(all = false): void {
    const now = this.#ctx.clock.nowMs();
    // A new connection: what the old one never handed back is not waited for.
    if (all) this.#lent.reset();
    for (const [id, f] of this.#inflight) {
      if (all || now - f.sentAtMs >= this.#retryMs) {
        this.#forget(id, f);
        this.#redo.push(f.index);
      }
    }
  }

  /** The receiver asks for chunk `index` again under a new attempt (it arrived altered). */
  resend(index: number, attempt: number): void {
    if (index >= this.#sealer.chunkCount || attempt > MAX_ATTEMPTS) return;
    if ((this.row.attempts[index] ?? 0) >= attempt) return;
    this.row.attempts = { ...this.row.attempts, [index]: attempt };
    // A receipt still to come for the altered copy must not count.
    for (const [id, f] of this.#inflight) if (f.index === index) this.#forget(id, f);
    if (hasBit(this.row.done, index)) {
      clearBit(this.row.done, index);
      this.row.doneBytes -= this.#sealer.plainChunkBytes(index);
    }
    this.#redo.push(index);
    if (this.row.state === "sent") this.row.state = "sending";
    this.#dirty = true;
    this.flush();
  }

  /** Persists progress when it changed. */
  flush(): void {
    if (!this.#dirty) return;
    this.#dirty = false;
    this.row.updatedAtMs = this.#ctx.clock.nowMs();
    this.#ctx.store.putTransfer(this.row);
  }

  #setState(state: TransferRow["state"], reason: string | null = null): void {
    this.row.state = state;
    this.row.reason = reason;
    this.#dirty = true;
    this.flush();
    if (state !== "sending") this.close();
    this.#ctx.changed(this.row, true);
  }

  /** Ends the transfer with an error; `tell` lets the receiver know. */
  fail(reason: string, tell = false): void {
    if (this.row.state !== "sending" && this.row.state !== "sent") return;
    this.#ctx.log.warn("file transfer failed", { id: this.row.id, why: reason });
    this.#setState("failed", reason);
    if (tell) {
      void this.#ctx.sendInner(this.row.peer, { t: "file-cancel", id: this.row.id, reason })
        .catch(() => {});
    }
  }

  /** Stops reading; in-flight chunks are forgotten. */
  close(): void {
    for (const [id, f] of this.#inflight) this.#forget(id, f);
    this.#file?.close();
    this.#file = null;
    this.#buf = null;
    this.#messages = [];
  }
}
