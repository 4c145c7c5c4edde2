/**
 * Messages inside an established link's secure channel. Version byte, kind
 * byte, then the kind's fields; the decoder checks every length.
 */
import { ByteReader, ByteWriter, DecodeError } from "../codec.ts";
import { ProtocolError } from "./errors.ts";

const VERSION = 1;
const KIND = { result: 1, heartbeat: 2, announce: 3, envelope: 4, bye: 5 } as const;
const STATUS = ["accepted", "pending", "refused"] as const;

/** The responder's verdict on a link, the first message it sends. */
export type LinkStatus = typeof STATUS[number];

/** A message on a link. */
export type LinkMessage =
  | { kind: "result"; status: LinkStatus; reason: string }
  | { kind: "heartbeat" }
  | { kind: "announce"; bytes: Uint8Array }
  | { kind: "envelope"; bytes: Uint8Array }
  | { kind: "bye"; reason: string };

/** Encodes a link message. */
export function encodeLinkMessage(m: LinkMessage): Uint8Array {
  const w = new ByteWriter().u8(VERSION).u8(KIND[m.kind]);
  switch (m.kind) {
    case "result":
      return w.u8(STATUS.indexOf(m.status)).str(m.reason).finish();
    case "heartbeat":
      return w.finish();
    case "announce":
    case "envelope":
      return w.fixed(m.bytes).finish();
    case "bye":
      return w.str(m.reason).finish();
  }
}

/**
 * Decodes a link message of at most `maxBytes`.
 *
 * @throws {ProtocolError} unknown version or kind, bad field, trailing bytes
 */
export function decodeLinkMessage(bytes: Uint8Array, maxBytes: number): LinkMessage {
  try {
    if (bytes.length > maxBytes) throw new DecodeError("message too large");
    const r = new ByteReader(bytes);
    if (r.u8("version") !== VERSION) throw new DecodeError("unknown version");
    const kind = r.u8("kind");
    let m: LinkMessage;
    switch (kind) {
      case KIND.result: {
        const status = STATUS[r.u8("status")];
        if (!status) throw new DecodeError("unknown status");
        m = { kind: "result", status, reason: r.str(200, "reason") };
        break;
      }
      case KIND.heartbeat:
        m = { kind: "heartbeat" };
        break;
      case KIND.announce:
      case KIND.envelope:
        m = { kind: kind === KIND.announce ? "announce" : "envelope", bytes: r.rest() };
        break;
      case KIND.bye:
        m = { kind: "bye", reason: r.str(200, "reason") };
        break;
      default:
        throw new DecodeError(`unknown kind ${kind}`);
    }
    r.end("link message");
    return m;
  } catch (e) {
    if (e instanceof DecodeError) {
      throw new ProtocolError(`Cannot read link message: ${e.message}`, { cause: e });
    }
    throw e;
  }
}
