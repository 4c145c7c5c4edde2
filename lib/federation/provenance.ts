/**
 * Provenance: every envelope that crosses a link carries its origin node's
 * proof that it made it, and every node that receives one (relay or
 * destination) checks the proof against the key it already trusts for that
 * origin before it forwards or keeps anything.
 *
 * The origin signs batches, not envelopes: the envelopes it sends in one turn
 * of its event loop become the leaves of a Merkle tree (merkle.ts), one
 * Ed25519 signature covers the root, and each envelope carries its leaf's
 * audit path and that signature (`auth`, lib/protocol/envelope.ts). A
 * verifier hashes the leaf and walks the path; once a root's signature has
 * verified, the root and every inner node computed on the way are known to
 * be that origin's, and so is every node computed below a known one, so the
 * next envelope of the batch stops at the first known node (one or two
 * hashes after its leaf), and the signature is checked once per batch.
 * Known nodes are remembered per origin and per key: a node proven for one
 * origin proves nothing for another. A known node vouches only for the proof
 * it was proven with: with it are kept the walk's position there, the path
 * element it was combined with, its parent, and at the root the batch size
 * and signature, so a stop compares the rest of the envelope's proof with
 * those (no hashing) and a proof altered above the stop is refused here, not
 * only by a later node that would blame the neighbour that handed it over.
 * When they differ (a subtree two batches share) the walk goes on to the
 * root and the signature, as if the node were not known.
 *
 *   leaf      = SHA-256(0x00 ‖ envelope bytes before auth, with ttl set to 0)
 *   statement = "fedchat-envelope-batch-v1\0" ‖ str16 origin ‖ u16 size ‖ root
 *   signature = Ed25519(origin node key, statement)
 *
 * The origin is the node named by the envelope's `from` (a user address's
 * node, or the node id itself), so an envelope claiming another node's user
 * fails: only that node's key can prove it. `ttl` is outside the proof
 * because every relay lowers it; nothing else may change.
 */
import { concatBytes } from "@noble/hashes/utils.js";
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { ByteWriter, checkEd25519PublicKey } from "../e2e/base.ts";
import type { NodeId } from "../ids.ts";
import {
  AUTH_NODE_BYTES,
  type DecodedEnvelope,
  encodeEnvelopeAuthTail,
  type EnvelopeAuth,
  MAX_BATCH,
  originNode,
  TTL_OFFSET,
} from "../protocol/mod.ts";
import { joinPath, leafHash, merkleTree, type PathStep, walkPath } from "./merkle.ts";

const LABEL = new TextEncoder().encode("fedchat-envelope-batch-v1\0");
const ZERO_TTL = Uint8Array.of(0);
// RFC 8410 SubjectPublicKeyInfo prefix of a raw Ed25519 public key.
const SPKI_PREFIX = Uint8Array.fromHex("302a300506032b6570032100");

/** What a verifier concluded about an envelope's origin. */
export type ProvenanceVerdict =
  /** The origin's key proves it. */
  | "ok"
  /** No proof attached. */
  | "unsigned"
  /** This node trusts no key for the origin yet (the sender retries later). */
  | "unknown-origin"
  /** The proof does not verify under the origin's key: altered, forged, or a key conflict. */
  | "bad-proof";

/** Options of {@linkcode Provenance}. */
export interface ProvenanceOptions {
  self: NodeId;
  /** This node's key (PKCS#8 DER of its Ed25519 private key), for signing batches. */
  privateKeyPkcs8: Uint8Array;
  /** The key this node trusts for `node` now (link pin, routing pin), if any. */
  keyOf(node: NodeId): Uint8Array | undefined;
  /** Proven tree nodes remembered per origin (default 8,192). */
  cacheSize?: number;
}

function statement(origin: string, size: number, root: Uint8Array): Uint8Array {
  return new ByteWriter(LABEL.length + 40 + origin.length).raw(LABEL).str16(origin).u16(size)
    .raw(root).finish();
}

