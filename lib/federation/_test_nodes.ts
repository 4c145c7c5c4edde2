/** Test helper: node keys and Provenance instances for in-memory forwarder tests. */
import { generateKeyPairSync } from "node:crypto";
import type { NodeId } from "../ids.ts";
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
