/**
 * The client's own CPU per byte of a file, apart from its node (run by hand:
 * `deno run -A bench/exp_file_client.ts [MiB]`, default 256): the sender's work
 * (read, hash, seal, chunk body, envelope) and the receiver's (chunk body,
 * open, hash, write, digest), in one process on a file under .tmp/, for the
 * old way (manifest v1: digest pass before sending, AES-256-GCM through
 * WebCrypto, a seek and a fresh buffer per read, a copied chunk, the file read
 * back at the end) and the new (manifest v2: one pass, ChaCha20-Poly1305 and
 * SHA-256 through node:crypto, one reused read buffer, positioned access,
 * ciphertext and tag framed without a joined copy, a view of the received
 * chunk); and v2 with the old reads and copies, to tell the two apart. CPU
 * seconds from `process.cpuUsage()`; prints CPU s per GiB.
 */
// deno-lint-ignore-file no-console
import process from "node:process";
import * as e2e from "../lib/e2e/mod.ts";
import {
  decodeChunkBody,
  encodeChunkBody,
  encodeChunkBodyParts,
  encodeEnvelope,
} from "../lib/protocol/mod.ts";
import { PositionedFile } from "../lib/client/_file_context.ts";
import { NODE_CHACHA20_POLY1305, sha256Sync } from "../lib/client/node_file_cipher.ts";

const MIB = Number(Deno.args[0] ?? 256);
const SIZE = MIB * 1024 * 1024;
const CHUNK = e2e.DEFAULT_FILE_CHUNK_BYTES;
const COUNT = e2e.chunkCount(SIZE, CHUNK);
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

await Deno.mkdir(".tmp", { recursive: true });
const src = ".tmp/exp_file_client.src";
const dst = ".tmp/exp_file_client.dst";
{
  using f = await Deno.open(src, { write: true, create: true, truncate: true });
  const block = new Uint8Array(CHUNK);
  for (let i = 0; i < COUNT; i++) {
    for (let j = 0; j < block.length; j += 4096) block[j] = (i * 31 + j) & 0xff;
    await f.write(block.subarray(0, Math.min(CHUNK, SIZE - i * CHUNK)));
  }
}

// The old client's reads: a seek and a fresh buffer each.
async function readAtOld(file: Deno.FsFile, offset: number, length: number) {
  const buf = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) got += (await file.read(buf.subarray(got)))!;
  return buf;
}
async function writeAtOld(file: Deno.FsFile, offset: number, bytes: Uint8Array) {
  await file.seek(offset, Deno.SeekMode.Start);
  let put = 0;
  while (put < bytes.length) put += await file.write(bytes.subarray(put));
}

function envelope(body: Uint8Array): Uint8Array {
  return encodeEnvelope({
    id: new Uint8Array(16),
    kind: "chunk",
    ttl: 8,
    createdAtMs: 0,
    expiresAtMs: 1,
    from: "alice@nodea",
    to: "bob@nodeb",
    body,
  });
}

const fileId = new Uint8Array(16).fill(1);
const key = new Uint8Array(32).fill(2);

async function oldSender(): Promise<{ manifest: e2e.FileManifest; bodies: Uint8Array[] }> {
  using file = await Deno.open(src, { read: true });
  // The offer's digest pass: four WebCrypto digests in flight, as the old offer().
  const d = new e2e.FileDigester(CHUNK, 1);
  const q: Promise<Uint8Array>[] = [];
  for (let i = 0; i < COUNT; i++) {
    q.push(e2e.FileDigester.chunkDigest(await readAtOld(file, i * CHUNK, chunkLen(i))));
    if (q.length >= 4) d.add(await q.shift()!);
  }
  while (q.length) d.add(await q.shift()!);
  const manifest = {
    version: 1 as const,
    fileId,
    key,
    chunkBytes: CHUNK,
    byteLength: SIZE,
    digest: d.finish(SIZE),
  };
  const sealer = new e2e.FileChunkSealer(manifest);
  const bodies: Uint8Array[] = [];
  for (let i = 0; i < COUNT; i++) {
    const sealed = await sealer.seal(i, await readAtOld(file, i * CHUNK, chunkLen(i)));
    const body = encodeChunkBody({ fileId, index: i, fileBytes: SIZE, sealed });
    envelope(body);
    if (i < 64) bodies.push(body); // kept for the receiver; it cycles through them
  }
  return { manifest, bodies };
}

async function newSender(): Promise<{ manifest: e2e.FileManifest; bodies: Uint8Array[] }> {
  const file = new PositionedFile(await Deno.open(src, { read: true }));
  const m0 = {
    version: 2 as const,
    fileId,
    key,
    chunkBytes: CHUNK,
    byteLength: SIZE,
    digest: null,
  };
  const sealer = new e2e.FileChunkSealer(m0, { chacha20Poly1305: NODE_CHACHA20_POLY1305 });
  const digests = new Uint8Array(32 * COUNT);
  const buf = new Uint8Array(CHUNK);
  const bodies: Uint8Array[] = [];
  for (let i = 0; i < COUNT; i++) {
    const plain = await file.readInto(i * CHUNK, buf.subarray(0, chunkLen(i)));
    digests.set(sha256Sync(plain), i * 32);
    const body = encodeChunkBodyParts(
      { fileId, index: i, fileBytes: SIZE },
      await sealer.sealParts(i, plain),
    );
    envelope(body);
    if (i < 64) bodies.push(body);
  }
  file.close();
  const d = new e2e.FileDigester(CHUNK, 2);
  for (let i = 0; i < COUNT; i++) d.add(digests.subarray(i * 32, i * 32 + 32));
  return { manifest: { ...m0, digest: d.finish(SIZE) }, bodies };
}

