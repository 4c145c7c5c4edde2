/**
 * The client protocol: messages between a client and its home node, the same
 * over WebSocket (inside the authenticated channel) and in process.
 *
 *   u8 version=1 | u8 type | str json fields | bytes payload (an envelope or a bundle)
 *
 * Each type's JSON fields are checked by {@linkcode decodeClientMessage}.
 */
import { ByteReader, ByteWriter, CodecError } from "../e2e/mod.ts";

const VERSION = 1;
/** Largest client message. */
export const MAX_CLIENT_MESSAGE_BYTES = 1024 * 1024;

/** Every message, discriminated by `type`. */
export type ClientMessage =
  // client → node
  | { type: "hello"; enrollCode?: string }
  | { type: "submit"; req: number; envelope: Uint8Array }
  | { type: "ack"; ids: string[] }
  | { type: "policy"; address: string; policy: "allow" | "block" | "none" }
  | { type: "publish"; bundle: Uint8Array }
  | { type: "fetch"; req: number; address: string }
  | { type: "directory"; req: number }
  // node → client
  | { type: "welcome"; user: string; node: string; nowMs: number }
  | {
    type: "submitted";
    req: number;
    id?: string;
    state?: "sent" | "delivered";
    error?: string;
    /** Per-user results of a group envelope kept at this very node: address → status. */
    users?: Record<string, string>;
  }
  | { type: "deliver"; seq: number; id: string; envelope: Uint8Array }
  | {
    type: "notice";
    seq: number;
    id: string;
    ref: string;
    /** `held`: a mailbox holds it (`reason` names it); `kept`: kept at the node (reason says why). */
    state: "delivered" | "failed" | "held" | "kept";
    reason?: string;
    /** Per-user results of a group envelope (docs/PROTOCOL.md §14): address → status. */
    users?: Record<string, string>;
  }
  | { type: "bundle"; req: number; bundle?: Uint8Array; error?: string }
  | {
    type: "entries";
    req: number;
    entries: Array<{ address: string; presence: string; node: string }>;
  }
  | { type: "error"; message: string }
  // file chunks (lib/protocol/file_chunk.ts), outside the inbox order
  /** client → node: send a chunk envelope now; answered by chunkResult, never stored in an outbox */
  | { type: "chunkSubmit"; envelope: Uint8Array }
  /** node → client: the destination stored (or refused) chunks; "retry": no route now */
  | { type: "chunkResult"; results: ChunkResult[] }
  /** node → client: a chunk kept for this user */
  | { type: "chunkDeliver"; id: string; envelope: Uint8Array }
  /** client → node: chunks taken; the node deletes them */
  | { type: "chunkAck"; ids: string[] }
  /**
   * node → client: the node's resource conditions (a full disk), at welcome and when one
   * starts or ends, so the owner sees them in the UI and `listen`
   */
  | { type: "condition"; resources: Record<string, NodeCondition> }
  // groups (docs/PROTOCOL.md §14)
  /** client → node: publish MLS key packages (payload: lib/protocol/group_body.ts list) */
  | { type: "keyPackages"; packages: Uint8Array }
  /** node → client: one-time key packages left here (at welcome, and after one is handed out) */
  | { type: "keyPackageCount"; count: number; lastResort: boolean }
  /** client → node: one key package of `address` (consumed), answered by keyPackage */
  | { type: "keyPackageFetch"; req: number; address: string }
  | { type: "keyPackage"; req: number; keyPackage?: Uint8Array; error?: string }
  /** client → node: this user joined a group it was invited to, or stands in it no more */
  | { type: "groupPolicy"; group: string; state: "joined" | "none" };

/** One of the node's resource conditions as clients hear it. */
export interface NodeCondition {
  /** "ok", or what is wrong ("disk-full", "io-error", ...). */
  state: string;
  message?: string;
  sinceMs?: number;
}

/** What became of one submitted chunk. */
export interface ChunkResult {
  id: string;
  state: "stored" | "failed" | "retry";
  reason?: string;
}

const TYPES = [
  "hello",
  "submit",
  "ack",
  "policy",
  "publish",
  "fetch",
  "directory",
  "welcome",
  "submitted",
  "deliver",
  "notice",
  "bundle",
  "entries",
  "error",
  "chunkSubmit",
  "chunkResult",
  "chunkDeliver",
  "chunkAck",
  "condition",
  "keyPackages",
  "keyPackageCount",
  "keyPackageFetch",
  "keyPackage",
  "groupPolicy",
] as const;

const PAYLOAD_FIELD: Partial<Record<ClientMessage["type"], string>> = {
  submit: "envelope",
  deliver: "envelope",
  publish: "bundle",
  bundle: "bundle",
  chunkSubmit: "envelope",
  chunkDeliver: "envelope",
  keyPackages: "packages",
  keyPackage: "keyPackage",
};

/** Encodes a client message. */
export function encodeClientMessage(m: ClientMessage): Uint8Array {
  const field = PAYLOAD_FIELD[m.type];
  const fields: Record<string, unknown> = { ...m };
  delete fields.type;
  let payload: Uint8Array = new Uint8Array(0);
  if (field) {
    payload = (fields[field] as Uint8Array | undefined) ?? payload;
    delete fields[field];
  }
  return new ByteWriter().u8(VERSION).u8(TYPES.indexOf(m.type)).str16(JSON.stringify(fields))
    .bytes32(payload).finish();
}

