/**
 * The one place the client makes an envelope (docs/PROTOCOL.md §8): a fresh
 * random id, our address, the lifetime after which nodes drop it.
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

/** Envelope ids are 16 random bytes. */
export function newEnvelopeId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(16));
}

/** Makes and encodes an envelope from us. */
export function newEnvelope(
  { from, to, kind, body, nowMs, lifetimeMs, id = newEnvelopeId() }: NewEnvelopeOptions,
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
