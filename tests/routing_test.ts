/**
 * Routing between real node processes on 127.0.0.1 with real TLS: a line, a
 * star and a 2×3 mesh; paths shown by probes that record each hop; failover
 * when a relay dies; the directory on every node.
 */
import assert from "node:assert/strict";
import { link, startChat } from "./_helpers/chat.ts";
import { NodeProc, tempRoot, waitLink, waitUntil } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

interface Route {
  node: string;
  reachable: boolean;
  nextHop?: string;
  distance?: number;
}

async function routes(n: NodeProc): Promise<Route[]> {
  return (await n.admin("routes")) as Route[];
}

async function route(n: NodeProc, dest: string): Promise<Route | undefined> {
  return (await routes(n)).find((r) => r.node === dest);
}

async function ping(n: NodeProc, dest: string): Promise<string[]> {
  return ((await n.admin("ping", { nodeId: dest, waitMs: 3000 })) as { path: string[] }).path;
}

/** Pings until a probe gets through (routes settle a hop at a time), then returns its path. */
async function pingSettled(n: NodeProc, dest: string, timeoutMs = 15_000): Promise<string[]> {
  let path: string[] = [];
  await waitUntil(`a probe from ${n.id} to ${dest}`, async () => {
    path = await ping(n, dest);
    return true;
  }, timeoutMs);
  return path;
}

async function waitDistance(n: NodeProc, dest: string, distance: number, timeoutMs = 15_000) {
  await waitUntil(
    `${n.id} reaches ${dest} at distance ${distance}`,
    async () => (await route(n, dest))?.distance === distance,
    timeoutMs,
  );
}

async function network(root: string, ids: string[], edges: Array<[string, string]>) {
  const nodes = new Map<string, NodeProc>();
  const made = await Promise.all(ids.map((id) => NodeProc.create({ id, root, open: true })));
  for (const n of made) nodes.set(n.id, n);
  for (const [a, b] of edges) {
    await nodes.get(a)!.admin("connect", {
      host: "127.0.0.1",
      port: nodes.get(b)!.port,
      nodeId: b,
    });
  }
  for (const [a, b] of edges) await waitLink(nodes.get(a)!, b, "up");
  return nodes;
}

async function stopAll(nodes: Map<string, NodeProc> | undefined) {
  if (nodes) await Promise.all([...nodes.values()].map((n) => n.stop()));
}

Deno.test({
  name: "routing: a line A–B–C–D; A reaches D through B and C; the only path dies and returns",
  ...opts,
  fn: async () => {
    let nodes: Map<string, NodeProc> | undefined;
    try {
      nodes = await network(await tempRoot("line"), ["alice", "bob", "carol", "dave"], [
        ["alice", "bob"],
        ["bob", "carol"],
        ["carol", "dave"],
      ]);
      const [a, b, , d] = ["alice", "bob", "carol", "dave"].map((id) => nodes!.get(id)!);
      await waitDistance(a, "dave", 3);
      await waitDistance(d, "alice", 3);
      assert.equal((await route(a, "dave"))?.nextHop, "bob");
      assert.deepEqual(await pingSettled(a, "dave"), ["alice", "bob", "carol", "dave"]);
      assert.deepEqual(await pingSettled(d, "alice"), ["dave", "carol", "bob", "alice"]);

      // The directory on every node lists every listed user.
      for (const n of nodes.values()) {
        await waitUntil(`${n.id}'s directory`, async () => {
          const dir = (await n.admin("directory")) as Array<{ address: string }>;
          return ["alice@alice", "bob@bob", "carol@carol", "dave@dave"].every((x) =>
            dir.some((e) => e.address === x)
          );
        });
      }

      // Bob is the only path: kill it, dave becomes unreachable; restart it, reachable again.
      await b.stop(true);
      await waitUntil(
        "dave unreachable from alice",
        async () => (await route(a, "dave"))?.reachable !== true,
      );
      await assert.rejects(ping(a, "dave"), /Cannot reach dave/);
      await b.start();
      await waitDistance(a, "dave", 3, 20_000);
      await waitDistance(d, "alice", 3, 20_000);
      assert.deepEqual(await pingSettled(a, "dave"), ["alice", "bob", "carol", "dave"]);
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "routing: a star; leaves reach each other through the hub",
  ...opts,
  fn: async () => {
    let nodes: Map<string, NodeProc> | undefined;
    try {
      const leaves = ["l1", "l2", "l3", "l4"];
      nodes = await network(
        await tempRoot("star"),
        ["hub", ...leaves],
        leaves.map((l) => [l, "hub"]),
      );
      for (const l of leaves) {
        for (const m of leaves) if (l !== m) await waitDistance(nodes.get(l)!, m, 2);
      }
      assert.deepEqual(await pingSettled(nodes.get("l1")!, "l3"), ["l1", "hub", "l3"]);
      assert.deepEqual(await pingSettled(nodes.get("l4")!, "l2"), ["l4", "hub", "l2"]);
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name: "routing: a 2×3 mesh; killing the middle of a path moves traffic to the other path",
  ...opts,
  fn: async () => {
    let nodes: Map<string, NodeProc> | undefined;
    try {
      // a1 a2 a3
      // b1 b2 b3
      nodes = await network(await tempRoot("mesh"), ["a1", "a2", "a3", "b1", "b2", "b3"], [
        ["a1", "a2"],
        ["a2", "a3"],
        ["b1", "b2"],
        ["b2", "b3"],
        ["a1", "b1"],
        ["a2", "b2"],
        ["a3", "b3"],
      ]);
      const a1 = nodes.get("a1")!;
      await waitDistance(a1, "a3", 2);
      await waitDistance(nodes.get("a3")!, "a1", 2);
      assert.deepEqual(await pingSettled(a1, "a3"), ["a1", "a2", "a3"]);
      await waitDistance(a1, "b3", 3);

      await nodes.get("a2")!.stop(true);
      await waitDistance(a1, "a3", 4);
      await waitDistance(nodes.get("a3")!, "a1", 4);
      assert.deepEqual(await pingSettled(a1, "a3"), ["a1", "b1", "b2", "b3", "a3"]);
      // a2's last announcement still lists its links until every neighbour's update arrives.
      await waitUntil(
        "a2 unreachable from a1",
        async () => ((await route(a1, "a2"))?.reachable ?? false) === false,
      );
    } finally {
      await stopAll(nodes);
    }
  },
});

Deno.test({
  name:
    "directory: an unlisted node and an unlisted user are missing from directories but reachable by address",
  ...opts,
  fn: async () => {
    const root = await tempRoot("unlisted");
    const nodes: NodeProc[] = [];
    try {
      const a = await NodeProc.create({ id: "alice", root, open: true, withClient: true });
      const h = await NodeProc.create({
        id: "hidden",
        root,
        open: true,
        withClient: true,
        extra: "[Federation]\nlisted = false\n",
      });
      nodes.push(a, h);
      await a.admin("users-add", { name: "shy", listed: false });
      await link(a, h);
      await waitDistance(a, "hidden", 1);
      const dir = async (n: NodeProc) =>
        ((await n.admin("directory")) as Array<{ address: string }>).map((e) => e.address);
      await waitUntil("hidden sees alice", async () => (await dir(h)).includes("alice@alice"));
      assert.ok(
        !(await dir(a)).includes("hidden@hidden"),
        "an unlisted node's owner is not listed",
      );
      assert.ok(!(await dir(h)).includes("shy@alice"), "an unlisted user is not listed");
      // Someone who knows the address still reaches it.
      await startChat(a, "alice@alice", h, "hidden@hidden", "I know your address");
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
