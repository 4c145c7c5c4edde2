/**
 * The UI server's Hono app: the guard in front of everything, security
 * headers on every answer, the embedded bundles, the data-free page shell,
 * the sign-in (`/api/session`), each page's content (`/api/page`), and the
 * API routes of the manifest the composition root hands in.
 */
import { Hono } from "hono";
import type { ClientApi } from "../client/api.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { EVENTS_PROTOCOL, type UiLimits, type UiSnapshot } from "../ui/mod.ts";
import { acceptValue } from "../wss/http_head.ts";
import { BUNDLES } from "./_bundles.ts";
import type { EventStream } from "./event_stream.ts";
import type { HttpExchange } from "./http_connection.ts";
import { matchPage } from "./page_match.ts";
import { qrPath } from "./qr_path.ts";
import { renderPage } from "./render_page.ts";
import type { ApiContext, RouteContext, RouteManifest } from "./route_types.ts";
import { SHELL_HTML } from "./shell_page.ts";
import type { UiAuthLevel, UiGuard } from "./ui_guard.ts";
import type { UiSessions } from "./ui_sessions.ts";
import { BadRequestError, NotFoundError, PayloadTooLargeError, WebError } from "./web_error.ts";

/** Headers on every answer, refusals included. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; " +
    "frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-resource-policy": "same-origin",
  "cross-origin-opener-policy": "same-origin",
};

/** Largest body of a sign-in request. */
const MAX_SESSION_BODY_BYTES = 1024;

/** Options of {@linkcode createUiApp}. */
export interface UiAppOptions {
  client: ClientApi;
  guard: UiGuard;
  sessions: UiSessions;
  /** The current token (for checking sign-in proofs). */
  token: () => string;
  /** Signs out every session but `keepId` and replaces the token; returns the new token. */
  signOut: (keepId: string | null) => Promise<{ token: string; signedOut: number }>;
  events: EventStream;
  manifest: RouteManifest;
  limits: UiLimits;
  /** Largest JSON body read from the browser. */
  maxJsonBytes: number;
  clock: Clock;
  log: Logger;
}

type Env = { Bindings: HttpExchange; Variables: { auth: UiAuthLevel } };

function refusal(status: number): Response {
  return new Response(null, { status, headers: SECURITY_HEADERS });
}

function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}

/**
 * Reads a JSON body of at most `maxBytes`.
 *
 * @throws {BadRequestError} not sent as JSON, empty, or not JSON
 * @throws {PayloadTooLargeError} larger than `maxBytes`
 */
