/**
 * A delivery notice as the node keeps it: in the settled outbox row of the
 * envelope it is about (`outbox.notice`, lib/store/message_store.ts), until
 * the owner's client acknowledges it. The common case, "delivered" with
 * nothing else, is kept as that word; anything else as JSON. The text is the
 * node's own, but it is read back from disk, so the decoder checks its shape.
 */

/** What a settled envelope's notice says. */
export interface NoticeFields {
  state: "delivered" | "failed";
  reason?: string;
  /** Per-user results of a group envelope: address → receipt status. */
  users?: Record<string, string>;
}

/** A notice of a settled outbox row, with the row's seq and envelope id. */
export interface SettledNotice extends NoticeFields {
  seq: number;
  /** The envelope's id (hex). */
  id: string;
}

/** A notice its client has not taken is kept this long (in its outbox row or an inbox row). */
export const NOTICE_KEEP_MS = 8 * 24 * 3600_000;

const DELIVERED = "delivered";
/** Longest notice text decoded (a group's per-user results included). */
const MAX_NOTICE_CHARS = 256 * 1024;

/** Encodes a notice for its outbox row. */
export function encodeNotice(n: NoticeFields): string {
  if (n.state === "delivered" && n.reason === undefined && n.users === undefined) {
    return DELIVERED;
  }
  return JSON.stringify({
    state: n.state,
    ...(n.reason !== undefined ? { reason: n.reason } : {}),
    ...(n.users !== undefined ? { users: n.users } : {}),
  });
}

/**
 * Decodes a notice kept by {@linkcode encodeNotice}.
 *
 * @throws {TypeError} not a notice of this shape
 * @throws {RangeError} longer than a notice may be
 */
export function decodeNotice(text: string): NoticeFields {
  if (text === DELIVERED) return { state: "delivered" };
  if (text.length > MAX_NOTICE_CHARS) {
    throw new RangeError(`Cannot read notice: ${text.length} characters`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new TypeError("Cannot read notice: not JSON", { cause: e });
  }
  if (typeof v !== "object" || v === null) throw new TypeError("Cannot read notice: not an object");
  const o = v as Record<string, unknown>;
  if (o.state !== "delivered" && o.state !== "failed") {
    throw new TypeError(`Cannot read notice: state ${JSON.stringify(o.state)}`);
  }
  const n: NoticeFields = { state: o.state };
  if (o.reason !== undefined) {
    if (typeof o.reason !== "string") throw new TypeError("Cannot read notice: reason");
    n.reason = o.reason;
  }
  if (o.users !== undefined) {
    if (typeof o.users !== "object" || o.users === null || Array.isArray(o.users)) {
      throw new TypeError("Cannot read notice: users");
    }
    const users: Record<string, string> = {};
    for (const [k, s] of Object.entries(o.users)) {
      if (typeof s !== "string") throw new TypeError("Cannot read notice: users");
      users[k] = s;
    }
    n.users = users;
  }
  return n;
}
