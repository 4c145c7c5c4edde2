/**
 * node:crypto's cipher `update()` returns a fresh buffer of its input's size
 * and cannot write into one given; a fresh 256 KiB buffer per file chunk costs
 * more than the cipher's own work on it in this runtime, while 16 KiB outputs
 * come from the allocator's free lists (docs/PERF_NOTES.md, branch `files3`).
 * So large inputs go through the cipher in slices of this size, opened bytes
 * are copied into a buffer the caller keeps, and each slice is freed as soon
 * as it is copied ({@linkcode freeNow}). Used by the link channel and the
 * client's file cipher.
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
    const slice = decipher.update(sealed.subarray(at, Math.min(n, at + CIPHER_SLICE_BYTES)));
    into.set(slice, at);
    freeNow(slice);
  }
}

/**
 * Frees the memory of `view`'s buffer now, for a caller that owns that buffer
 * and is done with it (a cipher's fresh output, once copied): it detaches the
 * buffer (`transfer(0)`), and V8 frees a detached buffer's memory at once. A
 * dead one otherwise waits for the next scavenge, which V8 paces by its own
 * heap, not by these bytes: during a file, 7-9 MiB of dead 16 KiB slices
 * (docs/PERF_NOTES.md, `glibcheap`, `window4`). Only a view of a whole buffer
 * is freed (a view into a larger one, such as a pooled Buffer's, is left as it
 * is). Any other view of the buffer reads as empty afterwards.
 */
export function freeNow(view: Uint8Array): void {
  const b = view.buffer;
  if (
    b instanceof ArrayBuffer && !b.resizable && !b.detached && view.byteOffset === 0 &&
    view.byteLength === b.byteLength
  ) b.transfer(0);
}
