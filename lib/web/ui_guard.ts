/**
 * The one gate of the UI server: every request and the event WebSocket pass
 * {@linkcode UiGuard.check} before anything else runs. It checks Host (a
 * loopback name with our port), the method, Origin and Fetch Metadata, and
 * the credential: a session secret in the `x-fedchat-session` header (or, on
 * a WebSocket, in a subprotocol), or the token as `Authorization: Bearer`
 * (scripts). Browsers never attach either by themselves, so nothing the
 * browser holds for 127.0.0.1 reaches another port, and no other port's page
 * can make a credentialed request here. Data lives only under `/api/`;
 * everything else (the page shell, the bundles) is the same for everyone.
 * A `?token=` in a URL is never a credential to the server: the page reads
 * it and proves it holds it (see `UiSessions`).
 */
import { SESSION_HEADER, SESSION_PROTOCOL_PREFIX } from "../ui/mod.ts";
import type { UiSessions } from "./ui_sessions.ts";
import { sameText } from "./ui_sessions.ts";

/** Who a request comes from. */
export type UiAuthLevel =
  | { kind: "none" }
  | { kind: "session"; id: string }
  | { kind: "bearer" };

/** What the gate decides about one request. */
export type GuardDecision =
  | { kind: "pass"; auth: UiAuthLevel }
  | { kind: "refuse"; status: 401 | 403 | 405 | 421 };

/** Options of {@linkcode UiGuard}. */
export interface UiGuardOptions {
  port: number;
  sessions: UiSessions;
  /** The current token (it changes when every browser is signed out). */
  token: () => string;
}

/** Paths under /api/ that need no session: the sign-in itself. */
const PUBLIC_API = new Set(["/api/session"]);

/** Checks requests against the loopback names, the UI's origin, and the credential. */
export class UiGuard {
  #sessions: UiSessions;
  #token: () => string;
  #hosts: Set<string>;

  constructor({ port, sessions, token }: UiGuardOptions) {
    this.#sessions = sessions;
    this.#token = token;
    this.#hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
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
    const auth = this.#credential(h, upgrade);
    const path = new URL(request.url).pathname;
    const needsSession = path.startsWith("/api/") && !PUBLIC_API.has(path);
    if (needsSession && auth.kind === "none") return { kind: "refuse", status: 401 };
    return { kind: "pass", auth };
  }

  #credential(h: Headers, upgrade: boolean): UiAuthLevel {
    const header = h.get(SESSION_HEADER);
    let secret = header;
    if (secret === null && upgrade) {
      const offered = (h.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
      const carried = offered.find((p) => p.startsWith(SESSION_PROTOCOL_PREFIX));
      secret = carried ? carried.slice(SESSION_PROTOCOL_PREFIX.length) : null;
    }
    if (secret !== null) {
      const session = this.#sessions.verify(secret);
      return session ? { kind: "session", id: session.id } : { kind: "none" };
    }
    const bearer = h.get("authorization");
    if (
      bearer !== null && bearer.startsWith("Bearer ") && sameText(bearer.slice(7), this.#token())
    ) {
      return { kind: "bearer" };
    }
    return { kind: "none" };
  }
}
