import assert from "node:assert/strict";
import { concat } from "./_bytes.ts";
import { CodecError, DecryptError } from "./errors.ts";
import { FileChunkSealer, FileDigester } from "./file_chunk_sealer.ts";
import { NOBLE_CHACHA20_POLY1305 } from "./file_cipher.ts";
import { FileDecryptor } from "./file_decryptor.ts";
import {
  decodeFileManifest,
  encodeFileManifest,
  FILE_MANIFEST_V2_BYTES,
  type FileManifest,
} from "./file_manifest.ts";

const CHUNK = 1024;

function data(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 13 + (i >> 7)) & 0xff;
  return out;
}

function manifestV2(byteLength: number, digest: Uint8Array | null = null): FileManifest {
  return {
    version: 2,
    fileId: crypto.getRandomValues(new Uint8Array(16)),
    key: crypto.getRandomValues(new Uint8Array(32)),
    chunkBytes: CHUNK,
    byteLength,
    digest,
  };
}

/** What a v2 sender does: seal each chunk and fold its digest, in one pass. */
async function send(plain: Uint8Array, m: FileManifest) {
  const sealer = new FileChunkSealer(m);
  const digester = new FileDigester(CHUNK, 2);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < sealer.chunkCount; i++) {
    const piece = plain.subarray(i * CHUNK, (i + 1) * CHUNK);
    chunks.push(await sealer.seal(i, piece));
    digester.add(await FileDigester.chunkDigest(piece));
  }
  return { chunks, digest: digester.finish(plain.length) };
}

async function receive(m: FileManifest, chunks: Uint8Array[]): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  for await (const p of new FileDecryptor(m).decrypt(chunks)) out.push(p);
  return concat(...out);
}

Deno.test("manifest v2 round-trips with and without its digest; v1 still decodes", () => {
  const m = manifestV2(5000);
  const bytes = encodeFileManifest(m);
  assert.equal(bytes.length, FILE_MANIFEST_V2_BYTES);
  assert.deepEqual(decodeFileManifest(bytes), m);
  const withDigest = { ...m, digest: new Uint8Array(32).fill(7) };
  const bytes2 = encodeFileManifest(withDigest);
  assert.equal(bytes2.length, FILE_MANIFEST_V2_BYTES + 32);
  assert.deepEqual(decodeFileManifest(bytes2), withDigest);
  const v1 = { ...withDigest, version: 1 as const };
  assert.deepEqual(decodeFileManifest(encodeFileManifest(v1)), v1);
  assert.throws(() => encodeFileManifest({ ...v1, digest: null }), RangeError);
});

Deno.test("decodeFileManifest refuses a wrong flag, length or version", () => {
  const bytes = encodeFileManifest(manifestV2(5000));
  const badFlag = bytes.slice();
  badFlag[bytes.length - 1] = 1; // says a digest follows, none does
  assert.throws(() => decodeFileManifest(badFlag), CodecError);
  const withDigest = encodeFileManifest(manifestV2(5000, new Uint8Array(32)));
  const flag0 = withDigest.slice();
  flag0[FILE_MANIFEST_V2_BYTES - 1] = 0;
  assert.throws(() => decodeFileManifest(flag0), CodecError);
  const flag2 = withDigest.slice();
  flag2[FILE_MANIFEST_V2_BYTES - 1] = 2;
  assert.throws(() => decodeFileManifest(flag2), CodecError);
  assert.throws(() => decodeFileManifest(bytes.subarray(0, bytes.length - 1)), CodecError);
  assert.throws(() => decodeFileManifest(concat(bytes, new Uint8Array(1))), CodecError);
  const v3 = bytes.slice();
  v3[0] = 3;
  assert.throws(() => decodeFileManifest(v3), CodecError);
  assert.throws(() => decodeFileManifest(new Uint8Array(0)), CodecError);
});

Deno.test("v2 chunks are ChaCha20-Poly1305 and decrypt against the digest sent after them", async () => {
  for (const n of [0, 1, CHUNK, 3 * CHUNK + 5]) {
    const plain = data(n);
    const m = manifestV2(n);
    const { chunks, digest } = await send(plain, m);
    // The chunk is ChaCha20-Poly1305 under the file key, not AES-GCM.
    const ad = new FileDecryptor(m);
    assert.deepEqual(await ad.decryptChunk(0, chunks[0]), plain.subarray(0, CHUNK));
    assert.equal(chunks[0].length, Math.min(n, CHUNK) + 16);
    await assert.rejects(
      () => NOBLE_CHACHA20_POLY1305.open(m.key, new Uint8Array(12), chunks[0], new Uint8Array(0)),
      DecryptError,
    );
    assert.deepEqual(await receive({ ...m, digest }, chunks), plain, `size ${n}`);
  }
});

Deno.test("v2: a forged digest, or a chunk altered, dropped, reordered or of v1 is detected", async () => {
  const plain = data(4 * CHUNK + 100);
  const m = manifestV2(plain.length);
  const { chunks, digest } = await send(plain, m);
  const full = { ...m, digest };
  const forged = digest.slice();
  forged[0] ^= 1;
  await assert.rejects(receive({ ...m, digest: forged }, chunks), DecryptError);
  const altered = chunks.map((c) => c.slice());
  altered[2][5] ^= 1;
  await assert.rejects(receive(full, altered), DecryptError);
  await assert.rejects(
    receive(full, [chunks[0], chunks[2], chunks[1], chunks[3], chunks[4]]),
    DecryptError,
  );
  await assert.rejects(receive(full, chunks.slice(0, 4)), DecryptError);
  await assert.rejects(receive(full, [...chunks.slice(0, 2), ...chunks.slice(3)]), DecryptError);
  // The same key, id and size as v1 (AES-256-GCM, other labels) does not open a v2 chunk.
  const asV1 = new FileDecryptor({ ...full, version: 1 });
  await assert.rejects(() => asV1.decryptChunk(0, chunks[0]), DecryptError);
  // A whole-stream decrypt needs the digest.
  await assert.rejects(receive(m, chunks), RangeError);
});

Deno.test("v2: a file whose bytes differ from what the digest covered does not match it", async () => {
  const plain = data(3 * CHUNK);
  const m = manifestV2(plain.length);
  const first = await send(plain, m);
  // The sender reads chunk 1 again after the file changed (a resend): same key, new bytes.
  const changed = plain.slice();
  changed[CHUNK + 3] ^= 0xff;
  const resent = await new FileChunkSealer(m).seal(1, changed.subarray(CHUNK, 2 * CHUNK));
  const chunks = [first.chunks[0], resent, first.chunks[2]];
  await assert.rejects(receive({ ...m, digest: first.digest }, chunks), DecryptError);
});

Deno.test("v1 and v2 digests of the same bytes differ (labels)", async () => {
  const piece = data(CHUNK);
  const d1 = new FileDigester(CHUNK, 1);
  const d2 = new FileDigester(CHUNK, 2);
  const h = await FileDigester.chunkDigest(piece);
  d1.add(h);
  d2.add(h);
  assert.notDeepEqual(d1.finish(CHUNK), d2.finish(CHUNK));
});
