/** Test helper: node keys, Provenance instances and sample envelopes for in-memory tests. */
import { generateKeyPairSync } from "node:crypto";
import { type NodeId, toAddress } from "../ids.ts";
import type { Envelope } from "../protocol/mod.ts";
import { Provenance } from "./provenance.ts";

/** A node's raw public key and PKCS#8 private key, made with node:crypto. */
export function testNodeKey(): { publicKey: Uint8Array; pkcs8: Uint8Array } {
  const pair = generateKeyPairSync("ed25519");
  const jwk = pair.publicKey.export({ format: "jwk" }) as { x: string };
  return {
    publicKey: Uint8Array.fromBase64(jwk.x, { alphabet: "base64url" }),
    pkcs8: new Uint8Array(pair.privateKey.export({ format: "der", type: "pkcs8" })),
  };
}

/** Provenance for each of `ids`, every node trusting every other's key. */
export function testProvenances(ids: readonly NodeId[]): Map<NodeId, Provenance> {
  const keys = new Map(ids.map((id) => [id, testNodeKey()]));
  return new Map(
    ids.map((id) => [
      id,
      new Provenance({
        self: id,
        privateKeyPkcs8: keys.get(id)!.pkcs8,
        keyOf: (n) => keys.get(n)?.publicKey,
      }),
    ]),
  );
}

/** A small message envelope alice@a → bob@b (id all 9s), with `over` applied. */
export function sampleEnvelope(over: Partial<Envelope> = {}): Envelope {
  return {
    id: new Uint8Array(16).fill(9),
    kind: "message",
    ttl: 32,
    createdAtMs: 1_000,
    expiresAtMs: 2_000,
    from: toAddress("alice@a"),
    to: toAddress("bob@b"),
    body: new Uint8Array([1, 2, 3]),
    ...over,
  } as Envelope;
}
