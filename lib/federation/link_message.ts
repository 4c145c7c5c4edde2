/**
 * Messages inside an established link's secure channel. Version byte, kind
 * byte, then the kind's fields; the decoder checks every length.
 */
import { ByteReader, ByteWriter, CodecError } from "../e2e/base.ts";
import { ProtocolError } from "./errors.ts";

const VERSION = 1;
const KIND = {
  result: 1,
  heartbeat: 2,
  announce: 3,
  envelope: 4,
  bye: 5,
  "announce-batch": 6,
} as const;
const STATUS = ["accepted", "pending", "refused"] as const;

/** The responder's verdict on a link, the first message it sends. */
export type LinkStatus = typeof STATUS[number];

/** A message on a link. */
export type LinkMessage =
  | { kind: "result"; status: LinkStatus; reason: string }
  | { kind: "heartbeat" }
  | { kind: "announce"; bytes: Uint8Array }
  /** Several announcement frames (routing/announcement_batch.ts). */
  | { kind: "announce-batch"; bytes: Uint8Array }
  | { kind: "envelope"; bytes: Uint8Array }
  | { kind: "bye"; reason: string };

/** Encodes a link message. */
/** The two bytes before an envelope's in a link message (see {@linkcode envelopeMessageParts}). */
const ENVELOPE_HEADER = new Uint8Array([VERSION, KIND.envelope]);

/**
 * An envelope's link message as parts (the header, then the envelope bytes
 * as they are), so a large one is sealed without being copied into a new
 * message first (an envelope given in parts stays in parts). Joined, the parts equal
 * `encodeLinkMessage({ kind: "envelope", bytes })` of the envelope's joined bytes.
 */
export function envelopeMessageParts(
  envelope: Uint8Array | readonly Uint8Array[],
): readonly Uint8Array[] {
  return envelope instanceof Uint8Array ? [ENVELOPE_HEADER, envelope] : [
    ENVELOPE_HEADER,
    ...envelope,
  ];
}

export function encodeLinkMessage(m: LinkMessage): Uint8Array {
  const w = new ByteWriter(
    m.kind === "announce" || m.kind === "envelope" ? 2 + m.bytes.length : 256,
  )
    .u8(VERSION).u8(KIND[m.kind]);
  switch (m.kind) {
    case "result":
      return w.u8(STATUS.indexOf(m.status)).str16(m.reason).finish();
    case "heartbeat":
      return w.finish();
    case "announce":
    case "announce-batch":
    case "envelope":
      return w.raw(m.bytes).finish();
    case "bye":
      return w.str16(m.reason).finish();
  }
}

/**
 * Decodes a link message of at most `maxBytes`.
 *
 * @throws {ProtocolError} unknown version or kind, bad field, trailing bytes
 */
export function decodeLinkMessage(bytes: Uint8Array, maxBytes: number): LinkMessage {
  try {
    if (bytes.length > maxBytes) throw new CodecError("message too large");
    const r = new ByteReader(bytes, "link message");
    if (r.u8("version") !== VERSION) throw new CodecError("unknown version");
    const kind = r.u8("kind");
    let m: LinkMessage;
    switch (kind) {
      case KIND.result: {
        const status = STATUS[r.u8("status")];
        if (!status) throw new CodecError("unknown status");
        m = { kind: "result", status, reason: r.str16(200, "reason") };
        break;
      }
      case KIND.heartbeat:
        m = { kind: "heartbeat" };
        break;
      case KIND.announce:
        m = { kind: "announce", bytes: r.rest() };
        break;
      case KIND["announce-batch"]:
        m = { kind: "announce-batch", bytes: r.rest() };
        break;
      case KIND.envelope:
        // A view, not a copy (a file chunk is 256 KiB): the input is a record this node just
        // decrypted and nothing else holds it (the forwarder lowers the ttl in it, in place).
        m = { kind: "envelope", bytes: r.rawView(r.remaining, "rest") };
        break;
      case KIND.bye:
        m = { kind: "bye", reason: r.str16(200, "reason") };
        break;
      default:
        throw new CodecError(`unknown kind ${kind}`);
    }
    r.end();
    return m;
  } catch (e) {
    if (e instanceof CodecError) {
      throw new ProtocolError(`Cannot read link message: ${e.message}`, { cause: e });
    }
    throw e;
  }
}
