/** `GET /api/state`: everything a page paints, in one answer. */
import type { ApiContext, ApiRoute } from "../../lib/web/mod.ts";

export const handler: ApiRoute["handler"] = {
  async GET(ctx: ApiContext) {
    return ctx.json(await ctx.snapshot());
  },
};
