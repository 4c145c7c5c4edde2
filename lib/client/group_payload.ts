/**
 * What members put inside group application messages (MLS encrypts it; only
 * members read it), JSON:
 *
 *   {t:"text", id, seq, at, text}      a message; `id` names it in every member's history,
 *                                      `seq` counts the sender's texts in the group from 1
 *   {t:"read", upTo: {address: seq}}   the texts of each sender this member has shown
 *   {t:"joined"}                       the sender accepted its invitation
 *   {t:"file-offer", id, name, size, type, manifest}   a file for the group (docs/PROTOCOL.md §14)
 *   {t:"file-accept"|"file-decline"|"file-done", id, to}   a member's answer to the file's sender
 *   {t:"file-cancel", id, to?, reason?} | {t:"file-resend", id, to, index, attempt}
 */
import { MAX_MESSAGE_CHARS } from "./api.ts";
import { decodeInner, type FileInner } from "./payload.ts";

/** A group file message; `to` names the one member it is for (answers go to the sender only). */
export type GroupFileInner = FileInner & { to?: string };

/** The content of a group application message. */
export type GroupInner =
  | { t: "text"; id: string; seq: number; at: number; text: string }
  | { t: "read"; upTo: Record<string, number> }
  | { t: "joined" }
  | GroupFileInner;

const ID = /^[0-9a-f]{32}$/;
const te = new TextEncoder();

/** Encodes group content. */
export function encodeGroupInner(inner: GroupInner): Uint8Array {
  return te.encode(JSON.stringify(inner));
}

/** Decodes and checks group content. @throws {TypeError} anything else */
export function decodeGroupInner(bytes: Uint8Array): GroupInner {
  const v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  if (v?.t === "text") {
    if (
      typeof v.id === "string" && ID.test(v.id) && Number.isSafeInteger(v.seq) && v.seq > 0 &&
      Number.isSafeInteger(v.at) && typeof v.text === "string" && v.text.length > 0 &&
      v.text.length <= MAX_MESSAGE_CHARS
    ) {
      return { t: "text", id: v.id, seq: v.seq, at: v.at, text: v.text };
    }
  } else if (v?.t === "read") {
    const upTo = v.upTo;
    if (
      typeof upTo === "object" && upTo !== null && !Array.isArray(upTo) &&
      Object.keys(upTo).length <= 256 &&
      Object.entries(upTo).every(([k, n]) => k.length <= 80 && Number.isSafeInteger(n))
    ) {
      return { t: "read", upTo: upTo as Record<string, number> };
    }
  } else if (v?.t === "joined") {
    return { t: "joined" };
  } else if (typeof v?.t === "string" && v.t.startsWith("file-")) {
    const to = v.to;
    if (to !== undefined && (typeof to !== "string" || to.length > 80)) {
      throw new TypeError("Cannot read group message: bad recipient");
    }
    const { to: _, ...rest } = v;
    const f = decodeInner(te.encode(JSON.stringify(rest))) as FileInner;
    return to === undefined ? f : { ...f, to };
  }
  throw new TypeError("Cannot read group message: unknown content");
}
