import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv } from "node:crypto";
import { CIPHER_SLICE_BYTES, decipherInto, freeNow } from "./cipher_slices.ts";

Deno.test("decipherInto() copies each slice into the kept buffer and frees it at once", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const plain = crypto.getRandomValues(new Uint8Array(3 * CIPHER_SLICE_BYTES + 9));
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  const sealed = new Uint8Array(Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]));
  const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  d.setAuthTag(sealed.subarray(plain.length));
  // The cipher's own outputs, as decipherInto gets them.
  const outputs: Uint8Array[] = [];
  const spy = {
    update(data: Uint8Array) {
      const out = d.update(data);
      outputs.push(out);
      return out;
    },
  };
  const into = new Uint8Array(plain.length + 100);
  decipherInto(spy, sealed, plain.length, into);
  d.final();
  assert.deepEqual(into.subarray(0, plain.length), plain);
  assert.equal(outputs.length, 4);
  for (const o of outputs) {
    assert.equal((o.buffer as ArrayBuffer).detached, true, "each slice freed once copied");
  }
  assert.equal(into.buffer.detached, false);
});

Deno.test("freeNow() frees a whole buffer, never one it sees only part of", () => {
  const whole = new Uint8Array(1000);
  freeNow(whole);
  assert.equal(whole.buffer.detached, true);
  assert.equal(whole.length, 0);
  // A view into a larger buffer (someone else's bytes around it) is left as it is.
  const big = new Uint8Array(1000).fill(7);
  for (const part of [big.subarray(0, 10), big.subarray(10), big.subarray(1, 999)]) {
    freeNow(part);
    assert.equal(big.buffer.detached, false);
  }
  assert.equal(big[999], 7);
  // A Buffer over part of a shared pool (as Node's small Buffers are).
  const pool = new ArrayBuffer(8192);
  const pooled = Buffer.from(pool, 16, 3);
  freeNow(pooled);
  assert.equal(pool.detached, false);
  // Twice, or a growable buffer: nothing happens.
  freeNow(whole);
  const growable = new Uint8Array(new ArrayBuffer(8, { maxByteLength: 16 }));
  freeNow(growable);
  assert.equal(growable.buffer.detached, false);
});
