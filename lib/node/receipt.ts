/**
 * Delivery receipts: a destination node's statement of what it did with
 * envelopes (stored them, or why not), sent back to their origin node, which
 * only then drops them from its outbox. A receipt travels in a `receipt`
 * envelope, so its origin is proven like any envelope's
 * (lib/federation/provenance.ts): a relay can neither forge one nor alter one.
 * Many ids share one envelope.
 *
 *   u8 version=2 | u16 n | n × ([16] id | u8 status)
 */
import { ByteReader, ByteWriter, CodecError } from "../e2e/base.ts";
import { USER_STATUSES } from "../protocol/mod.ts";

const VERSION = 2;
/** Most entries in one receipt. */
export const MAX_RECEIPT_ENTRIES = 4096;
/**
 * `too-large` and `quota-full` answer file chunks over the destination's limits;
 * `busy` means "not kept now, send it again later" (an inbox or the node is full);
 * `expired` means the envelope arrived past its expiry; `held` is a mailbox's custody
 * receipt (it stored the envelope for its destination), `not-served` a mailbox's refusal
 * for a node it does not serve.
 */
/**
 * Receipt statuses by their wire code (the index): the same list the client
 * protocol uses for a group envelope's per-user results.
 */
export const RECEIPT_STATUSES = USER_STATUSES;
const STATUS = RECEIPT_STATUSES;

/** What the destination did with one envelope. */
export type ReceiptStatus = typeof STATUS[number];

/** Statuses after which the origin keeps the envelope and tries again. */
export const TEMPORARY_STATUSES: ReadonlySet<ReceiptStatus> = new Set(["busy"]);

/** One receipt's entries. */
export type ReceiptEntries = Array<{ id: Uint8Array; status: ReceiptStatus }>;

/** Encodes receipt entries (at most {@linkcode MAX_RECEIPT_ENTRIES}). */
export function encodeReceipt(entries: ReceiptEntries): Uint8Array {
  if (entries.length > MAX_RECEIPT_ENTRIES) {
    throw new RangeError("Cannot encode receipt: too many entries");
  }
  const w = new ByteWriter(3 + entries.length * 17).u8(VERSION).u16(entries.length);
  for (const e of entries) w.raw(e.id).u8(STATUS.indexOf(e.status));
  return w.finish();
}

/**
 * Decodes receipt entries.
 *
 * @throws {CodecError} malformed, unknown version or status, too many entries
 */
export function decodeReceipt(bytes: Uint8Array): ReceiptEntries {
  const r = new ByteReader(bytes, "receipt");
  if (r.u8("version") !== VERSION) throw new CodecError("Cannot decode receipt: unknown version");
  const n = r.u16("count");
  if (n > MAX_RECEIPT_ENTRIES) throw new CodecError("Cannot decode receipt: too many entries");
  const entries: ReceiptEntries = [];
  for (let i = 0; i < n; i++) {
    const id = r.raw(16, "id");
    const status = STATUS[r.u8("status")];
    if (!status) throw new CodecError("Cannot decode receipt: unknown status");
    entries.push({ id, status });
  }
  r.end();
  return entries;
}
