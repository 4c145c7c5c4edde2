/**
 * A file chunk's CPU at the sending process, apart from sockets (run by hand:
 * `deno run -A --v8-flags=--max-semi-space-size=1,--heap-growing-percent=100
 * bench/exp_chunk_origin.ts [rounds]`): per 256 KiB chunk, the client seals it
 * (ChaCha20-Poly1305, 16 KiB slices), frames its `chunkSubmit`, node A decodes
 * the message, proves the envelope (Merkle leaf, a batch of one, Ed25519) and
 * seals the link message (ChaCha20-Poly1305). Two ways, alternating rounds:
 * "fresh" (a new `chunkSubmit` buffer per chunk, the signed envelope copied
 * with its proof: main before branch `files4`) and "reused" (one
 * `chunkSubmit` buffer handed back, the envelope proven and sealed in parts).
 * Prints CPU µs per chunk (garbage collection included); the minimum of the
 * rounds compares best on a shared machine.
 */
// deno-lint-ignore-file no-console
import { createCipheriv } from "node:crypto";
import * as e2e from "../lib/e2e/mod.ts";
import { NODE_CHACHA20_POLY1305 } from "../lib/client/node_file_cipher.ts";
import {
  chunkBodyParts,
  decodeClientMessage,
  encodeChunkSubmitParts,
  encodeEnvelopeParts,
} from "../lib/protocol/mod.ts";
import { testProvenances } from "../lib/federation/_test_nodes.ts";
import { toAddress, toNodeId } from "../lib/ids.ts";

const CHUNK = 256 * 1024;
const CHUNKS = 512;
const ROUNDS = Number(Deno.args[0] ?? 6);
const fileId = crypto.getRandomValues(new Uint8Array(16));
const manifest = {
  version: 2 as const,
  fileId,
  key: crypto.getRandomValues(new Uint8Array(32)),
  chunkBytes: CHUNK,
  byteLength: CHUNK * CHUNKS,
  digest: null,
};
const sealer = new e2e.FileChunkSealer(manifest, { chacha20Poly1305: NODE_CHACHA20_POLY1305 });
const a = toNodeId("a");
const prov = testProvenances([a, toNodeId("b")]).get(a)!;
const linkKey = crypto.getRandomValues(new Uint8Array(32));
const plain = crypto.getRandomValues(new Uint8Array(65536));
const chunk = new Uint8Array(CHUNK);
for (let i = 0; i < CHUNK; i += plain.length) chunk.set(plain, i);
const HEADER = Uint8Array.of(2, 4);
let counter = 0;

function linkSeal(parts: readonly Uint8Array[]): number {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setUint32(8, counter++);
  const c = createCipheriv("chacha20-poly1305", linkKey, nonce, { authTagLength: 16 });
  let n = 0;
  for (const p of parts) n += c.update(p).length;
  c.final();
  return n + c.getAuthTag().length;
}

async function envelopeParts(index: number): Promise<Uint8Array[]> {
  const sealed = await sealer.sealParts(index, chunk);
  return encodeEnvelopeParts({
    id: crypto.getRandomValues(new Uint8Array(16)),
    kind: "chunk",
    ttl: 16,
    createdAtMs: 1,
    expiresAtMs: 2,
    from: toAddress("alice@a"),
    to: toAddress("bob@c"),
  }, chunkBodyParts({ fileId, index, fileBytes: manifest.byteLength }, sealed));
}

async function fresh(index: number): Promise<void> {
  const message = encodeChunkSubmitParts(await envelopeParts(index));
  const m = decodeClientMessage(message);
  if (m.type !== "chunkSubmit") throw new Error("not a chunkSubmit");
  const [signed] = prov.signBatch([m.envelope]);
  linkSeal([HEADER, signed]);
}

const pool: Uint8Array<ArrayBuffer>[] = [];
async function reused(index: number): Promise<void> {
  const parts = await envelopeParts(index);
  const message = encodeChunkSubmitParts(parts, pool.pop());
  const m = decodeClientMessage(message);
  if (m.type !== "chunkSubmit") throw new Error("not a chunkSubmit");
  const [[unsigned, tail]] = prov.signBatchParts([m.envelope]);
  linkSeal([HEADER, unsigned, tail]);
  pool.push(new Uint8Array(message.buffer));
}

async function round(f: (i: number) => Promise<void>): Promise<number> {
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < CHUNKS; i++) await f(i);
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / CHUNKS;
}

const ways = { fresh, reused };
const results: Record<string, number[]> = { fresh: [], reused: [] };
for (const w of Object.values(ways)) await round(w); // warm up
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, w] of Object.entries(ways)) results[name].push(await round(w));
}
for (const [name, rs] of Object.entries(results)) {
  const us = rs.map((u) => Math.round(u));
  console.log(
    `${name.padEnd(7)} CPU µs per chunk: min ${Math.min(...us)} (${us.join(", ")}); ` +
      `CPU s per GiB (min): ${(Math.min(...us) * 4096 / 1e6).toFixed(2)}`,
  );
}
