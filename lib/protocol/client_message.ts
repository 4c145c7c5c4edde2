/**
 * The client protocol: messages between a client and its home node, the same
 * over WebSocket (inside the authenticated channel) and in process. Binary,
 * one fixed layout per type (docs/PROTOCOL.md §9):
 *
 *   u8 version=2 | u8 type | fields of that type
 *
 * Strings are `str16` (UTF-8), with a cap in characters checked after
 * decoding; integers that count (req, seq, times) are u64; optional fields
 * follow a u8 of presence flags, and unknown flags are refused. Version 1
 * (JSON fields) is no longer read.
 */
import { ByteReader, ByteWriter, CodecError } from "../e2e/base.ts";

const VERSION = 2;
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

/** Type codes on the wire (a message's index here), never reordered. */
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
const CODE = Object.fromEntries(TYPES.map((t, i) => [t, i])) as Record<
  ClientMessage["type"],
  number
>;

const POLICIES = ["none", "allow", "block"] as const;
const NOTICE_STATES = ["delivered", "failed", "held", "kept"] as const;
const SUBMITTED_STATES = ["sent", "delivered"] as const;
const CHUNK_STATES = ["stored", "failed", "retry"] as const;
const GROUP_POLICIES = ["none", "joined"] as const;
/**
 * What a destination did for one user a group envelope named, by wire code:
 * also the receipt statuses (lib/node/receipt.ts `RECEIPT_STATUSES` is this list).
 */
export const USER_STATUSES = [
  "stored",
  "no-such-user",
  "refused",
  "too-large",
  "quota-full",
  "busy",
  "expired",
  "held",
  "not-served",
] as const;
/** Users one group envelope names at most (a group has at most 256 members). */
const MAX_USERS = 256;
/** Key packages a node keeps per user at most (`key_packages_per_user` ≤ 1,000). */
const MAX_KEY_PACKAGES = 1000;
/** Ids and inbox ids in lists (acks, chunk results). */
export const MAX_IDS = 4096;
const MAX_ENTRIES = 100_000;
const MAX_CONDITIONS = 16;
const MAX_PAYLOAD = MAX_CLIENT_MESSAGE_BYTES;

type Of<T extends ClientMessage["type"]> = Extract<ClientMessage, { type: T }>;

