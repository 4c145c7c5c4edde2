/**
 * Dials a WebSocket over TLS. Certificates are not verified here: who the peer
 * is, is proven by the node-key handshake that runs inside the connection
 * (self-signed certificates cannot prove it, and a proxy may terminate TLS).
 */
import tls from "node:tls";
import type { Socket } from "node:net";
import type { Clock } from "../clock.ts";
import type { ConnectionMonitor } from "./connection_monitor.ts";
import { WsConnection } from "./connection.ts";
import { isOutOfDescriptors } from "../descriptors.ts";
import { acceptValue, parseHead } from "./http_head.ts";
import { tlsBinding } from "./tls_binding.ts";
import type { WriteLimits } from "./write_limits.ts";

/** Options of {@linkcode dialWss}. */
export interface DialOptions {
  host: string;
  port: number;
  path: string;
  timeoutMs: number;
  maxMessageBytes: number;
  /** Limits on the connection's unsent bytes (write_limits.ts). */
  write?: Partial<WriteLimits>;
  /** Counts and logs faults, stalls and pauses (and descriptor shortages while dialling). */
  monitor?: ConnectionMonitor;
  clock?: Clock;
  /** The local address to dial from (tests tell loopback sources apart: 127.0.0.2, …). */
  localAddress?: string;
}

/** Dialling failed because this process (or the system) has no file descriptor left. */
export class OutOfDescriptorsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "OutOfDescriptorsError";
  }
}

const IP_LITERAL = /^(\d{1,3}(\.\d{1,3}){3}|.*:.*)$/;

/**
 * Connects, upgrades and returns the open connection.
 *
 * @throws {OutOfDescriptorsError} when no file descriptor is left (try again later)
 * @throws {Error} on refusal, timeout or a bad upgrade answer
 */
export async function dialWss(options: DialOptions): Promise<WsConnection> {
  const { host, port, path, timeoutMs, maxMessageBytes } = options;
  const keyBytes = crypto.getRandomValues(new Uint8Array(16));
  const key = btoa(String.fromCharCode(...keyBytes));
  const expected = await acceptValue(key);
  const outOfDescriptors = (cause: unknown) => {
    options.monitor?.descriptorShortage("dial", (cause as Error).message ?? "");
    return new OutOfDescriptorsError(
      `Cannot dial ${host}:${port}: out of file descriptors`,
      { cause },
    );
  };
  let sock: tls.TLSSocket;
  try {
    sock = tls.connect({
      host,
      port,
      servername: IP_LITERAL.test(host) ? undefined : host,
      rejectUnauthorized: false,
      ALPNProtocols: ["http/1.1"],
      // Passed on to the TCP connect (node:net's option; the TLS typings omit it).
      ...(options.localAddress
        ? { localAddress: options.localAddress } as tls.ConnectionOptions
        : {}),
    });
  } catch (e) {
    throw isOutOfDescriptors(e) ? outOfDescriptors(e) : e;
  }
  sock.setNoDelay(true);
  const hostHeader = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  try {
    const rest = await new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      let buf = new Uint8Array(0);
      const fail = (e: Error) => {
        clearTimeout(timer);
        reject(isOutOfDescriptors(e) ? outOfDescriptors(e) : e);
      };
      sock.once("error", fail);
      sock.once("close", () => fail(new Error("connection closed during the upgrade")));
      sock.once("secureConnect", () => {
        sock.write(
          `GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nUpgrade: websocket\r\n` +
            `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
            "User-Agent: fedchat\r\n\r\n",
        );
      });
      const onData = (chunk: Uint8Array) => {
        const next = new Uint8Array(buf.length + chunk.length);
        next.set(buf);
        next.set(chunk, buf.length);
        buf = next;
        let parsed;
        try {
          parsed = parseHead(buf);
        } catch (e) {
          return fail(e as Error);
        }
        if (!parsed) return;
        sock.off("data", onData);
        sock.pause();
        const status = /^HTTP\/1\.1 (\d{3})/.exec(parsed.head.startLine)?.[1];
        if (status !== "101") {
          return fail(new Error(`upgrade refused: ${parsed.head.startLine.slice(0, 80)}`));
        }
        if (parsed.head.headers.get("sec-websocket-accept") !== expected) {
          return fail(new Error("upgrade answer has a wrong Sec-WebSocket-Accept"));
        }
        clearTimeout(timer);
        resolve(parsed.rest);
      };
      sock.on("data", onData);
    });
    sock.removeAllListeners("error");
    sock.removeAllListeners("close");
    const ws = new WsConnection(sock as unknown as Socket, {
      role: "client",
      maxMessageBytes,
      initial: rest,
      remoteAddress: `${host}:${port}`,
      write: options.write,
      monitor: options.monitor,
      clock: options.clock,
      tlsBinding: tlsBinding(sock, "client"),
    });
    sock.resume();
    return ws;
  } catch (e) {
    sock.destroy();
    throw e;
  }
}
