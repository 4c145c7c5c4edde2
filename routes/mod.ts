/**
 * The route manifest (Fresh's `fresh.gen.ts`, written by hand): every URL of
 * the UI server and the module that answers it.
 *
 * @module
 */
import type { ApiRoute, PageRoute, RouteManifest } from "../lib/web/mod.ts";
import App from "./_app.tsx";
import * as index from "./index.tsx";
import * as chat from "./chat/[address].tsx";
import * as group from "./group/[group].tsx";
import * as directory from "./directory.tsx";
import * as federation from "./federation.tsx";
import * as node from "./node.tsx";
import * as apiCommand from "./api/command.ts";
import * as apiEvents from "./api/events.ts";
import * as apiGroup from "./api/groups/[group].ts";
import * as apiHistory from "./api/history/[address].ts";
import * as apiSafety from "./api/safety/[address].ts";
import * as apiState from "./api/state.ts";
import * as apiUpload from "./api/upload/[address].ts";

const page = <D>(m: PageRoute<D>) => m as unknown as PageRoute<never>;

/** Every route of the UI server. */
export const MANIFEST: RouteManifest = {
  app: App,
  pages: {
    "/": page(index),
    "/chat/:address": page(chat),
    "/group/:group": page(group),
    "/directory": page(directory),
    "/federation": page(federation),
    "/node": page(node),
  },
  api: {
    "/api/command": apiCommand satisfies ApiRoute,
    "/api/events": apiEvents,
    "/api/groups/:group": apiGroup,
    "/api/history/:address": apiHistory,
    "/api/safety/:address": apiSafety,
    "/api/state": apiState,
    "/api/upload/:address": apiUpload,
  },
};
