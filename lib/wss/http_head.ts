/**
 * The HTTP/1.1 part of a WebSocket upgrade (RFC 6455 §4), read with a size
 * cap: request heads on the server, response heads on the client.
 */

/** Largest request or response head accepted. */
export const MAX_HEAD_BYTES = 8192;

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** A parsed head: start line and lower-cased headers. */
export interface HttpHead {
  startLine: string;
  headers: Map<string, string>;
}

/** A head that cannot be parsed or is too large. */
export class HttpHeadError extends Error {
  readonly status: number;
  constructor(message: string, status = 400) {
    super(message);
    this.name = "HttpHeadError";
    this.status = status;
  }
}

/**
 * Looks for the end of a head in `buf`. Returns the head and the bytes after
 * it, or null when more bytes are needed.
 *
 * @throws {HttpHeadError} too large or malformed
 */
export function parseHead(buf: Uint8Array): { head: HttpHead; rest: Uint8Array } | null {
  let end = -1;
  for (let i = 3; i < buf.length; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) {
      end = i + 1;
      break;
    }
  }
  if (end < 0) {
    if (buf.length > MAX_HEAD_BYTES) throw new HttpHeadError("head too large", 431);
    return null;
  }
  if (end > MAX_HEAD_BYTES) throw new HttpHeadError("head too large", 431);
  const text = new TextDecoder("latin1").decode(buf.subarray(0, end - 4));
  if (/[^\t\r\n\x20-\x7e]/.test(text)) throw new HttpHeadError("non-ASCII head");
  const lines = text.split("\r\n");
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HttpHeadError("malformed header line");
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) throw new HttpHeadError("bad header name");
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  return { head: { startLine: lines[0], headers }, rest: buf.subarray(end) };
}

/** RFC 6455 §4.2.2: the Sec-WebSocket-Accept value for a key. */
export async function acceptValue(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + WS_GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** A valid upgrade request: the path and the client's key. */
export interface UpgradeRequest {
  path: string;
  key: string;
  headers: Map<string, string>;
}

/**
 * Checks a request head is a WebSocket upgrade (RFC 6455 §4.2.1).
 *
 * @throws {HttpHeadError} with the status to answer
 */
export function checkUpgradeRequest(head: HttpHead): UpgradeRequest {
  const m = /^GET (\/[\x21-\x7e]{0,255}) HTTP\/1\.1$/.exec(head.startLine);
  if (!m) throw new HttpHeadError("not a GET HTTP/1.1 request");
  const h = head.headers;
  const tokens = (name: string) =>
    (h.get(name) ?? "").toLowerCase().split(",").map((t) => t.trim());
  if (!tokens("upgrade").includes("websocket") || !tokens("connection").includes("upgrade")) {
    throw new HttpHeadError("not a WebSocket upgrade", 426);
  }
  if (h.get("sec-websocket-version") !== "13") throw new HttpHeadError("version must be 13", 426);
  const key = h.get("sec-websocket-key") ?? "";
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) throw new HttpHeadError("bad Sec-WebSocket-Key");
  return { path: m[1], key, headers: h };
}
