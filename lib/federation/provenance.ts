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
 * origin proves nothing for another.
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
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { ByteWriter, checkEd25519PublicKey } from "../e2e/mod.ts";
import type { NodeId } from "../ids.ts";
import {
  type DecodedEnvelope,
  encodeEnvelopeAuth,
  MAX_BATCH,
  originNode,
  TTL_OFFSET,
} from "../protocol/mod.ts";
import { leafHash, merkleTree, walkPath } from "./merkle.ts";

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

/** Signs this node's batches and checks everyone's proofs. */
export class Provenance {
  #o: ProvenanceOptions;
  #signer: KeyObject;
  #keys = new Map<string, KeyObject | null>();
  /** Per origin: the key its known nodes were proven under, and the nodes (hex). */
  #known = new Map<NodeId, { key: Uint8Array; nodes: Map<string, true> }>();
  #cacheSize: number;
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
    if (unsigned.length === 0) return [];
    if (unsigned.length > MAX_BATCH) {
      const out: Uint8Array[] = [];
      for (let i = 0; i < unsigned.length; i += MAX_BATCH) {
        out.push(...this.signBatch(unsigned.slice(i, i + MAX_BATCH)));
      }
      return out;
    }
    const { root, paths } = merkleTree(unsigned.map((b) => envelopeLeaf(b)));
    const signature = new Uint8Array(
      sign(null, statement(this.#o.self, unsigned.length, root), this.#signer),
    );
    return unsigned.map((b, index) =>
      encodeEnvelopeAuth(b, { index, size: unsigned.length, path: paths[index], signature })
    );
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
    const walk = walkPath(
      envelopeLeaf(bytes, decoded.signedLength),
      auth.index,
      auth.size,
      auth.path,
      (node) => known?.nodes.has(node.toHex()) ?? false,
    );
    if (!walk) return "bad-proof";
    if (walk.stop === "known") {
      // The nodes computed below a proven node are that tree's too: the next envelope of the
      // batch (its sibling, in order) stops after one hash instead of walking up to where the
      // first one's path was (about five hashes of six in a batch of 64, each 6-9 µs here).
      this.pathHashes += walk.computed.length + 1;
      if (walk.computed.length > 0) this.#remember(origin, rawKey, walk.computed);
      return "ok";
    }
    const key = this.#publicKey(rawKey.toHex(), rawKey);
    if (!key) return "bad-proof";
    this.signatureChecks++;
    if (!verify(null, statement(origin, auth.size, walk.node), key, auth.signature)) {
      return "bad-proof";
    }
    this.pathHashes += walk.computed.length;
    this.#remember(origin, rawKey, [...walk.computed, walk.node]);
    return "ok";
  }

  /** Records nodes proven under `key` for `origin` (bounded per origin and in origins). */
  #remember(origin: NodeId, key: Uint8Array, nodes: Uint8Array[]): void {
    let known = this.#known.get(origin);
    if (!known || !sameBytes(known.key, key)) {
      known = { key, nodes: new Map() };
    }
    this.#known.delete(origin);
    this.#known.set(origin, known);
    if (this.#known.size > 1024) this.#known.delete(this.#known.keys().next().value!);
    for (const n of nodes) {
      known.nodes.set(n.toHex(), true);
      if (known.nodes.size > this.#cacheSize) {
        known.nodes.delete(known.nodes.keys().next().value!);
      }
    }
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

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
