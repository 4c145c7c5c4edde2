/**
 * Parties that terminate TLS between two nodes, as an attacker presenting its
 * own certificate would (nothing here rejects one) or a reverse proxy does:
 *
 * - {@linkcode startTlsRelay}: node:tls on both sides, forwarding the bytes
 *   inside (the WebSocket upgrade and frames) untouched: it could read them all.
 * - {@linkcode startRewritingRelay}: a WebSocket relay built from lib/wss that
 *   also rewrites the TLS binding fields of the channel handshake (HELLO_I,
 *   HELLO_R: lib/channel/handshake.ts) so that each node would see its own
 *   session's binding in the other's hello: what an attacker must do to get
 *   plain records through it.
 *
 * Loopback only; every socket is closed by `close()`.
 */
import tls from "node:tls";
import type { AddressInfo, Socket } from "node:net";
import { SILENT_LOGGER } from "../../lib/log.ts";
import { createCertificate } from "../../lib/tls.ts";
import { dialWss, startWssServer, type WsConnection } from "../../lib/wss/mod.ts";

/** A running relay. */
export interface Relay {
  /** The port to dial instead of the target's. */
  port: number;
  /** Connections relayed so far. */
  relayed(): number;
  close(): Promise<void>;
}

/** Terminates TLS from the dialer, dials `targetPort` with TLS of its own, pipes the bytes. */
export async function startTlsRelay(targetPort: number): Promise<Relay> {
  const material = await createCertificate(["127.0.0.1"], Date.now());
  const sockets = new Set<Socket>();
  let relayed = 0;
  const server = tls.createServer({ cert: material.cert, key: material.key }, (down) => {
    relayed++;
    const up = tls.connect({ host: "127.0.0.1", port: targetPort, rejectUnauthorized: false });
    for (const s of [down, up]) {
      sockets.add(s);
      s.on("error", () => s.destroy());
      s.on("close", () => {
        sockets.delete(s);
        down.destroy();
        up.destroy();
      });
    }
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    relayed: () => relayed,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Where HELLO_I (initiator → responder) and HELLO_R carry their binding (version 4). */
const BINDING_BYTES = 32;
const SIGNATURE_BYTES = 64;

function rewriteHello(message: Uint8Array, binding: Uint8Array | null): Uint8Array {
  const out = message.slice();
  if (binding === null) return out;
  // HELLO_I ends with the binding field; HELLO_R has its signature after it.
  const end = out[0] === 1 ? out.length : out.length - SIGNATURE_BYTES;
  if (out[end - BINDING_BYTES - 1] === BINDING_BYTES) out.set(binding, end - BINDING_BYTES);
  return out;
}

/**
 * A WebSocket relay on `path` to `targetPort` that sets the binding of the first message each
 * way (HELLO_I, HELLO_R) to the one the receiving node sees (`rewritten()` counts them).
 */
export async function startRewritingRelay(
  targetPort: number,
  path: string,
): Promise<Relay & { rewritten(): number }> {
  const material = await createCertificate(["127.0.0.1"], Date.now());
  const open = new Set<WsConnection>();
  let relayed = 0;
  let rewritten = 0;
  const relay = async (down: WsConnection) => {
    const up = await dialWss({
      host: "127.0.0.1",
      port: targetPort,
      path,
      timeoutMs: 5000,
      maxMessageBytes: 1 << 20,
    });
    open.add(up);
    let fromDown = 0;
    let fromUp = 0;
    down.onMessage = (data) => {
      // HELLO_I goes to the responder with the binding the responder sees (upstream session).
      if (fromDown++ === 0) {
        rewritten++;
        data = rewriteHello(data, up.tlsBinding);
      }
      up.send(data.slice());
    };
    up.onMessage = (data) => {
      if (fromUp++ === 0) {
        rewritten++;
        data = rewriteHello(data, down.tlsBinding);
      }
      down.send(data.slice());
    };
    down.onClose = () => up.close();
    up.onClose = () => down.close();
  };
  const server = await startWssServer({
    host: "127.0.0.1",
    port: 0,
    ...material,
    maxConnections: 16,
    maxConnectionsPerAddress: 16,
    handshakeTimeoutMs: 10_000,
    maxMessageBytes: 1 << 20,
    routes: {
      [path]: ({ ws, authenticated }) => {
        authenticated();
        relayed++;
        open.add(ws);
        relay(ws).catch(() => ws.destroy());
      },
    },
    log: SILENT_LOGGER,
  });
  return {
    port: server.port,
    relayed: () => relayed,
    rewritten: () => rewritten,
    close: async () => {
      for (const ws of open) ws.destroy();
      await server.close();
    },
  };
}
