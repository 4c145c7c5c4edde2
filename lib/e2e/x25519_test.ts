import assert from "node:assert/strict";
import { CodecError, VerifyError } from "./errors.ts";
import {
  checkX25519PublicKey,
  generateX25519KeyPair,
  x25519,
  X25519_LOW_ORDER_KEYS,
} from "./x25519.ts";

const P_HEX = "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f";

function withTopBit(key: Uint8Array): Uint8Array {
  const out = key.slice();
  out[31] |= 0x80;
  return out;
}

Deno.test("checkX25519PublicKey() refuses every low-order u-coordinate", () => {
  assert.equal(X25519_LOW_ORDER_KEYS.length, 5);
  for (const key of X25519_LOW_ORDER_KEYS) {
    assert.throws(() => checkX25519PublicKey(key), VerifyError);
    assert.throws(() => checkX25519PublicKey(withTopBit(key)), VerifyError);
  }
});

Deno.test("checkX25519PublicKey() refuses non-canonical encodings of low-order points (p, p + 1)", () => {
  const p = Uint8Array.fromHex(P_HEX);
  const p1 = p.slice();
  p1[0] += 1;
  assert.throws(() => checkX25519PublicKey(p), VerifyError);
  assert.throws(() => checkX25519PublicKey(p1), VerifyError);
});

Deno.test("checkX25519PublicKey() rejects truncated and oversized keys", () => {
  assert.throws(() => checkX25519PublicKey(new Uint8Array(31)), CodecError);
  assert.throws(() => checkX25519PublicKey(new Uint8Array(33)), CodecError);
});

Deno.test("x25519() turns a low-order peer into VerifyError, not a crash", async () => {
  const { privateKey } = await generateX25519KeyPair();
  for (const key of X25519_LOW_ORDER_KEYS) {
    await assert.rejects(x25519(privateKey, key), VerifyError);
  }
});

Deno.test("x25519() agrees both ways and rejects a wrong-length private key", async () => {
  const a = await generateX25519KeyPair();
  const b = await generateX25519KeyPair();
  assert.deepEqual(
    await x25519(a.privateKey, b.publicKey),
    await x25519(b.privateKey, a.publicKey),
  );
  await assert.rejects(x25519(new Uint8Array(31), b.publicKey), CodecError);
});

Deno.test("WebCrypto's all-zero X25519 result surfaces as VerifyError", async () => {
  // Bypasses our low-order check to confirm the second line of defence.
  const { privateKey } = await generateX25519KeyPair();
  const zero = new Uint8Array(32);
  const pub = await crypto.subtle.importKey("raw", zero, { name: "X25519" }, true, []).catch(() =>
    null
  );
  if (pub === null) return; // An implementation refusing at import is fine too.
  await assert.rejects(x25519(privateKey, zero), VerifyError);
});
