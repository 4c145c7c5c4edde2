/**
 * The shapes of route modules under routes/ (Fresh-style: one file per URL),
 * and the context the UI server hands them. Routes import these as types only.
 */
import type { ComponentType } from "preact";
import type { ClientApi } from "../client/api.ts";
import type { Logger } from "../log.ts";
import type { ChatMessage, PageState, QrPath, UiLimits, UiSnapshot } from "../ui/mod.ts";

/** What every route handler gets. */
export interface RouteContext {
  client: ClientApi;
  request: Request;
  /** The page's URL for a page loader; the request's URL for an API route. */
  url: URL;
  /** Path parameters (`/chat/:address` → `{ address }`), already URL-decoded. */
  params: Record<string, string>;
  log: Logger;
  /** Everything a page paints. */
  snapshot(): Promise<UiSnapshot>;
  /** The client core's limits (also in the snapshot). */
  limits: UiLimits;
  /** Draws a QR code. */
  qr(text: string): QrPath;
}

/** What an API handler gets: the request body reader and the event stream. */
export interface ApiContext extends RouteContext {
  /**
   * Reads a JSON body (capped to fit the longest message the client core takes).
   *
   * @throws {BadRequestError} when the body is missing, not JSON or not sent as JSON
   * @throws {PayloadTooLargeError} when it is larger than the cap
   */
  readJson(): Promise<unknown>;
  /** A JSON response, never cached. */
  json(value: unknown, status?: number): Response;
  /** Upgrades to the event WebSocket; a plain request (or a script's) gets 400. */
  upgradeEvents(): Promise<Response>;
}

/** An API route module: handlers by method. */
export interface ApiRoute {
  handler: {
    GET?: (ctx: ApiContext) => Response | Promise<Response>;
    POST?: (ctx: ApiContext) => Response | Promise<Response>;
  };
}

/** What a page's `load` returns. */
export interface PageData<D = unknown> {
  title: string;
  /** The conversation the page is about. */
  active?: string | null;
  histories?: Record<string, ChatMessage[]>;
  /** The group the page is about (its id). */
  activeGroup?: string | null;
  /** Page-specific serialisable data. */
  data: D;
}

/** Props of a page component. */
export interface PageProps<D = unknown> {
  state: PageState;
  data: D;
  params: Record<string, string>;
  path: string;
}

/** A page route module: a loader and a default-exported component. */
export interface PageRoute<D = unknown> {
  load(ctx: RouteContext): Promise<PageData<D>>;
  default: ComponentType<PageProps<D>>;
}

/** Props of the page frame (routes/_app.tsx): the body's content around a page. */
export interface AppProps {
  path: string;
  state: PageState;
  /** Popout windows have no navigation. */
  bare: boolean;
  children: preact.ComponentChildren;
}

/** Every route, as routes/mod.ts lists them. */
export interface RouteManifest {
  app: ComponentType<AppProps>;
  /** Hono-style paths (`/chat/:address`). */
  pages: Record<string, PageRoute<never>>;
  api: Record<string, ApiRoute>;
}
