/**
 * HTTP/1.1 on one UI connection: request heads under a deadline, bodies as
 * pull streams, answers written under the idle deadline, keep-alive for
 * signed-in browsers, and the hand-over of a WebSocket upgrade. A refusal to
 * a connection that has not signed in closes it, so a refused peer cannot
 * hold a connection open (the "403 then kept open" attack).
 */
import type { Logger } from "../log.ts";
import type { ConnIo } from "./conn_io.ts";
import { requestBody } from "./http_request_body.ts";
import { checkRequestHead, findRequestHead, type RequestHead } from "./http_request_head.ts";
import { responseHead, writeResponse } from "./http_response_writer.ts";
import { WebError } from "./web_error.ts";

/** What the app sees of one request. */
export interface HttpExchange {
  request: Request;
  /** The peer's address as the kernel reported it. */
  remoteAddress: string;
  /** Marks the connection as a signed-in browser's (kept alive, never pushed out by a flood). */
  trust(): void;
  /**
   * Present on WebSocket upgrade requests: accepts the upgrade once the app
   * has checked it. The returned response only passes through the app's
   * middleware; the connection answers `101` and calls `onOpen` instead.
   */
  upgrade?: (accept: UpgradeAcceptance) => Response;
}

/** How the app takes over an upgraded connection. */
export interface UpgradeAcceptance {
  /** `Sec-WebSocket-Protocol` to answer with (one the browser offered). */
  protocol: string | null;
  /** `Sec-WebSocket-Accept` value. */
  accept: string;
  onOpen: (io: ConnIo) => void;
}

/** The app behind the connections. */
export type HttpHandler = (exchange: HttpExchange) => Promise<Response>;

/** Options of {@linkcode serveHttpConnection}. */
export interface HttpConnectionOptions {
  handler: HttpHandler;
  /** The UI's port, for request URLs (the Host header is checked by the app's guard). */
  port: number;
  headTimeoutMs: number;
  idleTimeoutMs: number;
  /** Largest body of any request; routes cap theirs lower. */
  maxBodyBytes: number;
  /** Called once, when a request on this connection proved a session. */
  onTrusted: () => void;
  log: Logger;
}

const te = new TextEncoder();

async function readHead(io: ConnIo): Promise<RequestHead | null> {
  let buf = new Uint8Array(0);
  for (;;) {
    const bytes = await io.read();
    if (bytes === null) return null;
    const next = new Uint8Array(buf.length + bytes.length);
    next.set(buf);
    next.set(bytes, buf.length);
    buf = next;
    const found = findRequestHead(buf);
    if (found) {
      io.unread(found.rest);
      return checkRequestHead(found.head);
    }
  }
}

/** Serves requests on `io` until it closes; never throws. */
export async function serveHttpConnection(
  io: ConnIo,
  options: HttpConnectionOptions,
): Promise<void> {
  const { handler, port, headTimeoutMs, idleTimeoutMs, maxBodyBytes, log } = options;
  let trusted = false;
  /** Answers `status` with no body and closes. */
  const refuse = async (status: number) => {
    io.deadline(idleTimeoutMs, "write");
    await io.write(responseHead(status, { extra: ["content-length: 0", "connection: close"] }));
    io.clearDeadline();
    await io.finish();
  };
  const trust = () => {
    if (trusted) return;
    trusted = true;
    options.onTrusted();
  };
  try {
    while (!io.closed) {
      io.deadline(headTimeoutMs, "head");
      let head: RequestHead | null;
      try {
        head = await readHead(io);
      } catch (err) {
        if (!(err instanceof WebError)) throw err;
        log.debug("request refused", { status: err.status, addr: io.remoteAddress });
        return await refuse(err.status);
      }
      io.clearDeadline();
      if (head === null) return;
      if (head.contentLength > maxBodyBytes) return await refuse(413);
      const body = head.contentLength > 0
        ? requestBody(io, {
          length: head.contentLength,
          idleTimeoutMs,
          beforeFirstRead: head.expectContinue
            ? async () => void await io.write(te.encode("HTTP/1.1 100 Continue\r\n\r\n"))
            : undefined,
        })
        : null;
      const request = new Request(`http://127.0.0.1:${port}${head.target}`, {
        method: head.method,
        headers: [...head.headers],
        body: body?.stream ?? null,
        duplex: "half",
      } as RequestInit);
      let accepted: UpgradeAcceptance | null = null;
      const exchange: HttpExchange = {
        request,
        remoteAddress: io.remoteAddress,
        trust,
        upgrade: head.upgrade
          ? (acceptance) => {
            accepted = acceptance;
            return new Response(null, { status: 200 });
          }
          : undefined,
      };
      let response: Response;
      try {
        response = await handler(exchange);
      } catch (err) {
        log.error("request failed", { error: err instanceof Error ? err.name : "unknown" });
        response = new Response(null, { status: 500 });
      }
      if (accepted !== null && response.status === 200 && !io.closed) {
        const a: UpgradeAcceptance = accepted;
        const ok = await io.write(responseHead(101, {
          extra: [
            "upgrade: websocket",
            "connection: Upgrade",
            `sec-websocket-accept: ${a.accept}`,
            ...(a.protocol ? [`sec-websocket-protocol: ${a.protocol}`] : []),
          ],
        }));
        if (ok) a.onOpen(io);
        return;
      }
      const bodyDone = body === null || body.complete();
      const keepAlive = head.keepAlive && bodyDone && !head.upgrade &&
        (trusted || response.status < 400) &&
        response.headers.get("connection")?.toLowerCase() !== "close";
      const written = await writeResponse(io, response, {
        head: head.method === "HEAD",
        close: !keepAlive,
        idleTimeoutMs,
      });
      if (!written) return;
      if (!keepAlive) return await io.finish();
    }
  } catch (err) {
    log.warn("connection failed", { error: err instanceof Error ? err.name : "unknown" });
    io.close("error");
  }
}
