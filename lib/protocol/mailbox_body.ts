/**
 * Bodies of the mailbox envelope kinds (PROTOCOL.md §15):
 *
 *   custody, mailboxDelivery = u8 version=1 | bytes32 envelope (with its origin's proof)
 *   receiptQuery             = u8 version=1 | u16 n | n × [16] envelope id   (n ≤ 4,096)
 */
import { ByteReader, ByteWriter, CodecError } from "../e2e/base.ts";
import { ENVELOPE_ID_BYTES, MAX_AUTH_BYTES, MAX_ENVELOPE_BODY } from "./envelope.ts";

const VERSION = 1;
/** Most ids one receipt query asks about. */
export const MAX_QUERY_IDS = 4096;
/** Largest envelope a custody body carries. */
const MAX_INNER = MAX_ENVELOPE_BODY + 256 + MAX_AUTH_BYTES;

/** Wraps an envelope (with its proof) for custody or mailbox delivery. */
export function encodeHeldEnvelope(inner: Uint8Array): Uint8Array {
  return new ByteWriter(inner.length + 8).u8(VERSION).bytes32(inner).finish();
}

/**
 * The envelope inside a custody or mailbox delivery body (a view).
 *
 * @throws {CodecError}
 */
export function decodeHeldEnvelope(body: Uint8Array): Uint8Array {
  const r = new ByteReader(body, "held envelope");
  if (r.u8("version") !== VERSION) throw new CodecError("Cannot decode held envelope: version");
  const inner = r.bytes32View(MAX_INNER, "envelope");
  r.end();
  return inner;
}

/** Encodes a receipt query. */
export function encodeReceiptQuery(ids: readonly Uint8Array[]): Uint8Array {
  if (ids.length > MAX_QUERY_IDS) throw new RangeError("Cannot encode receipt query: too many ids");
  const w = new ByteWriter(3 + ids.length * ENVELOPE_ID_BYTES).u8(VERSION).u16(ids.length);
  for (const id of ids) w.raw(id);
  return w.finish();
}

/**
 * The ids of a receipt query.
 *
 * @throws {CodecError}
 */
export function decodeReceiptQuery(body: Uint8Array): Uint8Array[] {
  const r = new ByteReader(body, "receipt query");
  if (r.u8("version") !== VERSION) throw new CodecError("Cannot decode receipt query: version");
  const n = r.u16("count");
  if (n > MAX_QUERY_IDS) throw new CodecError("Cannot decode receipt query: too many ids");
  const ids: Uint8Array[] = [];
  for (let i = 0; i < n; i++) ids.push(r.raw(ENVELOPE_ID_BYTES, "id"));
  r.end();
  return ids;
}