/** The leaf of unsigned envelope bytes (`length` = where the proof starts). */
export function envelopeLeaf(bytes: Uint8Array, length = bytes.length): Uint8Array {
  return leafHash([
    bytes.subarray(0, TTL_OFFSET),
    ZERO_TTL,
    bytes.subarray(TTL_OFFSET + 1, length),
  ]);
}

/**
 * Tree nodes remembered over all origins: each keeps its place in the proof it
 * was proven with (about 400 bytes of heap), so this bounds the cache at about
 * 13 MiB however many origins a hostile federation brings.
 */
export const MAX_KNOWN_NODES = 32_768;

/** Signs this node's batches and checks everyone's proofs. */
export class Provenance {
  #o: ProvenanceOptions;
  #signer: KeyObject;
  #keys = new Map<string, KeyObject | null>();
  /** Per origin: the key its known nodes were proven under, and the nodes (by hex). */
  #known = new Map<NodeId, KnownNodes>();
  /** The origin last moved to the end of #known (most recently proven): no move again. */
  #lastOrigin: NodeId | null = null;
  #cacheSize: number;
  #nodeCount = 0;
  /** Signatures checked (not answered from the cache), for status and benchmarks. */
  signatureChecks = 0;
  /** Inner nodes hashed while walking audit paths of proven envelopes, for tests and benchmarks. */
  pathHashes = 0;

