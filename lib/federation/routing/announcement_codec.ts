/**
 * Encoder and decoder of announcements (wire version 2, big-endian, through the project's
 * one byte codec):
 *
 * ```
 * u8 version=2 | str16 origin | key[32] | u32 seq | u32 lifetimeMs
 * | u8 flags (bit 0 listed, bit 1 endpoint, bit 2 mailboxes) | [str16 host, u16 port]
 * | [u8 count, count × str16 node id]                 mailboxes (bit 2), strictly ascending
 * | u16 count, count × str16 node id                  links, strictly ascending
 * | u16 count, count × (str16 name, u8 presence)      users, strictly ascending
 * | signature[64] over "fedchat-announce-v2\0" || everything before it
 * | u32 ageMs                                           not signed: raised at every hop
 * ```
 *
 * Decoded announcements are lean: they keep the signed bytes, the fields routing reads on
 * every change (origin, seq, lifetime, links) and decode users only when asked.
 */
import { ByteReader, ByteWriter } from "../../e2e/base.ts";
import { HOST_PATTERN, type NodeId, toNodeId, toUserName } from "../../ids.ts";
import {
  type AnnouncedUser,
  ANNOUNCEMENT_AGE_BYTES,
  ANNOUNCEMENT_KEY_BYTES,
  ANNOUNCEMENT_SIGNATURE_BYTES,
  ANNOUNCEMENT_VERSION,
  type AnnouncementBody,
  type AnnouncementFrame,
  type Endpoint,
  MAX_ANNOUNCED_LINKS,
  MAX_ANNOUNCED_USERS,
  MAX_ANNOUNCEMENT_BYTES,
  MAX_MAILBOXES,
  MAX_SEQ,
  type Presence,
  type SignedAnnouncement,
} from "./announcement.ts";
import { AnnouncementDecodeError } from "./errors.ts";

const FLAG_LISTED = 1;
const FLAG_ENDPOINT = 2;
const FLAG_MAILBOXES = 4;
const PRESENCES: readonly Presence[] = ["offline", "online"];
const MAX_ID_BYTES = 32;
const MAX_AGE_MS = 2 ** 32 - 1;
const WHAT = "announcement";

/**
 * Encodes the signed region of an announcement; links and users are sorted here so the
 * encoding is canonical.
 * @throws {RangeError} a field out of range
 */
export function encodeAnnouncementBody(body: AnnouncementBody): Uint8Array {
  checkBody(body);
  const links = [...body.links].sort();
  const users = [...body.users].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const w = new ByteWriter(128 + 40 * (links.length + users.length));
  w.u8(ANNOUNCEMENT_VERSION).str16(body.origin).raw(body.publicKey);
  w.u32(body.seq).u32(body.lifetimeMs);
  const mailboxes = [...(body.mailboxes ?? [])].sort();
  w.u8(
    (body.listed ? FLAG_LISTED : 0) | (body.endpoint ? FLAG_ENDPOINT : 0) |
      (mailboxes.length > 0 ? FLAG_MAILBOXES : 0),
  );
  if (body.endpoint) w.str16(body.endpoint.host).u16(body.endpoint.port);
  if (mailboxes.length > 0) {
    w.u8(mailboxes.length);
    for (const m of mailboxes) w.str16(m);
  }
  w.u16(links.length);
  for (const link of links) w.str16(link);
  w.u16(users.length);
  for (const user of users) w.str16(user.name).u8(user.presence === "online" ? 1 : 0);
  return w.finish();
}

/** Joins a body and its signature into the signed bytes. */
export function joinAnnouncement(body: Uint8Array, signature: Uint8Array): Uint8Array {
  if (signature.length !== ANNOUNCEMENT_SIGNATURE_BYTES) {
    throw new RangeError(
      `Cannot encode announcement: signature is not ${ANNOUNCEMENT_SIGNATURE_BYTES} bytes`,
    );
  }
  const bytes = new Uint8Array(body.length + signature.length);
  bytes.set(body, 0);
  bytes.set(signature, body.length);
  return bytes;
}

/**
 * The wire form of a frame: the signed bytes, then the age (capped at 2^32 − 1 ms).
 * @throws {RangeError} a negative or non-integer age
 */
