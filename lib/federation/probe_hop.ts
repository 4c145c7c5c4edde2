/**
 * The body of a `probeReply` envelope: a relay that forwards a probe, and
 * then its destination, each tell the probe's origin that they saw it, so
 * the origin learns the path without anyone changing the probe.
 *
 *   u8 version=1 | [16] probe envelope id | u8 hop | u16 length, node id (≤ 32 bytes)
 *   | u8 final (0 or 1: 1 from the destination)
 */
import { ByteReader, ByteWriter, CodecError } from "../e2e/base.ts";
import { type NodeId, toNodeId } from "../ids.ts";

const VERSION = 1;
const PROBE_ID_BYTES = 16;

/** One hop's answer to a probe. */
export interface ProbeHop {
  /** The probe envelope's id. */
  probe: Uint8Array;
  /** How many hops from the origin the answering node is. */
  hop: number;
  /** The answering node (the reply must be proven to come from it). */
  node: NodeId;
  /** True from the probe's destination: the last answer. */
  final: boolean;
}

/**
 * Encodes a probe hop.
 *
 * @throws {RangeError} a probe id that is not 16 bytes, a hop out of 0 to 255
 */
export function encodeProbeHop(h: ProbeHop): Uint8Array {
  if (h.probe.length !== PROBE_ID_BYTES) {
    throw new RangeError(`Cannot encode probe hop: probe id is not ${PROBE_ID_BYTES} bytes`);
  }
  return new ByteWriter().u8(VERSION).raw(h.probe).u8(h.hop).str16(h.node).u8(h.final ? 1 : 0)
    .finish();
}

/**
 * Decodes a probe hop.
 *
 * @throws {CodecError} unknown version, truncated, trailing bytes, a bad node id or final flag
 */
export function decodeProbeHop(bytes: Uint8Array): ProbeHop {
  const r = new ByteReader(bytes, "probe hop");
  const version = r.u8("version");
  if (version !== VERSION) {
    throw new CodecError(`Cannot decode probe hop: unknown version "${version}"`);
  }
  const probe = r.raw(PROBE_ID_BYTES, "probe");
  const hop = r.u8("hop");
  const text = r.str16(32, "node");
  let node: NodeId;
  try {
    node = toNodeId(text);
  } catch (cause) {
    throw new CodecError("Cannot decode probe hop: node is not a node id", { cause });
  }
  const final = r.u8("final");
  if (final > 1) throw new CodecError(`Cannot decode probe hop: final flag "${final}"`);
  r.end();
  return { probe, hop, node, final: final === 1 };
}
