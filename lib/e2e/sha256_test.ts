import assert from "node:assert/strict";
import { hkdfSha256, HmacSha256, hmacSha256, Sha256, sha256 } from "./_sha256.ts";

Deno.test("sha256() matches WebCrypto across block boundaries", async () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 65_536]) {
    const data = crypto.getRandomValues(new Uint8Array(n));
    const want = (new Uint8Array(await crypto.subtle.digest("SHA-256", data))).toHex();
    assert.equal((sha256(data)).toHex(), want, `length ${n}`);
    const h = new Sha256();
    for (let i = 0; i < n; i += 7) h.update(data.subarray(i, i + 7));
    assert.equal((h.digest()).toHex(), want, `incremental length ${n}`);
  }
});

Deno.test("hmacSha256() matches WebCrypto HMAC, including keys over 64 bytes", async () => {
  for (const keyLength of [0, 16, 32, 64, 65, 100]) {
    const key = crypto.getRandomValues(new Uint8Array(keyLength));
    const msg = crypto.getRandomValues(new Uint8Array(77));
    const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ])
      .catch(() => null);
    if (k === null) continue; // WebCrypto refuses empty HMAC keys.
    const want = (new Uint8Array(await crypto.subtle.sign("HMAC", k, msg))).toHex();
    assert.equal((hmacSha256(key, msg)).toHex(), want);
    const h = new HmacSha256(key);
    assert.equal((h.mac(msg.subarray(0, 10), msg.subarray(10))).toHex(), want);
    assert.equal((h.mac(msg)).toHex(), want, "reusable");
  }
});

Deno.test("hkdfSha256() rejects an out-of-range length", () => {
  assert.throws(() => hkdfSha256({ ikm: new Uint8Array(1), length: 255 * 32 + 1 }), RangeError);
  assert.throws(() => hkdfSha256({ ikm: new Uint8Array(1), length: -1 }), RangeError);
});

Deno.test("Sha256 refuses use after digest()", () => {
  const h = new Sha256();
  h.digest();
  assert.throws(() => h.update(new Uint8Array(1)), TypeError);
  assert.throws(() => h.digest(), TypeError);
});
