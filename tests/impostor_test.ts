import assert from "node:assert/strict";
import { NodeProc, runCli, tempRoot, waitLink, waitUntil } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "impostor: a node with B's id and another key is refused by A; the real B still links",
  ...opts,
  fn: async () => {
    const root = await tempRoot("impostor");
    const nodes: NodeProc[] = [];
    try {
      const a = await NodeProc.create({ id: "alice", root });
      const b = await NodeProc.create({ id: "bob", root, open: true });
      nodes.push(a, b);
      await a.admin("connect", { host: "127.0.0.1", port: b.port, nodeId: "bob" });
      await waitLink(a, "bob", "up");
      const realFp = (await b.status()).fingerprint;

      // Same id, own data directory, so another key.
      const fake = await NodeProc.create({
        id: "bob",
        root: root,
        dataDir: `${root}/fake-bob-data`,
      });
      nodes.push(fake);
      assert.notEqual((await fake.status()).fingerprint, realFp);
      const r = await runCli([
        "connect",
        "127.0.0.1",
        String(a.port),
        "alice",
        "--config",
        fake.configPath,
      ]);
      assert.notEqual(r.code, 0);

      // A refused it and says so in status --json; the impostor sees a refusal.
      await waitUntil(
        "A records the refusal",
        async () => /refused a different key for bob/.test((await a.link("bob"))?.lastError ?? ""),
      );
      const status = JSON.parse(
        (await runCli(["status", "--json", "--config", a.configPath])).stdout,
      );
      const row = status.links.find((l: { peer: string }) => l.peer === "bob");
      assert.match(row.lastError, /refused a different key for bob/);
      assert.equal(row.fingerprint, realFp, "the pinned key is still the real one");
      assert.match(a.output, /link refused: key mismatch peer=bob/);
      assert.notEqual((await fake.link("alice"))?.state, "up");

      // The real B is unaffected, and links again after a restart.
      assert.equal((await a.link("bob"))?.state, "up");
      await b.stop();
      await b.start();
      await waitLink(a, "bob", "up", 20_000);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name: "impostor: an invite's fingerprint is checked at first contact",
  ...opts,
  fn: async () => {
    const root = await tempRoot("invite-fp");
    const nodes: NodeProc[] = [];
    try {
      const a = await NodeProc.create({ id: "alice", root });
      const b = await NodeProc.create({ id: "bob", root, open: true });
      nodes.push(a, b);
      const aFp = (await a.status()).invite.split("fp=")[1];
      const forged = (await b.status()).invite.replace(/fp=.*$/, `fp=${aFp}`);
      const r = await runCli(["connect", forged, "--config", a.configPath]);
      assert.notEqual(r.code, 0);
      assert.match(r.stdout, /bob: refused/);
      assert.match((await a.link("bob"))?.lastError ?? "", /does not match the invite/);
      assert.equal((await a.link("bob"))?.fingerprint, null, "nothing was pinned");
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
