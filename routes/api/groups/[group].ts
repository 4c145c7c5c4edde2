/** `GET /api/groups/GROUP`: a group's history (oldest first) and, while we are in it, its members. */
import { type GroupDetail, isGroupId } from "../../../lib/ui/mod.ts";
import type { ApiContext, ApiRoute } from "../../../lib/web/mod.ts";

export const handler: ApiRoute["handler"] = {
  async GET(ctx: ApiContext) {
    const id = ctx.params.group;
    if (!isGroupId(id)) return ctx.json({ error: "Bad group id" }, 400);
    try {
      const history = await ctx.client.groupHistory(id, { limit: 500 });
      const group = (await ctx.client.groups()).find((g) => g.id === id);
      const members = group?.state === "active" ? await ctx.client.groupMembers(id) : [];
      return ctx.json({ history, members } satisfies GroupDetail);
    } catch (err) {
      return ctx.json({ error: err instanceof Error ? err.message : String(err) }, 404);
    }
  },
};
