import assert from "node:assert/strict";
import {
  checkEd25519PublicKey,
  ED25519_SMALL_ORDER_KEYS,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  importEd25519PrivateKey,
  importEd25519PublicKey,
} from "./ed25519.ts";
import { CodecError, VerifyError } from "./errors.ts";

Deno.test("importEd25519PublicKey() refuses each of the 8 small-order encodings", async () => {
  assert.equal(ED25519_SMALL_ORDER_KEYS.length, 8);
  for (const key of ED25519_SMALL_ORDER_KEYS) {
    await assert.rejects(importEd25519PublicKey(key), VerifyError);
  }
});

Deno.test("importEd25519PublicKey() refuses non-canonical y >= p", async () => {
  await assert.rejects(
    importEd25519PublicKey(
      Uint8Array.fromHex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    ),
    VerifyError,
  );
});

Deno.test("checkEd25519PublicKey() rejects truncated and oversized keys", () => {
  assert.throws(() => checkEd25519PublicKey(new Uint8Array(31)), CodecError);
  assert.throws(() => checkEd25519PublicKey(new Uint8Array(33)), CodecError);
});

Deno.test("ed25519Verify() rejects a forged signature and a wrong-length one", async () => {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const pub = await importEd25519PublicKey(await ed25519PublicKey(seed));
  const msg = new Uint8Array([1, 2, 3]);
  const sig = await ed25519Sign(await importEd25519PrivateKey(seed), msg);
  assert.equal(await ed25519Verify(pub, sig, msg), true);
  assert.equal(await ed25519Verify(pub, sig, new Uint8Array([1, 2, 4])), false);
  assert.equal(await ed25519Verify(pub, sig.subarray(0, 63), msg), false);
  const forged = new Uint8Array(64);
  forged[0] = 1; // R = identity, S = 0
  assert.equal(await ed25519Verify(pub, forged, msg), false);
});

Deno.test("importEd25519PrivateKey() rejects a wrong-length seed", async () => {
  await assert.rejects(importEd25519PrivateKey(new Uint8Array(31)), CodecError);
});
