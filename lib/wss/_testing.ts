/**
 * Test helpers for lib/wss: a listener on 127.0.0.1 with real TLS, and a
 * client dialled to it, handing the test both ends of one connection.
 */
import { createCertificate } from "../tls.ts";
import { SILENT_LOGGER } from "../log.ts";
import { dialWss } from "./client.ts";
import { ConnectionMonitor } from "./connection_monitor.ts";
import type { WsConnection } from "./connection.ts";
import { startWssServer, type WssServer } from "./server.ts";
import type { WriteLimits } from "./write_limits.ts";

const material = createCertificate(["127.0.0.1"], Date.now());

/** Both ends of one connection, and the server's monitor. */
export interface Pair {
  server: WsConnection;
  client: WsConnection;
  monitor: ConnectionMonitor;
  listener: WssServer;
}

/** Options of {@linkcode withPair}. */
export interface PairOptions {
  maxMessageBytes?: number;
  /** Write limits of the server's end. */
  write?: Partial<WriteLimits>;
  /** Called on the server's end before any message can arrive. */
  setup?: (server: WsConnection) => void;
}

/** Runs `fn` with a fresh connection; closes everything afterwards. */
export async function withPair(
  options: PairOptions,
  fn: (pair: Pair) => Promise<void>,
): Promise<void> {
  const monitor = new ConnectionMonitor({ log: SILENT_LOGGER });
  let resolveServer: (ws: WsConnection) => void = () => {};
  const serverEnd = new Promise<WsConnection>((r) => (resolveServer = r));
  const listener = await startWssServer({
    host: "127.0.0.1",
    port: 0,
    ...(await material),
    maxConnections: 64,
    maxConnectionsPerAddress: 16,
    handshakeTimeoutMs: 10_000,
    maxMessageBytes: options.maxMessageBytes ?? 1 << 20,
    write: options.write,
    monitor,
    routes: {
      "/t": ({ ws, authenticated }) => {
        authenticated();
        options.setup?.(ws);
        resolveServer(ws);
      },
    },
    log: SILENT_LOGGER,
  });
  const client = await dialWss({
    host: "127.0.0.1",
    port: listener.port,
    path: "/t",
    timeoutMs: 5000,
    maxMessageBytes: options.maxMessageBytes ?? 1 << 20,
  });
  const server = await serverEnd;
  try {
    await fn({ server, client, monitor, listener });
  } finally {
    client.destroy();
    server.destroy();
    await listener.close();
  }
}

/** Polls `fn` every 10 ms until true; fails naming `what` after `timeoutMs`. */
export async function until(what: string, fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves with the close code the connection ends with; rejects if it is still open after `timeoutMs`. */
export function closeCode(ws: WsConnection, timeoutMs = 20_000): Promise<number> {
  return new Promise((resolve, reject) => {
    if (!ws.open) return resolve(-1);
    const timer = setTimeout(() => reject(new Error("Timed out waiting for the close")), timeoutMs);
    ws.onClose = (i) => {
      clearTimeout(timer);
      resolve(i.code);
    };
  });
}
