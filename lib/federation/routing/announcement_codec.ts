/**
 * Encoder and decoder of announcements (wire version 1, big-endian):
 *
 * ```
 * u8 version | u8 n, origin[n] | key[32] | u64 seq | u64 issuedAtMs | u64 expiresAtMs
 * | u8 flags (bit 0 listed, bit 1 endpoint) | [u8 n, host[n], u16 port]
 * | u16 count, count × (u8 n, node id[n])            links, strictly ascending
 * | u16 count, count × (u8 n, name[n], u8 presence)  users, strictly ascending
 * | signature[64] over "fedchat-announce-v1\0" || everything before it
 * ```
 */
import { type NodeId, toNodeId, toUserName } from "../../ids.ts";
import {
  type AnnouncedUser,
  ANNOUNCEMENT_KEY_BYTES,
  ANNOUNCEMENT_SIGNATURE_BYTES,
  ANNOUNCEMENT_VERSION,
  type AnnouncementBody,
  type Endpoint,
  MAX_ANNOUNCED_LINKS,
  MAX_ANNOUNCED_USERS,
  MAX_ANNOUNCEMENT_BYTES,
  type Presence,
  type SignedAnnouncement,
} from "./announcement.ts";
import { AnnouncementDecodeError } from "./errors.ts";

const FLAG_LISTED = 1;
const FLAG_ENDPOINT = 2;
const HOST_PATTERN = /^[A-Za-z0-9.:\-\[\]]{1,253}$/;
const PRESENCES: readonly Presence[] = ["offline", "online"];
const TWO_32 = 2 ** 32;

/**
 * Encodes the signed region of an announcement; links and users are sorted here so the
 * encoding is canonical.
 * @throws {RangeError} a field out of range
 */
export function encodeAnnouncementBody(body: AnnouncementBody): Uint8Array {
  checkBody(body);
  const links = [...body.links].sort();
  const users = [...body.users].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: number[] = [ANNOUNCEMENT_VERSION];
  pushString(out, body.origin);
  for (const b of body.publicKey) out.push(b);
  for (const n of [body.seq, body.issuedAtMs, body.expiresAtMs]) pushU64(out, n);
  out.push((body.listed ? FLAG_LISTED : 0) | (body.endpoint ? FLAG_ENDPOINT : 0));
  if (body.endpoint) {
    pushString(out, body.endpoint.host);
    out.push(body.endpoint.port >> 8, body.endpoint.port & 0xff);
  }
  out.push(links.length >> 8, links.length & 0xff);
  for (const link of links) pushString(out, link);
  out.push(users.length >> 8, users.length & 0xff);
  for (const user of users) {
    pushString(out, user.name);
    out.push(user.presence === "online" ? 1 : 0);
  }
  return Uint8Array.from(out);
}

/** Joins a body and its signature into the wire form. */
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
 * Decodes and checks every field of wire bytes; the signature is not verified here.
 * @throws {AnnouncementDecodeError} wrong size, version, length or field
 */
export function decodeAnnouncement(bytes: Uint8Array): SignedAnnouncement {
  if (!(bytes instanceof Uint8Array)) {
    throw new AnnouncementDecodeError("Cannot decode announcement: not bytes");
  }
  if (bytes.length > MAX_ANNOUNCEMENT_BYTES) {
    throw new AnnouncementDecodeError(
      `Cannot decode announcement: ${bytes.length} bytes is over ${MAX_ANNOUNCEMENT_BYTES}`,
    );
  }
  const r = new Reader(bytes);
  const version = r.u8();
  if (version !== ANNOUNCEMENT_VERSION) {
    throw new AnnouncementDecodeError(`Cannot decode announcement: unknown version ${version}`);
  }
  const origin = r.id(toNodeId, "origin");
  const publicKey = r.bytes(ANNOUNCEMENT_KEY_BYTES);
  const seq = r.u64("seq");
  const issuedAtMs = r.u64("issuedAtMs");
  const expiresAtMs = r.u64("expiresAtMs");
  if (seq < 1) throw new AnnouncementDecodeError("Cannot decode announcement: seq is 0");
  const flags = r.u8();
  if ((flags & ~(FLAG_LISTED | FLAG_ENDPOINT)) !== 0) {
    throw new AnnouncementDecodeError(`Cannot decode announcement: unknown flags ${flags}`);
  }
  let endpoint: Endpoint | undefined;
  if (flags & FLAG_ENDPOINT) {
    const host = r.string();
    const port = r.u16();
    if (!HOST_PATTERN.test(host) || port < 1) {
      throw new AnnouncementDecodeError("Cannot decode announcement: bad endpoint");
    }
    endpoint = Object.freeze({ host, port });
  }
  const links: NodeId[] = [];
  const linkCount = r.u16();
  if (linkCount > MAX_ANNOUNCED_LINKS) {
    throw new AnnouncementDecodeError("Cannot decode announcement: too many links");
  }
  for (let i = 0; i < linkCount; i++) {
    const link = r.id(toNodeId, "link");
    if (link === origin) {
      throw new AnnouncementDecodeError("Cannot decode announcement: link to itself");
    }
    if (i > 0 && !(links[i - 1] < link)) {
      throw new AnnouncementDecodeError("Cannot decode announcement: links not ascending");
    }
    links.push(link);
  }
  const users: AnnouncedUser[] = [];
  const userCount = r.u16();
  if (userCount > MAX_ANNOUNCED_USERS) {
    throw new AnnouncementDecodeError("Cannot decode announcement: too many users");
  }
  if (userCount > 0 && !(flags & FLAG_LISTED)) {
    throw new AnnouncementDecodeError("Cannot decode announcement: unlisted node lists users");
  }
  for (let i = 0; i < userCount; i++) {
    const name = r.id(toUserName, "user name");
    const presence = PRESENCES[r.u8()];
    if (presence === undefined) {
      throw new AnnouncementDecodeError("Cannot decode announcement: bad presence");
    }
    if (i > 0 && !(users[i - 1].name < name)) {
      throw new AnnouncementDecodeError("Cannot decode announcement: users not ascending");
    }
    users.push(Object.freeze({ name, presence }));
  }
  const bodyEnd = r.offset;
  const signature = r.bytes(ANNOUNCEMENT_SIGNATURE_BYTES);
  if (r.offset !== bytes.length) {
    throw new AnnouncementDecodeError("Cannot decode announcement: trailing bytes");
  }
  return Object.freeze({
    version: ANNOUNCEMENT_VERSION,
    origin,
    publicKey,
    seq,
    issuedAtMs,
    expiresAtMs,
    listed: (flags & FLAG_LISTED) !== 0,
    ...(endpoint ? { endpoint } : {}),
    links: Object.freeze(links),
    users: Object.freeze(users),
    signature,
    body: bytes.subarray(0, bodyEnd),
    bytes,
  });
}

