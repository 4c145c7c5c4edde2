/**
 * Strangers at an open node's federation listener (`[Federation] open = true`):
 * a node that links under a fresh key for every connection (so a bar by node
 * id never applies), and one that claims the id of a node the victim already
 * knows under another key. Real nodes on loopback, hand-driven peers
 * (tests/_helpers/raw_peer.ts).
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { link } from "./_helpers/chat.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";
import { rawPeer } from "./_helpers/raw_peer.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

interface Status {
  links: Array<{ peer: string; state: string }>;
  routing: { origins: number };
  budgets: Record<string, { used: number; refusals: number; limit: number }>;
}

/** Rows of `table` in `n`'s node.db (the node stopped). */
function rows(n: NodeProc, table: string): number {
  const db = new DatabaseSync(`${n.dataDir}/node.db`, { readOnly: true });
  try {
    return (db.prepare(`SELECT count(*) AS c FROM ${table}`).get() as { c: number }).c;
  } finally {
    db.close();
  }
}

Deno.test({
  name: "open node: of 500 strangers under fresh keys from one address, at most " +
    "handshakes_per_address_per_minute are handshaken, open_links_per_address_per_minute " +
    "link and open_links_per_address are kept, never " +
    "dialled back; an address of another network still links and, at open_links_total, " +
    "the network holding most gives way",
  ...opts,
  fn: async () => {
    const root = await tempRoot("open-strangers");
    const nodes: NodeProc[] = [];
    try {
      const a = await NodeProc.create({
        id: "alice",
        root,
        open: true,
        extra: "[Limits]\nopen_links_per_address = 8\nopen_links_total = 12\n" +
          "open_links_per_address_per_minute = 60\nhandshakes_per_address_per_minute = 120\n",
      });
      nodes.push(a);
      const pid = a.pid;
      const attempts = 500;
      let up = 0;
      const startedAt = Date.now();
      for (let i = 0; i < attempts && Date.now() - startedAt < 120_000; i++) {
        const p = await rawPeer(`stranger${i}`);
        try {
          if (await p.connect("alice", a.port, 3000) === "up") up++;
        } finally {
          p.stop();
        }
      }
      // Let any dial back happen (the first redial after a drop comes within 0.5 s).
      await new Promise((r) => setTimeout(r, 1500));
      const status = (await a.admin("status")) as Status;
      const strangers = status.links.filter((l) => l.peer.startsWith("stranger")).length;
      const dialsBack = a.output.split("\n").filter((l) =>
        /link attempt failed peer=stranger/.test(l)
      ).length;
      const handshakes = attempts - (status.budgets["listener.handshakes"]?.refusals ?? 0);
      const figures = `${up} of ${attempts} linked; ${handshakes} handshakes; ` +
        `${strangers} peers kept; ` +
        `${status.routing.origins} routing origins; ${dialsBack} dials back to strangers logged`;
      assert.equal(a.pid, pid);
      assert.ok(strangers <= 8, `${figures}; the budget is 8 per address`);
      // Handshakes: a burst of 120, then two a second; new strangers: 60, then one a second.
      const seconds = Math.ceil((Date.now() - startedAt) / 1000);
      assert.ok(handshakes <= 120 + 2 * seconds, `${figures} in ${seconds} s`);
      assert.ok(up <= 60 + seconds, `${figures} in ${seconds} s`);
      assert.equal(status.budgets.open_links_new.refusals, handshakes - up, figures);
      assert.ok(status.routing.origins <= 8 + 1, figures);
      assert.equal(dialsBack, 0, figures);
      assert.equal(status.budgets.open_links.limit, 8, figures);
      // An address of another network (127.0.2.0/24: 127.0.0.2 would share 127.0.0.1's /24 and
      // its budget, tests/open_subnet_test.ts) has its own budgets; past the total of 12,
      // 127.0.0.0/24 (holding most) gives way: 6 from 127.0.2.2 all link, staying up.
      const others = [];
      try {
        for (let i = 0; i < 6; i++) {
          const p = await rawPeer(`other${i}`, undefined, "127.0.2.2");
          others.push(p);
          assert.equal(await p.connect("alice", a.port, 3000), "up", `other${i}`);
        }
        const after = (await a.admin("status")) as Status;
        const fromFirst = after.links.filter((l) => l.peer.startsWith("stranger")).length;
        assert.equal(after.links.length, 12, JSON.stringify(after.budgets.open_links));
        assert.equal(fromFirst, 6, JSON.stringify(after.budgets.open_links));
        assert.equal(after.links.filter((l) => l.state === "up").length, 6);
      } finally {
        for (const p of others) p.stop();
      }
      await a.stop();
      const peerRows = rows(a, "peers");
      const pinRows = rows(a, "origin_pins");
      assert.ok(peerRows <= 12, `${figures}; ${peerRows} peer rows on disk`);
      assert.ok(pinRows <= 12, `${figures}; ${pinRows} origin pins on disk`);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name: "open node: a stranger claiming the id of a node known through a neighbour " +
    "is refused; routes to the real node stay",
  ...opts,
  fn: async () => {
    const root = await tempRoot("open-squat");
    const nodes: NodeProc[] = [];
    const peers: Array<{ stop(): void }> = [];
    try {
      const a = await NodeProc.create({ id: "alice", root, open: true });
      const b = await NodeProc.create({ id: "bob", root, open: true });
      const c = await NodeProc.create({ id: "carl", root, open: true });
      nodes.push(a, b, c);
      await link(a, b);
      await link(b, c);
      await waitUntil("alice knows carl through bob", async () => {
        const routes = (await a.admin("routes")) as Array<{ node: string; nextHop: string }>;
        return routes.some((r) => r.node === "carl" && r.nextHop === "bob");
      });

      const squatter = await rawPeer("carl");
      peers.push(squatter);
      const state = await squatter.connect("alice", a.port, 3000);
      const routes = (await a.admin("routes")) as Array<{ node: string; nextHop: string }>;
      const hop = routes.find((r) => r.node === "carl")?.nextHop;
      const row = await a.link("carl");
      const figures = `squatter ${state}; alice's next hop to carl: ${hop}; ` +
        `alice's link row for carl: ${row?.state ?? "none"}`;
      assert.notEqual(state, "up", figures);
      assert.equal(hop, "bob", figures);
      assert.equal(row, undefined, figures);
      // The real carl still links to alice directly (its key is the one alice knows).
      await link(c, a);
      assert.equal((await a.link("carl"))?.state, "up");
    } finally {
      for (const p of peers) p.stop();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
