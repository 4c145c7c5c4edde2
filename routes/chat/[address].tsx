/** @jsxImportSource preact */
/** `/chat/ADDRESS`: one conversation in its own browser window. */
import ChatWindows from "../../islands/ChatWindows.tsx";
import { isAddress, Island } from "../../lib/ui/mod.ts";
import { NotFoundError, type PageData, type RouteContext } from "../../lib/web/mod.ts";

export async function load(ctx: RouteContext): Promise<PageData<null>> {
  const address = ctx.params.address;
  if (!isAddress(address)) throw new NotFoundError("Cannot open chat: bad address");
  const history = await ctx.client.history(address, { limit: 200 });
  return { title: address, active: address, histories: { [address]: history }, data: null };
}

export default function ChatWindowPage() {
  return <Island name="ChatWindows" component={ChatWindows} props={{ popout: true }} />;
}
