/**
 * What the file micro-benchmarks share (private to bench/): 256 KiB chunks
 * sealed with ChaCha20-Poly1305 as the Deno client seals them, one key and
 * associated data, and the live heap a node keeps (the collector's work per
 * cycle grows with it).
 */
import { NODE_CHACHA20_POLY1305 } from "../lib/client/node_file_cipher.ts";

export const CHUNK = 256 * 1024;
export const KEY = new Uint8Array(32).fill(2);
export const AD = new Uint8Array(40).fill(4);

/** The nonce of chunk `i`. */
export function nonce(i: number): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setUint32(8, i);
  return n;
}

/** About 20 MiB of live objects, as a node keeps: the caller holds on to them. */
export function nodeSizedHeap(): unknown[] {
  const live: unknown[] = [];
  for (let i = 0; i < 150_000; i++) live.push({ i, s: `row ${i}`, a: [i] });
  return live;
}

/** `count` sealed chunks (chunk `i` is plaintext bytes `i`, sealed under nonce(i)). */
export async function sealedChunks(count: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const parts = await NODE_CHACHA20_POLY1305.sealParts!(
      KEY,
      nonce(i),
      new Uint8Array(CHUNK).fill(i),
      AD,
    );
    const sealed = new Uint8Array(CHUNK + 16);
    let at = 0;
    for (const p of parts) {
      sealed.set(p, at);
      at += p.length;
    }
    out.push(sealed);
  }
  return out;
}
