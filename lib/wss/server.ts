/**
 * The node's TLS listener: WebSocket upgrades on known paths, with caps on
 * connections in total and per address, and one deadline covering TLS, the
 * upgrade and the caller's authentication, so half-open connections cannot
 * pile up (a plain Deno.serve keeps them ≥ 90 s and dies at the fd limit).
 */
import tls from "node:tls";
import type { Socket } from "node:net";
import type { Logger } from "../log.ts";
import { WsConnection } from "./connection.ts";
import { acceptValue, checkUpgradeRequest, HttpHeadError, parseHead } from "./http_head.ts";

/** What a route handler gets: the open connection and a way to end the deadline. */
export interface Accepted {
  ws: WsConnection;
  /** Call once the peer has authenticated; until then the deadline runs. */
  authenticated(): void;
  headers: Map<string, string>;
}

/** Options of {@linkcode startWssServer}. */
export interface WssServerOptions {
  host: string;
  port: number;
  cert: string;
  key: string;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** TLS + upgrade + authentication must finish within this. */
  handshakeTimeoutMs: number;
  maxMessageBytes: number;
  routes: Record<string, (accepted: Accepted) => void>;
  log: Logger;
}

/** A running listener. */
export interface WssServer {
  /** The bound port (useful with port 0). */
  port: number;
  /** Open connections now. */
  connections(): number;
  close(): Promise<void>;
}

/** Starts the listener; resolves once it is bound. */
export async function startWssServer(options: WssServerOptions): Promise<WssServer> {
  const { maxConnections, maxConnectionsPerAddress, handshakeTimeoutMs, log } = options;
  const perAddress = new Map<string, number>();
  const sockets = new Set<Socket>();
  // Deadline per connection, found again from the TLS socket by its address and port.
  const deadlines = new Map<string, number>();

  const server = tls.createServer({
    cert: options.cert,
    key: options.key,
    handshakeTimeout: handshakeTimeoutMs,
    ALPNProtocols: ["http/1.1"],
  });

  server.on("connection", (raw: Socket) => {
    const addr = raw.remoteAddress ?? "?";
    const count = perAddress.get(addr) ?? 0;
    if (sockets.size >= maxConnections || count >= maxConnectionsPerAddress) {
      log.warn("connection refused: cap reached", { addr, total: sockets.size, fromAddr: count });
      raw.destroy();
      return;
    }
    perAddress.set(addr, count + 1);
    sockets.add(raw);
    const deadline = setTimeout(() => {
      log.info("connection closed: handshake deadline", { addr, ms: handshakeTimeoutMs });
      raw.destroy();
    }, handshakeTimeoutMs);
    raw.once("close", () => {
      clearTimeout(deadline);
      sockets.delete(raw);
      const left = (perAddress.get(addr) ?? 1) - 1;
      if (left <= 0) perAddress.delete(addr);
      else perAddress.set(addr, left);
    });
    raw.on("error", () => raw.destroy());
    const id = `${addr}|${raw.remotePort}`;
    deadlines.set(id, deadline as unknown as number);
    raw.once("close", () => deadlines.delete(id));
  });

  server.on("secureConnection", (sock: tls.TLSSocket) => {
    sock.setNoDelay(true);
    sock.on("error", () => sock.destroy());
    const deadline = deadlines.get(`${sock.remoteAddress}|${sock.remotePort}`) ??
      (setTimeout(() => sock.destroy(), handshakeTimeoutMs) as unknown as number);
    sock.once("close", () => clearTimeout(deadline));
    readUpgrade(sock, options, deadline).catch((e) => {
      log.debug("upgrade failed", { addr: sock.remoteAddress, why: (e as Error).message });
      sock.destroy();
    });
  });
  server.on("tlsClientError", (e: Error, sock: tls.TLSSocket) => {
    log.debug("TLS handshake failed", { addr: sock?.remoteAddress, why: e.message });
    sock?.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (e: Error) => log.error("listener error", { why: e.message }));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    connections: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function respond(sock: tls.TLSSocket, status: number, text: string): void {
  const body = `${text}\n`;
  sock.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

async function readUpgrade(
  sock: tls.TLSSocket,
  options: WssServerOptions,
  deadline: number,
): Promise<void> {
  let buf = new Uint8Array(0);
  const parsed = await new Promise<ReturnType<typeof parseHead>>((resolve, reject) => {
    const onData = (chunk: Uint8Array) => {
      const next = new Uint8Array(buf.length + chunk.length);
      next.set(buf);
      next.set(chunk, buf.length);
      buf = next;
      try {
        const r = parseHead(buf);
        if (r) {
          sock.off("data", onData);
          sock.pause();
          resolve(r);
        }
      } catch (e) {
        sock.off("data", onData);
        reject(e);
      }
    };
    sock.on("data", onData);
    sock.once("close", () => reject(new Error("closed before the upgrade")));
  }).catch((e) => {
    if (e instanceof HttpHeadError) respond(sock, e.status, e.message);
    throw e;
  });
  const { head, rest } = parsed!;
  let req;
  try {
    req = checkUpgradeRequest(head);
  } catch (e) {
    if (e instanceof HttpHeadError) respond(sock, e.status, e.message);
    throw e;
  }
  const pathOnly = req.path.split("?")[0];
  const handler = options.routes[pathOnly];
  if (!handler) {
    respond(sock, 404, "not found");
    throw new Error(`unknown path ${pathOnly}`);
  }
  sock.write(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${await acceptValue(req.key)}\r\n\r\n`,
  );
  const ws = new WsConnection(sock as unknown as Socket, {
    role: "server",
    maxMessageBytes: options.maxMessageBytes,
    initial: rest,
  });
  sock.resume();
  handler({ ws, authenticated: () => clearTimeout(deadline), headers: req.headers });
}
