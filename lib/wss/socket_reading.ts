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
