/**
 * What clients put in envelope bodies (nodes see only these bytes):
 *
 *   request body  = u8 4 | bytes chat request (lib/e2e, version 2; the sealed intro is inside)
 *   message body  = u8 2 | bytes acceptance            (the chat handshake's answer)
 *                 | u8 3 | bytes ratchet message        (everything after)
 *
 * Inside a ratchet message, an {@linkcode Inner} (docs/PROTOCOL.md §10, §13), binary:
 *
 *   u8 version=1 | u8 type | fields
 *   1 text         u64 seq (≥ 1) | u64 at | UTF-8 text (the rest, ≤ 65,536 characters)
 *   2 read         u64 upTo
 *   3 hi           (nothing)
 *   4 file-offer   [16] file id | u64 size | str16 name (≤ 4,096 characters)
 *                  | str16 type (≤ 200) | bytes16 manifest (lib/e2e FileManifest, ≤ 150 bytes)
 *   5 file-accept, 6 file-decline, 7 file-done   [16] file id
 *   8 file-cancel  [16] file id | u8 has reason (0 | 1) | str16 reason (≤ 500), if any
 *   9 file-resend  [16] file id | u64 index | u8 attempt (1 to 99)
 *  10 file-push    [16] file id (chunks follow without waiting for an accept: the receiver is away)
 *  11 file-digest  [16] file id | [32] whole-file digest (manifest v2: sent once every chunk is read)
 *  12 file-digest-ask [16] file id | u8 attempt (1 to 99) (every chunk is in, no digest: send it again)
 *
 * Kind 1 (`u8 1 | request v1 | sealed intro` beside it, outside the signature) and
 * the JSON inner messages of earlier versions are no longer read.
 */
import { ByteReader, ByteWriter, CodecError, MAX_CHAT_REQUEST_BYTES } from "../e2e/mod.ts";

/** A decoded envelope body. */
export type Payload =
  | { kind: "request"; request: Uint8Array }
  | { kind: "acceptance"; acceptance: Uint8Array }
  | { kind: "ratchet"; message: Uint8Array };

/** What travels inside the ratchet. */
export type Inner =
  | { t: "text"; seq: number; at: number; text: string }
  | { t: "read"; upTo: number }
  | { t: "hi" }
  | FileInner;

/** The file transfer's messages inside the ratchet; `id` is the file id in hex. */
export type FileInner =
  | { t: "file-offer"; id: string; name: string; size: number; type: string; manifest: string }
  | { t: "file-accept" | "file-decline" | "file-done" | "file-push"; id: string }
  | { t: "file-cancel"; id: string; reason?: string }
  | { t: "file-resend"; id: string; index: number; attempt: number }
  | { t: "file-digest"; id: string; digest: string }
  | { t: "file-digest-ask"; id: string; attempt: number };

/** Tells file transfer messages from the rest. */
export function isFileInner(inner: Inner): inner is FileInner {
  return inner.t.startsWith("file-");
}

const MAX = 256 * 1024;

/** Encodes an envelope body. */
export function encodePayload(p: Payload): Uint8Array {
  if (p.kind === "request") {
    return new ByteWriter(5 + p.request.length).u8(4).bytes32(p.request).finish();
  }
  if (p.kind === "acceptance") {
    return new ByteWriter(5 + p.acceptance.length).u8(2).bytes32(p.acceptance).finish();
  }
  return new ByteWriter(5 + p.message.length).u8(3).bytes32(p.message).finish();
}

/** Decodes an envelope body. @throws {Error} malformed */
export function decodePayload(bytes: Uint8Array): Payload {
  const r = new ByteReader(bytes, "payload");
  const kind = r.u8("kind");
  let p: Payload;
  if (kind === 4) p = { kind: "request", request: r.bytes32(MAX_CHAT_REQUEST_BYTES, "request") };
  else if (kind === 2) p = { kind: "acceptance", acceptance: r.bytes32(MAX, "acceptance") };
  // A view: the ratchet message is decrypted and dropped, never kept.
  else if (kind === 3) p = { kind: "ratchet", message: r.bytes32View(MAX, "message") };
  else if (kind === 1) throw new RangeError("Cannot read payload: a version 1 request");
  else throw new RangeError("Cannot read payload: unknown kind");
  r.end();
  return p;
}

const INNER_VERSION = 1;
const INNER_TYPES = [
  "text",
  "read",
  "hi",
  "file-offer",
  "file-accept",
  "file-decline",
  "file-done",
  "file-cancel",
  "file-resend",
  "file-push",
  "file-digest",
  "file-digest-ask",
] as const;
const CODE = Object.fromEntries(INNER_TYPES.map((t, i) => [t, i + 1])) as Record<
  Inner["t"],
  number
