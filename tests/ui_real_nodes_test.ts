/**
 * The seed's workflow clicked through in Chromium against two real node
 * processes (default mode: node, client core and UI in one process each) on
 * 127.0.0.1 with real TLS: connect by host, port and id; see the other user;
 * request; accept in the dialog; chat both ways; pop-out window.
 * Playwright needs more than the test run's permissions, so the test re-runs
 * this file as a driver with --allow-all (see ui_workflow_test.ts).
 */
import { browserTest, launchChromium } from "./_helpers/browser.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";
import { chatWorkflow } from "./_helpers/ui_workflow.ts";

async function realWorkflow(): Promise<void> {
  const root = await tempRoot("ui-real");
  const nodes: NodeProc[] = [];
  const browser = await launchChromium();
  try {
    const alice = await NodeProc.create({ id: "alice", root, withClient: true });
    const bob = await NodeProc.create({ id: "bob", root, withClient: true, open: true });
    nodes.push(alice, bob);
    await chatWorkflow(
      browser,
      {
        url: alice.uiUrl(),
        address: "alice@alice",
        connectTo: { host: "127.0.0.1", port: bob.port, nodeId: "bob" },
      },
      { url: bob.uiUrl(), address: "bob@bob" },
    );
    // What the pages showed is what the client cores hold.
    await waitUntil("bob's history", async () => {
      const h = (await bob.admin("history", { address: "alice@alice" })) as Array<{ text: string }>;
      return h.some((m) => m.text === "Sent from the pop-out");
    });
  } finally {
    await browser.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

browserTest({
  name: "UI: the seed's workflow in two browsers against two real nodes",
  file: import.meta.url,
  drive: realWorkflow,
});
