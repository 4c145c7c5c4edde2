/** Renders a page route on the server: the shell paints without JavaScript. */
import { h } from "preact";
import { renderToString } from "preact-render-to-string";
import { type PageState, StoreContext, UiStore } from "../ui/mod.ts";
import type { PageData, PageProps, PageRoute, RouteContext, RouteManifest } from "./route_types.ts";

/** Runs the page's loader and renders the whole document. */
export async function renderPage(
  manifest: RouteManifest,
  route: PageRoute<never>,
  ctx: RouteContext,
): Promise<string> {
  const [snapshot, page] = await Promise.all([
    ctx.snapshot(),
    route.load(ctx) as Promise<PageData<unknown>>,
  ]);
  const state: PageState = {
    snapshot,
    active: page.active ?? null,
    histories: page.histories ?? {},
  };
  const store = new UiStore({ snapshot, active: state.active, histories: state.histories });
  const Page = route.default as unknown as preact.ComponentType<PageProps<unknown>>;
  const body = h(
    StoreContext.Provider,
    { value: store },
    h(manifest.app, {
      title: page.title,
      path: ctx.url.pathname,
      state,
      bare: ctx.url.pathname.startsWith("/chat/"),
      children: h(Page, { state, data: page.data, params: ctx.params, path: ctx.url.pathname }),
    }),
  );
  return "<!doctype html>" + renderToString(body);
}
