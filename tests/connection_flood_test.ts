/**
 * Distributed floods of connections that never authenticate (50 source
 * addresses, the three shapes of tests/_helpers/conn_flood.ts): a peer the
 * node already knows re-links within 10 s while the flood runs, and the
 * existing link is not disturbed.
 */
import assert from "node:assert/strict";
import { startConnFlood } from "./_helpers/conn_flood.ts";
import { link } from "./_helpers/chat.ts";
import { freePort, NodeProc, tempRoot, waitLink, waitUntil } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name:
    "a known peer re-links within 10 s while 5,000 connections from 50 addresses flood the node",
  ...opts,
  fn: async () => {
    const root = await tempRoot("flood");
    const nodes: NodeProc[] = [];
    try {
      const a = await NodeProc.create({ id: "alice", root, open: true });
      // Bob gives an endpoint nobody listens on (as behind NAT): only bob can make the link.
      const b = await NodeProc.create({
        id: "bob",
        root,
        open: true,
        extra: `[Network]\npublic_host = 127.0.0.1\npublic_port = ${freePort()}\n`,
      });
      const c = await NodeProc.create({ id: "carol", root, open: true });
      nodes.push(a, b, c);
      await link(b, a);
      await link(c, a);
      const carolSince = (await a.link("carol"))!.sinceMs;
      const pid = a.pid;

      await using flood = startConnFlood({
        port: a.port,
        connections: 5000,
        addresses: 50,
        opensPerSecond: 2000,
      });
      // The flood fills what alice gives strangers: she refuses connections.
      await waitUntil(
        "alice refuses flood connections",
        () => /connections? refused/.test(a.output),
        30_000,
      );
      const refusedBefore = flood.stats().closedByTarget;

      // Bob restarts: its link drops and it dials again, from an address alice knows.
      await b.stop();
      await waitLink(a, "bob", "down");
      await b.start();
      const t0 = Date.now();
      await waitLink(a, "bob", "up", 10_000);
      const relinkMs = Date.now() - t0;

      const s = flood.stats();
      assert.ok(
        s.closedByTarget - refusedBefore >= 100,
        `the flood went on meanwhile (${s.closedByTarget - refusedBefore} closed by alice)`,
      );
      assert.equal(a.pid, pid, "alice kept running");
      assert.equal((await a.link("carol"))?.sinceMs, carolSince, "carol's link was undisturbed");
      // deno-lint-ignore no-console -- a figure for the report
      console.log(`re-linked in ${relinkMs} ms; flood ${JSON.stringify(s)}`);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
