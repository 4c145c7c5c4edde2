/**
 * The local browser UI server: loopback only; its own HTTP/1.1 listener with
 * connection caps, deadlines and a descriptor-exhaustion guard; a token the
 * page proves it holds for a per-process session, sent in a header (never a
 * cookie); Host/Origin checks on every request and on the event WebSocket;
 * a data-free page shell whose content is fetched with the session; and
 * bundles embedded in the program.
 *
 * ```ts
 * const ui = await startUiServer({
 *   client, manifest: MANIFEST, clientLimits: { maxMessageChars: MAX_MESSAGE_CHARS },
 *   port: 0, tokenFile: "ui.token", log,
 * });
 * console.log(ui.url); // http://127.0.0.1:PORT/?token=…
 * await ui.close();
 * ```
 *
 * @module
 */
export {
  startUiServer,
  UI_SERVER_DEFAULTS,
  type UiServer,
  type UiServerLimits,
  type UiServerOptions,
  type UiServerStatus,
} from "./start_ui_server.ts";
export { BadRequestError, NotFoundError, PayloadTooLargeError, WebError } from "./web_error.ts";
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
