import assert from "node:assert/strict";
import { hmac as nobleHmac } from "@noble/hashes/hmac.js";
import { expand as nobleExpand, hkdf as nobleHkdf } from "@noble/hashes/hkdf.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import {
  hkdfExpand,
  hkdfSha256,
  HmacSha256,
  hmacSha256,
  Sha256,
  sha256,
  sha256Into,
} from "./_sha256.ts";

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

Deno.test("sha256Into() matches @noble in every split of the input into 1 to 3 parts, between HMACs", () => {
  const data = crypto.getRandomValues(new Uint8Array(200));
  const key = crypto.getRandomValues(new Uint8Array(32));
  const out = new Uint8Array(40).fill(0xee);
  for (const n of [0, 1, 31, 55, 56, 63, 64, 65, 100, 127, 128, 129, 200]) {
    const whole = data.subarray(0, n);
    const want = nobleSha256(whole).toHex();
    for (let a = 0; a <= n; a += n < 70 ? 1 : 13) {
      for (const b of [a, Math.min(n, a + 1), Math.min(n, a + 64), n]) {
        sha256Into(out, [whole.subarray(0, a), whole.subarray(a, b), whole.subarray(b)]);
        assert.equal(out.subarray(0, 32).toHex(), want, `length ${n}, split ${a}/${b}`);
        assert.equal(out[32], 0xee, "nothing written past the digest");
      }
    }
    // The compressor is shared with HMAC: neither leaves state the other sees.
    const tag = hmacSha256(key, whole).toHex();
    sha256Into(out, [whole]);
    assert.equal(out.subarray(0, 32).toHex(), want);
    assert.equal(hmacSha256(key, whole).toHex(), tag);
  }
  assert.throws(() => sha256Into(new Uint8Array(31), [data]), RangeError);
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

Deno.test("HmacSha256 and HKDF match @noble's across every padding boundary and key length", () => {
  for (let keyLength = 0; keyLength <= 130; keyLength += 13) {
    const key = crypto.getRandomValues(new Uint8Array(keyLength));
    const h = new HmacSha256(key);
    for (let n = 0; n <= 200; n++) {
      const msg = crypto.getRandomValues(new Uint8Array(n));
      const want = nobleHmac(nobleSha256, key, msg).toHex();
      assert.equal(h.mac(msg).toHex(), want, `key ${keyLength}, message ${n}`);
      const cut = n >> 1;
      assert.equal(h.mac(msg.subarray(0, cut), msg.subarray(cut)).toHex(), want, "in parts");
    }
  }
  const ikm = crypto.getRandomValues(new Uint8Array(32));
  const info = crypto.getRandomValues(new Uint8Array(23));
  for (const length of [0, 1, 31, 32, 33, 44, 64, 65, 100, 255 * 32]) {
    for (const salt of [undefined, crypto.getRandomValues(new Uint8Array(32))]) {
      const want = nobleHkdf(nobleSha256, ikm, salt ?? new Uint8Array(32), info, length);
      assert.deepEqual(hkdfSha256({ ikm, salt, info, length }), want, `length ${length}`);
    }
    const prk = crypto.getRandomValues(new Uint8Array(32));
    assert.deepEqual(hkdfExpand(prk, info, length), nobleExpand(nobleSha256, prk, info, length));
  }
});

Deno.test("HmacSha256.macInto() refuses a short output; a huge input is hashed in whole blocks", () => {
  const h = new HmacSha256(new Uint8Array(32));
  assert.throws(() => h.macInto(new Uint8Array(31), [new Uint8Array(1)]), RangeError);
  const big = new Uint8Array(65_536 + 7).map((_, i) => (i * 131 + 7) & 0xff);
  const want = nobleHmac(nobleSha256, new Uint8Array(32), big).toHex();
  assert.equal(h.mac(big).toHex(), want);
  assert.equal(h.mac(big.subarray(0, 3), big.subarray(3)).toHex(), want, "unaligned after a part");
});
