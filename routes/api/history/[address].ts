/** `GET /api/history/ADDRESS`: one conversation's messages, oldest first. */
import { isAddress } from "../../../lib/ui/mod.ts";
import type { ApiContext, ApiRoute } from "../../../lib/web/mod.ts";

export const handler: ApiRoute["handler"] = {
  async GET(ctx: ApiContext) {
    const address = ctx.params.address;
    if (!isAddress(address)) return ctx.json({ error: "Bad address" }, 400);
    return ctx.json(await ctx.client.history(address, { limit: 500 }));
  },
};
