/**
 * The sending side of one file transfer (private to lib/client): reads the
 * file at chunk offsets, seals each chunk (lib/e2e, four at a time), and
 * keeps at most `windowBytes` of chunks that the receiver's node has not
 * acknowledged yet. The node forwards a chunk without storing it; the
 * destination node's signed receipt comes back as a chunk result. A chunk
 * with no result after `retryMs` is sent again under the same envelope id
 * (the destination's de-duplication makes that harmless), so a broken link
 * or a restarted relay only delays the transfer. Which chunks are stored is
 * a bitmap in the client store, so a restarted client goes on from there.
 */
import * as e2e from "../e2e/mod.ts";
import type { Address } from "../ids.ts";
import {
  chunkEnvelopeId,
  type ChunkResult,
  DEFAULT_TTL,
  encodeChunkBody,
  encodeEnvelope,
  envelopeIdHex,
} from "../protocol/mod.ts";
import type { TransferRow } from "./client_store.ts";
import { clearBit, type FileContext, hasBit, RateMeter, readAt, setBit } from "./_file_context.ts";

/** Chunks sealed concurrently. */
const SEAL_WINDOW = 4;

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
  #file: Deno.FsFile | null = null;
  #inflight = new Map<string, InFlight>();
  #inflightIdx = new Set<number>();
  #inflightBytes = 0;
  #cursor = 0;
  #redo: number[] = [];
  #pumping = false;
  #retryAtMs = 0;
  #dirty = false;
  #windowBytes: number;
  #retryMs: number;
  #byChunkId: Map<string, FileSending>;

  constructor(
    ctx: FileContext,
    row: TransferRow,
    { windowBytes, retryMs, byChunkId }: {
      windowBytes: number;
      retryMs: number;
      /** Where chunk envelope ids in flight are registered, to route results back. */
      byChunkId: Map<string, FileSending>;
    },
  ) {
    this.#byChunkId = byChunkId;
    this.#ctx = ctx;
    this.row = row;
    this.#manifest = e2e.decodeFileManifest(row.manifest);
    this.#sealer = new e2e.FileChunkSealer(this.#manifest);
    this.#windowBytes = windowBytes;
    this.#retryMs = retryMs;
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

  /** Sends chunks while the window has room; one pump at a time. */
  async pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    const sealing: Promise<void>[] = [];
    try {
      this.#file ??= await Deno.open(this.row.path!, { read: true });
      while (
        this.row.state === "sending" && this.#ctx.connection.up &&
        this.#inflightBytes < this.#windowBytes && this.#ctx.clock.nowMs() >= this.#retryAtMs
      ) {
        const index = this.#next();
        if (index === null) break;
        const bytes = this.#sealer.plainChunkBytes(index);
        const plain = await readAt(this.#file, index * this.#manifest.chunkBytes, bytes);
        const attempt = this.row.attempts[index] ?? 0;
        const id = await chunkEnvelopeId(this.#manifest.fileId, index, attempt);
        const hex = envelopeIdHex(id);
        this.#inflight.set(hex, { index, bytes, sentAtMs: this.#ctx.clock.nowMs() });
        this.#byChunkId.set(hex, this);
        this.#inflightIdx.add(index);
        this.#inflightBytes += bytes;
        sealing.push(this.#sealAndSend(id, index, plain));
        if (sealing.length >= SEAL_WINDOW) await sealing.shift();
      }
      await Promise.all(sealing);
    } catch (e) {
      await Promise.allSettled(sealing);
      this.fail(`Cannot send file: ${(e as Error).message}`);
    } finally {
      this.#pumping = false;
    }
  }

  async #sealAndSend(id: Uint8Array, index: number, plain: Uint8Array): Promise<void> {
    const sealed = await this.#sealer.seal(index, plain);
    const now = this.#ctx.clock.nowMs();
    const envelope = encodeEnvelope({
      id,
      kind: "chunk",
      ttl: DEFAULT_TTL,
      createdAtMs: now,
      expiresAtMs: now + this.#ctx.lifetimeMs,
      from: this.#ctx.self,
      to: this.row.peer as Address,
      body: encodeChunkBody({
        fileId: this.#manifest.fileId,
        index,
        fileBytes: this.row.size,
        sealed,
      }),
    });
    // Not connected: the chunk stays in flight and goes again after the retry delay.
    this.#ctx.connection.send({ type: "chunkSubmit", envelope });
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
      if (this.#done() && this.row.state === "sending") this.#setState("sent", this.row.reason);
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
    for (const [id, f] of this.#inflight) {
      if (all || now - f.sentAtMs >= this.#retryMs) {
        this.#forget(id, f);
        this.#redo.push(f.index);
      }
    }
  }

  /** The receiver asks for chunk `index` again under a new attempt (it arrived altered). */
  resend(index: number, attempt: number): void {
    if (index >= this.#sealer.chunkCount) return;
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
    const file = this.#file;
    this.#file = null;
    try {
      file?.close();
    } catch { /* closed already */ }
  }
}
