import assert from "node:assert/strict";
import { computeFrozenVectors, frozenRequest } from "../../tests/vectors/fedchat/frozen.ts";
import { mlKemDecapsulate } from "./mlkem.ts";

const VECTORS = JSON.parse(
  Deno.readTextFileSync(new URL("../../tests/vectors/fedchat/vectors.json", import.meta.url)),
) as Record<string, string>;

Deno.test("the recorded ML-KEM encapsulation in the frozen vectors is honest", async () => {
  const { pending } = await frozenRequest();
  const k = await mlKemDecapsulate(pending.kemSeed, Uint8Array.fromHex(VECTORS.kemCiphertext));
  assert.deepEqual(k, Uint8Array.fromHex(VECTORS.kemSharedSecret));
});

Deno.test("handshake, ratchet, state, safety number, sealed identity and file bytes match the frozen vectors", async () => {
  const got = await computeFrozenVectors({
    ciphertext: Uint8Array.fromHex(VECTORS.kemCiphertext),
    sharedSecret: Uint8Array.fromHex(VECTORS.kemSharedSecret),
  });
  for (const key of Object.keys(VECTORS)) assert.equal(got[key], VECTORS[key], `${key} changed`);
  assert.deepEqual(Object.keys(got).sort(), Object.keys(VECTORS).sort());
});
