/**
 * Envelopes: what nodes carry for each other. The header is for routing and
 * delivery; `body` is opaque to nodes (ciphertext between clients, or a node
 * message such as a delivery receipt). Relays change only `ttl`.
 *
 *   u8 version=2 | [16] id | u8 kind | u8 ttl | u64 createdAtMs | u64 expiresAtMs
 *   | str16 from | str16 to | bytes32 body | [auth]
 *
 * `from` / `to` are user addresses (`name@node`) for user kinds, node ids
 * for node kinds, and a user address to a node id for the group kinds (one
 * envelope per destination node, its body naming the users there). `auth` is the origin node's provenance proof (see
 * lib/federation/provenance.ts): present on every envelope between nodes,
 * absent on what a client submits to its own node and on what a node keeps
 * for its clients. Version 1 (the same layout, never with `auth`) is still
 * read, for stores written by earlier versions.
 */
import { ByteReader, ByteWriter, CodecError } from "../e2e/base.ts";
import { type Address, type NodeId, splitAddress, toAddress, toNodeId } from "../ids.ts";

const VERSION = 2;
const LEGACY_VERSION = 1;

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
/** Largest provenance proof after the body. */
export const MAX_AUTH_BYTES = 2048;

/** Kinds of envelope; `user` kinds go between clients, `node` kinds between nodes. */
export const ENVELOPE_KINDS = {
  /** A chat request (with its handshake), allowed before acceptance. */
  request: { code: 1, between: "user" },
  /** Anything else a client sends a contact: messages, acceptances, receipts, files. */
  message: { code: 2, between: "user" },
  /** A destination node's receipt for envelopes it stored. */
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
  /**
   * A group application message (MLS) from a member to one destination node, for the
   * members there it names (body: lib/protocol/group_body.ts `GroupDelivery`).
   */
  group: { code: 9, between: "userToNode" },
  /** A member's commit or proposal for the group's home node (body: `HubSubmission`). */
  groupHub: { code: 10, between: "userToNode" },
  /** The home node's fan-out of what it ordered, to one member node (body: `HubFanout`). */
  groupFanout: { code: 11, between: "node" },
  /** Asks a node for one of a local user's MLS key packages (consumed: handed out once). */
  keyPackageRequest: { code: 12, between: "node" },
  keyPackageReply: { code: 13, between: "node" },
  /**
   * A sending node hands a mailbox an envelope (with its proof) for a node the mailbox serves
   * (body: lib/protocol/mailbox_body.ts); answered by a receipt saying `held` or why not.
   */
  custody: { code: 20, between: "node" },
  /** A mailbox hands a served node an envelope it held; answered by a receipt. */
  mailboxDelivery: { code: 21, between: "node" },
  /** Asks a destination what it did with envelopes its sender handed to a mailbox. */
  receiptQuery: { code: 22, between: "node" },
} as const;

/** The name of an envelope kind. */
export type EnvelopeKind = keyof typeof ENVELOPE_KINDS;
/** Kinds whose `from` and `to` are user addresses. */
export type UserKind = {
  [K in EnvelopeKind]: (typeof ENVELOPE_KINDS)[K]["between"] extends "user" ? K : never;
}[EnvelopeKind];
/** Kinds whose `from` and `to` are node ids. */
export type NodeKind = {
  [K in EnvelopeKind]: (typeof ENVELOPE_KINDS)[K]["between"] extends "node" ? K : never;
}[EnvelopeKind];
/** Kinds from a user address to a node id (group traffic: one envelope per destination node). */
export type GroupKind = Exclude<EnvelopeKind, UserKind | NodeKind>;

const KIND_BY_CODE = new Map(
  Object.entries(ENVELOPE_KINDS).map(([k, v]) => [v.code as number, k as EnvelopeKind]),
);

interface EnvelopeHeader {
  id: Uint8Array;
  ttl: number;
  /** The origin's clock: when it was made. */
  createdAtMs: number;
  /** The origin's clock: when the origin gives up on it. */
  expiresAtMs: number;
  body: Uint8Array;
}

/** An envelope between clients: `from` and `to` are addresses. */
export interface UserEnvelope extends EnvelopeHeader {
  kind: UserKind;
  from: Address;
  to: Address;
}

/** An envelope between nodes: `from` and `to` are node ids. */
export interface NodeEnvelope extends EnvelopeHeader {
  kind: NodeKind;
  from: NodeId;
  to: NodeId;
}

/** An envelope from a user to a node (group traffic): `from` is an address, `to` a node id. */
export interface GroupEnvelope extends EnvelopeHeader {
  kind: GroupKind;
  from: Address;
  to: NodeId;
}

/** A decoded envelope. */
export type Envelope = UserEnvelope | NodeEnvelope | GroupEnvelope;

/**
 * The origin node's proof that it made an envelope (lib/federation/provenance.ts). As decoded,
 * `path` and `signature` are views into the envelope's bytes: read them before those change.
 */
