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
 * through `data` events.
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
  return true;
}
