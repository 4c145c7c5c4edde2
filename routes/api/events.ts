/** `GET /api/events`: the one WebSocket of live events from the client core. */
import type { ApiContext, ApiRoute } from "../../lib/web/mod.ts";

export const handler: ApiRoute["handler"] = {
  GET(ctx: ApiContext) {
    return ctx.upgradeEvents();
  },
};
