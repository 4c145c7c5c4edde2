/**
 * What one file transfer's runtime needs from the client (private to
 * lib/client): the store, the node connection, the clock, and a way to send
 * the transfer's messages through the ratchet. Plus the small helpers both
 * directions share: the chunk bitmap and a rate meter.
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { ClientStore, TransferRow } from "./client_store.ts";
import type { NodeConnection } from "./node_connection.ts";
import type { FileInner } from "./payload.ts";

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

/** Reads exactly `length` bytes at `offset` of an open file. @throws {Error} file shorter */
export async function readAt(
  file: Deno.FsFile,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) throw new Error("Cannot read file: it is shorter than when it was offered");
    got += n;
  }
  return buf;
}

/** Writes all of `bytes` at `offset` of an open file. */
export async function writeAt(file: Deno.FsFile, offset: number, bytes: Uint8Array): Promise<void> {
  await file.seek(offset, Deno.SeekMode.Start);
  let put = 0;
  while (put < bytes.length) put += await file.write(bytes.subarray(put));
}
