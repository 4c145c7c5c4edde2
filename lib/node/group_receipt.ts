/**
 * Receipts with per-user results, for `group` envelopes: one envelope reaches
 * several users of its destination node, and the sender's client shows
 * "delivered to N of M", so the destination says what it did for each user.
 * Version 3 of the receipt (lib/node/receipt.ts has version 2, which stays
 * what a batch without group entries is sent as, so nodes that never send
 * group envelopes never see a version 3):
 *
 *   u8 version=3 | u16 n | n × ([16] id | u8 status | u16 m | m × (str16 name | u8 status))
 *
 * Statuses are the receipt's codes (RECEIPT_STATUSES). `m` is 0 for entries
 * that are not group envelopes.
 */
import { ByteReader, ByteWriter, CodecError } from "../e2e/base.ts";
import { toUserName } from "../ids.ts";
import {
  decodeReceipt,
  encodeReceipt,
  MAX_RECEIPT_ENTRIES,
  RECEIPT_STATUSES,
  type ReceiptStatus,
} from "./receipt.ts";

const VERSION = 3;
/** Most users one entry names (a group has at most 256 members). */
export const MAX_RECEIPT_USERS = 256;

/** What the destination did for one user of a group envelope. */
export interface UserResult {
  name: string;
  status: ReceiptStatus;
}

/** A receipt entry, with per-user results for a group envelope. */
export interface ReceiptEntry {
  id: Uint8Array;
  status: ReceiptStatus;
  users?: UserResult[];
}

function code(status: ReceiptStatus): number {
  const i = RECEIPT_STATUSES.indexOf(status);
  if (i < 0) throw new RangeError(`Cannot encode receipt: unknown status "${status}"`);
  return i;
}

function status(r: ByteReader): ReceiptStatus {
  const s = RECEIPT_STATUSES[r.u8("status")];
  if (!s) throw new CodecError("Cannot decode receipt: unknown status");
  return s;
}

/**
 * Encodes entries: version 2 when none has per-user results, else version 3.
 *
 * @throws {RangeError} too many entries or users
 */
export function encodeReceiptEntries(entries: readonly ReceiptEntry[]): Uint8Array {
  if (!entries.some((e) => e.users !== undefined)) return encodeReceipt([...entries]);
  if (entries.length > MAX_RECEIPT_ENTRIES) {
    throw new RangeError("Cannot encode receipt: too many entries");
  }
  const w = new ByteWriter(3 + entries.length * 40).u8(VERSION).u16(entries.length);
  for (const e of entries) {
    const users = e.users ?? [];
    if (users.length > MAX_RECEIPT_USERS) {
      throw new RangeError("Cannot encode receipt: too many users");
    }
    w.raw(e.id).u8(code(e.status)).u16(users.length);
    for (const u of users) w.str16(u.name).u8(code(u.status));
  }
  return w.finish();
}

/**
 * Decodes a receipt of version 2 or 3.
 *
 * @throws {CodecError} malformed, unknown version or status, too many entries or users
 */
export function decodeReceiptEntries(bytes: Uint8Array): ReceiptEntry[] {
  if (bytes[0] !== VERSION) return decodeReceipt(bytes);
  const r = new ByteReader(bytes, "receipt");
  r.u8("version");
  const n = r.u16("count");
  if (n > MAX_RECEIPT_ENTRIES) throw new CodecError("Cannot decode receipt: too many entries");
  const out: ReceiptEntry[] = [];
  for (let i = 0; i < n; i++) {
    const id = r.raw(16, "id");
    const s = status(r);
    const m = r.u16("users");
    if (m > MAX_RECEIPT_USERS) throw new CodecError("Cannot decode receipt: too many users");
    const users: UserResult[] = [];
    for (let k = 0; k < m; k++) {
      let name: string;
      try {
        name = toUserName(r.str16(32, "name"));
      } catch (e) {
        if (e instanceof CodecError) throw e;
        throw new CodecError("Cannot decode receipt: bad user name", { cause: e });
      }
      users.push({ name, status: status(r) });
    }
    out.push(m > 0 ? { id, status: s, users } : { id, status: s });
  }
  r.end();
  return out;
}
