/** @jsxImportSource preact */
/** `/group/GROUP`: one group chat in its own browser window. */
import GroupWindows from "../../islands/GroupWindows.tsx";
import { isGroupId, Island } from "../../lib/ui/mod.ts";
import { NotFoundError, type PageData, type RouteContext } from "../../lib/web/mod.ts";

export async function load(ctx: RouteContext): Promise<PageData<null>> {
  const id = ctx.params.group;
  if (!isGroupId(id)) throw new NotFoundError("Cannot open group: bad group id");
  const group = (await ctx.client.groups()).find((g) => g.id === id);
  if (!group) throw new NotFoundError("Cannot open group: no such group");
  return { title: group.name, activeGroup: id, data: null };
}

export default function GroupWindowPage() {
  return <Island name="GroupWindows" component={GroupWindows} props={{}} />;
}