export function encodeAnnouncementFrame(frame: AnnouncementFrame): Uint8Array {
  const { announcement, ageMs } = frame;
  if (!Number.isInteger(ageMs) || ageMs < 0) {
    throw new RangeError(`Cannot encode announcement: age ${ageMs} is not a whole number`);
  }
  const signed = announcement.bytes;
  const out = new Uint8Array(signed.length + ANNOUNCEMENT_AGE_BYTES);
  out.set(signed, 0);
  new DataView(out.buffer).setUint32(signed.length, Math.min(ageMs, MAX_AGE_MS));
  return out;
}

/** Options of {@linkcode decodeAnnouncement} and {@linkcode decodeAnnouncementFrame}. */
export interface DecodeOptions {
  /**
   * The id the decoder's owner already holds equal to `id`, if any: decoded ids (origin and
   * links) then share its string instead of keeping a copy each, and need no second check.
   */
  known?: (id: string) => NodeId | undefined;
}

/**
 * Decodes a frame from the wire: the announcement (a copy of the signed bytes, so the link's
 * buffer is not kept) and its age. The signature is not verified here.
 * @throws {AnnouncementDecodeError} wrong size, version, length or field
 */
export function decodeAnnouncementFrame(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): AnnouncementFrame {
  if (!(bytes instanceof Uint8Array)) {
    throw new AnnouncementDecodeError("Cannot decode announcement: not bytes");
  }
  checkSize(bytes);
  if (bytes.length < ANNOUNCEMENT_AGE_BYTES + 1) {
    throw new AnnouncementDecodeError("Cannot decode announcement: truncated");
  }
  const at = bytes.length - ANNOUNCEMENT_AGE_BYTES;
  const ageMs = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0);
  return { announcement: decodeAnnouncement(bytes.slice(0, at), options), ageMs };
}

/**
 * Decodes and checks every field of signed bytes (no age); the signature is not verified
 * here. The result keeps `bytes` (not a copy).
 * @throws {AnnouncementDecodeError} wrong size, version, length or field
 */
