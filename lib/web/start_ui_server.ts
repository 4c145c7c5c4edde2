/**
 * Starts the UI server on loopback: the token (see {@linkcode UiToken}), the
 * sessions of this process, the guard, the app of the manifest the caller
 * hands in, and a listener with connection caps and deadlines.
 */
import type { ClientApi } from "../client/api.ts";
import { type Clock, SYSTEM_CLOCK } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { UiLimits } from "../ui/mod.ts";
import { EventStream } from "./event_stream.ts";
import { serveHttpConnection } from "./http_connection.ts";
import type { RouteManifest } from "./route_types.ts";
import { createUiApp } from "./ui_app.ts";
import { UiConnections, type UiConnectionsView } from "./ui_connections.ts";
import { UiGuard } from "./ui_guard.ts";
import { startUiListener } from "./ui_listener.ts";
import { UiSessions } from "./ui_sessions.ts";
import { UiToken } from "./ui_token.ts";

/** Caps and deadlines of the UI port (config.conf `[UI]`). */
export interface UiServerLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** A request head (the first, or the next on a kept-alive connection) must be whole by then. */
  headTimeoutMs: number;
  /** Silence allowed while the server waits on the peer (a body, a write, the event socket). */
  idleTimeoutMs: number;
  /** Largest upload from the browser. */
  maxUploadBytes: number;
}

/** Defaults of {@linkcode UiServerLimits} (the same as config.conf's). */
export const UI_SERVER_DEFAULTS: Readonly<UiServerLimits> = Object.freeze({
  maxConnections: 128,
  maxConnectionsPerAddress: 64,
  headTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  maxUploadBytes: 8 * 1024 ** 3,
});

/** Options of {@linkcode startUiServer}. */
export interface UiServerOptions {
  /** The client core the UI is a view of. */
  client: ClientApi;
  /** The routes (routes/mod.ts), handed in by the composition root. */
  manifest: RouteManifest;
  /** Limits the client core enforces, shown to the page (`MAX_MESSAGE_CHARS`). */
  clientLimits: UiLimits;
  /** Only loopback is accepted; default `127.0.0.1` (and `::1` on the same port when available). */
  host?: "127.0.0.1";
  /** 0 picks a free port. */
  port: number;
  /** Where the token is written, mode 0600 (reused across restarts when `port` is fixed). */
  tokenFile: string;
  limits?: Partial<UiServerLimits>;
  clock?: Clock;
  log: Logger;
}

/** What `ui-status` shows. */
export interface UiServerStatus {
  port: number;
  connections: UiConnectionsView;
  sessions: number;
  eventSockets: number;
  acceptErrors: number;
}

/** A running UI server. */
export interface UiServer {
  /** `http://127.0.0.1:PORT/?token=…` with the current token: open this in a browser. */
  readonly url: string;
  port: number;
  /**
   * Signs out every session (but `keepId`'s) and replaces the token, so the
   * old URL stops working too; open pages of those sessions are told.
   */
  signOut(keepId?: string | null): Promise<{ url: string; token: string; signedOut: number }>;
  status(): UiServerStatus;
  /** Stops listening and closes every connection and event socket. */
  close(): Promise<void>;
}

/** JSON body cap: the longest message, every character escaped (`\u0000`), plus the envelope. */
function jsonCap(limits: UiLimits): number {
  return limits.maxMessageChars * 6 + 4096;
}

/** See {@linkcode UiServerOptions}. */
export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const { client, manifest, clientLimits, host = "127.0.0.1", port, tokenFile, log } = options;
  const clock = options.clock ?? SYSTEM_CLOCK;
  const limits: UiServerLimits = { ...UI_SERVER_DEFAULTS, ...options.limits };
  if (host !== "127.0.0.1") {
    throw new RangeError(`Cannot start UI server on "${host}": it listens on loopback only`);
  }
  const token = await UiToken.open({ path: tokenFile, reuse: port !== 0 });
  const sessions = new UiSessions({ clock });
  const events = new EventStream({ client, log, clock, idleTimeoutMs: limits.idleTimeoutMs });
  const connections = new UiConnections({
    maxConnections: limits.maxConnections,
    maxPerAddress: limits.maxConnectionsPerAddress,
  });
  const signOut = async (keepId: string | null = null) => {
    const gone = new Set(sessions.revokeAll(keepId));
    const next = await token.rotate();
    events.closeSessions((id) => gone.has(id));
    log.info("UI sessions signed out; new token", { signedOut: gone.size, kept: keepId !== null });
    return { token: next, signedOut: gone.size };
  };
  // The app needs the port (for the guard), the listener needs the app: bind first.
  let app: ReturnType<typeof createUiApp> | null = null;
  const listener = startUiListener({
    port,
    connections,
    clock,
    log,
    onConnection: ({ io, trust }) => {
      if (!app) return io.close("starting");
      void serveHttpConnection(io, {
        handler: (exchange) => Promise.resolve(app!.fetch(exchange.request, exchange)),
        port: listener.port,
        headTimeoutMs: limits.headTimeoutMs,
        idleTimeoutMs: limits.idleTimeoutMs,
        maxBodyBytes: limits.maxUploadBytes,
        onTrusted: trust,
        log,
      });
    },
  });
  app = createUiApp({
    client,
    guard: new UiGuard({ port: listener.port, sessions, token: () => token.value }),
    sessions,
    token: () => token.value,
    signOut,
    events,
    manifest,
    limits: clientLimits,
    maxJsonBytes: jsonCap(clientLimits),
    clock,
    log,
  });
  log.info("UI listening", { port: listener.port, ipv6: listener.ipv6 });
  let closed: Promise<void> | null = null;
  const urlOf = () => `http://127.0.0.1:${listener.port}/?token=${token.value}`;
  return {
    get url() {
      return urlOf();
    },
    port: listener.port,
    signOut: async (keepId = null) => ({ ...(await signOut(keepId)), url: urlOf() }),
    status: () => ({
      port: listener.port,
      connections: connections.view(),
      sessions: sessions.size,
      eventSockets: events.size,
      acceptErrors: listener.acceptErrors(),
    }),
    close: () => {
      closed ??= (async () => {
        events.closeAll();
        await listener.close();
      })();
      return closed;
    },
  };
}
