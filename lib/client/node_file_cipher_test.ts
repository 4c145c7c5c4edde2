import assert from "node:assert/strict";
import {
  DecryptError,
  FileChunkSealer,
  FileDecryptor,
  NOBLE_CHACHA20_POLY1305,
} from "../e2e/mod.ts";
import { CIPHER_SLICE_BYTES } from "../cipher_slices.ts";
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
    const parts = await NODE_CHACHA20_POLY1305.sealParts(key, nonce, pt, ad);
    const tag = parts.at(-1)!;
    const ct = parts.slice(0, -1);
    assert.equal(tag.length, 16);
    // Sliced for the cipher: every part but the last is one slice long.
    assert.equal(ct.length, Math.ceil(size / CIPHER_SLICE_BYTES));
    for (const p of ct.slice(0, -1)) assert.equal(p.length, CIPHER_SLICE_BYTES);
    assert.deepEqual(new Uint8Array(parts.flatMap((p) => [...p])), mine);
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

Deno.test("NODE_CHACHA20_POLY1305.openInto() reuses one buffer: each open gives that chunk's bytes", async () => {
  const open = NODE_CHACHA20_POLY1305.openInto!;
  const key = crypto.getRandomValues(new Uint8Array(32));
  const ad = new TextEncoder().encode("ad");
  const into = new Uint8Array(3 * CIPHER_SLICE_BYTES + 5);
  const nonces = [1, 2, 3].map((k) => new Uint8Array(12).fill(k));
  // Sizes across slice boundaries, a shorter one after a longer one (the buffer's tail is stale).
  const sizes = [into.length, CIPHER_SLICE_BYTES + 1, 7];
  const chunks = sizes.map((n, k) => new Uint8Array(n).map((_, i) => (i * 7 + k * 13) & 0xff));
  const sealed = await Promise.all(
    chunks.map((pt, k) => NOBLE_CHACHA20_POLY1305.seal(key, nonces[k], pt, ad)),
  );
  for (const k of [0, 1, 2, 0]) {
    const out = await open(key, nonces[k], sealed[k], ad, into);
    assert.equal(out.buffer, into.buffer);
    assert.deepEqual(out, chunks[k]);
  }
  const bad = sealed[1].slice();
  bad[3] ^= 1;
  await assert.rejects(open(key, nonces[1], bad, ad, into), DecryptError);
  await assert.rejects(open(key, nonces[1], sealed[1], new Uint8Array(1), into), DecryptError);
  // Too small a buffer is refused, not overrun.
  await assert.rejects(open(key, nonces[0], sealed[0], ad, new Uint8Array(10)), DecryptError);
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

/** A version 2 manifest with its file id filled with `fill` and its key with `fill + 1`. */
function manifestV2(fill: number, chunkBytes: number, byteLength: number) {
  return {
    version: 2 as const,
    fileId: new Uint8Array(16).fill(fill),
    key: new Uint8Array(32).fill(fill + 1),
    chunkBytes,
    byteLength,
    digest: null,
  };
}

Deno.test("FileChunkSealer.sealParts() joins to seal(), split by node:crypto or whole by noble", async () => {
  const m = manifestV2(1, 1024, 2000);
  const pt = new Uint8Array(976).fill(9);
  const noble = new FileChunkSealer(m);
  const node = new FileChunkSealer(m, { chacha20Poly1305: NODE_CHACHA20_POLY1305 });
  const whole = await noble.seal(1, pt);
  const split = await node.sealParts(1, pt);
  assert.equal(split.length, 2);
  assert.deepEqual(new Uint8Array(split.flatMap((p) => [...p])), whole);
  assert.deepEqual(await noble.sealParts(1, pt), [whole]);
  assert.deepEqual(await node.seal(1, pt), whole);
  assert.throws(() => node.sealParts(0, pt), RangeError);
});

Deno.test("FileDecryptor.decryptChunk({ into }) gives each chunk its own bytes from one buffer", async () => {
  const m = manifestV2(3, 40_000, 90_001);
  const sealer = new FileChunkSealer(m, { chacha20Poly1305: NODE_CHACHA20_POLY1305 });
  const node = new FileDecryptor(m, { chacha20Poly1305: NODE_CHACHA20_POLY1305 });
  const noble = new FileDecryptor(m);
  const chunks = [40_000, 40_000, 10_001].map((n, k) => new Uint8Array(n).fill(k + 1));
  const sealed = await Promise.all(chunks.map((pt, k) => sealer.seal(k, pt)));
  const into = new Uint8Array(m.chunkBytes);
  for (const k of [2, 0, 1, 2]) {
    const out = await node.decryptChunk(k, sealed[k], { into });
    assert.equal(out.buffer, into.buffer);
    assert.deepEqual(out, chunks[k]);
    // A cipher without openInto (noble) ignores `into` and gives a buffer of its own.
    const own = await noble.decryptChunk(k, sealed[k], { into });
    assert.notEqual(own.buffer, into.buffer);
    assert.deepEqual(own, chunks[k]);
  }
  await assert.rejects(node.decryptChunk(1, sealed[0], { into }), DecryptError);
  await assert.rejects(node.decryptChunk(2, sealed[2].subarray(1), { into }), DecryptError);
});