export interface EnvelopeAuth {
  /** Leaf index in the origin's signed batch, and the batch's size. */
  index: number;
  size: number;
  /**
   * Merkle audit path, leaf to root (RFC 9162 §2.1.3): its nodes' 32 bytes
   * each, one after another (as on the wire: a decoded proof is one view, not
   * a view per node).
   */
  path: Uint8Array;
  /** Ed25519 signature of the origin node over the batch root. */
  signature: Uint8Array;
}

/** What {@linkcode decodeEnvelope} returns: the envelope, its proof, and where the proof starts. */
export interface DecodedEnvelope {
  envelope: Envelope;
  auth: EnvelopeAuth | null;
  /** Length of the signed part (everything before `auth`). */
  signedLength: number;
}

/** True for kinds whose ends are user addresses. */
export function isUserEnvelope(e: Envelope): e is UserEnvelope {
  return ENVELOPE_KINDS[e.kind].between === "user";
}

/** Hex form of an envelope id, for maps, logs and the store. */
export function envelopeIdHex(id: Uint8Array): string {
  return id.toHex();
}

/** True for the group kinds, from a user address to a node id. */
export function isGroupEnvelope(e: Envelope): e is GroupEnvelope {
  return ENVELOPE_KINDS[e.kind].between === "userToNode";
}

/** The node an envelope is going to. */
export function destinationNode(e: Envelope): NodeId {
  return isUserEnvelope(e) ? splitAddress(e.to).node : e.to;
}

/** The node an envelope came from (whose key must prove it). */
export function originNode(e: Envelope): NodeId {
  return isUserEnvelope(e) || isGroupEnvelope(e) ? splitAddress(e.from).node : e.from;
}

/**
 * A new envelope between nodes (receipts, probes, bundles): a fresh random id
 * unless one is given, the default ttl, and `lifetimeMs` from `nowMs`.
 */
export function nodeEnvelope(o: {
  kind: NodeKind;
  from: NodeId;
  to: NodeId;
  body: Uint8Array;
  nowMs: number;
  lifetimeMs: number;
  id?: Uint8Array;
}): NodeEnvelope {
  return {
    id: o.id ?? crypto.getRandomValues(new Uint8Array(ENVELOPE_ID_BYTES)),
    kind: o.kind,
    ttl: DEFAULT_TTL,
    createdAtMs: o.nowMs,
    expiresAtMs: o.nowMs + o.lifetimeMs,
    from: o.from,
    to: o.to,
    body: o.body,
  };
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

/** What {@linkcode encodeEnvelope} takes: an envelope whose ends may be plain strings. */
export type EnvelopeInit = Omit<Envelope, "from" | "to"> & { from: string; to: string };

/**
 * Encodes an envelope without a proof (what a client submits; what a node
 * stores). The ends are checked when the bytes are decoded, by every receiver.
 */
export function encodeEnvelope(e: EnvelopeInit): Uint8Array {
  // Room for the fixed fields and both addresses (UTF-8: at most 3 bytes per UTF-16 unit).
  const size = 48 + 3 * (e.from.length + e.to.length) + e.body.length;
  return new ByteWriter(size).u8(VERSION).raw(e.id).u8(ENVELOPE_KINDS[e.kind].code)
    .u8(e.ttl).u64(e.createdAtMs).u64(e.expiresAtMs).str16(e.from).str16(e.to).bytes32(e.body)
    .finish();
}

/**
 * Encodes an envelope without a proof whose body is given in parts, as parts:
 * a head (every field up to and with the body's length) and the body parts
 * themselves, not copied. Joined, they are exactly {@linkcode encodeEnvelope}
 * of the joined body; a client frames them once into its message (file chunks:
 * no separate copy for the body and for the envelope).
 *
 * @throws {RangeError} the body is larger than {@linkcode MAX_ENVELOPE_BODY}
 */
export function encodeEnvelopeParts(
  e: Omit<EnvelopeInit, "body">,
  body: readonly Uint8Array[],
): Uint8Array[] {
  let n = 0;
  for (const p of body) n += p.length;
  if (n > MAX_ENVELOPE_BODY) throw new RangeError("Cannot encode envelope: body too large");
  const head = new ByteWriter(48 + 3 * (e.from.length + e.to.length)).u8(VERSION).raw(e.id)
    .u8(ENVELOPE_KINDS[e.kind].code).u8(e.ttl).u64(e.createdAtMs).u64(e.expiresAtMs)
    .str16(e.from).str16(e.to).u32(n).finish();
  return [head, ...body];
}

/** Appends a proof to unsigned envelope bytes. */
export function encodeEnvelopeAuth(unsigned: Uint8Array, auth: EnvelopeAuth): Uint8Array {
  return writeAuth(new ByteWriter(unsigned.length + 70 + auth.path.length).raw(unsigned), auth)
    .finish();
}

/**
 * The proof's bytes alone: unsigned envelope bytes followed by these are
 * exactly {@linkcode encodeEnvelopeAuth}'s (a large envelope is sent as the
 * two parts instead of being copied into a new buffer with its proof).
 */
export function encodeEnvelopeAuthTail(auth: EnvelopeAuth): Uint8Array {
  return writeAuth(new ByteWriter(70 + auth.path.length), auth).finish();
}

function writeAuth(w: ByteWriter, auth: EnvelopeAuth): ByteWriter {
  const nodes = auth.path.length / AUTH_NODE_BYTES;
  if (!Number.isInteger(nodes)) throw new RangeError("Cannot encode auth: path is not whole nodes");
  return w.u16(auth.index).u16(auth.size).u8(nodes).raw(auth.path).raw(auth.signature);
}

/** Bytes of one node of an audit path (a SHA-256 digest). */
export const AUTH_NODE_BYTES = 32;

/** Most leaves in one signed batch (a path of at most 10 nodes). */
export const MAX_BATCH = 1024;

// The proof's fields are views into the decoded bytes, not copies: a verifier reads them at once
// and nothing keeps them. Their copies (`slice()` of 32 and 64 bytes, about 1.5 µs each here) were
// most of a node's envelope decoding: a signed envelope decodes in 2.5-2.9 µs instead of 12.6-12.9
// (in-process loop; ByteReader.raw was 54-60 % of "envelope encode/decode" in the nodes' profiles).
function decodeAuth(r: ByteReader): EnvelopeAuth {
  const index = r.u16("auth index");
  const size = r.u16("auth size");
  if (size < 1 || size > MAX_BATCH || index >= size) throw new CodecError("bad batch position");
  const n = r.u8("auth path length");
  if (n > 10) throw new CodecError("auth path too long");
  const path = r.rawView(n * AUTH_NODE_BYTES, "auth path");
  return { index, size, path, signature: r.rawView(64, "auth signature") };
}

/**
 * Decodes and validates an envelope (a proof after the body is checked for
 * shape and dropped: clients read envelopes their node already proved).
 *
 * @throws {EnvelopeError} malformed, unknown version or kind, bad address, oversized body
 */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  return decodeEnvelopeWithAuth(bytes).envelope;
}

