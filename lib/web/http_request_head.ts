/**
 * An HTTP/1.1 request head as the UI server accepts it (RFC 9112), checked
 * strictly: the only honest client is a browser on loopback, so anything
 * unusual (chunked bodies, absolute targets, two lengths) is refused rather
 * than interpreted.
 */
import { type HttpHead, HttpHeadError, MAX_HEAD_BYTES, parseHead } from "../wss/http_head.ts";
import { BadRequestError, WebError } from "./web_error.ts";

export { MAX_HEAD_BYTES };

/** A request head that passed the checks. */
export interface RequestHead {
  method: string;
  /** Origin-form target: path and query, as sent. */
  target: string;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Map<string, string>;
  /** Body length from Content-Length (0 without one). */
  contentLength: number;
  /** Whether the connection may carry another request after this one. */
  keepAlive: boolean;
  /** Whether the client asked for `100 Continue` before sending the body. */
  expectContinue: boolean;
  /** A WebSocket upgrade (`Upgrade: websocket` with `Connection: upgrade`). */
  upgrade: boolean;
}

const START_LINE = /^([A-Z]{1,16}) (\/[\x21-\x7e]{0,4095}) HTTP\/1\.([01])$/;

/**
 * Escapes the router would decode into characters that can also be written
 * plainly: letters, digits, `-._~`, `/` and `%`. A path is refused when it
 * has one, so the path the guard reads (`/%61pi/state`) and the path the
 * router matches (`/api/state`) are never two different things.
 */
const AMBIGUOUS_ESCAPE =
  /%(?![0-9A-Fa-f]{2})|%(2[dDeEfF5]|3[0-9]|[46][1-9A-Fa-f]|[57][0-9aA]|5[fF]|7[eE])/;

function tokens(value: string | undefined): string[] {
  return (value ?? "").toLowerCase().split(",").map((t) => t.trim()).filter((t) => t !== "");
}

/**
 * Finds a whole head at the start of `buf`.
 *
 * @returns the head and the bytes after it, or null when more bytes are needed
 * @throws {WebError} 431 when the head is too large, 400 when it is malformed
 */
export function findRequestHead(buf: Uint8Array): { head: HttpHead; rest: Uint8Array } | null {
  try {
    return parseHead(buf);
  } catch (err) {
    if (err instanceof HttpHeadError) {
      throw new WebError(`Cannot read request: ${err.message}`, err.status, { cause: err });
    }
    throw err;
  }
}

/**
 * Checks a parsed head.
 *
 * @throws {WebError} with the status to answer (400, 501, 505)
 */
export function checkRequestHead(head: HttpHead): RequestHead {
  const m = START_LINE.exec(head.startLine);
  if (!m) {
    if (/ HTTP\/\d/.test(head.startLine) && !/ HTTP\/1\.[01]$/.test(head.startLine)) {
      throw new WebError("Cannot read request: only HTTP/1.1 is served", 505);
    }
    throw new BadRequestError("Cannot read request: bad request line");
  }
  const [, method, target, minor] = m;
  const path = target.split("?")[0];
  if (AMBIGUOUS_ESCAPE.test(path)) {
    throw new BadRequestError("Cannot read request: write the path without needless escapes");
  }
  const h = head.headers;
  if (h.has("transfer-encoding")) {
    throw new WebError("Cannot read request: send the body with Content-Length", 501);
  }
  let contentLength = 0;
  const declared = h.get("content-length");
  if (declared !== undefined) {
    if (!/^\d{1,15}$/.test(declared)) {
      throw new BadRequestError("Cannot read request: bad Content-Length");
    }
    contentLength = Number(declared);
  }
  if (contentLength > 0 && (method === "GET" || method === "HEAD")) {
    throw new BadRequestError(`Cannot read request: a ${method} request has no body`);
  }
  const connection = tokens(h.get("connection"));
  const keepAlive = minor === "1"
    ? !connection.includes("close")
    : connection.includes("keep-alive");
  return {
    method,
    target,
    headers: h,
    contentLength,
    keepAlive,
    expectContinue: tokens(h.get("expect")).includes("100-continue"),
    upgrade: tokens(h.get("upgrade")).includes("websocket") && connection.includes("upgrade"),
  };
}
