import assert from "node:assert/strict";
import { DecryptError, FileChunkSealer, NOBLE_CHACHA20_POLY1305 } from "../e2e/mod.ts";
import { NODE_CHACHA20_POLY1305, sha256Sync } from "./node_file_cipher.ts";

Deno.test("NODE_CHACHA20_POLY1305 interoperates with @noble/ciphers and refuses tampering", async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const ad = new TextEncoder().encode("ad");
  for (const size of [0, 1, 100, 70_000]) {
    const pt = new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff);
    const mine = await NODE_CHACHA20_POLY1305.seal(key, nonce, pt, ad);
    assert.equal(mine.length, size + 16);
    assert.deepEqual(mine, await NOBLE_CHACHA20_POLY1305.seal(key, nonce, pt, ad));
    assert.deepEqual(await NODE_CHACHA20_POLY1305.open(key, nonce, mine, ad), pt);
    const [ct, tag] = await NODE_CHACHA20_POLY1305.sealParts(key, nonce, pt, ad);
    assert.deepEqual([ct.length, tag.length], [size, 16]);
    assert.deepEqual(new Uint8Array([...ct, ...tag]), mine);
    assert.deepEqual(await NOBLE_CHACHA20_POLY1305.open(key, nonce, mine, ad), pt);
    for (const i of [0, mine.length - 1]) {
      if (mine.length === 16 && i === 0) continue;
      const bad = mine.slice();
      bad[i] ^= 1;
      await assert.rejects(NODE_CHACHA20_POLY1305.open(key, nonce, bad, ad), DecryptError);
      await assert.rejects(NOBLE_CHACHA20_POLY1305.open(key, nonce, bad, ad), DecryptError);
    }
    await assert.rejects(
      NODE_CHACHA20_POLY1305.open(key, nonce, mine, new Uint8Array(1)),
      DecryptError,
    );
    const otherNonce = nonce.slice();
    otherNonce[11] ^= 1;
    await assert.rejects(NODE_CHACHA20_POLY1305.open(key, otherNonce, mine, ad), DecryptError);
  }
  await assert.rejects(
    NODE_CHACHA20_POLY1305.open(key, nonce, new Uint8Array(5), ad),
    DecryptError,
  );
});

Deno.test("NODE_CHACHA20_POLY1305 matches RFC 8439 §2.8.2", async () => {
  const key = Uint8Array.fromHex(
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
  );
  const nonce = Uint8Array.fromHex("070000004041424344454647");
  const ad = Uint8Array.fromHex("50515253c0c1c2c3c4c5c6c7");
  const pt = new TextEncoder().encode(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const sealed = await NODE_CHACHA20_POLY1305.seal(key, nonce, pt, ad);
  assert.equal(sealed.subarray(pt.length).toHex(), "1ae10b594f09e26a7e902ecbd0600691");
  assert.equal(sealed.subarray(0, 16).toHex(), "d31a8d34648e60db7b86afbc53ef7ec2");
});

Deno.test("sha256Sync matches WebCrypto", async () => {
  for (const size of [0, 3, 300_000]) {
    const b = new Uint8Array(size).map((_, i) => i & 0xff);
    assert.deepEqual(sha256Sync(b), new Uint8Array(await crypto.subtle.digest("SHA-256", b)));
  }
});

Deno.test("FileChunkSealer.sealParts() joins to seal(), split by node:crypto or whole by noble", async () => {
  const m = {
    version: 2 as const,
    fileId: new Uint8Array(16).fill(1),
    key: new Uint8Array(32).fill(2),
    chunkBytes: 1024,
    byteLength: 2000,
    digest: null,
  };
  const pt = new Uint8Array(976).fill(9);
  const noble = new FileChunkSealer(m);
  const node = new FileChunkSealer(m, { chacha20Poly1305: NODE_CHACHA20_POLY1305 });
  const whole = await noble.seal(1, pt);
  const split = await node.sealParts(1, pt);
  assert.equal(split.length, 2);
  assert.deepEqual(new Uint8Array([...split[0], ...split[1]]), whole);
  assert.deepEqual(await noble.sealParts(1, pt), [whole]);
  assert.deepEqual(await node.seal(1, pt), whole);
  assert.throws(() => node.sealParts(0, pt), RangeError);
});