  constructor(options: ProvenanceOptions) {
    this.#o = options;
    this.#cacheSize = options.cacheSize ?? 8192;
    this.#signer = createPrivateKey({
      key: options.privateKeyPkcs8 as unknown as Buffer,
      format: "der",
      type: "pkcs8",
    });
  }

  /**
   * Proves a batch of this node's unsigned envelopes (at most
   * {@linkcode MAX_BATCH}); returns their signed bytes, in order.
   */
  signBatch(unsigned: readonly Uint8Array[]): Uint8Array[] {
    return this.signBatchParts(unsigned).map(([b, tail]) => concatBytes(b, tail));
  }

  /**
   * Proves a batch like {@linkcode signBatch}, each signed envelope given as two
   * parts: the unsigned bytes as they were passed (not copied) and the proof
   * (`encodeEnvelopeAuthTail`); joined, they are `signBatch`'s bytes. A file
   * chunk's envelope is then sealed onto its link from the parts, without a
   * fresh copy of it per chunk.
   */
  signBatchParts(unsigned: readonly Uint8Array[]): Array<[Uint8Array, Uint8Array]> {
    if (unsigned.length === 0) return [];
    if (unsigned.length > MAX_BATCH) {
      const out: Array<[Uint8Array, Uint8Array]> = [];
      for (let i = 0; i < unsigned.length; i += MAX_BATCH) {
        out.push(...this.signBatchParts(unsigned.slice(i, i + MAX_BATCH)));
      }
      return out;
    }
    const { root, paths } = merkleTree(unsigned.map((b) => envelopeLeaf(b)));
    const signature = new Uint8Array(
      sign(null, statement(this.#o.self, unsigned.length, root), this.#signer),
    );
    return unsigned.map((b, index) => [
      b,
      encodeEnvelopeAuthTail({
        index,
        size: unsigned.length,
        path: joinPath(paths[index]),
        signature,
      }),
    ]);
  }

  /** Checks the proof of envelope `bytes` (already decoded) against its origin's trusted key. */
  verify(bytes: Uint8Array, decoded: DecodedEnvelope): ProvenanceVerdict {
    const { auth } = decoded;
    if (!auth) return "unsigned";
    const origin = originNode(decoded.envelope);
    const rawKey = this.#o.keyOf(origin);
    if (!rawKey) return "unknown-origin";
    let known = this.#known.get(origin);
    if (known && !sameBytes(known.key, rawKey)) known = undefined;
    let stop: KnownNode | undefined;
    const walk = walkPath(
      envelopeLeaf(bytes, decoded.signedLength),
      auth.index,
      auth.size,
      auth.path,
      known ? (step) => provenAbove(stop = known.get(step.node.toHex()), step, auth) : () => false,
    );
    if (!walk) return "bad-proof";
    if (walk.stop === "known") {
      // The nodes computed below a proven node are that tree's too: the next envelope of the
      // batch (its sibling, in order) stops after one hash instead of walking up to where the
      // first one's path was (about five hashes of six in a batch of 64, each 6-9 µs here).
      this.pathHashes += walk.computed.length + 1;
      if (walk.computed.length > 0) {
        this.#remember(origin, rawKey, walk.computed, stop!, auth, null);
      }
      return "ok";
    }
    const key = this.#publicKey(rawKey.toHex(), rawKey);
    if (!key) return "bad-proof";
    this.signatureChecks++;
    if (!verify(null, statement(origin, auth.size, walk.at.node), key, auth.signature)) {
      return "bad-proof";
    }
    this.pathHashes += walk.computed.length + (walk.at.next > 0 ? 1 : 0);
    this.#remember(origin, rawKey, [...walk.computed, walk.at], null, auth, auth.signature);
    return "ok";
  }

  /**
   * Records the nodes a walk proved under `key` for `origin`, lowest first,
   * each with what it vouches for; the last one's parent is `topParent` (the
   * known node the walk stopped at), or it is the root when `signature` is
   * given. Bounded per origin and in origins (a node dropped from the map
   * lives on only as a parent of nodes still in it: at most a path's length).
   */
  #remember(
    origin: NodeId,
    key: Uint8Array,
    steps: readonly PathStep[],
    topParent: KnownNode | null,
    auth: EnvelopeAuth,
    signature: Uint8Array | null,
  ): void {
    let known = this.#known.get(origin);
    if (!known || !sameBytes(known.key, key)) {
      this.#forget(origin); // another key's nodes prove nothing now
      known = new KnownNodes(key, this.#cacheSize);
      this.#known.set(origin, known);
      this.#lastOrigin = origin;
    }
    if (this.#lastOrigin !== origin) {
      this.#known.delete(origin);
      this.#known.set(origin, known);
      this.#lastOrigin = origin;
    }
    if (this.#known.size > 1024) this.#forget(this.#known.keys().next().value!);
    // From the top down, so each node can point at its parent. The path and signature are views
    // into the envelope, which is not kept: copied (a path element as hex, which costs less than
    // a fresh typed array).
    let parent = topParent;
    for (let i = steps.length - 1; i >= 0; i--) {
      const s = steps[i];
      const isRoot = parent === null;
      const node: KnownNode = {
        fn: s.fn,
        sn: s.sn,
        sibling: isRoot ? null : pathNode(auth.path, s.next).toHex(),
        parent,
        size: auth.size,
        signature: isRoot ? signature!.slice() : null,
      };
      this.#nodeCount += known.set(s.node.toHex(), node);
      parent = node;
    }
    // All origins together: the least recently proven origins are forgotten first.
    while (this.#nodeCount > MAX_KNOWN_NODES && this.#known.size > 1) {
      this.#forget(this.#known.keys().next().value!);
    }
  }

  /** Drops what is known of `origin`'s trees. */
  #forget(origin: NodeId): void {
    this.#nodeCount -= this.#known.get(origin)?.size ?? 0;
    this.#known.delete(origin);
    if (this.#lastOrigin === origin) this.#lastOrigin = null;
  }

  /** Tree nodes remembered over all origins, for tests and status. */
  get knownNodes(): number {
    return this.#nodeCount;
  }

  #publicKey(hex: string, raw: Uint8Array): KeyObject | null {
    let key = this.#keys.get(hex);
    if (key !== undefined) return key;
    try {
      // The one check every key goes through: small-order and non-canonical keys are refused.
      checkEd25519PublicKey(raw);
      const der = new Uint8Array(SPKI_PREFIX.length + raw.length);
      der.set(SPKI_PREFIX);
      der.set(raw, SPKI_PREFIX.length);
      key = createPublicKey({ key: der as unknown as Buffer, format: "der", type: "spki" });
    } catch {
      key = null;
    }
    this.#keys.set(hex, key);
    if (this.#keys.size > 4096) this.#keys.delete(this.#keys.keys().next().value!);
    return key;
  }
}

/** What a known node vouches for: the rest of the proof it was proven with. */
interface KnownNode {
  /** The walk's position just after this node (RFC 9162 `fn`, `sn`). */
  fn: number;
  sn: number;
  /** The path element it is combined with next (hex), and the node that gives; null at the root. */
  sibling: string | null;
  parent: KnownNode | null;
  /** At the root: the batch's size and signature. */
  size: number;
  signature: Uint8Array | null;
}

/**
 * Whether `node` (the known node the walk reached with state `step`, if any)
 * was proven with the rest of `auth` (path elements from `step.next`, size,
 * signature): byte comparisons up its parents, no hashing. False sends the
 * walk on, as for a node never seen.
 */
function provenAbove(node: KnownNode | undefined, step: PathStep, auth: EnvelopeAuth): boolean {
  if (!node || node.fn !== step.fn || node.sn !== step.sn) return false;
  let i = step.next;
  const nodes = auth.path.length / AUTH_NODE_BYTES;
  // A chain is at most a path's length (MAX_BATCH leaves: 10 levels).
  while (node.parent !== null) {
    const sibling = node.sibling;
    if (i >= nodes || sibling === null || !spells(sibling, auth.path, i++ * AUTH_NODE_BYTES)) {
      return false;
    }
    node = node.parent;
  }
  return i === nodes && node.size === auth.size &&
    node.signature !== null && sameBytes(node.signature, auth.signature);
}

const HEX_DIGITS = Uint8Array.from("0123456789abcdef", (c) => c.charCodeAt(0));

/** Node `i` of an audit path (a view). */
function pathNode(path: Uint8Array, i: number): Uint8Array {
  return path.subarray(i * AUTH_NODE_BYTES, (i + 1) * AUTH_NODE_BYTES);
}

/**
 * Whether `hex` (lower case, as `toHex()` writes it) spells the path node of
 * `path` at byte `at`: the comparison of a kept path element with the
 * envelope's, per level of every stop, without a view or a hex string.
 */
function spells(hex: string, path: Uint8Array, at: number): boolean {
  if (hex.length !== AUTH_NODE_BYTES * 2 || at + AUTH_NODE_BYTES > path.length) return false;
  for (let i = 0; i < AUTH_NODE_BYTES; i++) {
    const b = path[at + i];
    if (
      hex.charCodeAt(2 * i) !== HEX_DIGITS[b >> 4] ||
      hex.charCodeAt(2 * i + 1) !== HEX_DIGITS[b & 15]
    ) return false;
  }
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * One origin's known nodes under one key, by hex: at most `max`, the oldest
 * dropped first, in two generations (a full young one becomes the old one and
 * the old one goes). Not one Map dropping its first key per insert: V8 keeps
 * a deleted entry's slot until the table is rebuilt, so finding the first
 * key walks over every slot deleted before it (about 3 µs per insert at
 * 8,192 entries, most of what remembering cost per envelope).
 */
class KnownNodes {
  readonly key: Uint8Array;
  #young = new Map<string, KnownNode>();
  #old = new Map<string, KnownNode>();
  #half: number;

  constructor(key: Uint8Array, max: number) {
    this.key = key;
    this.#half = Math.max(1, Math.floor(max / 2));
  }

  /** Entries held (a node in both generations counts twice): at most `max`. */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  get(hex: string): KnownNode | undefined {
    return this.#young.get(hex) ?? this.#old.get(hex);
  }

  /** Keeps `node` under `hex`; returns how many entries that added (negative when some went). */
  set(hex: string, node: KnownNode): number {
    const before = this.size;
    this.#young.set(hex, node);
    if (this.#young.size >= this.#half) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    return this.size - before;
  }
}
