/**
 * The UI server's Hono app: the guard in front of everything, security
 * headers on every answer, the embedded bundles, and the routes of
 * routes/mod.ts.
 */
import { Hono } from "hono";
import type { ClientApi } from "../client/api.ts";
import type { Logger } from "../log.ts";
import { MAX_BODY_BYTES, type UiSnapshot } from "../ui/mod.ts";
import { BUNDLES } from "./_bundles.ts";
import type { EventStream } from "./event_stream.ts";
import { qrPath } from "./qr_path.ts";
import { renderPage } from "./render_page.ts";
import type { ApiContext, RouteContext, RouteManifest } from "./route_types.ts";
import type { UiGuard } from "./ui_guard.ts";

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

/** Options of {@linkcode createUiApp}. */
export interface UiAppOptions {
  client: ClientApi;
  guard: UiGuard;
  events: EventStream;
  manifest: RouteManifest;
  log: Logger;
}

function refusal(status: number): Response {
  return new Response(null, { status, headers: SECURITY_HEADERS });
}

async function readJson(request: Request): Promise<unknown> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/json")) {
    throw new TypeError("Cannot read body: send application/json");
  }
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) throw new RangeError("Cannot read body: too large");
  if (!request.body) throw new TypeError("Cannot read body: empty");
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of request.body) {
    total += chunk.length;
    if (total > MAX_BODY_BYTES) throw new RangeError("Cannot read body: too large");
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
    throw new TypeError("Cannot read body: not JSON", { cause: err });
  }
}

function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}

/** Builds the app; `fetch` it from `Deno.serve`. */
export function createUiApp(options: UiAppOptions): Hono {
  const { client, guard, events, manifest, log } = options;
  const app = new Hono();

  app.use("*", async (c, next) => {
    const decision = guard.check(c.req.raw);
    if (decision.kind === "refuse") {
      log.debug("refused", { status: decision.status, method: c.req.method });
      return refusal(decision.status);
    }
    if (decision.kind === "redirect") {
      return new Response(null, {
        status: 303,
        headers: {
          ...SECURITY_HEADERS,
          location: decision.location,
          "set-cookie": decision.setCookie,
        },
      });
    }
    await next();
    if (c.res.status === 101) return;
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

  const context = (request: Request, params: Record<string, string>): RouteContext => ({
    client,
    request,
    url: new URL(request.url),
    params,
    log,
    snapshot: async (): Promise<UiSnapshot> => {
      const [self, links, directory, contacts, requests, files] = await Promise.all([
        client.self(),
        client.links(),
        client.directory(),
        client.contacts(),
        client.requests(),
        client.files(),
      ]);
      return { self, links, directory, contacts, requests, files };
    },
    qr: qrPath,
  });

  for (const [path, route] of Object.entries(manifest.pages)) {
    app.get(path, async (c) => {
      let html: string;
      try {
        html = await renderPage(manifest, route, context(c.req.raw, c.req.param()));
      } catch (err) {
        if (err instanceof RangeError) return refusal(404);
        throw err;
      }
      return c.html(html, 200, { "cache-control": "no-store" });
    });
  }

  for (const [path, route] of Object.entries(manifest.api)) {
    for (const method of ["GET", "POST"] as const) {
      const handler = route.handler[method];
      if (!handler) continue;
      app.on(method, path, async (c) => {
        const ctx: ApiContext = {
          ...context(c.req.raw, c.req.param()),
          readJson: () => readJson(c.req.raw),
          json,
          upgradeEvents: () => events.upgrade(c.req.raw),
        };
        return await handler(ctx);
      });
    }
  }

  app.notFound(() => refusal(404));
  app.onError((err) => {
    log.error("request failed", { error: err instanceof Error ? err.name : "unknown" });
    return refusal(500);
  });
  return app;
}
