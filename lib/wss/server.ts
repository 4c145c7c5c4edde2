/**
 * The node's TLS listener: WebSocket upgrades on known paths, behind the
 * admission rules of admission.ts (caps in total, per address, for
 * strangers, and slots kept for known addresses), with one deadline
 * covering TLS, the upgrade and the caller's authentication, so half-open
 * connections cannot pile up (a plain Deno.serve keeps them ≥ 90 s and dies
 * at the fd limit), and a watchdog that replaces the listening socket when
 * running out of file descriptors has stopped it (accept_watchdog.ts).
 *
 * The listening socket is plain TCP: a connection is admitted or refused
 * before any TLS work, and only an admitted one gets a TLS socket. Measured
 * on Deno 2.9.6: a tls.Server spends ~500 µs of CPU on each accepted socket
 * even when it is destroyed at once (~90 µs here), enough for a flood to back
 * up the kernel's accept queue in front of the peers it should let in.
 *
 * A thin shell: admission, flow control and the watchdog decide; this file
 * wires sockets and timers to them.
 */
import net, { type Socket } from "node:net";
import tls from "node:tls";
import type { BudgetRegistry, BudgetView } from "../budget.ts";
import { ThrottledLog } from "../budget.ts";
import { type Clock, SYSTEM_CLOCK } from "../clock.ts";
import type { Logger } from "../log.ts";
import { AcceptWatchdog, type ProbeOutcome } from "./accept_watchdog.ts";
import { admissionLimits, ConnectionLedger } from "./admission.ts";
import { type ConnectionCounts, ConnectionMonitor } from "./connection_monitor.ts";
import { WsConnection } from "./connection.ts";
import { isOutOfDescriptors } from "../descriptors.ts";
import { acceptValue, checkUpgradeRequest, HttpHeadError, parseHead } from "./http_head.ts";
import { tlsBinding } from "./tls_binding.ts";
import type { WriteLimits } from "./write_limits.ts";

/** What a route handler gets: the open connection and a way to end the deadline. */
export interface Accepted {
  ws: WsConnection;
  /**
   * Call once the peer has proven who it is and is let in (a linked peer,
   * an enrolled client): the deadline ends, the connection leaves the
   * unauthenticated pool, and its address is remembered as known, which
   * keeps slots for it during a flood. Not for peers about to be refused.
   * `stranger`: a node an open node links at first contact, which the owner
   * did not vouch for (rated by its network still: admission.ts).
   */
  authenticated(options?: { stranger?: boolean }): void;
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
  /** Not-yet-authenticated connections from strangers (default: half of `maxConnections`). */
  maxUnauthenticatedConnections?: number;
  /** Of those, from one network (/24, /48) (default: a quarter of them, budget.ts `networkShare`). */
  maxUnauthenticatedConnectionsPerNetwork?: number;
  /** Slots of `maxConnections` only known addresses may use (default: an eighth of it). */
  reservedKnownConnections?: number;
  /** TLS + upgrade + authentication must finish within this. */
  handshakeTimeoutMs: number;
  maxMessageBytes: number;
  /** Limits on each connection's unsent bytes (write_limits.ts). */
  write?: Partial<WriteLimits>;
  routes: Record<string, (accepted: Accepted) => void>;
  log: Logger;
  clock?: Clock;
  /** Where the listener's caps are shown; they are registered there. */
  budgets?: BudgetRegistry;
  /** New connections per address key and minute (default: unlimited). */
  handshakesPerAddressPerMinute?: number;
  /** New connections from unknown addresses per network (/24, /48) and minute (default: unlimited). */
  handshakesPerNetworkPerMinute?: number;
  /** Addresses to treat as known from the start (the owner's peers from the store). */
  knownAddresses?: Iterable<string>;
  /** Addresses known from the start only as an open node's strangers' (from the store). */
  knownStrangerAddresses?: Iterable<string>;
  /** Shared counts of faults, stalls and pauses (default: the listener's own). */
  monitor?: ConnectionMonitor;
  /** How often the watchdog checks the listener accepts (default 2 s). */
  watchdogIntervalMs?: number;
}

