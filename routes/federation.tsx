/** @jsxImportSource preact */
/** `/federation`: link to nodes, approve incoming links, see linked nodes; mailboxes. */
import FederationPanel from "../islands/FederationPanel.tsx";
import MailboxPanel from "../islands/MailboxPanel.tsx";
import { Island, type MailboxView } from "../lib/ui/mod.ts";
import type { PageData, PageProps, RouteContext } from "../lib/web/mod.ts";

interface FederationData {
  /** Null when this client's node runs elsewhere (its owner sets its mailboxes). */
  mailboxes: MailboxView | null;
}

export async function load(ctx: RouteContext): Promise<PageData<FederationData>> {
  const owns = (await ctx.client.self()).ownsNode;
  const mailboxes = owns ? await ctx.client.mailbox({ kind: "list" }) : null;
  return { title: "Federation", data: { mailboxes } };
}

export default function FederationPage({ data }: PageProps<FederationData>) {
  return (
    <>
      <Island name="FederationPanel" component={FederationPanel} props={{}} />
      <Island name="MailboxPanel" component={MailboxPanel} props={{ initial: data.mailboxes }} />
    </>
  );
}
