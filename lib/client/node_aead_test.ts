import assert from "node:assert/strict";
import { DecryptError, WEBCRYPTO_AEAD } from "../e2e/mod.ts";
import { NODE_AEAD } from "./node_aead.ts";

Deno.test("NODE_AEAD interoperates with WebCrypto and refuses a tampered tag, ciphertext or AD", async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const ad = new TextEncoder().encode("ad");
  for (const size of [0, 1, 100, 70_000]) {
    const pt = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
    const mine = await NODE_AEAD.seal(key, nonce, pt, ad);
    assert.deepEqual(mine, await WEBCRYPTO_AEAD.seal(key, nonce, pt, ad));
    assert.deepEqual(await NODE_AEAD.open(key, nonce, mine, ad), pt);
    for (const i of [0, mine.length - 1]) {
      if (mine.length === 16 && i === 0) continue;
      const bad = mine.slice();
      bad[i] ^= 1;
      await assert.rejects(NODE_AEAD.open(key, nonce, bad, ad), DecryptError);
    }
    await assert.rejects(NODE_AEAD.open(key, nonce, mine, new Uint8Array(1)), DecryptError);
  }
  await assert.rejects(NODE_AEAD.open(key, nonce, new Uint8Array(5), ad), DecryptError);
});
