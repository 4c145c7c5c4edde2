/**
 * Renders a page's content on the server (what `GET /api/page` answers): the
 * body's markup with the islands inside, and the state it was drawn from,
 * which the browser's store starts from so hydration changes nothing.
 */
import { h } from "preact";
import { renderToString } from "preact-render-to-string";
import { type PageContent, type PageState, StoreContext, UiStore } from "../ui/mod.ts";
import type { PageData, PageProps, PageRoute, RouteContext, RouteManifest } from "./route_types.ts";

/** Options of {@linkcode renderPage}. */
export interface RenderPageOptions {
  manifest: RouteManifest;
  route: PageRoute<never>;
  ctx: RouteContext;
  /** The time the page is drawn at (day separators). */
  nowMs: number;
}

/** Runs the page's loader and renders its content. */
export async function renderPage(options: RenderPageOptions): Promise<PageContent> {
  const { manifest, route, ctx, nowMs } = options;
  const [snapshot, page] = await Promise.all([
    ctx.snapshot(),
    route.load(ctx) as Promise<PageData<unknown>>,
  ]);
  const state: PageState = {
    snapshot,
    active: page.active ?? null,
    histories: page.histories ?? {},
    activeGroup: page.activeGroup ?? null,
    nowMs,
  };
  const store = new UiStore({
    snapshot,
    active: state.active,
    histories: state.histories,
    activeGroup: state.activeGroup,
    nowMs,
  });
  const Page = route.default as unknown as preact.ComponentType<PageProps<unknown>>;
  const path = ctx.url.pathname;
  const bare = path.startsWith("/chat/") || path.startsWith("/group/");
  const body = h(
    StoreContext.Provider,
    { value: store },
    h(manifest.app, {
      path,
      state,
      bare,
      children: h(Page, { state, data: page.data, params: ctx.params, path }),
    }),
  );
  return {
    title: `${page.title} · ${snapshot.self.address} · fedchat`,
    bare,
    html: renderToString(body),
    state,
  };
}
