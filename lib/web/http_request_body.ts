/**
 * A request body as a pull stream over the connection: bytes are read only
 * when the route asks for them (an upload streams to disk at the disk's
 * pace), each wait under the idle deadline, and never past Content-Length.
 */
import type { ConnIo } from "./conn_io.ts";

/** Most bytes read at once for a body (uploads stream in pieces this big). */
const BODY_CHUNK_BYTES = 64 * 1024;

/** Options of {@linkcode requestBody}. */
export interface RequestBodyOptions {
  /** Content-Length. */
  length: number;
  idleTimeoutMs: number;
  /** Called before the first read (to send `100 Continue`). */
  beforeFirstRead?: () => Promise<void>;
}

/** A body being read. */
export interface RequestBody {
  stream: ReadableStream<Uint8Array>;
  /** True once every byte of the body has been read off the connection. */
  complete(): boolean;
}

/** Streams exactly `length` bytes of `io` (bytes past them are pushed back). */
export function requestBody(io: ConnIo, options: RequestBodyOptions): RequestBody {
  const { length, idleTimeoutMs, beforeFirstRead } = options;
  let left = length;
  let started = false;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!started) {
        started = true;
        await beforeFirstRead?.();
      }
      if (left === 0) {
        controller.close();
        return;
      }
      io.deadline(idleTimeoutMs, "body");
      const bytes = await io.read(Math.min(left, BODY_CHUNK_BYTES));
      io.clearDeadline();
      if (bytes === null) {
        controller.error(new Error("Cannot read request body: the connection ended early"));
        return;
      }
      const take = bytes.subarray(0, Math.min(left, bytes.length));
      io.unread(bytes.subarray(take.length));
      left -= take.length;
      controller.enqueue(take);
      if (left === 0) controller.close();
    },
  }, { highWaterMark: 0 });
  return { stream, complete: () => left === 0 };
}
