/**
 * node:crypto's cipher `update()` returns a fresh buffer of its input's size
 * and cannot write into one given; a fresh 256 KiB buffer per file chunk costs
 * more than the cipher's own work on it in this runtime, while 16 KiB outputs
 * come from the allocator's free lists (docs/PERF_NOTES.md, branch `files3`).
 * So large inputs go through the cipher in slices of this size, and opened
 * bytes are copied into a buffer the caller keeps. Used by the link channel
 * and the client's file cipher.
 */
export const CIPHER_SLICE_BYTES = 16 * 1024;

/**
 * Runs the first `n` bytes of `sealed` through `decipher` in slices, into
 * `into` (at least `n` bytes). The caller then calls `final()`, which throws
 * unless the tag verifies: nothing from `into` may be used before.
 */
export function decipherInto(
  decipher: { update(data: Uint8Array): Uint8Array },
  sealed: Uint8Array,
  n: number,
  into: Uint8Array,
): void {
  for (let at = 0; at < n; at += CIPHER_SLICE_BYTES) {
    into.set(decipher.update(sealed.subarray(at, Math.min(n, at + CIPHER_SLICE_BYTES))), at);
  }
}
