/**
 * Two delivery notices about one envelope for a client that is offline
 * ("held at mailbox M", then "delivered") are both kept for it, and neither
 * makes the node's store refuse a batch. Found by the chaos soak
 * (bench/soak_chaos.ts, seeds 3 and 6: "UNIQUE constraint failed: inbox.id"
 * in a node's log): both notices were inbox rows under one id, so the second
 * insert failed its whole commit (every write of that batch refused, the node
 * shown "store not writable"), and the "delivered" notice was lost: the
 * sender saw "held" for good.
 */
import assert from "node:assert/strict";
import { history, link, startChat } from "./_helpers/chat.ts";
import { ClientProc } from "./_helpers/groups.ts";
import { NodeProc, runCli, tempRoot, waitUntil } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function reachable(n: NodeProc, node: string): Promise<boolean> {
  const routes = (await n.admin("routes")) as Array<{ node: string; reachable: boolean }>;
  return routes.some((r) => r.node === node && r.reachable);
}

Deno.test({
  name: "notices: 'held' then 'delivered' for an offline client are both kept; no batch refused",
  ...opts,
  fn: async () => {
    const root = await tempRoot("notice-twice");
    const nodes: NodeProc[] = [];
    let alice: ClientProc | undefined;
    try {
      const a = await NodeProc.create({ id: "a", root, open: true });
      const m = await NodeProc.create({ id: "m", root, open: true });
      const b = await NodeProc.create({ id: "b", root, open: true, withClient: true });
      nodes.push(a, m, b);
      await link(a, m);
      await link(b, m);
      for (
        const [args, n] of [[["mailbox", "serve", "b"], m], [["mailbox", "add", "m"], b]] as const
      ) {
        const r = await runCli([...args, "--config", n.configPath]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
      }
      alice = await ClientProc.create(a, "alice", root);
      const me = alice;
      await startChat(me, "alice@a", b, "b@b");
      await waitUntil("a knows b's mailbox", async () => {
        const routes = (await a.admin("routes")) as Array<{ node: string; mailboxes?: string[] }>;
        return routes.some((r) => r.node === "b" && r.mailboxes?.includes("m"));
      }, 20_000);
      // B and its mailbox away: alice's messages wait in A's outbox.
      await b.stop();
      await m.stop();
      await waitUntil("b unreachable from a", async () => !(await reachable(a, "b")), 30_000);
      const texts = ["one", "two", "three"];
      for (const text of texts) await alice.admin("send", { address: "b@b", text });
      await waitUntil(
        "A took them",
        async () =>
          ((await me.admin("history", { address: "b@b", limit: 100 })) as Array<
            { direction: string; state: string }
          >).filter((x) => x.direction === "out" && x.state === "sent").length === 3,
      );
      // Alice goes offline: A keeps her notices as inbox rows. M takes them ("held"), then B
      // takes them from M and A hears "delivered" about each.
      await alice.stop(true);
      await m.start();
      await waitUntil(
        "A handed them to M",
        async () =>
          ((await m.admin("mailbox-served")) as Array<{ heldBytes: number }>).some((x) =>
            x.heldBytes > 0
          ),
      );
      await b.start();
      await waitUntil(
        "bob has them",
        async () =>
          (await history(b, "alice@a")).filter((x) =>
            x.direction === "in" && texts.includes(x.text)
          )
            .length === 3,
        60_000,
      );
      // A asks B about what M held, and hears "delivered".
      await new Promise((r) => setTimeout(r, 5000));
      await alice.start();
      let states: string[] = [];
      await waitUntil("alice sees them delivered", async () => {
        states = ((await me.admin("history", { address: "b@b", limit: 100 })) as Array<
          { direction: string; state: string }
        >).filter((x) => x.direction === "out").map((x) => x.state);
        return states.length === 3 && states.every((s) => s === "delivered" || s === "read");
      }, 30_000).catch(() => {});
      const refusals = a.output.split("\n").filter((l) => /refused a write/.test(l));
      assert.deepEqual(refusals, [], "A's store refused no batch");
      assert.deepEqual(states, ["delivered", "delivered", "delivered"]);
    } finally {
      await alice?.stop();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
