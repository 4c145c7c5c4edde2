/**
 * File transfers of one client (docs/PROTOCOL.md §13). A file is offered inside a
 * chat through the ratchet (name, size, type and the lib/e2e manifest v2 with
 * the file's fresh key; the whole-file digest follows the chunks, as
 * `file-digest`, so the file is read once); the receiver accepts (or the
 * client does, for offers up to `autoAcceptBytes`) or declines; the sender
 * then streams encrypted chunks (see _file_sending.ts) and the receiver
 * writes, checks and saves them (see _file_receiving.ts). Either side may
 * cancel. When the receiver's node is away and one of its mailboxes holds
 * the offer, the sender pushes the file (`file-push`, then the chunks
 * without waiting): the receiver takes a pushed file up to
 * `awayAcceptBytes` without asking, and refuses a larger one with a reason.
 * Progress lives in the client store, so both sides resume after a
 * restart; views get `{kind: "file"}` events, at most five a second per
 * transfer while bytes move.
 */
import { basename, extname, join } from "node:path";
import type { Clock } from "../clock.ts";
import * as e2e from "../e2e/mod.ts";
import type { Logger } from "../log.ts";
import {
  type ChunkResult,
  decodeChunkBody,
  decodeEnvelope,
  envelopeIdHex,
} from "../protocol/mod.ts";
import type { ClientEvent, FileTransfer } from "./api.ts";
import type { ClientStore, TransferRow } from "./client_store.ts";
import type { NodeConnection } from "./node_connection.ts";
import type { FileInner } from "./payload.ts";
import { sanitizeFileName } from "./file_name.ts";
import {
  checkFileOffer,
  DEFAULT_FILE_OFFER_LIMITS,
  DEFAULT_FILE_SENDER_LIMITS,
  ENDED_TRANSFERS_KEEP_MS,
  ENDED_TRANSFERS_KEPT,
  type FileOfferLimits,
  type FileSenderLimits,
  STALLED_RECEIVING_MS,
  TRANSFER_SWEEP_MS,
} from "./file_offer.ts";
import {
  bitmapBytes,
  type FileContext,
  type FileStep,
  MAX_ATTEMPTS,
  NOTHING,
} from "./_file_context.ts";
import { FileSending, LentChunks } from "./_file_sending.ts";
import { FileReceiving, partPath } from "./_file_receiving.ts";

/** Options of {@linkcode FileTransfers}. */
export interface FileTransfersOptions {
  self: string;
  store: ClientStore;
  connection: NodeConnection;
  clock: Clock;
  log: Logger;
  /** Where received files are saved. */
  downloadsDir: string;
  /** Where files uploaded from the browser wait until they are sent. */
  stagingDir: string;
  /** Offers up to this size are accepted without asking (0: always ask). */
  autoAcceptBytes?: number;
  /** Files pushed while this client was away are taken up to this size (0: never). */
  awayAcceptBytes?: number;
  /** How long a chunk of a file not (yet) offered or pushed is left at the node, untaken. */
  earlyChunkWaitMs?: number;
  /** Unacknowledged chunk bytes per transfer (default 4 MiB). */
  windowBytes?: number;
  /** Plaintext bytes per chunk. */
  chunkBytes?: number;
  /** Resend a chunk with no result after this long. */
  retryMs?: number;
  lifetimeMs?: number;
  /** What an offer may ask (file_offer.ts); checked before anything is allocated. */
  offerLimits?: FileOfferLimits;
  /** What senders may make us keep at once (file_offer.ts): offers waiting, files taken unasked. */
  senderLimits?: FileSenderLimits;
  /** Checks that `peer` is an accepted contact we may send to; throws a user-facing error. */
  checkContact(peer: string): void;
  /**
   * Seals and sends a transfer message to `peer`; `write` runs in the sealing
   * transaction; resolves to the envelope's id once the node has it. `via`
   * names the group an offer goes through (a group file): the file's later
   * messages take the same way.
   */
  sendInner(peer: string, inner: FileInner, write?: () => void, via?: string): Promise<string>;
  emit(event: ClientEvent): void;
}

const ACTIVE = new Set(["offered", "sending", "receiving", "sent"]);
const ENDED = ["complete", "declined", "cancelled", "failed"] as const;
/**
 * Transfers listed at most, newest first: ended ones stay in the store (a
 * contact's offer, then its own cancel, adds one each time).
 */
export const LISTED_TRANSFERS = 1000;
/** File digests kept for offers that have not come yet: at most this many, this long. */
const EARLY_DIGESTS = 64;
const EARLY_DIGEST_MS = 10 * 60_000;
/** Chunks that came before their offer, remembered at most (ids only). */
const MAX_EARLY_CHUNKS = 4096;
const TYPES: Record<string, string> = {
  ".txt": "text/plain",
  ".pdf": "application/pdf",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".zip": "application/zip",
  ".json": "application/json",
  ".mp4": "video/mp4",
};