// v2 without the fewer-copies step: a seek and a fresh buffer per read, a joined sealed chunk.
async function v2CopySender(): Promise<{ manifest: e2e.FileManifest; bodies: Uint8Array[] }> {
  using file = await Deno.open(src, { read: true });
  const m0 = {
    version: 2 as const,
    fileId,
    key,
    chunkBytes: CHUNK,
    byteLength: SIZE,
    digest: null,
  };
  const sealer = new e2e.FileChunkSealer(m0, { chacha20Poly1305: NODE_CHACHA20_POLY1305 });
  const digests = new Uint8Array(32 * COUNT);
  const bodies: Uint8Array[] = [];
  for (let i = 0; i < COUNT; i++) {
    const plain = await readAtOld(file, i * CHUNK, chunkLen(i));
    digests.set(sha256Sync(plain), i * 32);
    const sealed = await sealer.seal(i, plain);
    const body = encodeChunkBody({ fileId, index: i, fileBytes: SIZE, sealed });
    envelope(body);
    if (i < 64) bodies.push(body);
  }
  const d = new e2e.FileDigester(CHUNK, 2);
  for (let i = 0; i < COUNT; i++) d.add(digests.subarray(i * 32, i * 32 + 32));
  return { manifest: { ...m0, digest: d.finish(SIZE) }, bodies };
}

async function v2CopyReceiver(m: e2e.FileManifest, bodies: Uint8Array[]) {
  using file = await Deno.open(dst, { read: true, write: true, create: true, truncate: true });
  const dec = new e2e.FileDecryptor(m, { chacha20Poly1305: NODE_CHACHA20_POLY1305 });
  const digests = new Uint8Array(32 * COUNT);
  for (let i = 0; i < COUNT; i++) {
    const c = decodeChunkBody(bodies[i % bodies.length]);
    const plain = await dec.decryptChunk(c.index, c.sealed);
    await writeAtOld(file, i * CHUNK, plain);
    digests.set(sha256Sync(plain), i * 32);
  }
  const d = new e2e.FileDigester(CHUNK, 2);
  for (let i = 0; i < COUNT; i++) d.add(digests.subarray(i * 32, i * 32 + 32));
  d.finish(SIZE);
}

function chunkLen(i: number) {
  return Math.min(CHUNK, SIZE - i * CHUNK);
}

// The receiver decrypts the first 64 bodies over and over (the file's chunks are alike in size),
// so it needs no 256 MiB of ciphertext in memory; the digest check is then left out of "ok".
async function oldReceiver(m: e2e.FileManifest, bodies: Uint8Array[]) {
  using file = await Deno.open(dst, { read: true, write: true, create: true, truncate: true });
  const dec = new e2e.FileDecryptor(m);
  for (let i = 0; i < COUNT; i++) {
    const c = decodeChunkBody(bodies[i % bodies.length]);
    const plain = await dec.decryptChunk(c.index, c.sealed);
    await writeAtOld(file, i * CHUNK, plain);
  }
  const d = new e2e.FileDigester(CHUNK, 1);
  const q: Promise<Uint8Array>[] = [];
  for (let i = 0; i < COUNT; i++) {
    q.push(readAtOld(file, i * CHUNK, chunkLen(i)).then(e2e.FileDigester.chunkDigest));
    await q[q.length - 1];
    if (q.length >= 4) d.add(await q.shift()!);
  }
  while (q.length) d.add(await q.shift()!);
  d.finish(SIZE);
}

async function newReceiver(m: e2e.FileManifest, bodies: Uint8Array[]) {
  const file = new PositionedFile(
    await Deno.open(dst, { read: true, write: true, create: true, truncate: true }),
  );
  const dec = new e2e.FileDecryptor(m, { chacha20Poly1305: NODE_CHACHA20_POLY1305 });
  const digests = new Uint8Array(32 * COUNT);
  for (let i = 0; i < COUNT; i++) {
    const c = decodeChunkBody(bodies[i % bodies.length], { view: true });
    const plain = await dec.decryptChunk(c.index, c.sealed);
    await file.writeAt(i * CHUNK, plain);
    digests.set(sha256Sync(plain), i * 32);
  }
  const d = new e2e.FileDigester(CHUNK, 2);
  for (let i = 0; i < COUNT; i++) d.add(digests.subarray(i * 32, i * 32 + 32));
  d.finish(SIZE);
  file.close();
}

const GIB = SIZE / 1024 ** 3;
const results: Record<string, number> = {};
for (const round of [1, 2]) {
  for (
    const [name, send, receive] of [
      ["old (v1)", oldSender, oldReceiver],
      ["v2, copies as before", v2CopySender, v2CopyReceiver],
      ["new (v2)", newSender, newReceiver],
    ] as const
  ) {
    let t = cpu();
    const { manifest, bodies } = await send();
    const sendS = cpu() - t;
    t = cpu();
    await receive(manifest, bodies);
    const receiveS = cpu() - t;
    results[`${name} sender`] = sendS / GIB;
    results[`${name} receiver`] = receiveS / GIB;
    console.log(
      `round ${round} ${name}: sender ${(sendS / GIB).toFixed(2)} CPU s/GiB, ` +
        `receiver ${(receiveS / GIB).toFixed(2)} CPU s/GiB`,
    );
  }
}
await Deno.remove(src);
await Deno.remove(dst);
console.log(JSON.stringify({ bench: "exp_file_client", mib: MIB, cpuSecondsPerGiB: results }));
