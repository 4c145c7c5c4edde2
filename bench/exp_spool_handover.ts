/**
 * The receiving node's spool and its in-process client, per file chunk, in
 * one process (run by hand: `deno run -A --v8-flags=--max-semi-space-size=1,--heap-growing-percent=100
 * bench/exp_spool_handover.ts [rounds]`, default 6). Chunks arrive in a reused
 * record buffer, are written to a real FileSpool (fdatasync included) 8 at a
 * time, then handed over as lib/node/client_hub.ts does (framed into a pooled
 * message) to a client that opens each (ChaCha20-Poly1305 into its kept
 * plaintext buffer), writes it at its offset and hashes it, one chunk per turn,
 * as lib/client/_file_receiving.ts does; then the 8 are removed (the client's
 * acknowledgement). Variants, in turn within each round (reversed every other
 * round): "read back" (the spool reads each chunk back from its segment, and the
 * client copies the message before its turn: main before branch `filerecv`)
 * and "kept" (the spool hands over the bytes it wrote, and the client keeps the
 * lent message until written). Prints µs of CPU per chunk (all threads:
 * fdatasync and reads on the runtime's blocking pool included), minimum and
 * every round; the process keeps ~20 MiB of live heap, as a node does.
 */
// deno-lint-ignore-file no-console
import process from "node:process";
import { setImmediate } from "node:timers";
import { PositionedFile } from "../lib/client/_file_context.ts";
import { NODE_CHACHA20_POLY1305, sha256Sync } from "../lib/client/node_file_cipher.ts";
import { AD, CHUNK, KEY, nodeSizedHeap, nonce, sealedChunks } from "./_sealed_chunks.ts";
import type { UserName } from "../lib/ids.ts";
import { SILENT_LOGGER } from "../lib/log.ts";
import { FileSpool, MAX_KEPT_COPIES } from "../lib/node/file_spool.ts";

const ROUNDS = Number(Deno.args[0] ?? 6);
const COUNT = 512;
const BATCH = 8;
const BOB = "bob" as UserName;
const live = nodeSizedHeap();
// 16 sealed chunks, cycled (the envelope around them does not matter to the spool).
const sealed16 = await sealedChunks(16);
const id = (round: number, i: number) => (round * COUNT + i).toString(16).padStart(32, "0");
const HEAD = 64;

async function run(kept: boolean, round: number): Promise<void> {
  await Deno.mkdir(".tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: ".tmp", prefix: "exp-handover-" });
  const spool = await FileSpool.open({
    dir,
    maxFileBytes: 1 << 30,
    quotaBytes: 1 << 30,
    totalBytes: 1 << 30,
    keepMs: 60_000,
    keptCopies: kept ? MAX_KEPT_COPIES : 0,
    log: SILENT_LOGGER,
  });
  using raw = await Deno.open(`${dir}/out.part`, { read: true, write: true, create: true });
  const file = new PositionedFile(raw);
  const record = new Uint8Array(CHUNK + 16);
  const messages: Uint8Array[] = [];
  const spare: Uint8Array[] = [];
  const plain = new Uint8Array(CHUNK);
  try {
    for (let b = 0; b < COUNT; b += BATCH) {
      const writes: Promise<void>[] = [];
      for (let i = b; i < b + BATCH; i++) {
        record.set(sealed16[i % 16]);
        spool.admit(BOB, {
          id: id(round, i),
          fileId: "f".repeat(32),
          index: i,
          fileBytes: 1 << 30,
          bytes: record.length,
        });
        writes.push(spool.write(BOB, id(round, i), record));
      }
      await Promise.all(writes);
      const taken: Promise<void>[] = [];
      for (let i = b; i < b + BATCH; i++) {
        await spool.withChunk(BOB, id(round, i), (envelope) => {
          // The hub: framed into a pooled message.
          const msg = messages.pop() ?? new Uint8Array(HEAD + envelope.length);
          msg.set(envelope, HEAD);
          const sealed = msg.subarray(HEAD, HEAD + envelope.length);
          // The client: keeps the lent message, or copies it before its handler returns.
          let own = sealed;
          let back = () => messages.push(msg);
          if (!kept) {
            const buf = spare.pop() ?? new Uint8Array(sealed.length);
            buf.set(sealed);
            own = buf;
            messages.push(msg);
            back = () => spare.push(buf);
          }
          taken.push(
            new Promise((resolve) => setImmediate(resolve)).then(async () => {
              const p = await NODE_CHACHA20_POLY1305.openInto!(KEY, nonce(i % 16), own, AD, plain);
              file.writeAtSync(i * CHUNK, p);
              sha256Sync(p);
              back();
            }),
          );
        });
      }
      await Promise.all(taken);
      await spool.remove(BOB, Array.from({ length: BATCH }, (_, k) => id(round, b + k)));
    }
  } finally {
    await spool.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const variants: Array<[string, boolean]> = [["read back", false], ["kept", true]];
const us = new Map<string, number[]>();
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? variants : [...variants].reverse();
  for (const [name, kept] of order) {
    const c0 = cpuUs();
    await run(kept, round);
    us.set(name, [...(us.get(name) ?? []), Math.round((cpuUs() - c0) / COUNT)]);
  }
}
const out: Record<string, number> = {};
for (const [name] of variants) {
  const u = us.get(name)!;
  out[name] = Math.min(...u);
  console.log(`${name}: ${Math.min(...u)} µs CPU per chunk (rounds ${u.join(", ")})`);
}
console.log(JSON.stringify({ bench: "exp_spool_handover", chunks: COUNT, live: live.length, out }));
