/** @jsxImportSource preact */
/** `/federation`: link to nodes, approve incoming links, see linked nodes. */
import FederationPanel from "../islands/FederationPanel.tsx";
import { Island } from "../lib/ui/mod.ts";
import type { PageData } from "../lib/web/mod.ts";

export function load(): Promise<PageData<null>> {
  return Promise.resolve({ title: "Federation", data: null });
}

export default function FederationPage() {
  return <Island name="FederationPanel" component={FederationPanel} props={{}} />;
}
