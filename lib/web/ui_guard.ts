/**
 * The one gate of the UI server: Host, Origin, Fetch Metadata, and the token
 * or the session cookie it is exchanged for. Every route and the WebSocket go
 * through {@linkcode UiGuard.check}.
 */

/** What the gate decides about one request. */
export type GuardDecision =
  | { kind: "pass" }
  | { kind: "refuse"; status: 400 | 403 | 405 | 421 }
  | { kind: "redirect"; location: string; setCookie: string };

const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Constant-time string comparison (lengths are not secret). */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** base64url without padding. */
export function base64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A fresh random token: 32 bytes, base64url. */
export function newToken(): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(TOKEN_BYTES)));
}

/** True when `text` has the shape of a token made by {@linkcode newToken}. */
export function isToken(text: string): boolean {
  return TOKEN_PATTERN.test(text);
}

/**
 * The session cookie's value: HMAC-SHA-256 of a fixed label under the token.
 * It is derived, not stored, so a page's cookie stays valid when the process
 * restarts with the same token, and the event socket reconnects by itself.
 */
export async function sessionFor(token: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(token),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode("fedchat-ui-session"));
  return base64Url(new Uint8Array(mac));
}

/** Options of {@linkcode UiGuard}. */
export interface UiGuardOptions {
  port: number;
  token: string;
  /** From {@linkcode sessionFor}. */
  session: string;
}

/** Checks requests against the loopback names, the UI's origin, and the token. */
export class UiGuard {
  #token: string;
  #session: string;
  #hosts: Set<string>;
  readonly cookieName: string;

  constructor({ port, token, session }: UiGuardOptions) {
    this.#token = token;
    this.#session = session;
    this.#hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
    this.cookieName = `fedchat_${port}`;
  }

  /** Decides about one request. */
  check(request: Request): GuardDecision {
    const h = request.headers;
    const host = (h.get("host") ?? "").toLowerCase();
    if (!this.#hosts.has(host)) return { kind: "refuse", status: 421 };
    const method = request.method;
    if (method !== "GET" && method !== "HEAD" && method !== "POST") {
      return { kind: "refuse", status: 405 };
    }
    const upgrade = (h.get("upgrade") ?? "").toLowerCase() === "websocket";
    const origin = h.get("origin");
    if (origin !== null && origin !== `http://${host}`) return { kind: "refuse", status: 403 };
    if (origin === null && (upgrade || method === "POST")) return { kind: "refuse", status: 403 };
    const site = h.get("sec-fetch-site");
    if (site !== null && site !== "same-origin" && site !== "none") {
      return { kind: "refuse", status: 403 };
    }
    const url = new URL(request.url);
    const token = url.searchParams.get("token");
    if (token !== null) {
      if (!sameText(token, this.#token)) return { kind: "refuse", status: 403 };
      if (method !== "GET" || upgrade) return { kind: "pass" };
      url.searchParams.delete("token");
      return {
        kind: "redirect",
        location: url.pathname + url.search,
        setCookie: `${this.cookieName}=${this.#session}; HttpOnly; SameSite=Strict; Path=/`,
      };
    }
    const auth = h.get("authorization");
    if (auth !== null && auth.startsWith("Bearer ") && sameText(auth.slice(7), this.#token)) {
      return { kind: "pass" };
    }
    const cookie = this.#cookie(h.get("cookie"));
    if (cookie !== null && sameText(cookie, this.#session)) return { kind: "pass" };
    return { kind: "refuse", status: 403 };
  }

  #cookie(header: string | null): string | null {
    if (!header) return null;
    for (const part of header.split(";")) {
      const eq = part.indexOf("=");
      if (eq < 0) continue;
      if (part.slice(0, eq).trim() === this.cookieName) return part.slice(eq + 1).trim();
    }
    return null;
  }
}