/** The client's file transfers. */
export class FileTransfers {
  #o: Required<FileTransfersOptions>;
  #ctx: FileContext;
  #sending = new Map<string, FileSending>();
  #receiving = new Map<string, FileReceiving>();
  /** `file-digest`s that came before their offers, by file id (#keepEarlyDigest). */
  #earlyDigests = new Map<string, { peer: string; digest: Uint8Array; atMs: number }>();
  #byChunkId = new Map<string, FileSending>();
  #lastEmit = new Map<string, number>();
  /** Envelope id of an offer still unanswered → its transfer id (offers sent by this run). */
  #offerEnvelopes = new Map<string, string>();
  /** Chunk id → when it first came before its file was offered or pushed. */
  #early = new Map<string, number>();
  /** Transfer id → the file's modification time when this run offered it. */
  #offeredMtimeMs = new Map<string, number>();
  #timer: ReturnType<typeof setInterval>;
  /** Chunks handed to the node and not back yet, for all transfers together. */
  #lent = new LentChunks();
  /** Offers being accepted without asking and not stored as receiving yet: per sender, in all. */
  #autoAccepting = new Map<string, number>();
  #autoAcceptingAll = 0;
  /**
   * Offers the user let through without asking (auto-accept) that found their
   * sender's places full: per sender, oldest first, taken as places free up in
   * this run (after a restart they wait for the user). Bounded by the waiting
   * offers a sender may leave.
   */
  #autoDeferred = new Map<string, string[]>();
  /** When this run started (a transfer's stall is counted from here at the earliest). */
  #startedAtMs: number;
  #sweptAtMs: number;