/**
 * Reads only the origin and seq, for de-duplication before a full decode; returns
 * undefined when even these cannot be read.
 */
export function peekAnnouncement(bytes: Uint8Array): { origin: string; seq: number } | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.length < 2 || bytes[0] !== ANNOUNCEMENT_VERSION) {
    return undefined;
  }
  const n = bytes[1];
  const seqAt = 2 + n + ANNOUNCEMENT_KEY_BYTES;
  if (bytes.length < seqAt + 8) return undefined;
  let origin = "";
  for (let i = 2; i < 2 + n; i++) origin += String.fromCharCode(bytes[i]);
  const hi =
    (bytes[seqAt] << 24 | bytes[seqAt + 1] << 16 | bytes[seqAt + 2] << 8 | bytes[seqAt + 3]) >>> 0;
  const lo =
    (bytes[seqAt + 4] << 24 | bytes[seqAt + 5] << 16 | bytes[seqAt + 6] << 8 | bytes[seqAt + 7]) >>>
    0;
  return { origin, seq: hi * TWO_32 + lo };
}

function checkBody(body: AnnouncementBody): void {
  if (body.publicKey.length !== ANNOUNCEMENT_KEY_BYTES) {
    throw new RangeError(
      `Cannot encode announcement: public key is not ${ANNOUNCEMENT_KEY_BYTES} bytes`,
    );
  }
  for (const n of [body.seq, body.issuedAtMs, body.expiresAtMs]) {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`Cannot encode announcement: ${n} is not a uint53`);
    }
  }
  if (body.seq < 1) throw new RangeError("Cannot encode announcement: seq must be at least 1");
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

function pushString(out: number[], s: string): void {
  out.push(s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
}

function pushU64(out: number[], n: number): void {
  const hi = Math.floor(n / TWO_32);
  const lo = n % TWO_32;
  out.push(hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff);
  out.push(lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
}

class Reader {
  #bytes: Uint8Array;
  offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  #need(n: number): void {
    if (this.offset + n > this.#bytes.length) {
      throw new AnnouncementDecodeError(
        `Cannot decode announcement: truncated at byte ${this.offset}`,
      );
    }
  }

  u8(): number {
    this.#need(1);
    return this.#bytes[this.offset++];
  }

  u16(): number {
    return (this.u8() << 8) | this.u8();
  }

  u64(what: string): number {
    this.#need(8);
    const hi = this.u16() * 65536 + this.u16();
    const lo = this.u16() * 65536 + this.u16();
    if (hi > 0x1fffff) {
      throw new AnnouncementDecodeError(`Cannot decode announcement: ${what} over 2^53`);
    }
    return hi * TWO_32 + lo;
  }

  /** A view into the input, not a copy: decoded announcements share the wire buffer. */
  bytes(n: number): Uint8Array {
    this.#need(n);
    const out = this.#bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  string(): string {
    const n = this.u8();
    this.#need(n);
    let s = "";
    for (let i = 0; i < n; i++) s += String.fromCharCode(this.#bytes[this.offset + i]);
    this.offset += n;
    return s;
  }

  id<T>(parse: (value: unknown) => T, what: string): T {
    const s = this.string();
    try {
      return parse(s);
    } catch (cause) {
      throw new AnnouncementDecodeError(`Cannot decode announcement: bad ${what}`, { cause });
    }
  }
}