/**
 * Decodes and validates an envelope; the proof, if any, is returned beside it
 * (checking it is the provenance verifier's job).
 *
 * @throws {EnvelopeError} malformed, unknown version or kind, bad address, oversized body
 */
export function decodeEnvelopeWithAuth(bytes: Uint8Array): DecodedEnvelope {
  try {
    if (bytes.length > MAX_ENVELOPE_BODY + 256 + MAX_AUTH_BYTES) {
      throw new CodecError("envelope too large");
    }
    const r = new ByteReader(bytes, "envelope");
    const version = r.u8("version");
    if (version !== VERSION && version !== LEGACY_VERSION) throw new CodecError("unknown version");
    const id = r.raw(ENVELOPE_ID_BYTES, "id");
    const kind = KIND_BY_CODE.get(r.u8("kind"));
    if (!kind) throw new CodecError("unknown kind");
    const ttl = r.u8("ttl");
    const createdAtMs = r.u64("createdAtMs");
    const expiresAtMs = r.u64("expiresAtMs");
    const fromText = r.str16(80, "from");
    const toText = r.str16(80, "to");
    // A view, not a copy: a relay forwards the bytes it received, and bodies can be 256 KiB chunks.
    const body = r.bytes32View(MAX_ENVELOPE_BODY, "body");
    const signedLength = r.offset;
    const auth = r.remaining > 0 && version === VERSION ? decodeAuth(r) : null;
    r.end();
    if (expiresAtMs < createdAtMs) throw new CodecError("expires before it was created");
    const head = { id, ttl, createdAtMs, expiresAtMs, body };
    const between = ENVELOPE_KINDS[kind].between;
    const envelope: Envelope = between === "user"
      ? {
        ...head,
        kind: kind as UserKind,
        from: toWireAddress(fromText),
        to: toWireAddress(toText),
      }
      : between === "node"
      ? { ...head, kind: kind as NodeKind, from: toNodeId(fromText), to: toNodeId(toText) }
      : { ...head, kind: kind as GroupKind, from: toWireAddress(fromText), to: toNodeId(toText) };
    return { envelope, auth, signedLength };
  } catch (e) {
    if (e instanceof CodecError || e instanceof RangeError || e instanceof TypeError) {
      throw new EnvelopeError(`Cannot read envelope: ${e.message}`, { cause: e });
    }
    throw e;
  }
}

/** The unsigned part of envelope bytes (a view): what a node keeps for its clients. */
export function withoutAuth(bytes: Uint8Array, decoded: DecodedEnvelope): Uint8Array {
  return decoded.auth ? bytes.subarray(0, decoded.signedLength) : bytes;
}
