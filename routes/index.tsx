/** @jsxImportSource preact */
/** `/`: the conversations, one tab per contact; `?chat=ADDRESS` opens one, `?group=GROUP` a group. */
import ChatWindows from "../islands/ChatWindows.tsx";
import { isAddress, isGroupId, Island } from "../lib/ui/mod.ts";
import type { PageData, RouteContext } from "../lib/web/mod.ts";

export async function load(ctx: RouteContext): Promise<PageData<null>> {
  const asked = ctx.url.searchParams.get("chat");
  let active: string | null = isAddress(asked) ? asked : null;
  if (!active) {
    const contacts = await ctx.client.contacts();
    active = contacts
      .filter((c) => c.state === "accepted")
      .sort((a, b) => (b.lastMessageAtMs ?? 0) - (a.lastMessageAtMs ?? 0))[0]?.address ?? null;
  }
  const histories = active ? { [active]: await ctx.client.history(active, { limit: 200 }) } : {};
  const group = ctx.url.searchParams.get("group");
  return {
    title: "Chats",
    active,
    histories,
    activeGroup: isGroupId(group) ? group : null,
    data: null,
  };
}

export default function ChatsPage() {
  return <Island name="ChatWindows" component={ChatWindows} props={{ popout: false }} />;
}