const isStr = (v: unknown, max = 200) => typeof v === "string" && v.length <= max;
const isInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const opt = (v: unknown, check: (x: unknown) => boolean) => v === undefined || check(v);
const isUsers = (v: unknown) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const entries = Object.entries(v);
  return entries.length <= 256 && entries.every(([k, s]) => isStr(k, 80) && isStr(s, 40));
};

function valid(type: ClientMessage["type"], f: Record<string, unknown>): boolean {
  switch (type) {
    case "hello":
      return opt(f.enrollCode, (v) => isStr(v, 100));
    case "submit":
    case "directory":
      return isInt(f.req);
    case "fetch":
      return isInt(f.req) && isStr(f.address);
    case "ack":
      return Array.isArray(f.ids) && f.ids.length <= 4096 && f.ids.every((x) => isStr(x, 80));
    case "policy":
      return isStr(f.address) && ["allow", "block", "none"].includes(f.policy as string);
    case "publish":
      return true;
    case "welcome":
      return isStr(f.user) && isStr(f.node) && isInt(f.nowMs);
    case "submitted":
      return isInt(f.req) && opt(f.id, isStr) &&
        opt(f.state, (v) => v === "sent" || v === "delivered") &&
        opt(f.error, (v) => isStr(v, 1000)) && opt(f.users, isUsers);
    case "deliver":
      return isInt(f.seq) && isStr(f.id);
    case "notice":
      return isInt(f.seq) && isStr(f.id) && isStr(f.ref) &&
        ["delivered", "failed", "held", "kept"].includes(f.state as string) &&
        opt(f.reason, isStr) &&
        opt(f.users, isUsers);
    case "bundle":
      return isInt(f.req) && opt(f.error, (v) => isStr(v, 1000));
    case "entries":
      return isInt(f.req) && Array.isArray(f.entries) && f.entries.length <= 100_000 &&
        f.entries.every((e) =>
          typeof e === "object" && e !== null && isStr(e.address) && isStr(e.presence) &&
          isStr(e.node)
        );
    case "error":
      return isStr(f.message, 2000);
    case "chunkSubmit":
      return true;
    case "chunkDeliver":
      return isStr(f.id);
    case "chunkAck":
      return Array.isArray(f.ids) && f.ids.length <= 4096 && f.ids.every((x) => isStr(x, 80));
    case "condition": {
      const r = f.resources;
      if (typeof r !== "object" || r === null || Array.isArray(r)) return false;
      const entries = Object.entries(r);
      return entries.length <= 16 &&
        entries.every(([k, v]) =>
          isStr(k, 40) && typeof v === "object" && v !== null && isStr(v.state, 40) &&
          opt(v.message, (m) => isStr(m, 500)) && opt(v.sinceMs, isInt)
        );
    }
    case "keyPackages":
      return true;
    case "keyPackageCount":
      return isInt(f.count) && typeof f.lastResort === "boolean";
    case "keyPackageFetch":
      return isInt(f.req) && isStr(f.address);
    case "keyPackage":
      return isInt(f.req) && opt(f.error, (v) => isStr(v, 1000));
    case "groupPolicy":
      return isStr(f.group, 120) && (f.state === "joined" || f.state === "none");
    case "chunkResult":
      return Array.isArray(f.results) && f.results.length <= 4096 &&
        f.results.every((r) =>
          typeof r === "object" && r !== null && isStr(r.id, 80) &&
          ["stored", "failed", "retry"].includes(r.state) && opt(r.reason, (v) => isStr(v, 500))
        );
  }
}

/**
 * Decodes and checks a client message.
 *
 * @throws {CodecError} malformed, unknown type, or a field of the wrong shape
 */
export function decodeClientMessage(bytes: Uint8Array): ClientMessage {
  if (bytes.length > MAX_CLIENT_MESSAGE_BYTES) {
    throw new CodecError("Cannot read client message: too large");
  }
  const r = new ByteReader(bytes, "client message");
  if (r.u8("version") !== VERSION) {
    throw new CodecError("Cannot read client message: unknown version");
  }
  const type = TYPES[r.u8("type")];
  if (!type) throw new CodecError("Cannot read client message: unknown type");
  let fields: unknown;
  try {
    fields = JSON.parse(r.str16(65_535, "fields"));
  } catch (e) {
    if (e instanceof CodecError) throw e;
    throw new CodecError("Cannot read client message: fields are not JSON");
  }
  const payload = r.bytes32(MAX_CLIENT_MESSAGE_BYTES, "payload");
  r.end();
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    throw new CodecError("Cannot read client message: fields must be an object");
  }
  const f = fields as Record<string, unknown>;
  if (!valid(type, f)) throw new CodecError(`Cannot read client message: bad fields for ${type}`);
  const field = PAYLOAD_FIELD[type];
  const m = { ...f, type } as Record<string, unknown>;
  // The payload field comes from the payload bytes only, never from the JSON.
  if (field && (payload.length > 0 || (type !== "bundle" && type !== "keyPackage"))) {
    m[field] = payload;
  } else if (field) delete m[field];
  return m as ClientMessage;
}

/** One end of a client connection (WebSocket channel or in process), carrying encoded messages. */
export interface ClientLink {
  send(bytes: Uint8Array): void;
  close(reason: string): void;
  onMessage: ((bytes: Uint8Array) => void) | null;
  onClose: (reason: string) => void;
}
