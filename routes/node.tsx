/** @jsxImportSource preact */
/** `/node`: this node's id, fingerprints and invite (text and QR). */
import NodeCard from "../islands/NodeCard.tsx";
import { Island, type QrPath } from "../lib/ui/mod.ts";
import type { PageData, PageProps, RouteContext } from "../lib/web/mod.ts";

export async function load(ctx: RouteContext): Promise<PageData<{ inviteQr: QrPath }>> {
  const self = await ctx.client.self();
  return { title: "Node", data: { inviteQr: ctx.qr(self.invite) } };
}

export default function NodePage({ data }: PageProps<{ inviteQr: QrPath }>) {
  return <Island name="NodeCard" component={NodeCard} props={{ inviteQr: data.inviteQr }} />;
}