  constructor(options: FileTransfersOptions) {
    this.#o = {
      autoAcceptBytes: 0,
      awayAcceptBytes: 64 * 1024 * 1024,
      earlyChunkWaitMs: 120_000,
      windowBytes: 4 * 1024 * 1024,
      chunkBytes: e2e.DEFAULT_FILE_CHUNK_BYTES,
      retryMs: 5_000,
      lifetimeMs: 7 * 24 * 3600_000,
      offerLimits: DEFAULT_FILE_OFFER_LIMITS,
      senderLimits: DEFAULT_FILE_SENDER_LIMITS,
      ...options,
    };
    const o = this.#o;
    this.#ctx = {
      self: o.self,
      store: o.store,
      connection: o.connection,
      clock: o.clock,
      log: o.log,
      lifetimeMs: o.lifetimeMs,
      sendInner: o.sendInner,
      changed: (row, now) => this.#changed(row, now),
    };
    this.#startedAtMs = this.#sweptAtMs = o.clock.nowMs();
    this.#timer = setInterval(() => this.#tick(), 500);
  }

  stop(): void {
    clearInterval(this.#timer);
    for (const s of this.#sending.values()) {
      s.flush();
      s.close();
    }
    for (const r of this.#receiving.values()) r.close();
  }

  /** After (re)connecting: go on with every transfer that was moving. */
  onConnected(): void {
    for (const row of this.#o.store.transfersWhere({ states: ["sending", "receiving"] })) {
      if (row.direction === "out" && row.state === "sending") {
        const s = this.#sender(row);
        s.retry(true);
        void s.pump();
      }
      if (row.direction === "in" && row.state === "receiving") {
        const r = this.#receiver(row);
        if (r.complete) void r.finish();
      }
    }
  }

  #sender(row: TransferRow): FileSending {
    let s = this.#sending.get(row.id);
    if (!s) {
      s = new FileSending(this.#ctx, row, {
        windowBytes: this.#o.windowBytes,
        retryMs: this.#o.retryMs,
        byChunkId: this.#byChunkId,
        mtimeMs: this.#offeredMtimeMs.get(row.id) ?? null,
        lent: this.#lent,
      });
      this.#sending.set(row.id, s);
    }
    return s;
  }

  #receiver(row: TransferRow): FileReceiving {
    let r = this.#receiving.get(row.id);
    if (!r) {
      r = new FileReceiving(this.#ctx, row, this.#o.downloadsDir);
      this.#receiving.set(row.id, r);
    }
    return r;
  }

  #tick(): void {
    const now = this.#o.clock.nowMs();
    if (now - this.#sweptAtMs >= TRANSFER_SWEEP_MS) {
      this.#sweptAtMs = now;
      this.sweep();
    }
    for (const r of this.#receiving.values()) r.askDigest(now);
    for (const s of this.#sending.values()) {
      s.flush();
      if (s.row.state !== "sending") continue;
      s.retry();
      void this.#pump(s);
    }
  }

  /**
   * Gives every transfer a lifetime (this client's clock): an offer not
   * answered within the file's lifetime (`lifetimeMs`, 7 days: its chunks are
   * not kept longer) fails, in either direction; a file being received with no
   * chunk for {@linkcode STALLED_RECEIVING_MS} fails and its sender is told;
   * ended transfers past {@linkcode ENDED_TRANSFERS_KEEP_MS} or the newest
   * {@linkcode ENDED_TRANSFERS_KEPT} are forgotten. Run every
   * {@linkcode TRANSFER_SWEEP_MS}; returns how many rows changed or went.
   */
  sweep(): number {
    const store = this.#o.store;
    const now = this.#o.clock.nowMs();
    let n = 0;
    for (const row of store.transfersWhere({ states: ["offered"] })) {
      if (now - row.createdAtMs < this.#o.lifetimeMs) continue;
      const days = Math.round(this.#o.lifetimeMs / 86_400_000);
      const next = {
        ...row,
        state: "failed" as const,
        reason: `the offer was not answered within ${days} days`,
        updatedAtMs: now,
      };
      store.putTransfer(next);
      this.#changed(next, true);
      n++;
    }
    for (const row of store.transfersWhere({ states: ["receiving"], direction: "in" })) {
      const r = this.#receiving.get(row.id);
      const last = Math.max(r?.row.updatedAtMs ?? row.updatedAtMs, this.#startedAtMs);
      if (now - last < STALLED_RECEIVING_MS) continue;
      const hours = Math.round(STALLED_RECEIVING_MS / 3_600_000);
      // Failed in the store and to the user (retired through #changed), its sender told.
      this.#receiver(row).fail(`nothing came for ${hours} hours`, true);
      n++;
    }
    n += store.pruneTransfers(ENDED, now - ENDED_TRANSFERS_KEEP_MS, ENDED_TRANSFERS_KEPT);
    return n;
  }

  #pump(s: FileSending): Promise<void> {
    return s.pump();
  }

  #changed(row: TransferRow, now = false): void {
    const t = this.#o.clock.nowMs();
    if (!now && t - (this.#lastEmit.get(row.id) ?? 0) < 200) return;
    this.#lastEmit.set(row.id, t);
    if (!ACTIVE.has(row.state)) this.#retire(row);
    this.#o.emit({ kind: "file", transfer: this.#view(row) });
  }

  /** A transfer that ended drops its runtime (and a browser upload's staged copy). */
  #retire(row: TransferRow): void {
    this.#sending.get(row.id)?.close();
    this.#sending.delete(row.id);
    this.#offeredMtimeMs.delete(row.id);
    this.#receiving.get(row.id)?.close();
    this.#receiving.delete(row.id);
    if (row.direction === "in" && this.#autoDeferred.size > 0) {
      // After the caller's write: the ended row no longer counts as receiving.
      queueMicrotask(() => this.#takeDeferred(row.peer));
    }
    if (row.direction === "out" && row.path?.startsWith(this.#o.stagingDir)) {
      void Deno.remove(row.path).catch(() => {});
    }
  }

  #view(row: TransferRow): FileTransfer {
    const now = this.#o.clock.nowMs();
    const rt = row.direction === "out" ? this.#sending.get(row.id) : this.#receiving.get(row.id);
    const moving = row.state === "sending" || row.state === "receiving";
    const rate = rt && moving ? rt.rate.rate(now) : 0;
    return {
      id: row.id,
      peer: row.peer,
      direction: row.direction,
      name: row.name,
      size: row.size,
      type: row.type,
      state: row.state,
      bytesDone: row.doneBytes,
      rateBytesPerSec: rate,
      etaMs: rate > 0 ? Math.round(((row.size - row.doneBytes) * 1000) / rate) : null,
      path: row.path,
      folder: row.direction === "in" ? this.#o.downloadsDir : null,
      ...(row.reason ? { reason: row.reason } : {}),
      createdAtMs: row.createdAtMs,
      updatedAtMs: row.updatedAtMs,
    };
  }

  /** The newest transfers, at most {@linkcode LISTED_TRANSFERS}, newest first. */
  list(): FileTransfer[] {
    return this.#o.store.transfersWhere({ limit: LISTED_TRANSFERS }).map((r) =>
      this.#view(this.#live(r))
    );
  }

  /** The runtime's copy of a row when there is one (it is ahead of the store). */
  #live(row: TransferRow): TransferRow {
    return (row.direction === "out"
      ? this.#sending.get(row.id)?.row
      : this.#receiving.get(row.id)?.row) ?? row;
  }

  /**
   * Offers a file: makes a manifest (v2) with a fresh key, and sends the offer
   * through the ratchet. The file is not read here: its digest is taken while
   * it is sent (see _file_sending.ts).
   *
   * @throws {Error} not a contact, not a readable regular file
   */
  async offer(
    peer: string,
    file: { path: string; name?: string; type?: string },
    options: {
      /** The group the offer goes through (a group member, not a 1:1 contact). */
      via?: string;
    } = {},
  ): Promise<FileTransfer> {
    if (options.via === undefined) this.#o.checkContact(peer);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(file.path);
    } catch (e) {
      throw new Error(`Cannot send file "${file.path}": ${(e as Error).message}`);
    }
    if (!info.isFile) throw new Error(`Cannot send file "${file.path}": not a regular file`);
    const size = info.size;
    const chunkBytes = this.#o.chunkBytes;
    const fits = checkFileOffer({ size, chunkBytes, limits: this.#o.offerLimits });
    if (fits.kind === "refused") throw new RangeError(`Cannot send file: ${fits.why}`);
    const manifest: e2e.FileManifest = {
      version: 2,
      fileId: crypto.getRandomValues(new Uint8Array(16)),
      key: crypto.getRandomValues(new Uint8Array(32)),
      chunkBytes,
      byteLength: size,
      digest: null,
    };
    const now = this.#o.clock.nowMs();
    const name = (file.name ?? basename(file.path)).slice(0, 1024) || "file";
    const row: TransferRow = {
      id: envelopeIdHex(manifest.fileId),
      peer,
      direction: "out",
      name,
      type: (file.type ?? TYPES[extname(name).toLowerCase()] ?? "application/octet-stream")
        .slice(0, 200),
      size,
      manifest: e2e.encodeFileManifest(manifest),
      path: file.path,
      state: "offered",
      reason: null,
      done: new Uint8Array(bitmapBytes(fits.chunks)),
      doneBytes: 0,
      attempts: {},
      createdAtMs: now,
      updatedAtMs: now,
    };
    const envelope = await this.#o.sendInner(
      peer,
      {
        t: "file-offer",
        id: row.id,
        name: row.name,
        size,
        type: row.type,
        manifest: row.manifest.toBase64(),
      },
      () => this.#o.store.putTransfer(row),
      options.via,
    );
    this.#offerEnvelopes.set(envelope, row.id);
    if (info.mtime) this.#offeredMtimeMs.set(row.id, info.mtime.getTime());
    this.#changed(row, true);
    return this.#view(row);
  }

  /** Keeps a browser upload in the staging folder, then offers it. */
  async upload(
    peer: string,
    u: { name: string; type: string; body: ReadableStream<Uint8Array> },
  ): Promise<FileTransfer> {
    this.#o.checkContact(peer);
    await Deno.mkdir(this.#o.stagingDir, { recursive: true, mode: 0o700 });
    const path = join(this.#o.stagingDir, crypto.randomUUID());
    const f = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    try {
      await u.body.pipeTo(f.writable);
    } catch (e) {
      await Deno.remove(path).catch(() => {});
      throw new Error(`Cannot send file: the upload broke off (${(e as Error).message})`);
    }
    return await this.offer(peer, { path, name: u.name, type: u.type });
  }

  /**
   * A mailbox holds envelope `ref` (to `peer` when it was a message): the
   * peer's node is away, so the offers it has not answered are pushed.
   */
  held(ref: string, peer: string | null): void {
    const id = this.#offerEnvelopes.get(ref);
    this.#offerEnvelopes.delete(ref);
    for (const row of this.#o.store.transfersWhere({ states: ["offered"], direction: "out" })) {
      if (row.id !== id && row.peer !== peer) continue;
      this.#push(row).catch((e) =>
        this.#o.log.warn("cannot push a file", { id: row.id, why: (e as Error).message })
      );
    }
  }

  /** Sends `file-push`, then the chunks without waiting for an answer. */
  async #push(row: TransferRow): Promise<void> {
    const next = { ...row, state: "sending" as const, updatedAtMs: this.#o.clock.nowMs() };
    await this.#o.sendInner(
      row.peer,
      { t: "file-push", id: row.id },
      () => this.#o.store.putTransfer(next),
    );
    for (const [ref, id] of this.#offerEnvelopes) {
      if (id === row.id) this.#offerEnvelopes.delete(ref);
    }
    this.#changed(next, true);
    void this.#pump(this.#sender(next));
  }

  #find(idOrAddress: string, direction: "in" | "out" | null, states: string[]): TransferRow {
    const store = this.#o.store;
    const byId = store.transfer(idOrAddress);
    const d = direction ?? undefined;
    // By address: the newest in one of `states` (read without every ended one), else the newest.
    const rows = (byId ? [byId] : [
      ...store.transfersWhere({ peer: idOrAddress, direction: d, states, limit: 16 }),
      ...store.transfersWhere({ peer: idOrAddress, direction: d, limit: 1 }),
    ]).map((r) => this.#live(r)).filter((r) => direction === null || r.direction === direction);
    const row = rows.find((r) => states.includes(r.state));
    if (!row) {
      throw new Error(
        rows.length === 0
          ? `Cannot find a file transfer "${idOrAddress}"; see \`files\``
          : `Cannot do that: the transfer "${rows[0].id}" is ${rows[0].state}`,
      );
    }
    return row;
  }

  /** Accepts an offer: the bitmap of received chunks is made now, and the sender starts sending. */
  async accept(idOrAddress: string): Promise<FileTransfer> {
    const row = this.#find(idOrAddress, "in", ["offered"]);
    const fits = checkFileOffer({
      size: row.size,
      chunkBytes: e2e.decodeFileManifest(row.manifest).chunkBytes,
      limits: this.#o.offerLimits,
    });
    if (fits.kind === "refused") throw new RangeError(`Cannot accept file: ${fits.why}`);
    await Deno.mkdir(this.#o.downloadsDir, { recursive: true, mode: 0o700 });
    await Deno.writeFile(partPath(this.#o.downloadsDir, row.id), new Uint8Array(0), {
      mode: 0o600,
    });
    const next = {
      ...row,
      state: "receiving" as const,
      done: new Uint8Array(bitmapBytes(fits.chunks)),
      doneBytes: 0,
      updatedAtMs: this.#o.clock.nowMs(),
    };
    await this.#o.sendInner(
      row.peer,
      { t: "file-accept", id: row.id },
      () => this.#o.store.putTransfer(next),
    );
    this.#receiver(next);
    this.#changed(next, true);
    return this.#view(next);
  }

  /** Declines an offer. */
  async decline(idOrAddress: string): Promise<FileTransfer> {
    const row = this.#find(idOrAddress, "in", ["offered"]);
    const next = { ...row, state: "declined" as const, updatedAtMs: this.#o.clock.nowMs() };
    await this.#o.sendInner(
      row.peer,
      { t: "file-decline", id: row.id },
      () => this.#o.store.putTransfer(next),
    );
    this.#changed(next, true);
    return this.#view(next);
  }

  /** Cancels a transfer in either direction. */
  async cancel(id: string): Promise<FileTransfer> {
    const row = this.#find(id, null, ["offered", "sending", "receiving", "sent"]);
    const next = {
      ...row,
      state: "cancelled" as const,
      reason: "cancelled by you",
      updatedAtMs: this.#o.clock.nowMs(),
    };
    this.#retire(next);
    if (row.direction === "in") {
      await Deno.remove(partPath(this.#o.downloadsDir, row.id)).catch(() => {});
    }
    await this.#o.sendInner(
      row.peer,
      { t: "file-cancel", id: row.id },
      () => this.#o.store.putTransfer(next),
    );
    this.#changed(next, true);
    return this.#view(next);
  }

  /**
   * A transfer message from `peer` arrived through the ratchet. Returns the
   * store write (run in the core's transaction with the new session) and
   * what to do after the commit.
   */
  receive(peer: string, m: FileInner): FileStep {
    const stored = this.#o.store.transfer(m.id);
    const row = stored ? this.#live(stored) : undefined;
    if (m.t === "file-offer") {
      if (row) return NOTHING; // ids are random: a second offer with the same id is a replay
      let manifest: e2e.FileManifest;
      try {
        manifest = e2e.decodeFileManifest(Uint8Array.fromBase64(m.manifest));
      } catch {
        this.#o.log.warn("dropped a file offer with a bad manifest", { from: peer });
        return NOTHING;
      }
      if (manifest.byteLength !== m.size || envelopeIdHex(manifest.fileId) !== m.id) {
        this.#o.log.warn("dropped a file offer that contradicts its manifest", { from: peer });
        return NOTHING;
      }
      // Before anything is allocated or stored: a hostile offer costs its sender, not us.
      const fits = checkFileOffer({
        size: m.size,
        chunkBytes: manifest.chunkBytes,
        limits: this.#o.offerLimits,
      });
      const why = fits.kind === "refused" ? fits.why : this.#crowded("offered", peer);
      if (why !== null) {
        this.#o.log.warn("refused a file offer", { from: peer, size: m.size, why });
        return {
          write: () => {},
          after: () =>
            void this.#o.sendInner(peer, { t: "file-cancel", id: m.id, reason: why }).catch(
              (e) => this.#o.log.info("cannot tell the sender", { why: String(e) }),
            ),
        };
      }
      const now = this.#o.clock.nowMs();
      const early = this.#earlyDigests.get(m.id);
      if (early) {
        this.#earlyDigests.delete(m.id);
        if (early.peer === peer && manifest.version === 2 && manifest.digest === null) {
          manifest = { ...manifest, digest: early.digest };
        }
      }
      const offer: TransferRow = {
        id: m.id,
        peer,
        direction: "in",
        name: sanitizeFileName(m.name),
        type: m.type,
        size: m.size,
        manifest: e2e.encodeFileManifest(manifest),
        path: null,
        state: "offered",
        reason: null,
        // The bitmap is made on accept: an offer nobody answered costs a row, not its chunk count.
        done: new Uint8Array(0),
        doneBytes: 0,
        attempts: {},
        createdAtMs: now,
        updatedAtMs: now,
      };
      return {
        write: () => this.#o.store.putTransfer(offer),
        after: () => {
          this.#changed(offer, true);
          if (this.#o.autoAcceptBytes > 0 && m.size <= this.#o.autoAcceptBytes) {
            this.#autoAccept(m.id, peer);
          }
        },
      };
    }
    if (!row && m.t === "file-digest") {
      this.#keepEarlyDigest(peer, m.id, m.digest);
      return NOTHING;
    }
    if (!row || row.peer !== peer) return NOTHING;
    const now = this.#o.clock.nowMs();
    const set = (state: TransferRow["state"], reason: string | null = row.reason) => {
      const next = { ...row, state, reason, updatedAtMs: now };
      const rt = row.direction === "out" ? this.#sending.get(row.id) : this.#receiving.get(row.id);
      if (rt) rt.row = next;
      return next;
    };
    switch (m.t) {
      case "file-accept": {
        if (row.direction !== "out" || row.state !== "offered") return NOTHING;
        const next = set("sending");
        return {
          write: () => this.#o.store.putTransfer(next),
          after: () => {
            this.#changed(next, true);
            void this.#pump(this.#sender(next));
          },
        };
      }
      case "file-push": {
        if (row.direction !== "in" || row.state !== "offered") return NOTHING;
        const { chunkBytes } = e2e.decodeFileManifest(row.manifest);
        const fits = checkFileOffer({ size: row.size, chunkBytes, limits: this.#o.offerLimits });
        const why = fits.kind === "refused"
          ? fits.why
          : row.size > this.#o.awayAcceptBytes
          ? `the file is larger than ${this.#o.self} ` +
            `takes while away (${this.#o.awayAcceptBytes} bytes); send it again when you are both online`
          : this.#crowded("receiving", peer);
        if (why !== null) {
          const next = set("failed", why);
          return {
            write: () => this.#o.store.putTransfer(next),
            after: () => {
              this.#changed(next, true);
              void this.#o.sendInner(peer, { t: "file-cancel", id: row.id, reason: why }).catch(
                (e) => this.#o.log.info("cannot tell the sender", { why: String(e) }),
              );
            },
          };
        }
        // Taken without asking, as if accepted: its sender may be offline by now.
        const chunks = e2e.chunkCount(row.size, chunkBytes);
        const next = { ...set("receiving"), done: new Uint8Array(bitmapBytes(chunks)) };
        return {
          write: () => this.#o.store.putTransfer(next),
          after: () => {
            Deno.mkdirSync(this.#o.downloadsDir, { recursive: true, mode: 0o700 });
            this.#receiver(next);
            this.#changed(next, true);
          },
        };
      }
      case "file-decline":
      case "file-done": {
        if (row.direction !== "out") return NOTHING;
        // The receiver checked the digest, so "done" may overtake our last receipts.
        if (
          m.t === "file-decline"
            ? row.state !== "offered"
            : row.state !== "sent" && row.state !== "sending"
        ) return NOTHING;
        const next = set(m.t === "file-decline" ? "declined" : "complete");
        return {
          write: () => this.#o.store.putTransfer(next),
          after: () => this.#changed(next, true),
        };
      }
      case "file-cancel": {
        if (!ACTIVE.has(row.state)) return NOTHING;
        const next = m.reason
          ? set("failed", `${peer}: ${m.reason}`)
          : set("cancelled", `cancelled by ${peer}`);
        return {
          write: () => this.#o.store.putTransfer(next),
          after: () => {
            this.#retire(next);
            if (row.direction === "in") {
              void Deno.remove(partPath(this.#o.downloadsDir, row.id)).catch(() => {});
            }
            this.#changed(next, true);
          },
        };
      }
      case "file-digest": {
        if (row.direction !== "in") return NOTHING;
        // Before the file is taken (a pushed file's digest can overtake its push when one went
        // through a mailbox and the other straight): kept in the stored manifest, which the
        // receiving side starts from. Dropped, it left the file "receiving" with every chunk in.
        if (row.state === "offered") return this.#digestBeforeTaken(row, m.digest);
        if (row.state !== "receiving") return NOTHING;
        return this.#receiver(row).takeDigest(Uint8Array.fromHex(m.digest));
      }
      case "file-digest-ask":
        return this.#answerDigestAsk(row, m.attempt);
      case "file-resend": {
        if (row.direction !== "out" || (row.state !== "sending" && row.state !== "sent")) {
          return NOTHING;
        }
        return {
          write: () => {},
          after: () => {
            const s = this.#sender(row);
            s.resend(m.index, m.attempt);
            this.#changed(s.row, true);
            void this.#pump(s);
          },
        };
      }
    }
  }

  /**
   * The receiver has every chunk and no digest (it was lost): the digest sent before goes
   * again, the same one (kept in the stored manifest), for attempts 1 to
   * {@linkcode MAX_ATTEMPTS} each at most once (`row.attempts.digest`, stored): a contact
   * cannot make us send it more than that per transfer. Nothing before the digest was sent
   * (it follows the chunks anyway) or once the transfer ended.
   */
  #answerDigestAsk(row: TransferRow, attempt: number): FileStep {
    if (row.direction !== "out" || (row.state !== "sending" && row.state !== "sent")) {
      return NOTHING;
    }
    const digest = e2e.decodeFileManifest(row.manifest).digest;
    if (digest === null || attempt > MAX_ATTEMPTS || (row.attempts.digest ?? 0) >= attempt) {
      return NOTHING;
    }
    // Counted in this message's own transaction, before the next inbox item is read: a burst
    // of asks cannot pass the count while the answers wait to be sealed.
    const next = { ...row, attempts: { ...row.attempts, digest: attempt } };
    const s = this.#sending.get(row.id);
    if (s) s.row = next;
    return {
      write: () => this.#o.store.putTransfer(next),
      after: () =>
        void this.#o.sendInner(row.peer, { t: "file-digest", id: row.id, digest: digest.toHex() })
          .catch((e) => this.#o.log.info("cannot send a file digest again", { why: String(e) })),
    };
  }

  /**
   * Why `peer` may not add one more incoming transfer in `state` ("offered":
   * an offer left waiting; "receiving": a file taken without asking), or null.
   * Counted in the store, where each message's write lands before the next
   * message is read, plus the auto-accepts still on their way there.
   */
  #crowded(state: "offered" | "receiving", peer: string): string | null {
    const l = this.#o.senderLimits;
    const store = this.#o.store;
    const self = this.#o.self;
    if (state === "offered") {
      if (store.incomingTransfers("offered", peer) >= l.waitingPerSender) {
        return `${self} has ${l.waitingPerSender} offers from you waiting for an answer; ` +
          "offer it again once those are answered";
      }
      if (store.incomingTransfers("offered") >= l.waiting) {
        return `${self} has too many offers waiting for an answer; offer it again later`;
      }
      return null;
    }
    const mine = store.incomingTransfers("receiving", peer) + (this.#autoAccepting.get(peer) ?? 0);
    if (mine >= l.receivingPerSender) {
      return `${self} is receiving ${l.receivingPerSender} files from you already; ` +
        "send it again once those are done";
    }
    if (store.incomingTransfers("receiving") + this.#autoAcceptingAll >= l.receiving) {
      return `${self} is receiving too many files already; send it again later`;
    }
    return null;
  }

  /** Accepts an offer without asking, unless its sender has too many files arriving already. */
  #autoAccept(id: string, peer: string): void {
    const why = this.#crowded("receiving", peer);
    if (why !== null) {
      const later = this.#autoDeferred.get(peer) ?? [];
      if (later.length < this.#o.senderLimits.waitingPerSender) {
        later.push(id);
        this.#autoDeferred.set(peer, later);
      }
      this.#o.log.info("a file offer waits for a place", { from: peer, why });
      return;
    }
    this.#autoAccepting.set(peer, (this.#autoAccepting.get(peer) ?? 0) + 1);
    this.#autoAcceptingAll++;
    this.accept(id).catch((e) =>
      this.#o.log.warn("cannot accept a file offer", { why: (e as Error).message })
    ).finally(() => {
      this.#autoAcceptingAll--;
      const n = (this.#autoAccepting.get(peer) ?? 1) - 1;
      if (n > 0) this.#autoAccepting.set(peer, n);
      else this.#autoAccepting.delete(peer);
    });
  }

  /** Auto-accepts offers that waited for a place, the ended transfer's sender first. */
  #takeDeferred(first: string): void {
    for (const peer of [first, ...this.#autoDeferred.keys()]) {
      const later = this.#autoDeferred.get(peer);
      while (later && later.length > 0 && this.#crowded("receiving", peer) === null) {
        const id = later.shift()!;
        if (this.#o.store.transfer(id)?.state === "offered") this.#autoAccept(id, peer);
      }
      if (later?.length === 0) this.#autoDeferred.delete(peer);
    }
  }

  /** Results of chunks this client sent. */
  onChunkResults(results: ChunkResult[]): void {
    const touched = new Set<FileSending>();
    for (const r of results) {
      const s = this.#byChunkId.get(r.id);
      if (!s) continue;
      this.#byChunkId.delete(r.id);
      if (s.onResult(r)) touched.add(s);
    }
    for (const s of touched) void this.#pump(s);
  }

  /** Whether chunk `id` (of a file not offered or pushed yet) is left at the node for now. */
  #waitEarly(id: string): boolean {
    const now = this.#o.clock.nowMs();
    const first = this.#early.get(id);
    if (first !== undefined) return now - first < this.#o.earlyChunkWaitMs;
    if (this.#early.size >= MAX_EARLY_CHUNKS) {
      for (const [k, t] of this.#early) {
        if (now - t >= this.#o.earlyChunkWaitMs) this.#early.delete(k);
      }
      if (this.#early.size >= MAX_EARLY_CHUNKS) return false;
    }
    this.#early.set(id, now);
    return true;
  }

  /**
   * A `file-digest` that came before its offer (it overtook it: one went through a mailbox,
   * the other straight): kept in memory for the offer, at most {@linkcode EARLY_DIGESTS} for
   * {@linkcode EARLY_DIGEST_MS}.
   */
  #keepEarlyDigest(peer: string, id: string, hex: string): void {
    const now = this.#o.clock.nowMs();
    for (const [k, v] of this.#earlyDigests) {
      if (now - v.atMs > EARLY_DIGEST_MS) this.#earlyDigests.delete(k);
    }
    if (this.#earlyDigests.size >= EARLY_DIGESTS || this.#earlyDigests.has(id)) return;
    const digest = Uint8Array.fromHex(hex);
    if (digest.length === 32) this.#earlyDigests.set(id, { peer, digest, atMs: now });
  }

  /** A `file-digest` for an offer not taken yet: the first one kept in the stored manifest. */
  #digestBeforeTaken(row: TransferRow, hex: string): FileStep {
    const manifest = e2e.decodeFileManifest(row.manifest);
    const digest = Uint8Array.fromHex(hex);
    if (manifest.version !== 2 || digest.length !== 32 || manifest.digest !== null) return NOTHING;
    const encoded = e2e.encodeFileManifest({ ...manifest, digest });
    return {
      write: () =>
        this.#o.store.putTransfer({ ...this.#o.store.transfer(row.id)!, manifest: encoded }),
      after: () => {},
    };
  }

  /**
   * A chunk the node kept for us. `envelope` is this call's to read; with `keep` (lent
   * bytes, see `ClientLink.onMessage`) it may be kept until written instead of copied.
   */
  onChunk(id: string, envelope: Uint8Array, keep?: () => () => void): void {
    const ack = () => this.#o.connection.send({ type: "chunkAck", ids: [id] });
    let chunk;
    let from: string;
    try {
      const e = decodeEnvelope(envelope);
      if (e.kind !== "chunk" || e.to !== this.#o.self) throw new TypeError("not a chunk for us");
      from = e.from;
      // A view: the receiver copies it, or keeps the lent envelope, before this returns.
      chunk = decodeChunkBody(e.body, { view: true });
    } catch (e) {
      this.#o.log.warn("dropped a malformed chunk", { id, why: (e as Error).message });
      return void ack();
    }
    const fileId = envelopeIdHex(chunk.fileId);
    let r = this.#receiving.get(fileId);
    if (!r) {
      const row = this.#o.store.transfer(fileId);
      if (row?.direction === "in" && row.state === "receiving" && row.peer === from) {
        r = this.#receiver(row);
      } else if (!row || (row.state === "offered" && row.peer === from)) {
        // Pushed chunks can overtake their offer or push: left at the node (the node pushes
        // them again later), for a while; then they are dropped like any stray chunk.
        if (this.#waitEarly(id)) return;
      }
    }
    this.#early.delete(id);
    if (!r || r.row.peer !== from) return void ack();
    r.take(id, chunk, keep);
  }
}
