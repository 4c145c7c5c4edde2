/**
 * Delivery receipts: a destination node's signed statement that it stored
 * (or refused) envelopes, sent back to their origin node, which only then
 * drops them from its outbox. Signed, so a relay cannot forge one and make a
 * message vanish. Many ids share one signature.
 *
 *   u8 version=1 | str dest | str origin | u16 n | n × ([16] id | u8 status) | [64] sig
 *   sig = Ed25519(dest key, "fedchat-receipt-v1" | 0x00 | everything before sig)
 */
import { ByteReader, ByteWriter, CodecError } from "../e2e/mod.ts";
import { ed25519Sign, ed25519Verify, importEd25519PublicKey } from "../e2e/mod.ts";
import { type NodeId, toNodeId } from "../ids.ts";

const VERSION = 1;
const LABEL = new TextEncoder().encode("fedchat-receipt-v1\0");
/** Most entries in one receipt. */
export const MAX_RECEIPT_ENTRIES = 4096;
/** "too-large" and "quota-full" answer file chunks over the destination's limits. */
const STATUS = ["stored", "no-such-user", "refused", "too-large", "quota-full"] as const;

/** What the destination did with one envelope. */
export type ReceiptStatus = typeof STATUS[number];

/** One receipt. */
export interface Receipt {
  dest: NodeId;
  origin: NodeId;
  entries: Array<{ id: Uint8Array; status: ReceiptStatus }>;
}

function unsigned(r: Receipt): Uint8Array {
  const w = new ByteWriter().u8(VERSION).str16(r.dest).str16(r.origin).u16(r.entries.length);
  for (const e of r.entries) w.raw(e.id).u8(STATUS.indexOf(e.status));
  return w.finish();
}

function withLabel(body: Uint8Array): Uint8Array {
  return new ByteWriter().raw(LABEL).raw(body).finish();
}

/** Encodes and signs a receipt with the destination node's key. */
export async function signReceipt(r: Receipt, privateKey: CryptoKey): Promise<Uint8Array> {
  if (r.entries.length > MAX_RECEIPT_ENTRIES) {
    throw new RangeError("Cannot sign receipt: too many entries");
  }
  const body = unsigned(r);
  return new ByteWriter().raw(body).raw(await ed25519Sign(privateKey, withLabel(body)))
    .finish();
}

function readNodeId(r: ByteReader, field: string): NodeId {
  const text = r.str16(32, field);
  try {
    return toNodeId(text);
  } catch (cause) {
    throw new CodecError(`Cannot decode receipt: ${field} is not a node id`, { cause });
  }
}

/**
 * Decodes a receipt and checks its signature against the destination's key.
 *
 * @throws {CodecError} malformed; returns null when the signature is bad
 */
export async function openReceipt(bytes: Uint8Array, destKey: Uint8Array): Promise<Receipt | null> {
  if (bytes.length < 64) throw new CodecError("Cannot decode receipt: truncated");
  const body = bytes.subarray(0, bytes.length - 64);
  const r = new ByteReader(body, "receipt");
  if (r.u8("version") !== VERSION) throw new CodecError("Cannot decode receipt: unknown version");
  const dest = readNodeId(r, "dest");
  const origin = readNodeId(r, "origin");
  const n = r.u16("count");
  if (n > MAX_RECEIPT_ENTRIES) throw new CodecError("Cannot decode receipt: too many entries");
  const entries: Receipt["entries"] = [];
  for (let i = 0; i < n; i++) {
    const id = r.raw(16, "id");
    const status = STATUS[r.u8("status")];
    if (!status) throw new CodecError("Cannot decode receipt: unknown status");
    entries.push({ id, status });
  }
  r.end();
  const key = await importEd25519PublicKey(destKey);
  const ok = await ed25519Verify(key, bytes.subarray(bytes.length - 64), withLabel(body));
  return ok ? { dest, origin, entries } : null;
}
