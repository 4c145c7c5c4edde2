/**
 * Writes a fetch `Response` on a UI connection as HTTP/1.1: small bodies
 * with Content-Length, larger ones chunked as they stream, every write
 * under the idle deadline (a peer that stops reading is dropped).
 */
import type { ConnIo } from "./conn_io.ts";

/** Bodies up to this size are sent with Content-Length, larger ones chunked. */
const BUFFER_BYTES = 64 * 1024;

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  204: "No Content",
  303: "See Other",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/** Headers the connection layer sets itself. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "upgrade",
]);

const te = new TextEncoder();

/** Options of {@linkcode writeResponse}. */
export interface WriteResponseOptions {
  /** A HEAD request: headers only. */
  head: boolean;
  /** Ask the peer to close after this answer. */
  close: boolean;
  idleTimeoutMs: number;
}

/** Options of {@linkcode responseHead}. */
export interface ResponseHeadOptions {
  /** The response's own headers (hop-by-hop ones are dropped). */
  headers?: Iterable<[string, string]>;
  /** Lines the connection adds (`content-length: 5`, `connection: close`). */
  extra?: string[];
}

/** The status line and headers, ending with the blank line. */
export function responseHead(
  status: number,
  { headers = [], extra = [] }: ResponseHeadOptions,
): Uint8Array {
  let text = `HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}\r\n`;
  for (const [k, v] of headers) {
    if (HOP_BY_HOP.has(k.toLowerCase())) continue;
    // Values come from our own code; a line break would still be refused here.
    if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) continue;
    text += `${k}: ${v}\r\n`;
  }
  for (const line of extra) text += `${line}\r\n`;
  return te.encode(text + "\r\n");
}

/**
 * Writes `response`; resolves false when the connection failed on the way
 * (the body is cancelled then).
 */
export async function writeResponse(
  io: ConnIo,
  response: Response,
  options: WriteResponseOptions,
): Promise<boolean> {
  const { head, close, idleTimeoutMs } = options;
  /** Writes `bytes` under the idle deadline. */
  const timedWrite = async (bytes: Uint8Array) => {
    io.deadline(idleTimeoutMs, "write");
    const ok = await io.write(bytes);
    io.clearDeadline();
    return ok;
  };
  const status = response.status;
  const connection = close ? "connection: close" : "connection: keep-alive";
  const noBody = head || status === 204 || status === 304 || response.body === null;
  if (noBody) {
    await response.body?.cancel().catch(() => {});
    const length = status === 204 || status === 304 ? [] : [
      `content-length: ${head ? (response.headers.get("content-length") ?? "0") : "0"}`,
    ];
    return await timedWrite(
      responseHead(status, { headers: response.headers, extra: [...length, connection] }),
    );
  }
  const reader = response.body!.getReader();
  try {
    // Read ahead up to BUFFER_BYTES: a body that ends by then goes out with its length.
    const first: Uint8Array[] = [];
    let buffered = 0;
    let ended = false;
    while (buffered <= BUFFER_BYTES) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      first.push(value);
      buffered += value.length;
    }
    if (ended) {
      const body = new Uint8Array(buffered);
      let at = 0;
      for (const c of first) {
        body.set(c, at);
        at += c.length;
      }
      const top = responseHead(status, {
        headers: response.headers,
        extra: [`content-length: ${buffered}`, connection],
      });
      const all = new Uint8Array(top.length + body.length);
      all.set(top);
      all.set(body, top.length);
      return await timedWrite(all);
    }
    const top = responseHead(status, {
      headers: response.headers,
      extra: ["transfer-encoding: chunked", connection],
    });
    if (!await timedWrite(top)) return false;
    const chunk = async (bytes: Uint8Array) => {
      if (bytes.length === 0) return true;
      const size = te.encode(`${bytes.length.toString(16)}\r\n`);
      const out = new Uint8Array(size.length + bytes.length + 2);
      out.set(size);
      out.set(bytes, size.length);
      out.set([13, 10], size.length + bytes.length);
      return await timedWrite(out);
    };
    for (const c of first) if (!await chunk(c)) return false;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!await chunk(value)) return false;
    }
    return await timedWrite(te.encode("0\r\n\r\n"));
  } finally {
    await reader.cancel().catch(() => {});
  }
}
