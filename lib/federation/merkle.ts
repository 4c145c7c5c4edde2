/**
 * The Merkle tree of a signed envelope batch (RFC 9162 §2.1: domain-separated
 * leaf and node hashes, the tree split at the largest power of two, audit
 * paths from leaf to root). One signature over the root proves every
 * envelope of the batch; each envelope carries only its own audit path.
 * These functions are pure.
 *
 * SHA-256 is lib/e2e's `sha256Into` (@noble/hashes' audited compression on
 * one reused state and block, pure JS), not node:crypto's: every verifier
 * hashes each envelope's leaf and one or two inner nodes, a few hundred bytes,
 * where node:crypto's fixed cost (a hash object, a Buffer per update and per
 * digest: 6-9 µs and about 1 KB of garbage per hash here) was most of a
 * relay's provenance time; the compression is about 0.4 µs per 64-byte
 * block. Not a @noble hash object either: its views per part and per digest,
 * state array and BigInt were about 1 KB of garbage per hash, 2-3 KB per
 * message at each node (docs/PERF_NOTES.md, `msgalloc`); here a hash costs
 * its 32-byte result. A leaf of
 * {@linkcode NATIVE_LEAF_BYTES} or more (a file chunk's envelope, 256 KiB) is
 * hashed by node:crypto, whose native SHA-256 moves about 1.6 GB/s here
 * where @noble's moves about 190 MB/s (0.17 against 1.39 ms per chunk, quiet
 * machine): with @noble for those, each process on a file's path spent 4-5
 * more CPU seconds per GiB.
 */
import { createHash } from "node:crypto";
import { sha256Into } from "../e2e/base.ts";

/** Leaves at least this long are hashed natively (above it node:crypto's fixed cost is small). */
export const NATIVE_LEAF_BYTES = 1024;

const LEAF = Uint8Array.of(0x00);
const NODE = Uint8Array.of(0x01);

// The parts of the hash being computed, reused: each call fills them, hashes synchronously and
// lets go of its inputs (`length = 1`, or the prefix again) before it returns.
const LEAF_PARTS: Uint8Array[] = [LEAF];
const NODE_PARTS: Uint8Array[] = [NODE, NODE, NODE];

/** Hash of a leaf: SHA-256(0x00 ‖ parts…) (RFC 9162 §2.1.1). */
export function leafHash(parts: readonly Uint8Array[]): Uint8Array {
  let bytes = 0;
  for (let i = 0; i < parts.length; i++) bytes += parts[i].length;
  if (bytes < NATIVE_LEAF_BYTES) {
    for (let i = 0; i < parts.length; i++) LEAF_PARTS[i + 1] = parts[i];
    const out = new Uint8Array(32);
    sha256Into(out, LEAF_PARTS);
    LEAF_PARTS.length = 1;
    return out;
  }
  const h = createHash("sha256").update(LEAF);
  for (const p of parts) h.update(p);
  const digest = h.digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.length);
}

function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  NODE_PARTS[1] = left;
  NODE_PARTS[2] = right;
  const out = new Uint8Array(32);
  sha256Into(out, NODE_PARTS);
  NODE_PARTS[1] = NODE_PARTS[2] = NODE;
  return out;
}

function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The root of `leaves` (already leaf-hashed) and every leaf's audit path,
 * deepest sibling first (RFC 9162 §2.1.1, §2.1.3.1).
 */
export function merkleTree(
  leaves: readonly Uint8Array[],
): { root: Uint8Array; paths: Uint8Array[][] } {
  if (leaves.length === 0) throw new RangeError("Cannot build a Merkle tree of no leaves");
  const paths: Uint8Array[][] = leaves.map(() => []);
  const build = (from: number, to: number): Uint8Array => {
    if (to - from === 1) return leaves[from];
    const k = split(to - from);
    const left = build(from, from + k);
    const right = build(from + k, to);
    for (let i = from; i < from + k; i++) paths[i].push(right);
    for (let i = from + k; i < to; i++) paths[i].push(left);
    return nodeHash(left, right);
  };
  return { root: build(0, leaves.length), paths };
}

/**
 * The root that `leaf` at `index` of a tree of `size` leaves proves with
 * `path` (RFC 9162 §2.1.3.2), or null when the path cannot be one of that
 * tree's (wrong length or position).
 */
export function rootFromPath(
  leaf: Uint8Array,
  index: number,
  size: number,
  path: readonly Uint8Array[],
): Uint8Array | null {
  const walk = walkPath(leaf, index, size, joinPath(path), () => false);
  return walk ? walk.at.node : null;
}

/** An audit path as nodes (merkleTree's) → as bytes, one node after another (EnvelopeAuth's). */
export function joinPath(path: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(path.length * 32);
  for (let i = 0; i < path.length; i++) {
    if (path[i].length !== 32) {
      throw new RangeError("Cannot join audit path: a node is not 32 bytes");
    }
    out.set(path[i], i * 32);
  }
  return out;
}

/**
 * A node the walk computed, with the walk's state just after it: `fn` and
 * `sn` (RFC 9162 §2.1.3.2) and `next`, the index of the path element it is
 * combined with next (the path's length at the root).
 */
export interface PathStep {
  node: Uint8Array;
  fn: number;
  sn: number;
  next: number;
}

/** Where {@linkcode walkPath} stopped, and the inner nodes it computed on the way (lowest first). */
export interface PathWalk {
  /** `known`: it reached a node `isKnown` accepted; `root`: it computed the root. */
  stop: "known" | "root";
  /** The node it stopped at (the root, or a known node), with the walk's state there. */
  at: PathStep;
  computed: PathStep[];
}

/**
 * Walks `leaf`'s audit path towards the root (RFC 9162 §2.1.3.2), stopping
 * early at the first node `isKnown` accepts (an inner node of a tree whose
 * root was already verified proves the leaf as well as the root does).
 * `path` is its nodes' 32 bytes one after another. Null when the path cannot
 * be one of that tree's.
 */
export function walkPath(
  leaf: Uint8Array,
  index: number,
  size: number,
  path: Uint8Array,
  isKnown: (step: PathStep) => boolean,
): PathWalk | null {
  const nodes = path.length / 32;
  if (!Number.isInteger(nodes)) return null;
  if (!(index >= 0 && index < size)) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  const computed: PathStep[] = [];
  for (let i = 0; i < nodes; i++) {
    if (sn === 0) return null;
    const p = path.subarray(i * 32, i * 32 + 32);
    if ((fn & 1) === 1 || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1) === 0) {
        while ((fn & 1) === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
    const step = { node: r, fn, sn, next: i + 1 };
    if (isKnown(step)) return { stop: "known", at: step, computed };
    computed.push(step);
  }
  if (sn !== 0) return null;
  const at = computed.pop() ?? { node: r, fn, sn, next: nodes };
  return { stop: "root", at, computed };
}
