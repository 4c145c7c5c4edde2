/**
 * What members put inside group application messages (MLS encrypts it; only
 * members read it), binary (docs/PROTOCOL.md §14):
 *
 *   u8 version=1 | u8 type | fields
 *   1 text    [16] id | u64 seq (≥ 1) | u64 at | UTF-8 text (the rest, 1 to 16,000 characters)
 *             `id` names it in every member's history, `seq` counts the sender's texts from 1
 *   2 read    u16 n ≤ 256 | n × (str16 address ≤ 80 | u64 seq): the texts of each sender shown
 *   3 joined  (nothing): the sender accepted its invitation
 *   4 file    u8 flags (1 = to) | [str16 to ≤ 80] | bytes16 file message
 *             a file transfer's message (a §10 Inner of types 4–10, lib/client/payload.ts);
 *             `to` names the one member it is for (answers go to the file's sender only)
 *
 * Unknown versions, types and flags, a field out of range, an address twice,
 * truncated or trailing bytes are refused with `CodecError`. The JSON contents
 * of earlier versions are no longer read.
 */
import { ByteReader, ByteWriter, CodecError } from "../e2e/mod.ts";
import { MAX_MESSAGE_CHARS } from "./api.ts";
import { decodeInner, encodeInner, type FileInner, isFileInner } from "./payload.ts";

/** A group file message; `to` names the one member it is for (answers go to the sender only). */
export type GroupFileInner = FileInner & { to?: string };

/** The content of a group application message. */
export type GroupInner =
  | { t: "text"; id: string; seq: number; at: number; text: string }
  | { t: "read"; upTo: Record<string, number> }
  | { t: "joined" }
  | GroupFileInner;

const VERSION = 1;
const TEXT = 1;
const READ = 2;
const JOINED = 3;
const FILE = 4;
const ID_BYTES = 16;
/** Senders one read receipt covers at most (a group has at most 256 members). */
const MAX_READERS = 256;
const MAX_ADDRESS_CHARS = 80;
/** A file message inside: the largest is an offer (name, type, manifest). */
const MAX_FILE_MESSAGE_BYTES = 16 * 1024;

const te = new TextEncoder();
// ignoreBOM: a text that starts with U+FEFF keeps it.
const td = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Encodes group content. @throws {RangeError} a value its field cannot hold */
export function encodeGroupInner(inner: GroupInner): Uint8Array {
  switch (inner.t) {
    case "text":
      return new ByteWriter(36 + inner.text.length * 3).u8(VERSION).u8(TEXT)
        .raw(id(inner.id)).u64(inner.seq).u64(inner.at).raw(te.encode(inner.text)).finish();
    case "read": {
      const entries = Object.entries(inner.upTo);
      if (entries.length > MAX_READERS) {
        throw new RangeError(`Cannot encode group message: more than ${MAX_READERS} readers`);
      }
      const w = new ByteWriter(4 + entries.length * 40).u8(VERSION).u8(READ).u16(entries.length);
      for (const [address, seq] of entries) w.str16(address).u64(seq);
      return w.finish();
    }
    case "joined":
      return Uint8Array.of(VERSION, JOINED);
    default: {
      const { to, ...file } = inner;
      const w = new ByteWriter(256).u8(VERSION).u8(FILE);
      if (to === undefined) w.u8(0);
      else w.u8(1).str16(to);
      return w.bytes16(encodeInner(file as FileInner)).finish();
    }
  }
}

function id(hex: string): Uint8Array {
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new RangeError(`Cannot encode message id "${hex}"`);
  return Uint8Array.fromHex(hex);
}

function bad(what: string): never {
  throw new CodecError(`Cannot read group message: ${what}`);
}

function chars(r: ByteReader, max: number, field: string): string {
  const s = r.str16(max * 3, field);
  if (s.length > max) bad(`${field} is longer than ${max} characters`);
  return s;
}

/**
 * Decodes and checks group content.
 *
 * @throws {CodecError} malformed, an unknown version, type or flag, a field out of range
 */
export function decodeGroupInner(bytes: Uint8Array): GroupInner {
  const r = new ByteReader(bytes, "group message");
  if (r.u8("version") !== VERSION) bad("unknown version");
  let m: GroupInner;
  switch (r.u8("type")) {
    case TEXT: {
      const id = r.rawView(ID_BYTES, "id").toHex();
      const seq = r.u64("seq");
      if (seq === 0) bad("seq is 0");
      const at = r.u64("at");
      if (r.remaining === 0) bad("the text is empty");
      if (r.remaining > MAX_MESSAGE_CHARS * 3) bad("the text is too long");
      let text: string;
      try {
        text = td.decode(r.rawView(r.remaining, "text"));
      } catch (cause) {
        throw new CodecError("Cannot read group message: text is not UTF-8", { cause });
      }
      if (text.length > MAX_MESSAGE_CHARS) bad("the text is too long");
      return { t: "text", id, seq, at, text };
    }
    case READ: {
      const n = r.u16("readers");
      if (n > MAX_READERS) bad(`more than ${MAX_READERS} readers`);
      const upTo: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const address = chars(r, MAX_ADDRESS_CHARS, "address");
        const seq = r.u64("seq");
        if (Object.hasOwn(upTo, address)) bad(`reader "${address}" twice`);
        // An own property whatever the address ("__proto__" too).
        Object.defineProperty(upTo, address, {
          value: seq,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      m = { t: "read", upTo };
      break;
    }
    case JOINED:
      m = { t: "joined" };
      break;
    case FILE: {
      const flags = r.u8("flags");
      if (flags > 1) bad("unknown flags");
      const to = flags ? chars(r, MAX_ADDRESS_CHARS, "to") : undefined;
      const inner = decodeInner(r.bytes16(MAX_FILE_MESSAGE_BYTES, "file message"));
      if (!isFileInner(inner)) bad("not a file message");
      m = to === undefined ? inner : { ...inner, to };
      break;
    }
    default:
      bad("unknown type");
  }
  r.end();
  return m;
}
