/**
 * A node that runs out of file descriptors (here under `ulimit -n 128`, with
 * more connections offered than it has descriptors) refuses what it cannot
 * take, says so in its log (once per interval, not once per connection),
 * keeps running, and accepts links again once descriptors are free.
 */
import assert from "node:assert/strict";
import { startConnFlood } from "./_helpers/conn_flood.ts";
import { NodeProc, tempRoot, waitLink, waitUntil } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Whether `node` answers on its admin socket within 2 s (a dead accept loop never does). */
function answers(node: NodeProc): Promise<boolean> {
  return Promise.race([
    node.status().then(() => true, () => false),
    new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
  ]);
}

Deno.test({
  name: "a node out of file descriptors survives a flood and links again once they return",
  ...opts,
  fn: async () => {
    const root = await tempRoot("emfile");
    const nodes: NodeProc[] = [];
    try {
      // The default caps (128 strangers, 256 in all) are more than 128 descriptors can hold. The
      // flood comes from one /24 (127.0.0.0/24), which may here hold the whole strangers' pool and
      // refill it at the flood's rate.
      const a = await NodeProc.create({
        id: "alice",
        root,
        open: true,
        maxOpenFiles: 128,
        extra: "[Limits]\nmax_unauthenticated_connections_per_network = 128\n" +
          "handshakes_per_network_per_minute = 1000000\n",
      });
      const b = await NodeProc.create({ id: "bob", root, open: true });
      nodes.push(a, b);
      const pid = a.pid;
      const t0 = Date.now();
      {
        await using flood = startConnFlood({
          port: a.port,
          connections: 1000,
          addresses: 20,
          opensPerSecond: 1000,
        });
        await waitUntil(
          "alice at her descriptor limit",
          async () => (await a.openFiles()) >= 120,
          30_000,
        );
        // Held at the limit, the flood refilling what the deadline frees, for a while.
        const end = Date.now() + 6000;
        let atLimit = 0;
        while (Date.now() < end) {
          assert.ok(a.running && a.pid === pid, "alice is running");
          if ((await a.openFiles()) >= 120) atLimit++;
          await new Promise((r) => setTimeout(r, 200));
        }
        assert.ok(atLimit > 0);
        // deno-lint-ignore no-console -- a figure for the report
        console.log(`flood ${JSON.stringify(flood.stats())}`);
      }
      // Descriptors come back: alice answers her owner, and a peer links.
      await waitUntil("alice answers her owner", () => answers(a), 30_000);
      await b.admin("connect", { host: "127.0.0.1", port: a.port, nodeId: "alice", waitMs: 5000 });
      await waitLink(b, "alice", "up", 30_000);
      await waitLink(a, "bob", "up");
      assert.ok(a.running && a.pid === pid, "alice kept its process");
      const lines = a.output.split("\n").filter((l) => /listener: out of file descriptors/.test(l));
      assert.ok(lines.length >= 1, "alice said it ran out of descriptors");
      // Once per 10 s interval (with a count of the lines held back), not once per connection.
      const intervals = Math.ceil((Date.now() - t0) / 10_000);
      assert.ok(
        lines.length <= intervals + 1,
        `said so ${lines.length} times in ${intervals} intervals`,
      );
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
