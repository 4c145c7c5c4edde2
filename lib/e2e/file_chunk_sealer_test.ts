import assert from "node:assert/strict";
import { concat } from "./_bytes.ts";
import { DecryptError } from "./errors.ts";
import { FileChunkSealer, FileDigester } from "./file_chunk_sealer.ts";
import { FileDecryptor } from "./file_decryptor.ts";
import { FileEncryptor } from "./file_encryptor.ts";
import type { FileManifest } from "./file_manifest.ts";

const CHUNK = 1024;

function data(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + (i >> 9)) & 0xff;
  return out;
}

async function manifestOf(plain: Uint8Array): Promise<FileManifest> {
  const d = new FileDigester(CHUNK);
  for (let at = 0; at < plain.length || at === 0; at += CHUNK) {
    d.add(await FileDigester.chunkDigest(plain.subarray(at, at + CHUNK)));
    if (plain.length === 0) break;
  }
  return {
    version: 1,
    fileId: crypto.getRandomValues(new Uint8Array(16)),
    key: crypto.getRandomValues(new Uint8Array(32)),
    chunkBytes: CHUNK,
    byteLength: plain.length,
    digest: d.finish(plain.length),
  };
}

Deno.test("FileDigester gives the same digest as FileEncryptor's manifest", async () => {
  for (const n of [0, 1, CHUNK, 3 * CHUNK, 3 * CHUNK + 5]) {
    const plain = data(n);
    const enc = new FileEncryptor({ chunkBytes: CHUNK });
    for await (const _ of enc.encrypt([plain])) { /* drain */ }
    assert.deepEqual((await manifestOf(plain)).digest, (await enc.manifest()).digest, `size ${n}`);
  }
});

Deno.test("chunks sealed out of order decrypt with FileDecryptor and match the digest", async () => {
  const plain = data(5 * CHUNK + 17);
  const m = await manifestOf(plain);
  const sealer = new FileChunkSealer(m);
  assert.equal(sealer.chunkCount, 6);
  const sealed: Uint8Array[] = [];
  for (const i of [5, 2, 0, 4, 1, 3]) {
    sealed[i] = await sealer.seal(i, plain.subarray(i * CHUNK, (i + 1) * CHUNK));
  }
  const again = await sealer.seal(2, plain.subarray(2 * CHUNK, 3 * CHUNK));
  assert.deepEqual(again, sealed[2], "sealing is deterministic");
  const out: Uint8Array[] = [];
  for await (const p of new FileDecryptor(m).decrypt(sealed)) out.push(p);
  assert.deepEqual(concat(...out), plain);
});

Deno.test("seal() rejects a wrong length or an index past the end", async () => {
  const m = await manifestOf(data(2 * CHUNK));
  const sealer = new FileChunkSealer(m);
  assert.throws(() => sealer.seal(2, new Uint8Array(CHUNK)), RangeError);
  assert.throws(() => sealer.seal(0, new Uint8Array(CHUNK - 1)), RangeError);
  assert.throws(() => sealer.seal(-1, new Uint8Array(CHUNK)), RangeError);
  assert.throws(() => new FileDigester(CHUNK).add(new Uint8Array(31)), RangeError);
});

Deno.test("a tampered sealed chunk or a chunk moved to another index fails to decrypt", async () => {
  const plain = data(2 * CHUNK);
  const m = await manifestOf(plain);
  const sealer = new FileChunkSealer(m);
  const c0 = await sealer.seal(0, plain.subarray(0, CHUNK));
  const dec = new FileDecryptor(m);
  const bad = c0.slice();
  bad[10] ^= 1;
  await assert.rejects(() => dec.decryptChunk(0, bad), DecryptError);
  await assert.rejects(() => dec.decryptChunk(1, c0), DecryptError);
});
