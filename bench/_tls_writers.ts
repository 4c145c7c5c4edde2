/**
 * Writers over one TLS connection for the socket-write experiments
 * (bench/exp_socket_writes.ts, bench/exp_tls_listener.ts): a node:tls socket
 * or a Deno TLS connection, each keeping at most `unsentMax` bytes unwritten
 * the way a link sender respecting `writable` does.
 */
import type tls from "node:tls";

/** Writes bytes in order; `room()` waits until at most `unsentMax` are unwritten. */
export interface Writer {
  write(b: Uint8Array): void;
  /** Resolves once at most `unsentMax` bytes are unwritten. */
  room(): Promise<void>;
  end(): Promise<void>;
}

/** A writer over a connected node:tls socket (its write callbacks count what is unwritten). */
export function nodeTlsWriter(s: tls.TLSSocket, unsentMax: number): Writer {
  let unsent = 0;
  let wake: (() => void) | null = null;
  return {
    write(b) {
      unsent += b.length;
      s.write(b, () => {
        unsent -= b.length;
        const w = wake;
        wake = null;
        w?.();
      });
    },
    async room() {
      while (unsent > unsentMax) await new Promise<void>((r) => (wake = r));
    },
    async end() {
      await new Promise((r) => s.write(new Uint8Array(1), () => r(0)));
      s.destroy();
    },
  };
}

/** A writer over a Deno TLS connection (its writes chained in order). */
export function denoTlsWriter(c: Deno.TlsConn, unsentMax: number): Writer {
  let unsent = 0;
  let tail: Promise<void> = Promise.resolve();
  return {
    write(b) {
      unsent += b.length;
      tail = tail.then(async () => {
        for (let at = 0; at < b.length;) at += await c.write(b.subarray(at));
        unsent -= b.length;
      });
    },
    async room() {
      while (unsent > unsentMax) await tail;
    },
    async end() {
      await tail;
      c.close();
    },
  };
}