/** Counts of a listener, for `status --json`. */
export interface WssServerStats extends ConnectionCounts {
  /** Connections accepted since start (refused ones included). */
  accepted: number;
  /** Open connections now. */
  open: number;
}

/** A running listener. */
export interface WssServer {
  /** The bound port (useful with port 0). */
  port: number;
  /** Open connections now. */
  connections(): number;
  /** The caps with their use and refusals (lib/budget.ts views), by name. */
  view(): Record<string, BudgetView>;
  /** What the connection layer did: faults, stalls, pauses, descriptor shortages. */
  stats(): WssServerStats;
  close(): Promise<void>;
}

const PROBE_TIMEOUT_MS = 1000;

/** Starts the listener; resolves once it is bound. */
export async function startWssServer(options: WssServerOptions): Promise<WssServer> {
  const { handshakeTimeoutMs, log, clock = SYSTEM_CLOCK } = options;
  const limits = admissionLimits({
    maxConnections: options.maxConnections,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress,
    maxUnauthenticated: options.maxUnauthenticatedConnections,
    maxUnauthenticatedPerNetwork: options.maxUnauthenticatedConnectionsPerNetwork,
    reservedKnown: options.reservedKnownConnections,
    handshakesPerAddressPerMinute: options.handshakesPerAddressPerMinute,
    handshakesPerNetworkPerMinute: options.handshakesPerNetworkPerMinute,
  });
  const ledger = new ConnectionLedger({
    limits,
    log,
    clock,
    budgets: options.budgets,
    known: options.knownAddresses,
    knownStrangers: options.knownStrangerAddresses,
  });
  const monitor = options.monitor ?? new ConnectionMonitor({ log, clock });
  // Per-connection events a flood repeats thousands of times: one line per kind per 10 s.
  const quiet = new ThrottledLog(
    { ...log, info: (m, f) => log.debug(m, f) } as Logger,
    clock,
    { intervalMs: 10_000 },
  );
  const sockets = new Set<Socket>();
  const probePorts = new Set<number>();
  let acceptWaiters: Array<() => void> = [];
  let closing = false;
  let server: net.Server;
  let port = options.port;

  const probeHost = options.host === "0.0.0.0"
    ? "127.0.0.1"
    : options.host === "::"
    ? "::1"
    : options.host;
  const probe = () =>
    new Promise<ProbeOutcome>((resolve) => {
      let sock: Socket;
      let localPort: number | undefined;
      const finish = (outcome: ProbeOutcome) => {
        clock.clearTimer(timer);
        acceptWaiters = acceptWaiters.filter((w) => w !== onAccept);
        if (localPort !== undefined) probePorts.delete(localPort);
        sock?.destroy();
        resolve(outcome);
      };
      const onAccept = () => finish("accepted");
      const timer = clock.setTimer(() => finish("not-accepted"), PROBE_TIMEOUT_MS);
      acceptWaiters.push(onAccept);
      try {
        sock = net.connect({ host: probeHost, port });
      } catch (e) {
        return finish(isOutOfDescriptors(e) ? "no-descriptors" : "not-accepted");
      }
      sock.once("connect", () => {
        localPort = sock.localPort;
        if (localPort !== undefined) probePorts.add(localPort);
      });
      sock.once("error", (e: Error) => {
        if (isOutOfDescriptors(e)) finish("no-descriptors");
      });
    });

  const relisten = async () => {
    server.close();
    const next = makeServer();
    // The old socket closes asynchronously: retry while the port is still taken.
    for (let attempt = 0;; attempt++) {
      try {
        await listen(next, port);
        break;
      } catch (e) {
        if ((e as { code?: string }).code !== "EADDRINUSE" || attempt >= 20) throw e;
        await new Promise((r) => clock.setTimer(() => r(undefined), 50));
      }
    }
    if (closing) next.close();
    else server = next;
  };

  const watchdog = new AcceptWatchdog({
    clock,
    intervalMs: options.watchdogIntervalMs,
    probe,
    relisten,
    report: (event, error) => {
      if (event === "no-descriptors") monitor.descriptorShortage("probe", "EMFILE");
      else if (event === "stuck") monitor.listenerStuck(false);
      else if (event === "relistened") monitor.listenerStuck(true);
      else if (isOutOfDescriptors(error)) {
        monitor.descriptorShortage("listen", (error as Error).message);
      } else log.error("cannot listen again", { why: (error as Error)?.message });
    },
  });

  // TLS starts only for admitted connections: a refusal costs an accept and a close
  // (measured: ~90 µs of CPU, against ~500 µs when a tls.Server wraps every socket first).
  const secureContext = tls.createSecureContext({ cert: options.cert, key: options.key });

  const onConnection = (raw: Socket) => {
    watchdog.accepted();
    for (const w of acceptWaiters) w();
    acceptWaiters = [];
    raw.on("error", () => raw.destroy());
    if (raw.remotePort !== undefined && probePorts.has(raw.remotePort)) return raw.destroy();
    const { ticket } = ledger.admit(raw.remoteAddress);
    if (!ticket) return raw.destroy();
    sockets.add(raw);
    const deadline = clock.setTimer(() => {
      quiet.write("info", "deadline", "connections closed: handshake deadline", {
        addr: raw.remoteAddress,
        ms: handshakeTimeoutMs,
      });
      raw.destroy();
    }, handshakeTimeoutMs);
    const done = () => {
      clock.clearTimer(deadline);
      sockets.delete(raw);
      ledger.closed(ticket);
    };
    raw.once("close", done);
    const sock = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext,
      ALPNProtocols: ["http/1.1"],
    } as tls.TLSSocketOptions);
    sock.on("error", (e: Error) => {
      quiet.write("info", "tls", "TLS connection failed", {
        addr: raw.remoteAddress,
        why: e.message,
      });
      sock.destroy();
      raw.destroy();
    });
    sock.once("close", done);
    sock.once("secure", () => {
      try {
        onSecure(sock, {
          authenticated: (o) => {
            clock.clearTimer(deadline);
            ledger.authenticated(ticket, o?.stranger);
          },
          monitor,
          clock,
        });
      } catch (e) {
        log.error("listener failed on a TLS connection", { why: (e as Error).message });
        sock.destroy();
      }
    });
    raw.resume();
  };

  const onSecure = (sock: tls.TLSSocket, context: UpgradeContext) => {
    sock.setNoDelay(true);
    readUpgrade(sock, options, context).catch((e) => {
      quiet.write("info", "upgrade", "upgrade failed", {
        addr: sock.remoteAddress,
        why: (e as Error).message,
      });
      sock.destroy();
    });
  };

  const makeServer = (): net.Server => {
    const s = net.createServer({ pauseOnConnect: true });
    s.on("connection", (raw: Socket) => {
      try {
        onConnection(raw);
      } catch (e) {
        log.error("listener failed on a new connection", { why: (e as Error).message });
        raw.destroy();
      }
    });
    s.on("error", (e: Error) => {
      if (isOutOfDescriptors(e)) monitor.descriptorShortage("accept", e.message);
      else log.error("listener error", { why: e.message });
    });
    return s;
  };

  const listen = (s: net.Server, port: number) =>
    new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, options.host, () => {
        s.off("error", reject);
        resolve();
      });
    });

  server = makeServer();
  await listen(server, options.port);
  port = (server.address() as { port: number }).port;
  watchdog.start();

  return {
    port,
    connections: () => ledger.open,
    view: () => ledger.view(),
    stats: () => ({ ...monitor.counts(), accepted: watchdog.accepts, open: ledger.open }),
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        watchdog.stop();
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

interface UpgradeContext {
  authenticated: Accepted["authenticated"];
  monitor: ConnectionMonitor;
  clock: Clock;
}

async function readUpgrade(
  sock: tls.TLSSocket,
  options: WssServerOptions,
  context: UpgradeContext,
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
    write: options.write,
    monitor: context.monitor,
    clock: context.clock,
    tlsBinding: tlsBinding(sock, "server"),
  });
  sock.resume();
  ws.guard(() => handler({ ws, authenticated: context.authenticated, headers: req.headers }));
}
