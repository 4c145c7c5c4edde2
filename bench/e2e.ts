// deno-lint-ignore-file no-console -- a benchmark prints its figures
/**
 * lib/e2e benchmark: ratchet messages/s (encrypt + decrypt of 100-byte messages),
 * handshakes/s (request, read, accept, complete), file encryption and decryption MB/s.
 * Prints human lines, then one JSON line last. Asserts nothing about time.
 *
 *   deno run --allow-read=. bench/e2e.ts
 */
import * as e2e from "../lib/e2e/mod.ts";
// AES-256-GCM through node:crypto (synchronous), as the client core uses it.
import { NODE_AEAD } from "../lib/client/node_aead.ts";

const MSG = new Uint8Array(100).fill(0x61);
const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? "3");

async function handshake(alice: e2e.IdentityKeyPair, bob: e2e.IdentityKeyPair) {
  const { request, pending } = await e2e.createChatRequest({
    identity: alice,
    from: "alice@nodea",
    to: "bob@nodeb",
    createdAtMs: Date.now(),
  });
  const verified = await e2e.readChatRequest(request, { localAddress: "bob@nodeb" });
  const accepted = await e2e.acceptChatRequest({ identity: bob, request: verified });
  const done = await e2e.completeChatRequest({
    identity: alice,
    pending,
    acceptance: accepted.acceptance,
  });
  return { a: done.session, b: accepted.session };
}

// One session: Alice encrypts, Bob decrypts, message by message, for `seconds`.
async function messageLoop(
  a: e2e.RatchetState,
  b: e2e.RatchetState,
  seconds: number,
  aead?: e2e.Aead,
) {
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) {
      const s = await e2e.ratchetEncrypt({ state: a, plaintext: MSG, aead });
      a = s.newState;
      b = (await e2e.ratchetDecrypt({ state: b, message: s.message, aead })).newState;
      n++;
    }
  }
  return n;
}

async function messagesPerSecond(sessions: number, aead?: e2e.Aead): Promise<number> {
  const alice = await e2e.generateIdentity(), bob = await e2e.generateIdentity();
  const pairs = await Promise.all(Array.from({ length: sessions }, () => handshake(alice, bob)));
  await messageLoop(pairs[0].a, pairs[0].b, 0.3, aead); // warm up
  const t0 = performance.now();
  const counts = await Promise.all(pairs.map((p) => messageLoop(p.a, p.b, SECONDS, aead)));
  return counts.reduce((x, y) => x + y, 0) / ((performance.now() - t0) / 1000);
}

async function handshakesPerSecond(concurrency: number): Promise<number> {
  const alice = await e2e.generateIdentity(), bob = await e2e.generateIdentity();
  let n = 0;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      await handshake(alice, bob);
      n++;
    }
  }));
  return n / ((performance.now() - t0) / 1000);
}

async function fileMBps(
  totalMiB: number,
  window: number,
): Promise<{ encrypt: number; decrypt: number }> {
  const piece = new Uint8Array(1 << 20);
  for (let i = 0; i < piece.length; i++) piece[i] = i * 13;
  async function* source() {
    for (let i = 0; i < totalMiB; i++) yield piece;
  }
  const enc = new e2e.FileEncryptor({ window });
  const sealed: Uint8Array[] = [];
  let t0 = performance.now();
  for await (const c of enc.encrypt(source())) sealed.push(c);
  const manifest = await enc.manifest();
  const encSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  let bytes = 0;
  for await (const p of new e2e.FileDecryptor(manifest, { window }).decrypt(sealed)) {
    bytes += p.length;
  }
  const decSeconds = (performance.now() - t0) / 1000;
  if (bytes !== totalMiB << 20) throw new Error("Cannot benchmark: file round trip lost bytes");
  const mb = (totalMiB * (1 << 20)) / 1e6;
  return { encrypt: mb / encSeconds, decrypt: mb / decSeconds };
}

const round = (x: number) => Math.round(x);
const msg1 = await messagesPerSecond(1);
console.log(
  `ratchet, 1 session, WebCrypto AES-GCM:   ${round(msg1)} messages/s (encrypt + decrypt, 100 B)`,
);
const msg8 = await messagesPerSecond(8);
console.log(`ratchet, 8 sessions, WebCrypto AES-GCM:  ${round(msg8)} messages/s`);
const msgNode1 = await messagesPerSecond(1, NODE_AEAD);
console.log(`ratchet, 1 session, node:crypto AES-GCM: ${round(msgNode1)} messages/s`);
const hs1 = await handshakesPerSecond(1);
console.log(`handshakes, sequential:                  ${round(hs1)} /s`);
const hs4 = await handshakesPerSecond(4);
console.log(`handshakes, 4 concurrent:                ${round(hs4)} /s`);
const file = await fileMBps(256, 4);
console.log(
  `file, 256 MiB, 256 KiB chunks, 4 in flight: encrypt ${round(file.encrypt)} MB/s, decrypt ${
    round(file.decrypt)
  } MB/s`,
);
const file8 = await fileMBps(256, 8);
console.log(
  `file, 256 MiB, 256 KiB chunks, 8 in flight: encrypt ${round(file8.encrypt)} MB/s, decrypt ${
    round(file8.decrypt)
  } MB/s`,
);
console.log(JSON.stringify({
  bench: "e2e",
  messagesPerSec: round(msg8),
  messagesPerSecOneSession: round(msg1),
  messagesPerSecNodeAead: round(msgNode1),
  handshakesPerSec: round(hs4),
  handshakesPerSecSequential: round(hs1),
  fileEncryptMBps: round(Math.max(file.encrypt, file8.encrypt)),
  fileDecryptMBps: round(Math.max(file.decrypt, file8.decrypt)),
  fileWindow4: { encryptMBps: round(file.encrypt), decryptMBps: round(file.decrypt) },
  fileWindow8: { encryptMBps: round(file8.encrypt), decryptMBps: round(file8.decrypt) },
}));
