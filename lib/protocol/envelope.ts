/**
 * Envelopes: what nodes carry for each other. The header is for routing and
 * delivery; `body` is opaque to nodes (ciphertext between clients, or a node
 * message such as a signed delivery receipt). Relays change only `ttl`.
 *
 *   u8 version=1 | [16] id | u8 kind | u8 ttl | u64 createdAtMs | u64 expiresAtMs
 *   | str from | str to | bytes body
 *
 * `from` / `to` are user addresses (`name@node`) for user kinds, and node ids
 * for node kinds.
 */
import { ByteReader, ByteWriter, CodecError } from "../e2e/mod.ts";
import { type Address, type NodeId, splitAddress, toAddress, toNodeId } from "../ids.ts";

const VERSION = 1;

/** Hops an envelope may take before it is dropped. */
export const DEFAULT_TTL = 32;
/** Envelope bytes that do not decode. */
export class EnvelopeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EnvelopeError";
  }
}

/** Largest body an envelope may carry. */
export const MAX_ENVELOPE_BODY = 512 * 1024;
/** Envelope ids are 16 random bytes. */
export const ENVELOPE_ID_BYTES = 16;

/** Kinds of envelope; `user` kinds go between clients, `node` kinds between nodes. */
export const ENVELOPE_KINDS = {
  /** A chat request (with its handshake), allowed before acceptance. */
  request: { code: 1, between: "user" },
  /** Anything else a client sends a contact: messages, acceptances, receipts, files. */
  message: { code: 2, between: "user" },
  /** A destination node's signed receipt for envelopes it stored. */
  receipt: { code: 3, between: "node" },
  /** A diagnostic probe that records the path it takes, answered by a reply. */
  probe: { code: 4, between: "node" },
  probeReply: { code: 5, between: "node" },
  /** Asks a node for a local user's published intro bundle. */
  bundleRequest: { code: 6, between: "node" },
  bundleReply: { code: 7, between: "node" },
  /**
   * One end-to-end encrypted chunk of a file (body: lib/protocol/file_chunk.ts);
   * forwarded like a message, kept on disk by the destination, never in an outbox.
   */
  chunk: { code: 8, between: "user" },
} as const;

/** The name of an envelope kind. */
export type EnvelopeKind = keyof typeof ENVELOPE_KINDS;

const KIND_BY_CODE = new Map(
  Object.entries(ENVELOPE_KINDS).map(([k, v]) => [v.code as number, k as EnvelopeKind]),
);

/** A decoded envelope. */
export interface Envelope {
  id: Uint8Array;
  kind: EnvelopeKind;
  ttl: number;
  createdAtMs: number;
  expiresAtMs: number;
  /** A user address for user kinds, a node id for node kinds. */
  from: string;
  to: string;
  body: Uint8Array;
}

/** Hex form of an envelope id, for maps, logs and the store. */
export function envelopeIdHex(id: Uint8Array): string {
  return id.toHex();
}

/** The node an envelope is going to. */
export function destinationNode(e: Envelope): NodeId {
  return ENVELOPE_KINDS[e.kind].between === "user"
    ? splitAddress(e.to as Address).node
    : e.to as NodeId;
}

/** The node an envelope came from. */
export function originNode(e: Envelope): NodeId {
  return ENVELOPE_KINDS[e.kind].between === "user"
    ? splitAddress(e.from as Address).node
    : e.from as NodeId;
}

/** Encodes an envelope. */
export function encodeEnvelope(e: Envelope): Uint8Array {
  return new ByteWriter().u8(VERSION).raw(e.id).u8(ENVELOPE_KINDS[e.kind].code).u8(e.ttl)
    .u64(e.createdAtMs).u64(e.expiresAtMs).str16(e.from).str16(e.to).bytes32(e.body).finish();
}

/** Offset of the ttl byte, so relays can decrement it without re-encoding. */
export const TTL_OFFSET = 1 + ENVELOPE_ID_BYTES + 1;

// User kinds carry `name@node` on the wire; the bare `node` that toAddress() also takes
// would decode to an address other than the bytes a relay forwards.
function toWireAddress(text: string): Address {
  const address = toAddress(text);
  if (address !== text) throw new CodecError(`address "${text}" is not name@node`);
  return address;
}

/**
 * Decodes and validates an envelope.
 *
 * @throws {EnvelopeError} malformed, unknown version or kind, bad address, oversized body
 */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  try {
    if (bytes.length > MAX_ENVELOPE_BODY + 256) throw new CodecError("envelope too large");
    const r = new ByteReader(bytes, "envelope");
    if (r.u8("version") !== VERSION) throw new CodecError("unknown version");
    const id = r.raw(ENVELOPE_ID_BYTES, "id");
    const kind = KIND_BY_CODE.get(r.u8("kind"));
    if (!kind) throw new CodecError("unknown kind");
    const ttl = r.u8("ttl");
    const createdAtMs = r.u64("createdAtMs");
    const expiresAtMs = r.u64("expiresAtMs");
    const parse = ENVELOPE_KINDS[kind].between === "user" ? toWireAddress : toNodeId;
    const from = parse(r.str16(80, "from"));
    const to = parse(r.str16(80, "to"));
    // A view, not a copy: a relay forwards the bytes it received, and bodies can be 256 KiB chunks.
    const body = r.bytes32View(MAX_ENVELOPE_BODY, "body");
    r.end();
    if (expiresAtMs < createdAtMs) throw new CodecError("expires before it was created");
    return { id, kind, ttl, createdAtMs, expiresAtMs, from, to, body };
  } catch (e) {
    if (e instanceof CodecError || e instanceof RangeError || e instanceof TypeError) {
      throw new EnvelopeError(`Cannot read envelope: ${e.message}`, { cause: e });
    }
    throw e;
  }
}