/** Encodes a client message. @throws {RangeError} a value its field cannot hold */
export function encodeClientMessage(m: ClientMessage): Uint8Array {
  const w = new ByteWriter(sizeHint(m)).u8(VERSION).u8(CODE[m.type]);
  switch (m.type) {
    case "hello":
      return (m.enrollCode === undefined ? w.u8(0) : w.u8(1).str16(m.enrollCode)).finish();
    case "submit":
      return w.u64(m.req).bytes32(m.envelope).finish();
    case "ack":
    case "chunkAck":
      return strings(w, m.ids).finish();
    case "policy":
      return w.str16(m.address).u8(POLICIES.indexOf(m.policy)).finish();
    case "publish":
      return w.bytes32(m.bundle).finish();
    case "fetch":
      return w.u64(m.req).str16(m.address).finish();
    case "directory":
      return w.u64(m.req).finish();
    case "welcome":
      return w.str16(m.user).str16(m.node).u64(m.nowMs).finish();
    case "submitted":
      w.u64(m.req).u8(flags(m.id, m.state, m.error, m.users));
      if (m.id !== undefined) w.str16(m.id);
      if (m.state !== undefined) w.u8(SUBMITTED_STATES.indexOf(m.state));
      if (m.error !== undefined) w.str16(m.error);
      if (m.users !== undefined) users(w, m.users);
      return w.finish();
    case "deliver":
      return w.u64(m.seq).str16(m.id).bytes32(m.envelope).finish();
    case "notice":
      w.u64(m.seq).str16(m.id).str16(m.ref).u8(NOTICE_STATES.indexOf(m.state))
        .u8(flags(m.reason, m.users));
      if (m.reason !== undefined) w.str16(m.reason);
      if (m.users !== undefined) users(w, m.users);
      return w.finish();
    case "bundle":
      w.u64(m.req).u8(flags(m.bundle, m.error));
      if (m.bundle !== undefined) w.bytes32(m.bundle);
      if (m.error !== undefined) w.str16(m.error);
      return w.finish();
    case "entries":
      w.u64(m.req).u32(m.entries.length);
      for (const e of m.entries) w.str16(e.address).str16(e.presence).str16(e.node);
      return w.finish();
    case "error":
      return w.str16(m.message).finish();
    case "chunkSubmit":
      return w.bytes32(m.envelope).finish();
    case "chunkResult":
      w.u16(m.results.length);
      for (const r of m.results) {
        w.str16(r.id).u8(CHUNK_STATES.indexOf(r.state));
        if (r.reason === undefined) w.u8(0);
        else w.u8(1).str16(r.reason);
      }
      return w.finish();
    case "chunkDeliver":
      return w.str16(m.id).bytes32(m.envelope).finish();
    case "condition": {
      const entries = Object.entries(m.resources);
      w.u8(entries.length);
      for (const [name, c] of entries) {
        w.str16(name).str16(c.state).u8(flags(c.message, c.sinceMs));
        if (c.message !== undefined) w.str16(c.message);
        if (c.sinceMs !== undefined) w.u64(c.sinceMs);
      }
      return w.finish();
    }
    case "keyPackages":
      return w.bytes32(m.packages).finish();
    case "keyPackageCount":
      return w.u16(m.count).u8(m.lastResort ? 1 : 0).finish();
    case "keyPackageFetch":
      return w.u64(m.req).str16(m.address).finish();
    case "keyPackage":
      w.u64(m.req).u8(flags(m.keyPackage, m.error));
      if (m.keyPackage !== undefined) w.bytes32(m.keyPackage);
      if (m.error !== undefined) w.str16(m.error);
      return w.finish();
    case "groupPolicy":
      return w.str16(m.group).u8(GROUP_POLICIES.indexOf(m.state)).finish();
  }
}

/**
 * Encodes a `chunkSubmit` whose envelope is given in parts
 * ({@linkcode encodeEnvelopeParts}): each part is copied once, into the
 * message, framed into `reuse` when it is large enough (a client frames each
 * chunk into a buffer it reuses once the message is handed on), else into a
 * new buffer. The same bytes as {@linkcode encodeClientMessage} of the joined
 * envelope, as a view `room` bytes from the start of that buffer (kept free
 * for the link: `SecureChannel.send`'s room for the record's length and the
 * frame's head).
 *
 * @throws {RangeError} the envelope is larger than a client message may carry
 */
export function encodeChunkSubmitParts(
  envelope: readonly Uint8Array[],
  reuse?: Uint8Array<ArrayBuffer>,
  room = 0,
): Uint8Array<ArrayBuffer> {
  let n = 0;
  for (const p of envelope) n += p.length;
  const head = encodeChunkSubmitHead(n);
  n += head.length;
  const buf = reuse && reuse.length >= room + n ? reuse : new Uint8Array(room + n);
  buf.set(head, room);
  let at = room + head.length;
  for (const p of envelope) {
    buf.set(p, at);
    at += p.length;
  }
  return buf.subarray(room, room + n);
}

/**
 * The bytes of a `chunkSubmit` message before its envelope of `envelopeBytes`
 * bytes: followed by the envelope, exactly {@linkcode encodeChunkSubmitParts}
 * of it (a client frames its chunks into a buffer it reuses).
 *
 * @throws {RangeError} the envelope is larger than a client message may carry
 */
export function encodeChunkSubmitHead(envelopeBytes: number): Uint8Array {
  if (envelopeBytes > MAX_PAYLOAD - 6) {
    throw new RangeError("Cannot encode chunkSubmit: envelope too large");
  }
  return new ByteWriter(6).u8(VERSION).u8(CODE.chunkSubmit).u32(envelopeBytes).finish();
}

/**
 * The bytes of a `chunkDeliver` message before its envelope of `envelopeBytes`
 * bytes: followed by the envelope, exactly {@linkcode encodeClientMessage} of
 * the message (a node frames a chunk into a buffer it reuses).
 *
 * @throws {RangeError} the envelope is larger than a client message may carry, or the id
 */
