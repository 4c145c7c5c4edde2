/**
 * The client's own CPU per file chunk, apart from its node (run by hand:
 * `deno run -A --v8-flags=--max-semi-space-size=1,--heap-growing-percent=100
 * bench/exp_file_client.ts [rounds]`, default 6): the sender's work on one
 * 256 KiB chunk (read into the reused buffer, SHA-256, ChaCha20-Poly1305 seal
 * in slices, the sealed parts copied into a reused message) and the
 * receiver's (the queued chunk copied into a pooled buffer, opened into the
 * kept plaintext buffer, written at its offset, SHA-256), as lib/client does
 * them, with the file read and written through the runtime's async ops
 * ("async", main before branch `filebob`), synchronously ("sync"), or
 * synchronously with a `setImmediate` turn per chunk ("sync + turn", what the
 * client does since: docs/PERF_NOTES.md, branch `filebob`). Variants run in
 * turn within each round, in reverse order every other round, over 512 chunks
 * of a 128 MiB file under .tmp/; the process keeps ~20 MiB of live heap, as a node
 * does, so collections cost what they cost there. Prints µs of CPU per chunk
 * (all threads, `process.cpuUsage()`: the runtime's I/O threads included),
 * minimum and every round, and V8 heap bytes allocated per chunk.
 */
// deno-lint-ignore-file no-console
import process from "node:process";
import v8 from "node:v8";
import { setImmediate } from "node:timers";
import { PositionedFile } from "../lib/client/_file_context.ts";
import { NODE_CHACHA20_POLY1305, sha256Sync } from "../lib/client/node_file_cipher.ts";
import { AD, CHUNK, KEY, nodeSizedHeap, nonce, sealedChunks } from "./_sealed_chunks.ts";

const ROUNDS = Number(Deno.args[0] ?? 6);
const COUNT = 512;
const live = nodeSizedHeap();

await Deno.mkdir(".tmp", { recursive: true });
const src = ".tmp/exp_file_client.src";
const dst = ".tmp/exp_file_client.dst";
{
  using f = await Deno.open(src, { write: true, create: true, truncate: true });
  const block = new Uint8Array(CHUNK);
  for (let i = 0; i < COUNT; i++) {
    for (let j = 0; j < CHUNK; j += 512) block[j] = (i * 31 + j) & 0xff;
    f.writeSync(block);
  }
}
// What arrives at the receiver: 16 sealed chunks, cycled.
const sealed16 = await sealedChunks(16);

const message = new Uint8Array(CHUNK + 400);
// The sender's read before `filebob` (PositionedFile.readInto), in order: no seek.
async function readAllAsync(file: Deno.FsFile, buf: Uint8Array): Promise<Uint8Array> {
  let got = 0;
  while (got < buf.length) got += (await file.read(buf.subarray(got))) ?? buf.length;
  return buf;
}

async function sender(sync: boolean, yieldEach = false): Promise<void> {
  using raw = await Deno.open(src, { read: true });
  const file = new PositionedFile(raw);
  const buf = new Uint8Array(CHUNK);
  for (let i = 0; i < COUNT; i++) {
    if (yieldEach) await new Promise((resolve) => setImmediate(resolve));
    const plain = sync ? file.readIntoSync(i * CHUNK, buf) : await readAllAsync(raw, buf);
    sha256Sync(plain);
    const parts = await NODE_CHACHA20_POLY1305.sealParts!(KEY, nonce(i), plain, AD);
    let at = 300;
    for (const p of parts) {
      message.set(p, at);
      at += p.length;
    }
  }
}

const pooled = new Uint8Array(CHUNK + 16);
const plainBuf = new Uint8Array(CHUNK);
// The receiver's write before `filebob` (PositionedFile.writeAt), in order: no seek.
async function writeAllAsync(file: Deno.FsFile, bytes: Uint8Array) {
  let put = 0;
  while (put < bytes.length) put += await file.write(bytes.subarray(put));
}

async function receiver(sync: boolean, yieldEach = false): Promise<void> {
  using raw = await Deno.open(dst, { read: true, write: true, create: true, truncate: true });
  const file = new PositionedFile(raw);
  for (let i = 0; i < COUNT; i++) {
    if (yieldEach) await new Promise((resolve) => setImmediate(resolve));
    pooled.set(sealed16[i % 16]);
    const plain = await NODE_CHACHA20_POLY1305.openInto!(KEY, nonce(i % 16), pooled, AD, plainBuf);
    if (sync) file.writeAtSync(i * CHUNK, plain);
    else await writeAllAsync(raw, plain);
    sha256Sync(plain);
  }
}

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const allocated = () =>
  (v8.getHeapStatistics() as unknown as { total_allocated_bytes?: number })
    .total_allocated_bytes ?? NaN;

const variants: Array<[string, () => Promise<void>]> = [
  ["sender, async read", () => sender(false)],
  ["sender, sync read", () => sender(true)],
  ["sender, sync read + turn", () => sender(true, true)],
  ["receiver, async write", () => receiver(false)],
  ["receiver, sync write", () => receiver(true)],
  ["receiver, sync write + turn", () => receiver(true, true)],
];
const us = new Map<string, number[]>();
const kib = new Map<string, number[]>();
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which variant of a pair runs first.
  const order = round % 2 === 0 ? variants : [...variants].reverse();
  for (const [name, run] of order) {
    const c0 = cpuUs();
    const a0 = allocated();
    await run();
    us.set(name, [...(us.get(name) ?? []), Math.round((cpuUs() - c0) / COUNT)]);
    kib.set(name, [...(kib.get(name) ?? []), (allocated() - a0) / COUNT / 1024]);
  }
}
const out: Record<string, { minUs: number; heapKiB: number }> = {};
for (const [name] of variants) {
  const u = us.get(name)!;
  const k = Math.min(...kib.get(name)!);
  out[name] = { minUs: Math.min(...u), heapKiB: Math.round(k * 10) / 10 };
  console.log(
    `${name}: ${Math.min(...u)} µs CPU per chunk (rounds ${u.join(", ")}), ` +
      `${k.toFixed(1)} KiB of V8 heap allocated per chunk`,
  );
}
await Deno.remove(src);
await Deno.remove(dst);
console.log(JSON.stringify({ bench: "exp_file_client", chunks: COUNT, live: live.length, out }));
