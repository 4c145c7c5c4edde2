/**
 * Stopping and restarting reads on a node:tls socket so that TCP pushes back
 * on the peer.
 *
 * Measured on Deno 2.9.6: `socket.pause()` on a node:tls socket only stops
 * `data` events; the TLS layer keeps reading from the kernel and buffers
 * without bound (458 MB taken in from a writer in 3 s while "paused"). The
 * native TCP handle under it does stop: `readStop()` there leaves the bytes in
 * the kernel, the peer's window closes, and its writes block (3.9 MB in
 * flight on loopback, then nothing). These two functions do both, and fall
 * back to `pause()` / `resume()` alone where that handle is absent (then the
 * test in socket_reading_test.ts fails loudly instead of the node silently
 * buffering).
 */
import type { Socket } from "node:net";

interface NativeReader {
  readStop(): number;
  readStart(): number;
}

function nativeReader(socket: Socket): NativeReader | null {
  // deno-lint-ignore no-explicit-any -- reaching the runtime's handle is the point
  const handle = (socket as any)._handle;
  const tcp = handle?._nativeTcpHandle ?? handle;
  return typeof tcp?.readStop === "function" && typeof tcp?.readStart === "function"
    ? tcp as NativeReader
    : null;
}

/** Stops reading `socket` at the TCP level: its peer's writes back up in the kernel. */
export function stopReading(socket: Socket): void {
  socket.pause();
  nativeReader(socket)?.readStop();
}

/** Reads `socket` again after {@linkcode stopReading}. */
export function startReading(socket: Socket): void {
  if (socket.destroyed) return;
  nativeReader(socket)?.readStart();
  socket.resume();
}

/** Size of the buffer a socket's reads land in after {@linkcode readIntoBuffer}. */
export const READ_BUFFER_BYTES = 64 * 1024;

/**
 * Has every later read of `socket` land in one buffer kept for the socket's
 * life, handed to `onRead` (valid only until it returns), instead of a fresh
 * buffer per read (64 KiB each) passed through the stream's `data` event.
 * It is node's `onread` option (Deno 2.9.6 honours it), which node:tls drops
 * for a socket it wraps, as our listener's are: set here on the socket's
 * handle the way the option would. Bytes the stream already buffered still
 * come as `data` events. Returns false, changing nothing, where the runtime
 * lacks the hooks (then reads stay `data` events; socket_reading_test.ts
 * fails loudly).
 *
 * Measured (PERF_NOTES, branch `relayfile`): 128 MiB received over node:tls
 * on loopback took 10–25 % less CPU (receiver and sender together) than
 * through `data` events. The ciphertext under a TLS socket is read into a
 * second kept buffer too ({@linkcode readCiphertextIntoBuffer}); call this
 * while the socket is reading (before any {@linkcode stopReading}), as it
 * restarts reading.
 */
export function readIntoBuffer(socket: Socket, onRead: (bytes: Uint8Array) => void): boolean {
  // deno-lint-ignore no-explicit-any -- reaching the runtime's handle is the point
  const s = socket as any;
  const handle = s._handle;
  if (typeof handle?.useUserBuffer !== "function") return false;
  const symbols = new Map(Object.getOwnPropertySymbols(s).map((k) => [k.description, k]));
  const kBuffer = symbols.get("kBuffer");
  const kBufferCb = symbols.get("kBufferCb");
  if (kBuffer === undefined || kBufferCb === undefined) return false;
  const buffer = new Uint8Array(READ_BUFFER_BYTES);
  s[kBufferCb] = (n: number, filled: Uint8Array) => {
    onRead(filled.subarray(0, n));
  };
  s[kBuffer] = buffer;
  handle.useUserBuffer(buffer);
  if (!socket.destroyed) readCiphertextIntoBuffer(handle);
  return true;
}

interface CiphertextReader {
  onread: (buf?: ArrayBuffer | Uint8Array) => unknown;
  useUserBuffer(buffer: Uint8Array): void;
  getBytesRead(): number;
  readStop(): number;
  readStart(): number;
}

/**
 * Has the ciphertext reads under a node:tls socket (`tls`, its TLSWrap
 * handle) land in one buffer kept for the connection, instead of a 64 KiB
 * buffer of the runtime's per read.
 *
 * Deno 2.9.6 (ext/node/polyfills/internal_binding/tls_wrap.ts,
 * `installNativeOnread`) reads the TCP handle under a TLS socket with the
 * runtime's buffers: each full read's 64 KiB malloc is handed to JS as an
 * ArrayBuffer, copied into the TLS layer (`TLSWrap.receive()`), and then
 * lives until a garbage collection frees the ArrayBuffer; the freed ones go
 * to a per-thread pool that keeps up to 128 (8 MiB) for the process's life
 * (ext/node/ops/stream_wrap.rs, `on_uv_read`, `backing_store_deleter`,
 * `POOLED_BUF_MAX`). After each stall, the runtime reads up to 32 × 64 KiB
 * per poll from a full kernel buffer, each read another dead ArrayBuffer
 * (PERF_NOTES, branch `readpool`).
 *
 * Here the TCP handle reads into one kept buffer (`useUserBuffer`, which the
 * TCP handle honours), and its `onread` hands each read's bytes to the TLS
 * layer, which copies them at once; the byte count comes from the handle's
 * read counter, since a read into a user buffer gets no ArrayBuffer. End of
 * stream and errors still go to the runtime's own `onread`. The handle takes
 * a new `onread` only when reading starts, so reading is restarted here
 * (the bytes meanwhile wait in the kernel). Returns false, changing nothing,
 * where the runtime lacks any of these hooks.
 */
function readCiphertextIntoBuffer(
  // deno-lint-ignore no-explicit-any -- reaching the runtime's handle is the point
  tls: any,
): boolean {
  const tcp = tls?._nativeTcpHandle as CiphertextReader | undefined;
  if (
    typeof tls?.receive !== "function" || typeof tcp?.onread !== "function" ||
    typeof tcp.useUserBuffer !== "function" || typeof tcp.getBytesRead !== "function" ||
    typeof tcp.readStop !== "function" || typeof tcp.readStart !== "function"
  ) return false;
  const runtimeOnread = tcp.onread;
  const buffer = new Uint8Array(READ_BUFFER_BYTES);
  let counted = tcp.getBytesRead();
  tcp.readStop();
  tcp.onread = function (this: unknown, buf?: ArrayBuffer | Uint8Array) {
    const total = tcp.getBytesRead();
    const n = total - counted;
    counted = total;
    // A read into our buffer comes without one; anything else (end of stream, an error, or a
    // runtime buffer) is the runtime's to handle.
    if (buf === undefined && n > 0) tls.receive(buffer.subarray(0, n));
    else return runtimeOnread.call(this, buf);
  };
  tcp.useUserBuffer(buffer);
  tcp.readStart();
  return true;
}