export function encodeChunkDeliverHead(id: string, envelopeBytes: number): Uint8Array {
  const w = new ByteWriter(16 + 3 * id.length).u8(VERSION).u8(CODE.chunkDeliver).str16(id)
    .u32(envelopeBytes);
  if (w.length + envelopeBytes > MAX_PAYLOAD) {
    throw new RangeError("Cannot encode chunkDeliver: envelope too large");
  }
  return w.finish();
}

/** Bytes to reserve: the payload plus room for the fields, so the writer does not grow. */
function sizeHint(m: ClientMessage): number {
  switch (m.type) {
    case "submit":
    case "chunkSubmit":
      return 16 + m.envelope.length;
    case "deliver":
    case "chunkDeliver":
      return 120 + m.envelope.length;
    case "publish":
      return 8 + m.bundle.length;
    case "keyPackages":
      return 8 + m.packages.length;
    case "keyPackage":
      return 32 + (m.keyPackage?.length ?? 0) + (m.error?.length ?? 0) * 3;
    case "bundle":
      return 32 + (m.bundle?.length ?? 0) + (m.error?.length ?? 0) * 3;
    case "ack":
    case "chunkAck":
      return 8 + m.ids.length * 40;
    case "entries":
      return 16 + m.entries.length * 64;
    default:
      return 256;
  }
}

function flags(...present: unknown[]): number {
  let f = 0;
  for (const [i, v] of present.entries()) if (v !== undefined) f |= 1 << i;
  return f;
}

/** `u16 n | n × (str16 address | u8 status)`. @throws {RangeError} too many, or an unknown status */
function users(w: ByteWriter, map: Record<string, string>): void {
  const entries = Object.entries(map);
  if (entries.length > MAX_USERS) {
    throw new RangeError(`Cannot encode client message: more than ${MAX_USERS} users`);
  }
  w.u16(entries.length);
  for (const [address, status] of entries) {
    const code = USER_STATUSES.indexOf(status as typeof USER_STATUSES[number]);
    if (code < 0) throw new RangeError(`Cannot encode client message: user status "${status}"`);
    w.str16(address).u8(code);
  }
}

function strings(w: ByteWriter, list: string[]): ByteWriter {
  w.u16(list.length);
  for (const s of list) w.str16(s);
  return w;
}

