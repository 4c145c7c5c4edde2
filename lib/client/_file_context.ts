/**
 * What one file transfer's runtime needs from the client (private to
 * lib/client): the store, the node connection, the clock, and a way to send
 * the transfer's messages through the ratchet. Plus the small helpers both
 * directions share: the chunk bitmap and a rate meter.
 */
import { setImmediate } from "node:timers";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { ClientStore, TransferRow } from "./client_store.ts";
import type { NodeConnection } from "./node_connection.ts";
import type { FileInner } from "./payload.ts";

/**
 * Times a receiver asks for one chunk again before its transfer fails; a sender
 * honours no more (a hostile receiver asking 99 times made it send the file 99 times).
 */
export const MAX_ATTEMPTS = 3;

/**
 * What handling one file message does: `write` in the message's transaction,
 * then `after` once it is committed.
 */
export interface FileStep {
  write: () => void;
  after: () => void;
}

/** A file message that changes nothing (a repeat, a replay, one for another state). */
export const NOTHING: FileStep = Object.freeze({ write: () => {}, after: () => {} });

/** Shared by the sending and receiving runtimes. */
export interface FileContext {
  self: string;
  store: ClientStore;
  connection: NodeConnection;
  clock: Clock;
  log: Logger;
  /** Envelope lifetime for chunks. */
  lifetimeMs: number;
  /** Sends a transfer message through the ratchet; `write` runs in the sealing transaction. */
  /** Seals and sends; resolves to the envelope's id once the node has it. */
  sendInner(peer: string, inner: FileInner, write?: () => void, via?: string): Promise<string>;
  /** The row changed: tell views (throttled unless `now`). */
  changed(row: TransferRow, now?: boolean): void;
}

/** True when chunk `i` is marked in `bits`. */
export function hasBit(bits: Uint8Array, i: number): boolean {
  return (bits[i >> 3] & (1 << (i & 7))) !== 0;
}

/** Marks chunk `i`. */
export function setBit(bits: Uint8Array, i: number): void {
  bits[i >> 3] |= 1 << (i & 7);
}

/** Unmarks chunk `i`. */
export function clearBit(bits: Uint8Array, i: number): void {
  bits[i >> 3] &= ~(1 << (i & 7));
}

/** Bytes of a bitmap for `count` chunks. */
export function bitmapBytes(count: number): number {
  return Math.ceil(count / 8);
}

/** Bytes per second over the last few seconds. */
export class RateMeter {
  #samples: Array<[number, number]> = [];

  add(nowMs: number, totalBytes: number): void {
    this.#samples.push([nowMs, totalBytes]);
    while (this.#samples.length > 2 && nowMs - this.#samples[0][0] > 3000) this.#samples.shift();
  }

  rate(nowMs: number): number {
    const s = this.#samples;
    if (s.length < 2 || nowMs - s[s.length - 1][0] > 3000) return 0;
    const dt = s[s.length - 1][0] - s[0][0];
    return dt > 0 ? Math.round(((s[s.length - 1][1] - s[0][1]) * 1000) / dt) : 0;
  }
}

/** Resolves on the event loop's next turn (after its pending I/O callbacks and immediates). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * An open file read and written at offsets, remembering its position so that
 * sequential access (the usual case: chunks in order) costs no seek per call.
 *
 * A chunk is read and written synchronously (`readIntoSync`, `writeAtSync`):
 * an async file op hands the buffer to a runtime thread and wakes the event
 * loop when done, which cost about twice the CPU of the copy itself per 256 KiB
 * (docs/PERF_NOTES.md, branch `filebob`); the thread is held meanwhile for what
 * the page cache takes, as it is for the store's commits.
 */
export class PositionedFile {
  #file: Deno.FsFile;
  #pos = -1;

  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  #atSync(offset: number): void {
    if (this.#pos === offset) return;
    this.#pos = -1; // unknown until the seek is done
    this.#file.seekSync(offset, Deno.SeekMode.Start);
    this.#pos = offset;
  }

  /**
   * Fills `buf` from `offset`. The caller owns `buf` (it is reused for the next read).
   *
   * @throws {Error} the file is shorter
   */
  readIntoSync(offset: number, buf: Uint8Array): Uint8Array {
    this.#atSync(offset);
    let got = 0;
    try {
      while (got < buf.length) {
        const n = this.#file.readSync(buf.subarray(got));
        if (n === null) throw new Error("Cannot read file: it is shorter than when it was offered");
        got += n;
      }
    } finally {
      this.#pos = got === buf.length ? offset + got : -1;
    }
    return buf;
  }

  /** Writes all of `bytes` at `offset`. */
  writeAtSync(offset: number, bytes: Uint8Array): void {
    this.#atSync(offset);
    let put = 0;
    try {
      while (put < bytes.length) put += this.#file.writeSync(bytes.subarray(put));
    } finally {
      this.#pos = put === bytes.length ? offset + put : -1;
    }
  }

  stat(): Promise<Deno.FileInfo> {
    return this.#file.stat();
  }

  truncate(length: number): Promise<void> {
    this.#pos = -1;
    return this.#file.truncate(length);
  }

  syncData(): Promise<void> {
    return this.#file.syncData();
  }

  close(): void {
    try {
      this.#file.close();
    } catch { /* closed already */ }
  }
}
