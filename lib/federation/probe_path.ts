/**
 * The body of `probe` and `probeReply` envelopes: the nodes a probe passed,
 * in order, from its origin (see docs/PROTOCOL.md §8).
 *
 *   u8 count (≤ 64) | count × (u16 length, node id in UTF-8, ≤ 32 bytes)
 *
 * Each relay decodes the path, appends itself and encodes it again, so a path
 * already holding {@linkcode MAX_PROBE_HOPS} hops cannot be extended: the
 * relay must drop the probe rather than forward a path nobody can decode.
 */
import { ByteReader, ByteWriter, CodecError } from "../e2e/mod.ts";
import { type NodeId, toNodeId } from "../ids.ts";

/** Most hops a probe path may hold. */
export const MAX_PROBE_HOPS = 64;
const MAX_HOP_BYTES = 32;

/**
 * Encodes a probe path.
 *
 * @throws {RangeError} more than {@linkcode MAX_PROBE_HOPS} hops
 */
export function encodePath(path: readonly NodeId[]): Uint8Array {
  if (path.length > MAX_PROBE_HOPS) {
    throw new RangeError(
      `Cannot encode probe path: ${path.length} hops, more than ${MAX_PROBE_HOPS}`,
    );
  }
  const w = new ByteWriter().u8(path.length);
  for (const hop of path) w.str16(hop);
  return w.finish();
}

/**
 * Decodes a probe path; every hop must be a valid node id.
 *
 * @throws {CodecError} truncated, trailing bytes, too many hops or a bad hop
 */
export function decodePath(bytes: Uint8Array): NodeId[] {
  const r = new ByteReader(bytes, "probe path");
  const n = r.u8("hop count");
  if (n > MAX_PROBE_HOPS) {
    throw new CodecError(`Cannot decode probe path: ${n} hops, more than ${MAX_PROBE_HOPS}`);
  }
  const path: NodeId[] = [];
  for (let i = 0; i < n; i++) {
    const hop = r.str16(MAX_HOP_BYTES, "hop");
    try {
      path.push(toNodeId(hop));
    } catch (cause) {
      throw new CodecError(`Cannot decode probe path: hop ${i} is not a node id`, { cause });
    }
  }
  r.end();
  return path;
}
