/**
 * What clients put in envelope bodies (nodes see only these bytes):
 *
 *   request body  = u8 4 | bytes chat request (lib/e2e, version 2; the sealed intro is inside)
 *   message body  = u8 2 | bytes acceptance            (the chat handshake's answer)
 *                 | u8 3 | bytes ratchet message        (everything after)
 *
 * Inside a ratchet message, JSON: {t:"text", seq, at, text} | {t:"read", upTo} | {t:"hi"},
 * and the file transfer's messages (docs/PROTOCOL.md §13): {t:"file-offer", id, name, size, type,
 * manifest (base64, lib/e2e FileManifest)} | {t:"file-accept"|"file-decline"|"file-done", id}
 * | {t:"file-push", id} (chunks follow without waiting for an accept: the receiver is away)
 * | {t:"file-cancel", id, reason?} | {t:"file-resend", id, index, attempt}.
 *
 * Kind 1 (`u8 1 | request v1 | sealed intro` beside it, outside the signature) is
 * no longer read.
 */
import { ByteReader, ByteWriter, MAX_CHAT_REQUEST_BYTES } from "../e2e/mod.ts";

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
  | { t: "file-resend"; id: string; index: number; attempt: number };

/** Tells file transfer messages from the rest. */
export function isFileInner(inner: Inner): inner is FileInner {
  return inner.t.startsWith("file-");
}

const FILE_ID = /^[0-9a-f]{32}$/;

function decodeFileInner(v: Record<string, unknown>): FileInner | null {
  if (typeof v.id !== "string" || !FILE_ID.test(v.id)) return null;
  const id = v.id;
  switch (v.t) {
    case "file-offer":
      if (
        typeof v.name === "string" && v.name.length <= 4096 && Number.isSafeInteger(v.size) &&
        (v.size as number) >= 0 && typeof v.type === "string" && v.type.length <= 200 &&
        typeof v.manifest === "string" && v.manifest.length <= 200
      ) {
        return {
          t: "file-offer",
          id,
          name: v.name,
          size: v.size as number,
          type: v.type,
          manifest: v.manifest,
        };
      }
      return null;
    case "file-accept":
    case "file-decline":
    case "file-done":
    case "file-push":
      return { t: v.t, id };
    case "file-cancel":
      if (v.reason !== undefined && (typeof v.reason !== "string" || v.reason.length > 500)) {
        return null;
      }
      return { t: "file-cancel", id, ...(v.reason ? { reason: v.reason as string } : {}) };
    case "file-resend":
      if (
        Number.isSafeInteger(v.index) && (v.index as number) >= 0 &&
        Number.isSafeInteger(v.attempt) && (v.attempt as number) > 0 && (v.attempt as number) < 100
      ) {
        return { t: "file-resend", id, index: v.index as number, attempt: v.attempt as number };
      }
      return null;
  }
  return null;
}

const MAX = 256 * 1024;

/** Encodes an envelope body. */
export function encodePayload(p: Payload): Uint8Array {
  const w = new ByteWriter();
  if (p.kind === "request") return w.u8(4).bytes32(p.request).finish();
  if (p.kind === "acceptance") return w.u8(2).bytes32(p.acceptance).finish();
  return w.u8(3).bytes32(p.message).finish();
}

/** Decodes an envelope body. @throws {Error} malformed */
export function decodePayload(bytes: Uint8Array): Payload {
  const r = new ByteReader(bytes, "payload");
  const kind = r.u8("kind");
  let p: Payload;
  if (kind === 4) p = { kind: "request", request: r.bytes32(MAX_CHAT_REQUEST_BYTES, "request") };
  else if (kind === 2) p = { kind: "acceptance", acceptance: r.bytes32(MAX, "acceptance") };
  else if (kind === 3) p = { kind: "ratchet", message: r.bytes32(MAX, "message") };
  else if (kind === 1) throw new RangeError("Cannot read payload: a version 1 request");
  else throw new RangeError("Cannot read payload: unknown kind");
  r.end();
  return p;
}

/** Decodes and checks the JSON inside a ratchet message. @throws {Error} */
export function decodeInner(bytes: Uint8Array): Inner {
  const v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  if (
    v?.t === "text" && Number.isSafeInteger(v.seq) && v.seq > 0 && Number.isSafeInteger(v.at) &&
    typeof v.text === "string" && v.text.length <= 64 * 1024
  ) {
    return { t: "text", seq: v.seq, at: v.at, text: v.text };
  }
  if (v?.t === "read" && Number.isSafeInteger(v.upTo)) return { t: "read", upTo: v.upTo };
  if (v?.t === "hi") return { t: "hi" };
  if (typeof v?.t === "string" && v.t.startsWith("file-")) {
    const f = decodeFileInner(v);
    if (f) return f;
  }
  throw new TypeError("Cannot read message: unknown content");
}
