/** @jsxImportSource preact */
/** `/`: the conversations, one tab per contact; `?chat=ADDRESS` opens one. */
import ChatWindows from "../islands/ChatWindows.tsx";
import { isAddress, Island } from "../lib/ui/mod.ts";
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
  return { title: "Chats", active, histories, data: null };
}

export default function ChatsPage() {
  return <Island name="ChatWindows" component={ChatWindows} props={{ popout: false }} />;
}