/** Reads the fields of one message, checking each; `bad` names what is wrong. */
class Fields {
  #r: ByteReader;
  constructor(r: ByteReader) {
    this.#r = r;
  }
  bad(what: string): never {
    throw new CodecError(`Cannot read client message: ${what}`);
  }
  /** A string of at most `max` characters (UTF-16 code units, as the JSON fields were). */
  str(field: string, max = 200): string {
    const s = this.#r.str16(max * 3, field);
    if (s.length > max) this.bad(`${field} is longer than ${max} characters`);
    return s;
  }
  int(field: string): number {
    return this.#r.u64(field);
  }
  count(field: string, max: number, width: 8 | 16 | 32): number {
    const n = width === 8
      ? this.#r.u8(field)
      : width === 16
      ? this.#r.u16(field)
      : this.#r.u32(field);
    if (n > max) this.bad(`${field} has more than ${max}`);
    return n;
  }
  flags(field: string, known: number): number {
    const f = this.#r.u8(field);
    if (f & ~known) this.bad(`${field} has unknown flags`);
    return f;
  }
  pick<T>(field: string, values: readonly T[]): T {
    const v = values[this.#r.u8(field)];
    if (v === undefined) this.bad(`unknown ${field}`);
    return v;
  }
  bytes(field: string): Uint8Array {
    return this.#r.bytes32(MAX_PAYLOAD, field);
  }
  /** A view into the message (file chunks: the receiver owns the message bytes). */
  bytesView(field: string): Uint8Array {
    return this.#r.bytes32View(MAX_PAYLOAD, field);
  }
  /** A map read as own properties whatever the keys ("__proto__" too), each key once. */
  users(): Record<string, string> {
    const n = this.count("users", MAX_USERS, 16);
    const out: Record<string, string> = {};
    for (let i = 0; i < n; i++) {
      const address = this.str("address", 80);
      const status = this.pick("user status", USER_STATUSES);
      if (Object.hasOwn(out, address)) this.bad(`user "${address}" twice`);
      own(out, address, status);
    }
    return out;
  }
  ids(field: string): string[] {
    const n = this.count(field, MAX_IDS, 16);
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(this.str(field, 80));
    return ids;
  }
}

type Decoders = { [T in ClientMessage["type"]]: (f: Fields) => Of<T> };

const DECODE: Decoders = {
  hello: (f) => (f.flags("flags", 1) ? { type: "hello", enrollCode: f.str("enrollCode", 100) } : {
    type: "hello",
  }),
  submit: (f) => ({ type: "submit", req: f.int("req"), envelope: f.bytes("envelope") }),
  ack: (f) => ({ type: "ack", ids: f.ids("ids") }),
  policy: (f) => ({
    type: "policy",
    address: f.str("address"),
    policy: f.pick("policy", POLICIES),
  }),
  publish: (f) => ({ type: "publish", bundle: f.bytes("bundle") }),
  fetch: (f) => ({ type: "fetch", req: f.int("req"), address: f.str("address") }),
  directory: (f) => ({ type: "directory", req: f.int("req") }),
  welcome: (f) => ({
    type: "welcome",
    user: f.str("user"),
    node: f.str("node"),
    nowMs: f.int("nowMs"),
  }),
  submitted: (f) => {
    const m: Of<"submitted"> = { type: "submitted", req: f.int("req") };
    const has = f.flags("flags", 15);
    if (has & 1) m.id = f.str("id");
    if (has & 2) m.state = f.pick("state", SUBMITTED_STATES);
    if (has & 4) m.error = f.str("error", 1000);
    if (has & 8) m.users = f.users();
    return m;
  },
  deliver: (f) => ({
    type: "deliver",
    seq: f.int("seq"),
    id: f.str("id"),
    envelope: f.bytes("envelope"),
  }),
  notice: (f) => {
    const m: Of<"notice"> = {
      type: "notice",
      seq: f.int("seq"),
      id: f.str("id"),
      ref: f.str("ref"),
      state: f.pick("state", NOTICE_STATES),
    };
    const has = f.flags("flags", 3);
    if (has & 1) m.reason = f.str("reason");
    if (has & 2) m.users = f.users();
    return m;
  },
  bundle: (f) => {
    const m: Of<"bundle"> = { type: "bundle", req: f.int("req") };
    const has = f.flags("flags", 3);
    if (has & 1) m.bundle = f.bytes("bundle");
    if (has & 2) m.error = f.str("error", 1000);
    return m;
  },
  entries: (f) => {
    const req = f.int("req");
    const n = f.count("entries", MAX_ENTRIES, 32);
    const entries: Of<"entries">["entries"] = [];
    for (let i = 0; i < n; i++) {
      entries.push({ address: f.str("address"), presence: f.str("presence"), node: f.str("node") });
    }
    return { type: "entries", req, entries };
  },
  error: (f) => ({ type: "error", message: f.str("message", 2000) }),
  chunkSubmit: (f) => ({ type: "chunkSubmit", envelope: f.bytesView("envelope") }),
  chunkResult: (f) => {
    const n = f.count("results", MAX_IDS, 16);
    const results: ChunkResult[] = [];
    for (let i = 0; i < n; i++) {
      const r: ChunkResult = { id: f.str("id", 80), state: f.pick("state", CHUNK_STATES) };
      if (f.flags("flags", 1)) r.reason = f.str("reason", 500);
      results.push(r);
    }
    return { type: "chunkResult", results };
  },
  chunkDeliver: (f) => ({
    type: "chunkDeliver",
    id: f.str("id"),
    envelope: f.bytesView("envelope"),
  }),
  chunkAck: (f) => ({ type: "chunkAck", ids: f.ids("ids") }),
  condition: (f) => {
    const n = f.count("resources", MAX_CONDITIONS, 8);
    const resources: Record<string, NodeCondition> = {};
    for (let i = 0; i < n; i++) {
      const name = f.str("name", 40);
      const c: NodeCondition = { state: f.str("state", 40) };
      const has = f.flags("flags", 3);
      if (has & 1) c.message = f.str("message", 500);
      if (has & 2) c.sinceMs = f.int("sinceMs");
      if (Object.hasOwn(resources, name)) f.bad(`resource "${name}" twice`);
      own(resources, name, c);
    }
    return { type: "condition", resources };
  },
  keyPackages: (f) => ({ type: "keyPackages", packages: f.bytes("packages") }),
  keyPackageCount: (f) => ({
    type: "keyPackageCount",
    count: f.count("count", MAX_KEY_PACKAGES, 16),
    lastResort: f.pick("lastResort", [false, true]),
  }),
  keyPackageFetch: (f) => ({
    type: "keyPackageFetch",
    req: f.int("req"),
    address: f.str("address"),
  }),
  keyPackage: (f) => {
    const m: Of<"keyPackage"> = { type: "keyPackage", req: f.int("req") };
    const has = f.flags("flags", 3);
    if (has & 1) m.keyPackage = f.bytes("keyPackage");
    if (has & 2) m.error = f.str("error", 1000);
    return m;
  },
  groupPolicy: (f) => ({
    type: "groupPolicy",
    group: f.str("group", 120),
    state: f.pick("state", GROUP_POLICIES),
  }),
};

/** Sets an own property whatever the name ("__proto__" too), as JSON.parse made them. */
function own<T>(o: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Decodes and checks a client message. The envelope of a `chunkSubmit` or a
 * `chunkDeliver` (a file chunk, up to 256 KiB) is a view into `bytes`, not a
 * copy: the caller gives `bytes` up (every link hands over a buffer of its own
 * per message) and must not change them afterwards.
 *
 * @throws {CodecError} malformed, unknown version or type, a field out of range, trailing bytes
 */
export function decodeClientMessage(bytes: Uint8Array): ClientMessage {
  if (!(bytes instanceof Uint8Array)) throw new CodecError("Cannot read client message: not bytes");
  if (bytes.length > MAX_CLIENT_MESSAGE_BYTES) {
    throw new CodecError("Cannot read client message: too large");
  }
  const r = new ByteReader(bytes, "client message");
  if (r.u8("version") !== VERSION) {
    throw new CodecError("Cannot read client message: unknown version");
  }
  const type = TYPES[r.u8("type")];
  if (!type) throw new CodecError("Cannot read client message: unknown type");
  const m = DECODE[type](new Fields(r));
  r.end();
  return m;
}

/** One end of a client connection (WebSocket channel or in process), carrying encoded messages. */
export interface ClientLink {
  /**
   * Sends encoded bytes. With `consumed`, the sender means to reuse `bytes`
   * (a file chunk's message): the link calls it once nothing refers to them
   * any more (a channel once it has sealed them, or on a plain channel once
   * its socket has written them: the bytes are masked in place meanwhile, and
   * the bytes kept free before them in their buffer, when there are
   * `SEND_ROOM_BYTES`, are written over, so the sender must not read them;
   * the in-process link once the
   * other end's handler has returned, so that handler copies what it keeps,
   * or later if the handler called `keep`), or never, and then they are not
   * reused.
   */
  send(bytes: Uint8Array, consumed?: () => void): void;
  /**
   * True when `consumed` is called for every send given one while the link is
   * open (the in-process link: once the node is done with the bytes). A sender
   * may then wait for it as backpressure (a file's next chunk); on other links
   * it may never come.
   */
  readonly handsBack?: boolean;
  close(reason: string): void;
  /**
   * Takes a message. `keep` is given when the bytes are lent (sent with
   * `consumed` on an in-process link): a handler that refers to them after it
   * returns calls it before returning, and the function it returns once done.
   */
  onMessage: ((bytes: Uint8Array, keep?: () => () => void) => void) | null;
  onClose: (reason: string) => void;
}