>;
/** Longest text, in characters (UTF-16 code units, as `String.length`). */
const MAX_TEXT_CHARS = 64 * 1024;
const FILE_ID_BYTES = 16;
const MAX_MANIFEST_BYTES = 150;

const te = new TextEncoder();
// ignoreBOM: a text that starts with U+FEFF keeps it (the default decoder would drop it).
const td = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Encodes what travels inside the ratchet (version 1). */
export function encodeInner(m: Inner): Uint8Array {
  if (m.t === "text") {
    // Sized for the worst case (3 UTF-8 bytes per UTF-16 unit): no reallocation.
    return new ByteWriter(18 + m.text.length * 3).u8(INNER_VERSION).u8(CODE.text).u64(m.seq)
      .u64(m.at).raw(te.encode(m.text)).finish();
  }
  const w = new ByteWriter(64).u8(INNER_VERSION).u8(CODE[m.t]);
  switch (m.t) {
    case "read":
      return w.u64(m.upTo).finish();
    case "hi":
      return w.finish();
  }
  w.raw(fileId(m.id));
  switch (m.t) {
    case "file-offer":
      return w.u64(m.size).str16(m.name).str16(m.type).bytes16(Uint8Array.fromBase64(m.manifest))
        .finish();
    case "file-cancel":
      return (m.reason ? w.u8(1).str16(m.reason) : w.u8(0)).finish();
    case "file-resend":
      return w.u64(m.index).u8(m.attempt).finish();
    case "file-digest-ask":
      return w.u8(m.attempt).finish();
    case "file-digest":
      if (!/^[0-9a-f]{64}$/.test(m.digest)) throw new RangeError("Cannot encode file digest");
      return w.raw(Uint8Array.fromHex(m.digest)).finish();
    default:
      return w.finish();
  }
}

function fileId(hex: string): Uint8Array {
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new RangeError(`Cannot encode file id "${hex}"`);
  return Uint8Array.fromHex(hex);
}

/** A UTF-8 string of at most `maxChars` characters (UTF-16 code units). */
function chars(r: ByteReader, maxChars: number, field: string): string {
  const s = r.str16(maxChars * 3, field);
  if (s.length > maxChars) throw new CodecError(`Cannot decode message: ${field} is too long`);
  return s;
}

/**
 * Decodes and checks what travels inside the ratchet.
 *
 * @throws {CodecError} malformed, an unknown version or type, a field out of range
 */
export function decodeInner(bytes: Uint8Array): Inner {
  const r = new ByteReader(bytes, "message");
  if (r.u8("version") !== INNER_VERSION) {
    throw new CodecError("Cannot decode message: unknown version");
  }
  const t = INNER_TYPES[r.u8("type") - 1];
  let m: Inner;
  switch (t) {
    case "text": {
      const seq = r.u64("seq");
      if (seq === 0) throw new CodecError("Cannot decode message: seq is 0");
      const at = r.u64("at");
      if (r.remaining > MAX_TEXT_CHARS * 3) throw new CodecError("Cannot decode message: too long");
      let text: string;
      try {
        text = td.decode(r.rawView(r.remaining, "text"));
      } catch (cause) {
        throw new CodecError("Cannot decode message: text is not UTF-8", { cause });
      }
      if (text.length > MAX_TEXT_CHARS) throw new CodecError("Cannot decode message: too long");
      return { t, seq, at, text };
    }
    case "read":
      m = { t, upTo: r.u64("upTo") };
      break;
    case "hi":
      m = { t };
      break;
    case undefined:
      throw new CodecError("Cannot decode message: unknown type");
    default: {
      const id = r.rawView(FILE_ID_BYTES, "file id").toHex();
      switch (t) {
        case "file-offer": {
          const size = r.u64("size");
          const name = chars(r, 4096, "name");
          const type = chars(r, 200, "type");
          const manifest = r.bytes16(MAX_MANIFEST_BYTES, "manifest").toBase64();
          m = { t, id, name, size, type, manifest };
          break;
        }
        case "file-cancel": {
          const has = r.u8("has reason");
          if (has > 1) throw new CodecError("Cannot decode message: has reason is not 0 or 1");
          m = has ? { t, id, reason: chars(r, 500, "reason") } : { t, id };
          break;
        }
        case "file-resend": {
          const index = r.u64("index");
          const attempt = r.u8("attempt");
          if (attempt < 1 || attempt > 99) {
            throw new CodecError("Cannot decode message: attempt out of range");
          }
          m = { t, id, index, attempt };
          break;
        }
        case "file-digest":
          m = { t, id, digest: r.rawView(32, "digest").toHex() };
          break;
        case "file-digest-ask": {
          const attempt = r.u8("attempt");
          if (attempt < 1 || attempt > 99) {
            throw new CodecError("Cannot decode message: attempt out of range");
          }
          m = { t, id, attempt };
          break;
        }
        default:
          m = { t, id };
      }
    }
  }
  r.end();
  return m;
}
