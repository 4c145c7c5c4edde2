/**
 * Paths judged by results (issue 11, finding 6): A has two disjoint 2-hop
 * paths to H, through M and through X. M (the preferred one: ties go to the
 * smaller id) forwards announcements and heartbeats but drops every envelope
 * (a fault hook only tests can set). Envelopes whose receipts do not come back
 * count against the first hop they took, and A moves to X: every message
 * arrives exactly once, and A never shows one delivered before H stored it.
 */
import assert from "node:assert/strict";
import { history, link, startChat } from "./_helpers/chat.ts";
import { inProcessNode, NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";

Deno.test({
  name: "black hole: a relay that drops envelopes is routed around; 100 messages arrive once",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await tempRoot("black-hole");
    let dropped = 0;
    const m = await inProcessNode({ root, id: "m", alterForwarded: () => (dropped++, null) });
    const port = m.port;
    const nodes: NodeProc[] = [];
    try {
      const a = await NodeProc.create({ id: "a", root, open: true, withClient: true });
      const x = await NodeProc.create({ id: "x", root, open: true });
      const h = await NodeProc.create({ id: "h", root, open: true, withClient: true });
      nodes.push(a, x, h);
      for (const n of [a, h]) {
        await n.admin("connect", { host: "127.0.0.1", port, nodeId: "m", waitMs: 5000 });
        await waitUntil(`${n.id}–m up`, async () => (await n.link("m"))?.state === "up");
      }
      await link(a, x);
      await link(x, h);
      await waitUntil("a's route to h goes through m (the smaller id)", async () => {
        const routes = (await a.admin("routes")) as Array<{ node: string; nextHop?: string }>;
        return routes.find((r) => r.node === "h")?.nextHop === "m";
      }, 20_000);

      await startChat(a, "a@a", h, "h@h");
      for (let i = 0; i < 100; i++) await a.admin("send", { address: "h@h", text: `n${i}` });
      await waitUntil(
        "all 100 at h",
        async () =>
          (await history(h, "a@a")).filter((msg) => /^n\d+$/.test(msg.text)).length >= 100,
        120_000,
      );
      const got = (await history(h, "a@a")).filter((msg) => /^n\d+$/.test(msg.text));
      assert.deepEqual(got.map((msg) => msg.text), Array.from({ length: 100 }, (_, i) => `n${i}`));
      assert.ok(dropped > 0, "m did drop envelopes");
      // Delivered means stored at h: a shows nothing delivered that h does not have.
      const atH = new Set(got.map((msg) => msg.text));
      for (const msg of await history(a, "h@h")) {
        if (msg.direction === "out" && msg.state === "delivered") assert.ok(atH.has(msg.text));
      }
      const routes = (await a.admin("routes")) as Array<{ node: string; nextHop?: string }>;
      assert.equal(routes.find((r) => r.node === "h")?.nextHop, "x", "a stopped preferring m");
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
      await m.stop();
    }
  },
});
