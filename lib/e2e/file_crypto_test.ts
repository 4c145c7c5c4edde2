import assert from "node:assert/strict";
import { concat } from "./_bytes.ts";
import { flip } from "./_testing.ts";
import { CodecError, DecryptError, StateError } from "./errors.ts";
import { FileDecryptor } from "./file_decryptor.ts";
import { FileEncryptor } from "./file_encryptor.ts";
import { decodeFileManifest, encodeFileManifest, type FileManifest } from "./file_manifest.ts";

const CHUNK = 4096;

function data(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
  return out;
}

async function encrypt(
  plain: Uint8Array,
  pieces = 3,
): Promise<{ chunks: Uint8Array[]; manifest: FileManifest }> {
  const enc = new FileEncryptor({ chunkBytes: CHUNK });
  const step = Math.ceil(plain.length / pieces) || 1;
  const input = Array.from({ length: pieces }, (_, i) => plain.subarray(i * step, (i + 1) * step));
  const chunks: Uint8Array[] = [];
  for await (const c of enc.encrypt(input)) chunks.push(c);
  return { chunks, manifest: await enc.manifest() };
}

async function decrypt(manifest: FileManifest, chunks: Iterable<Uint8Array>): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  for await (const p of new FileDecryptor(manifest).decrypt(chunks)) out.push(p);
  return concat(...out);
}

Deno.test("file round trip for empty, short, exact-multiple and ragged sizes", async () => {
  for (const n of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK, 5 * CHUNK + 17]) {
    const plain = data(n);
    const { chunks, manifest } = await encrypt(plain);
    assert.equal(chunks.length, Math.max(1, Math.ceil(n / CHUNK)));
    assert.deepEqual(await decrypt(manifest, chunks), plain, `size ${n}`);
    // Ciphertext cut at arbitrary places decrypts the same.
    const joined = concat(...chunks);
    const cuts = [joined.subarray(0, 7), joined.subarray(7, 5000), joined.subarray(5000)];
    assert.deepEqual(await decrypt(manifest, cuts), plain);
  }
});

Deno.test("the file digest is the same for the same content and differs otherwise", async () => {
  const a = await encrypt(data(10_000));
  const b = await encrypt(data(10_000));
  assert.deepEqual(a.manifest.digest, b.manifest.digest);
  assert.notDeepEqual(a.manifest.key, b.manifest.key);
  const c = await encrypt(flip(data(10_000), 9_999));
  assert.notDeepEqual(a.manifest.digest, c.manifest.digest);
});

Deno.test("file decryption detects truncation, extension, reordering, duplication and substitution", async () => {
  const { chunks, manifest } = await encrypt(data(4 * CHUNK + 100));
  const other = await encrypt(data(4 * CHUNK + 100));
  const cases: [string, Uint8Array[]][] = [
    ["truncated (last chunk missing)", chunks.slice(0, -1)],
    ["truncated (last byte missing)", [...chunks.slice(0, -1), chunks.at(-1)!.subarray(1)]],
    ["extended", [...chunks, new Uint8Array(1)]],
    ["reordered", [chunks[1], chunks[0], ...chunks.slice(2)]],
    ["duplicated", [chunks[0], chunks[0], ...chunks.slice(2)]],
    ["substituted from another file", [other.chunks[0], ...chunks.slice(1)]],
    ["tampered ciphertext", [flip(chunks[2], 10), ...chunks.slice(1)]],
    ["tampered tag", [...chunks.slice(0, -1), flip(chunks.at(-1)!, chunks.at(-1)!.length - 1)]],
  ];
  for (const [what, input] of cases) {
    await assert.rejects(decrypt(manifest, input), (e: unknown) => {
      assert.ok(e instanceof DecryptError, what);
      assert.equal((e as Error).message, "Cannot decrypt file", what);
      return true;
    });
  }
  await assert.rejects(decrypt({ ...manifest, key: other.manifest.key }, chunks), DecryptError);
  await assert.rejects(
    decrypt({ ...manifest, digest: other.manifest.digest!.map((x) => x ^ 1) }, chunks),
    DecryptError,
  );
  await assert.rejects(
    decrypt({ ...manifest, byteLength: manifest.byteLength - 1 }, chunks),
    DecryptError,
  );
});

Deno.test("a final chunk cannot be passed off as a middle one (final flag in the AD)", async () => {
  const enc = new FileEncryptor({ chunkBytes: CHUNK });
  const full = await enc.encryptChunk(data(CHUNK), { final: true });
  const manifest = await enc.manifest();
  // Same key, but claim the file is two chunks long: chunk 0 is now not final.
  const dec = new FileDecryptor({ ...manifest, byteLength: 2 * CHUNK });
  await assert.rejects(dec.decryptChunk(0, full), DecryptError);
  assert.deepEqual(await new FileDecryptor(manifest).decryptChunk(0, full), data(CHUNK));
});

Deno.test("FileEncryptor refuses a wrong chunk length, chunks after the final one, and an early manifest", async () => {
  const enc = new FileEncryptor({ chunkBytes: CHUNK });
  assert.throws(() => enc.encryptChunk(data(CHUNK - 1)), RangeError);
  await assert.rejects(enc.manifest(), StateError);
  await enc.encryptChunk(data(10), { final: true });
  assert.throws(() => enc.encryptChunk(data(CHUNK)), StateError);
  assert.throws(() => new FileEncryptor({ chunkBytes: 10 }), RangeError);
});

Deno.test("file manifest round-trips and rejects bad input", async () => {
  const { manifest } = await encrypt(data(100));
  const bytes = encodeFileManifest(manifest);
  assert.deepEqual(decodeFileManifest(bytes), manifest);
  assert.throws(() => decodeFileManifest(bytes.subarray(1)), CodecError);
  assert.throws(() => decodeFileManifest(concat(bytes, new Uint8Array(1))), CodecError);
  assert.throws(() => decodeFileManifest(flip(bytes, 0)), CodecError);
  const badChunk = bytes.slice();
  badChunk.fill(0, 49, 53);
  assert.throws(() => decodeFileManifest(badChunk), CodecError);
});

Deno.test("a 64 MiB file streams through encrypt and decrypt", async () => {
  const piece = data(1 << 20);
  const MIB = 64;
  async function* source() {
    for (let i = 0; i < MIB; i++) yield piece;
  }
  const enc = new FileEncryptor();
  const sealed: Uint8Array[] = [];
  for await (const c of enc.encrypt(source())) sealed.push(c);
  const manifest = await enc.manifest();
  let total = 0;
  for await (const p of new FileDecryptor(manifest).decrypt(sealed)) total += p.length;
  assert.equal(total, MIB << 20);
});
