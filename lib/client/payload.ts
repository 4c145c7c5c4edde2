/**
 * What clients put in envelope bodies (nodes see only these bytes):
 *
 *   request body  = u8 1 | bytes chat request (lib/e2e) | bytes sealed intro
 *   message body  = u8 2 | bytes acceptance            (the chat handshake's answer)
 *                 | u8 3 | bytes ratchet message        (everything after)
 *
 * Inside a ratchet message, JSON: {t:"text", seq, at, text} | {t:"read", upTo} | {t:"hi"}.
 */
import { ByteReader, ByteWriter } from "../codec.ts";

/** A decoded envelope body. */
export type Payload =
  | { kind: "request"; request: Uint8Array; intro: Uint8Array }
  | { kind: "acceptance"; acceptance: Uint8Array }
  | { kind: "ratchet"; message: Uint8Array };

/** What travels inside the ratchet. */
export type Inner =
  | { t: "text"; seq: number; at: number; text: string }
  | { t: "read"; upTo: number }
  | { t: "hi" };

const MAX = 256 * 1024;

/** Encodes an envelope body. */
export function encodePayload(p: Payload): Uint8Array {
  const w = new ByteWriter();
  if (p.kind === "request") return w.u8(1).bytes(p.request).bytes(p.intro).finish();
  if (p.kind === "acceptance") return w.u8(2).bytes(p.acceptance).finish();
  return w.u8(3).bytes(p.message).finish();
}

/** Decodes an envelope body. @throws {Error} malformed */
export function decodePayload(bytes: Uint8Array): Payload {
  const r = new ByteReader(bytes);
  const kind = r.u8("kind");
  let p: Payload;
  if (kind === 1) {
    p = { kind: "request", request: r.bytes(MAX, "request"), intro: r.bytes(8192, "intro") };
  } else if (kind === 2) p = { kind: "acceptance", acceptance: r.bytes(MAX, "acceptance") };
  else if (kind === 3) p = { kind: "ratchet", message: r.bytes(MAX, "message") };
  else throw new RangeError("Cannot read payload: unknown kind");
  r.end("payload");
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
  throw new TypeError("Cannot read message: unknown content");
}
