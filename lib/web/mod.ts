/**
 * The local browser UI server: loopback only, a token exchanged for a session
 * cookie, Host/Origin checks on every request and on the event WebSocket,
 * server-rendered pages with hydrated islands, and bundles embedded in the
 * program.
 *
 * ```ts
 * const ui = await startUiServer({ client, port: 0, tokenFile: "ui.token", log });
 * console.log(ui.url); // http://127.0.0.1:PORT/?token=…
 * await ui.close();
 * ```
 *
 * @module
 */
export { startUiServer, type UiServer, type UiServerOptions } from "./start_ui_server.ts";
export type {
  ApiContext,
  ApiRoute,
  AppProps,
  PageData,
  PageProps,
  PageRoute,
  RouteContext,
  RouteManifest,
} from "./route_types.ts";
