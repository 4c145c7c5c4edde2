/**
 * The one place the client makes an envelope (docs/PROTOCOL.md §8): a fresh
 * id (the time first, then random bytes), our address, the lifetime after
 * which nodes drop it.
 */
import { DEFAULT_TTL, encodeEnvelope, envelopeIdHex } from "../protocol/mod.ts";

/** Options of {@linkcode newEnvelope}. */
export interface NewEnvelopeOptions {
  from: string;
  to: string;
  kind: "request" | "message";
  body: Uint8Array;
  nowMs: number;
  /** How long nodes keep it while its destination cannot be reached. */
  lifetimeMs: number;
  /** The id, when the body is already bound to it (a ratchet message's associated data). */
  id?: Uint8Array;
}

/** An encoded envelope and its id (raw and hex). */
export interface NewEnvelope {
  id: string;
  idBytes: Uint8Array;
  bytes: Uint8Array;
}

/** Bytes of an envelope id that hold the time it was made (milliseconds, big-endian). */
export const ID_TIME_BYTES = 6;

/**
 * A new envelope id: `nowMs` (the envelope's `createdAtMs`, which every node
 * sees anyway) in its first 6 bytes, big-endian, then 10 random bytes (80
 * bits: unguessable, and unique however many are made in one millisecond).
 *
 * Ids made later sort after, so every store keyed by envelope id (the
 * client's messages, a node's inbox and de-duplication) adds its keys at one
 * end of its index instead of all over it: a purely random id dirtied about
 * one index page per message, each page written whole into the log at
 * commit (docs/PERF_NOTES.md, branch `clientrows`). Nothing may depend on
 * the order for correctness: any sender may choose any id, and clocks drift.
 */
export function newEnvelopeId(nowMs: number): Uint8Array {
  const id = crypto.getRandomValues(new Uint8Array(16));
  // 48 bits of milliseconds last until the year 10889; a clock outside them is someone else's bug.
  const ms = Math.min(Math.max(0, Math.floor(nowMs)), 2 ** 48 - 1);
  const high = Math.floor(ms / 2 ** 16);
  id[0] = high >>> 24;
  id[1] = high >>> 16;
  id[2] = high >>> 8;
  id[3] = high;
  id[4] = ms >>> 8;
  id[5] = ms;
  return id;
}

/** Makes and encodes an envelope from us. */
export function newEnvelope(
  { from, to, kind, body, nowMs, lifetimeMs, id = newEnvelopeId(nowMs) }: NewEnvelopeOptions,
): NewEnvelope {
  const bytes = encodeEnvelope({
    id,
    kind,
    ttl: DEFAULT_TTL,
    createdAtMs: nowMs,
    expiresAtMs: nowMs + lifetimeMs,
    from,
    to,
    body,
  });
  return { id: envelopeIdHex(id), idBytes: id, bytes };
}
