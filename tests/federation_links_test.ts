import assert from "node:assert/strict";
import { NodeProc, runCli, tempRoot, waitLink } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "links: A–B by connect, B–C by invite, both come back after B restarts",
  ...opts,
  fn: async () => {
    const root = await tempRoot("links");
    const nodes: NodeProc[] = [];
    try {
      const [a, b, c] = await Promise.all(
        ["alice", "bob", "carol"].map((id) => NodeProc.create({ id, root })),
      );
      nodes.push(a, b, c);

      // A–B with `connect HOST PORT NODE_ID`: B's owner must approve.
      const connect = await runCli([
        "connect",
        "127.0.0.1",
        String(b.port),
        "bob",
        "--config",
        a.configPath,
      ]);
      assert.equal(connect.code, 0, connect.stdout + connect.stderr);
      assert.match(connect.stdout, /bob: pending-approval/);
      assert.equal((await b.link("alice"))?.state, "awaiting-owner");
      const approve = await runCli(["approve", "alice", "--config", b.configPath]);
      assert.equal(approve.code, 0, approve.stdout);
      await waitLink(a, "bob", "up");
      await waitLink(b, "alice", "up");

      // B–C with B's invite line, pasted into C; B approves.
      const invite = (await runCli(["invite", "--config", b.configPath])).stdout.trim();
      assert.match(invite, /^fedchat:\/\/bob@127\.0\.0\.1:\d+\?fp=[a-z2-7]{52}$/);
      const viaInvite = await runCli(["connect", invite, "--config", c.configPath]);
      assert.match(viaInvite.stdout, /bob: pending-approval/);
      await b.admin("approve", { nodeId: "carol" });
      await waitLink(c, "bob", "up");
      await waitLink(b, "carol", "up");

      // Both peers show B's fingerprint as pinned.
      const bFp = (await b.status()).fingerprint;
      assert.equal((await a.link("bob"))?.fingerprint, bFp);
      assert.equal((await c.link("bob"))?.fingerprint, bFp);

      // Restart B: both links drop and come back by themselves.
      await b.stop();
      await waitLink(a, "bob", "down");
      await b.start();
      await waitLink(a, "bob", "up", 20_000);
      await waitLink(c, "bob", "up", 20_000);
      await waitLink(b, "alice", "up");
      await waitLink(b, "carol", "up");
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name: "links: a rejected node stays refused and its link is closed",
  ...opts,
  fn: async () => {
    const root = await tempRoot("reject");
    const nodes: NodeProc[] = [];
    try {
      const [a, b] = await Promise.all(["alice", "bob"].map((id) => NodeProc.create({ id, root })));
      nodes.push(a, b);
      await a.admin("connect", { host: "127.0.0.1", port: b.port, nodeId: "bob" });
      await b.admin("reject", { nodeId: "alice" });
      assert.equal((await b.link("alice"))?.state, "refused");
      // A keeps trying; B keeps refusing and says so.
      await waitLink(a, "bob", "refused");
      assert.match((await a.link("bob"))?.lastError ?? "", /refused by bob/);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
