/**
 * Starts the UI server on loopback: a random token (kept in a 0600 file and
 * reused on restart), 127.0.0.1 and ::1 on one port, and the app of {@linkcode createUiApp}.
 */
import type { ClientApi } from "../client/api.ts";
import type { Logger } from "../log.ts";
import { MANIFEST } from "../../routes/mod.ts";
import { EventStream } from "./event_stream.ts";
import { createUiApp } from "./ui_app.ts";
import { isToken, newToken, sessionFor, UiGuard } from "./ui_guard.ts";

/** Options of {@linkcode startUiServer}. */
export interface UiServerOptions {
  /** The client core the UI is a view of. */
  client: ClientApi;
  /** Only loopback is accepted; default `127.0.0.1` (and `::1` on the same port when available). */
  host?: "127.0.0.1";
  /** 0 picks a free port. */
  port: number;
  /** Where the token is written, mode 0600. */
  tokenFile: string;
  log: Logger;
}

/** A running UI server. */
export interface UiServer {
  /** `http://127.0.0.1:PORT/?token=…`: open this in a browser. */
  url: string;
  port: number;
  /** Stops listening and closes every event socket. */
  close(): Promise<void>;
}

/**
 * The token kept in `path` when it is well-formed and readable by its owner
 * only (so pages survive a restart), else a new one written with mode 0600.
 */
async function loadOrWriteToken(path: string): Promise<string> {
  try {
    const info = await Deno.stat(path);
    const text = (await Deno.readTextFile(path)).trim();
    if (info.isFile && info.mode !== null && (info.mode & 0o077) === 0 && isToken(text)) {
      return text;
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const token = newToken();
  await Deno.writeTextFile(path, token + "\n", { mode: 0o600 });
  await Deno.chmod(path, 0o600);
  return token;
}

/** See {@linkcode UiServerOptions}. */
export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const { client, host = "127.0.0.1", port, tokenFile, log } = options;
  if (host !== "127.0.0.1") {
    throw new RangeError(`Cannot start UI server on "${host}": it listens on loopback only`);
  }
  const token = await loadOrWriteToken(tokenFile);
  const session = await sessionFor(token);
  let handler: Deno.ServeHandler = () => new Response(null, { status: 503 });
  const serve = (hostname: string, p: number) =>
    Deno.serve({ hostname, port: p, onListen() {} }, (req, info) => handler(req, info));
  const v4 = serve("127.0.0.1", port);
  const actualPort = v4.addr.port;
  const servers: Deno.HttpServer<Deno.NetAddr>[] = [v4];
  try {
    servers.push(serve("::1", actualPort));
  } catch (err) {
    log.info("UI not on ::1", { reason: err instanceof Error ? err.name : "unknown" });
  }
  const events = new EventStream(client, log);
  const app = createUiApp({
    client,
    guard: new UiGuard({ port: actualPort, token, session }),
    events,
    manifest: MANIFEST,
    log,
  });
  handler = (req, info) => app.fetch(req, { info });
  log.info("UI listening", { port: actualPort, ipv6: servers.length > 1 });
  let closed: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${actualPort}/?token=${token}`,
    port: actualPort,
    close: () => {
      closed ??= (async () => {
        events.closeAll();
        await Promise.all(servers.map((s) => s.shutdown()));
      })();
      return closed;
    },
  };
}