export async function readJson(request: Request, maxBytes: number): Promise<unknown> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/json")) {
    throw new BadRequestError("Cannot read body: send application/json");
  }
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    throw new PayloadTooLargeError(`Cannot read body: over ${maxBytes} bytes`);
  }
  if (!request.body) throw new BadRequestError("Cannot read body: empty");
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of request.body) {
    total += chunk.length;
    if (total > maxBytes) {
      throw new PayloadTooLargeError(`Cannot read body: over ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw new BadRequestError("Cannot read body: not JSON", { cause: err });
  }
}

/** Builds the app; the UI's connections call `app.fetch(request, exchange)`. */
export function createUiApp(options: UiAppOptions): Hono<Env> {
  const { client, guard, sessions, events, manifest, limits, maxJsonBytes, clock, log } = options;
  const app = new Hono<Env>();

  app.use("*", async (c, next) => {
    const decision = guard.check(c.req.raw);
    if (decision.kind === "refuse") {
      log.debug("refused", { status: decision.status, method: c.req.method });
      return refusal(decision.status);
    }
    c.set("auth", decision.auth);
    if (decision.auth.kind !== "none") c.env?.trust();
    await next();
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(k, v);
  });

  app.get("/static/:file", (c) => {
    const asset = Object.hasOwn(BUNDLES, c.req.param("file")) ? BUNDLES[c.req.param("file")] : null;
    if (!asset) return refusal(404);
    if (c.req.header("if-none-match") === asset.etag) return new Response(null, { status: 304 });
    return new Response(asset.body, {
      headers: { "content-type": asset.type, etag: asset.etag, "cache-control": "no-cache" },
    });
  });

  // Sign-in: a challenge (and whether the session sent is good), then its answer.
  app.get(
    "/api/session",
    async (c) =>
      json({ nonce: await sessions.challenge(), signedIn: c.get("auth").kind !== "none" }),
  );
  app.post("/api/session", async (c) => {
    const body = await readJson(c.req.raw, MAX_SESSION_BODY_BYTES);
    const { nonce, proof } = (body ?? {}) as { nonce?: unknown; proof?: unknown };
    if (typeof nonce !== "string" || typeof proof !== "string") {
      throw new BadRequestError("Cannot sign in: send {nonce, proof}");
    }
    const made = await sessions.exchange({
      token: options.token(),
      origin: c.req.header("origin") ?? "",
      nonce,
      proof,
    });
    if (!made) {
      log.info("sign-in refused", {});
      return json({ error: "Cannot sign in: the token was not accepted" }, 401);
    }
    log.info("signed in", { session: made.id, sessions: sessions.size });
    return json({ session: made.secret });
  });
  app.post("/api/session/revoke", async (c) => {
    const auth = c.get("auth");
    const { token, signedOut } = await options.signOut(auth.kind === "session" ? auth.id : null);
    return json({ token, signedOut });
  });

  const context = (
    request: Request,
    params: Record<string, string>,
    url = new URL(request.url),
  ): RouteContext => ({
    client,
    request,
    url,
    params,
    log,
    limits,
    snapshot: async (): Promise<UiSnapshot> => {
      const [self, links, directory, contacts, requests, files, groups, invitations] = await Promise
        .all([
          client.self(),
          client.links(),
          client.directory(),
          client.contacts(),
          client.requests(),
          client.files(),
          client.groups(),
          client.invitations(),
        ]);
      return { self, links, directory, contacts, requests, files, groups, invitations, limits };
    },
    qr: qrPath,
  });

  app.get("/api/page", async (c) => {
    const path = c.req.query("path") ?? "";
    if (!path.startsWith("/") || path.startsWith("//") || path.length > 2048) {
      throw new BadRequestError("Cannot load page: bad path");
    }
    const url = new URL(path, c.req.url);
    const found = matchPage(Object.keys(manifest.pages), url.pathname);
    if (!found) throw new NotFoundError("Cannot load page: no such page");
    const route = manifest.pages[found.pattern];
    const ctx = context(c.req.raw, found.params, url);
    return json(await renderPage({ manifest, route, ctx, nowMs: clock.nowMs() }));
  });

  for (const path of Object.keys(manifest.pages)) {
    app.get(path, () =>
      new Response(SHELL_HTML, {
        headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" },
      }));
  }

  for (const [path, route] of Object.entries(manifest.api)) {
    for (const method of ["GET", "POST"] as const) {
      const handler = route.handler[method];
      if (!handler) continue;
      app.on(method, path, async (c) => {
        const ctx: ApiContext = {
          ...context(c.req.raw, c.req.param()),
          readJson: () => readJson(c.req.raw, maxJsonBytes),
          json,
          upgradeEvents: async () => {
            const auth = c.get("auth");
            const h = c.req.raw.headers;
            const key = h.get("sec-websocket-key") ?? "";
            const offered = (h.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
            if (
              auth.kind !== "session" || !c.env?.upgrade ||
              h.get("sec-websocket-version") !== "13" || !/^[A-Za-z0-9+/]{22}==$/.test(key) ||
              !offered.includes(EVENTS_PROTOCOL)
            ) {
              return refusal(400);
            }
            return c.env.upgrade({
              protocol: EVENTS_PROTOCOL,
              accept: await acceptValue(key),
              onOpen: (io) => events.attach(io, auth.id),
            });
          },
        };
        return await handler(ctx);
      });
    }
  }

  app.notFound(() => refusal(404));
  app.onError((err) => {
    if (err instanceof WebError) return json({ error: err.message }, err.status);
    log.error("request failed", { error: err instanceof Error ? err.name : "unknown" });
    return refusal(500);
  });
  return app;
}
