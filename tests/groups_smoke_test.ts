import assert from "node:assert/strict";
import { link } from "./_helpers/chat.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "groups smoke",
  ...opts,
  fn: async () => {
    const root = await tempRoot("gsmoke");
    const nodes: NodeProc[] = [];
    try {
      const a = await NodeProc.create({ id: "nodea", root, open: true, withClient: true });
      const b = await NodeProc.create({ id: "nodeb", root, open: true, withClient: true });
      nodes.push(a, b);
      await link(a, b);
      const g = await a.admin("group-create", { name: "friends" }) as { id: string };
      console.log("created", g);
      await waitUntil("invite", async () => {
        try {
          const r = await a.admin("group-invite", { group: "friends", address: "nodeb@nodeb" });
          console.log("invited", r);
          return true;
        } catch (e) {
          console.log("invite failed", String(e));
          return false;
        }
      }, 20_000);
      await waitUntil("invitation at b", async () => ((await b.admin("invitations")) as unknown[]).length > 0);
      console.log(await b.admin("invitations"));
      console.log(await b.admin("group-accept", { group: "friends" }));
      await a.admin("group-send", { group: "friends", text: "hello b" });
      await waitUntil("b got it", async () => ((await b.admin("group-history", { group: "friends" })) as Array<{text: string}>).some((m) => m.text === "hello b"));
      await b.admin("group-send", { group: "friends", text: "hello a" });
      await waitUntil("a got it", async () => ((await a.admin("group-history", { group: "friends" })) as Array<{text: string}>).some((m) => m.text === "hello a"));
      await waitUntil("delivered", async () => {
        const h = (await a.admin("group-history", { group: "friends" })) as Array<{ direction: string; kind: string; delivery?: { delivered: number } }>;
        return h.some((m) => m.direction === "out" && m.delivery?.delivered === 1);
      });
      console.log(await a.admin("group-history", { group: "friends" }));
      console.log(await b.admin("group-members", { group: "friends" }));
    } catch (e) {
      for (const n of nodes) console.log(n.output.split("\n").filter((l) => /group|error|warn/i.test(l)).slice(-40).join("\n"));
      throw e;
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