export function decodeAnnouncement(
  bytes: Uint8Array,
  { known }: DecodeOptions = {},
): SignedAnnouncement {
  if (!(bytes instanceof Uint8Array)) {
    throw new AnnouncementDecodeError("Cannot decode announcement: not bytes");
  }
  checkSize(bytes);
  try {
    return new DecodedAnnouncement(bytes, known);
  } catch (cause) {
    if (cause instanceof AnnouncementDecodeError) throw cause;
    throw new AnnouncementDecodeError(`Cannot decode announcement: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/**
 * Reads only the origin and seq of signed bytes or a frame, for de-duplication before a
 * full decode; undefined when even these cannot be read.
 */
export function peekAnnouncement(bytes: Uint8Array): { origin: string; seq: number } | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.length < 3 || bytes[0] !== ANNOUNCEMENT_VERSION) {
    return undefined;
  }
  const n = (bytes[1] << 8) | bytes[2];
  if (n < 1 || n > MAX_ID_BYTES) return undefined;
  const seqAt = 3 + n + ANNOUNCEMENT_KEY_BYTES;
  if (bytes.length < seqAt + 4) return undefined;
  let origin = "";
  for (let i = 3; i < 3 + n; i++) origin += String.fromCharCode(bytes[i]);
  const seq = ((bytes[seqAt] << 24) | (bytes[seqAt + 1] << 16) | (bytes[seqAt + 2] << 8) |
    bytes[seqAt + 3]) >>>
    0;
  return { origin, seq };
}

/** The version byte of a frame or signed bytes, undefined for nothing. */
export function peekVersion(bytes: Uint8Array): number | undefined {
  return bytes instanceof Uint8Array && bytes.length > 0 ? bytes[0] : undefined;
}

function checkSize(bytes: Uint8Array): void {
  if (bytes.length > MAX_ANNOUNCEMENT_BYTES) {
    throw new AnnouncementDecodeError(
      `Cannot decode announcement: ${bytes.length} bytes is over ${MAX_ANNOUNCEMENT_BYTES}`,
    );
  }
}

/** A node id; one `known` already is shared, not copied. */
function readNodeId(
  r: ByteReader,
  what: string,
  known: ((id: string) => NodeId | undefined) | undefined,
): NodeId {
  if (known === undefined) return readId(r, toNodeId, what);
  const s = r.str16(MAX_ID_BYTES, what);
  const held = known(s);
  if (held !== undefined) return held;
  try {
    return toNodeId(s);
  } catch (cause) {
    throw new AnnouncementDecodeError(`Cannot decode announcement: bad ${what}`, { cause });
  }
}

function readId<T>(r: ByteReader, parse: (value: unknown) => T, what: string): T {
  const s = r.str16(MAX_ID_BYTES, what);
  try {
    return parse(s);
  } catch (cause) {
    throw new AnnouncementDecodeError(`Cannot decode announcement: bad ${what}`, { cause });
  }
}

/** Reads the users section; `check` validates order (done once, at decode). */
function readUsers(r: ByteReader, listed: boolean, check: boolean): AnnouncedUser[] {
  const userCount = r.u16("user count");
  if (userCount > MAX_ANNOUNCED_USERS) {
    throw new AnnouncementDecodeError("Cannot decode announcement: too many users");
  }
  if (userCount > 0 && !listed) {
    throw new AnnouncementDecodeError("Cannot decode announcement: unlisted node lists users");
  }
  const users: AnnouncedUser[] = [];
  for (let i = 0; i < userCount; i++) {
    const name = readId(r, toUserName, "user name");
    const presence = PRESENCES[r.u8("presence")];
    if (presence === undefined) {
      throw new AnnouncementDecodeError("Cannot decode announcement: bad presence");
    }
    if (check && i > 0 && !(users[i - 1].name < name)) {
      throw new AnnouncementDecodeError("Cannot decode announcement: users not ascending");
    }
    users.push(Object.freeze({ name, presence }));
  }
  return users;
}

/** A decoded announcement that keeps its bytes and decodes users on demand. */
class DecodedAnnouncement implements SignedAnnouncement {
  readonly version = ANNOUNCEMENT_VERSION;
  readonly origin: NodeId;
  readonly seq: number;
  readonly lifetimeMs: number;
  readonly listed: boolean;
  readonly endpoint?: Endpoint;
  readonly mailboxes?: readonly NodeId[];
  readonly links: readonly NodeId[];
  readonly bytes: Uint8Array;
  /** A view into `bytes`, made once: every record of this origin shares it. */
  readonly publicKey: Uint8Array;
  #usersAt: number;
  #bodyEnd: number;

  constructor(bytes: Uint8Array, known?: (id: string) => NodeId | undefined) {
    const r = new ByteReader(bytes, WHAT);
    const version = r.u8("version");
    if (version !== ANNOUNCEMENT_VERSION) {
      throw new AnnouncementDecodeError(`Cannot decode announcement: unknown version ${version}`);
    }
    const origin = readNodeId(r, "origin", known);
    const publicKey = r.rawView(ANNOUNCEMENT_KEY_BYTES, "key");
    const seq = r.u32("seq");
    const lifetimeMs = r.u32("lifetimeMs");
    if (seq < 1) throw new AnnouncementDecodeError("Cannot decode announcement: seq is 0");
    if (lifetimeMs < 1) {
      throw new AnnouncementDecodeError("Cannot decode announcement: lifetime is 0");
    }
    const flags = r.u8("flags");
    if ((flags & ~(FLAG_LISTED | FLAG_ENDPOINT | FLAG_MAILBOXES)) !== 0) {
      throw new AnnouncementDecodeError(`Cannot decode announcement: unknown flags ${flags}`);
    }
    if (flags & FLAG_ENDPOINT) {
      const host = r.str16(253, "host");
      const port = r.u16("port");
      if (!HOST_PATTERN.test(host) || port < 1) {
        throw new AnnouncementDecodeError("Cannot decode announcement: bad endpoint");
      }
      this.endpoint = Object.freeze({ host, port });
    }
    if (flags & FLAG_MAILBOXES) {
      const n = r.u8("mailbox count");
      if (n < 1 || n > MAX_MAILBOXES) {
        throw new AnnouncementDecodeError("Cannot decode announcement: bad mailbox count");
      }
      const mailboxes: NodeId[] = [];
      for (let i = 0; i < n; i++) {
        const m = readNodeId(r, "mailbox", known);
        if (m === origin || (i > 0 && !(mailboxes[i - 1] < m))) {
          throw new AnnouncementDecodeError("Cannot decode announcement: bad mailboxes");
        }
        mailboxes.push(m);
      }
      this.mailboxes = Object.freeze(mailboxes);
    }
    const linkCount = r.u16("link count");
    if (linkCount > MAX_ANNOUNCED_LINKS) {
      throw new AnnouncementDecodeError("Cannot decode announcement: too many links");
    }
    const links: NodeId[] = [];
    for (let i = 0; i < linkCount; i++) {
      const link = readNodeId(r, "link", known);
      if (link === origin) {
        throw new AnnouncementDecodeError("Cannot decode announcement: link to itself");
      }
      if (i > 0 && !(links[i - 1] < link)) {
        throw new AnnouncementDecodeError("Cannot decode announcement: links not ascending");
      }
      links.push(link);
    }
    this.#usersAt = r.offset;
    readUsers(r, (flags & FLAG_LISTED) !== 0, true);
    this.#bodyEnd = r.offset;
    r.rawView(ANNOUNCEMENT_SIGNATURE_BYTES, "signature");
    if (r.remaining !== 0) {
      throw new AnnouncementDecodeError("Cannot decode announcement: trailing bytes");
    }
    this.origin = origin;
    this.seq = seq;
    this.lifetimeMs = lifetimeMs;
    this.listed = (flags & FLAG_LISTED) !== 0;
    this.links = Object.freeze(links);
    this.bytes = bytes;
    this.publicKey = publicKey;
    Object.freeze(this);
  }

  get signature(): Uint8Array {
    return this.bytes.subarray(this.#bodyEnd);
  }

  get body(): Uint8Array {
    return this.bytes.subarray(0, this.#bodyEnd);
  }

  /** Decoded afresh on every read (directory queries), so idle announcements stay small. */
  get users(): readonly AnnouncedUser[] {
    const r = new ByteReader(this.bytes.subarray(this.#usersAt, this.#bodyEnd), WHAT);
    return Object.freeze(readUsers(r, this.listed, false));
  }
}

function checkBody(body: AnnouncementBody): void {
  if (body.publicKey.length !== ANNOUNCEMENT_KEY_BYTES) {
    throw new RangeError(
      `Cannot encode announcement: public key is not ${ANNOUNCEMENT_KEY_BYTES} bytes`,
    );
  }
  if (!Number.isInteger(body.seq) || body.seq < 1 || body.seq > MAX_SEQ) {
    throw new RangeError(`Cannot encode announcement: seq ${body.seq} is not from 1 to ${MAX_SEQ}`);
  }
  if (!Number.isInteger(body.lifetimeMs) || body.lifetimeMs < 1 || body.lifetimeMs > MAX_AGE_MS) {
    throw new RangeError(`Cannot encode announcement: lifetime ${body.lifetimeMs} out of range`);
  }
  if ((body.mailboxes?.length ?? 0) > MAX_MAILBOXES) {
    throw new RangeError("Cannot encode announcement: too many mailboxes");
  }
  if (body.mailboxes?.includes(body.origin)) {
    throw new RangeError("Cannot encode announcement: a node is not its own mailbox");
  }
  if (body.links.length > MAX_ANNOUNCED_LINKS) {
    throw new RangeError("Cannot encode announcement: too many links");
  }
  if (body.users.length > MAX_ANNOUNCED_USERS) {
    throw new RangeError("Cannot encode announcement: too many users");
  }
  if (!body.listed && body.users.length > 0) {
    throw new RangeError("Cannot encode announcement: unlisted node lists users");
  }
  if (new Set(body.links).size !== body.links.length || body.links.includes(body.origin)) {
    throw new RangeError("Cannot encode announcement: duplicate link or link to itself");
  }
  if (new Set(body.users.map((u) => u.name)).size !== body.users.length) {
    throw new RangeError("Cannot encode announcement: duplicate user");
  }
  const ep = body.endpoint;
  if (
    ep &&
    (!HOST_PATTERN.test(ep.host) || !Number.isInteger(ep.port) || ep.port < 1 || ep.port > 65535)
  ) {
    throw new RangeError(`Cannot encode announcement: bad endpoint ${JSON.stringify(ep)}`);
  }
}
