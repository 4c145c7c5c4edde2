import assert from "node:assert/strict";
import { toNodeId, toUserName } from "../../ids.ts";
import { network, routeProblems, stopAll } from "./_test_networks.ts";
import { FakeAnnouncementSigner, FakeAnnouncementVerifier } from "./fake_signature.ts";
import { Router } from "./router.ts";
import { SimClock } from "./sim_clock.ts";

const n = toNodeId;
const LINE = [["a", "b"], ["b", "c"], ["c", "d"]] as const;
// 2×3 mesh:  a1 - a2 - a3
//             |    |    |
//            b1 - b2 - b3
const MESH_NODES = ["a1", "a2", "a3", "b1", "b2", "b3"];
const MESH = [
  ["a1", "a2"],
  ["a2", "a3"],
  ["b1", "b2"],
  ["b2", "b3"],
  ["a1", "b1"],
  ["a2", "b2"],
  ["a3", "b3"],
] as const;

Deno.test("Router routes a line A–B–C–D: A's next hop for D is B, distance 3", async () => {
  const sim = await network(["a", "b", "c", "d"], LINE);
  const a = sim.router("a");
  assert.equal(a.nextHop(n("d")), "b");
  assert.equal(a.distance(n("d")), 3);
  assert.equal(sim.router("c").nextHop(n("a")), "b");
  assert.equal(sim.router("b").nextHop(n("d")), "c");
  assert.deepEqual(a.reachable(), ["b", "c", "d"]);
  assert.deepEqual(routeProblems(sim), []);
  const row = a.table().find((r) => r.node === "d");
  assert.equal(row?.nextHop, "b");
  assert.equal(row?.distance, 3);
  assert.equal(row?.reachable, true);
  stopAll(sim);
});

Deno.test("Router routes a star through its hub", async () => {
  const leaves = ["l1", "l2", "l3", "l4", "l5"];
  const sim = await network(["hub", ...leaves], leaves.map((l) => ["hub", l] as const));
  assert.equal(sim.router("l1").nextHop(n("l5")), "hub");
  assert.equal(sim.router("l1").distance(n("l5")), 2);
  assert.equal(sim.router("hub").distance(n("l3")), 1);
  assert.deepEqual(routeProblems(sim), []);
  stopAll(sim);
});

Deno.test("Router routes a 2×3 mesh along shortest paths", async () => {
  const sim = await network(MESH_NODES, MESH);
  assert.deepEqual(routeProblems(sim), []);
  assert.equal(sim.router("a1").distance(n("b3")), 3);
  assert.equal(sim.router("a1").nextHop(n("b3")), "a2"); // tie a2/b1 goes to the smaller id
  stopAll(sim);
});

Deno.test("Router switches routes when the middle of a path with an alternative dies", async () => {
  const sim = await network(MESH_NODES, MESH);
  assert.equal(sim.router("a1").nextHop(n("a3")), "a2");
  const killedAt = sim.clock.nowMs();
  sim.kill("a2");
  // a1's own view changes at detection, before any announcement moves.
  assert.equal(sim.router("a1").nextHop(n("a3")), "b1");
  await sim.run(2_000);
  assert.equal(sim.router("a1").nextHop(n("a3")), "b1");
  assert.equal(sim.router("a1").distance(n("a3")), 4);
  assert.equal(sim.router("b1").nextHop(n("a3")), "b2");
  assert.equal(sim.router("a1").nextHop(n("a2")), undefined);
  assert.deepEqual(routeProblems(sim), []);
  assert.ok(sim.clock.nowMs() - killedAt <= 2_000);
  stopAll(sim);
});

Deno.test("Router reports the far side unreachable when the only path dies, and back on return", async () => {
  const sim = await network(["a", "b", "c", "d"], LINE);
  sim.kill("b");
  await sim.run(2_000);
  assert.equal(sim.router("a").nextHop(n("d")), undefined);
  assert.equal(sim.router("a").distance(n("c")), undefined);
  assert.deepEqual(sim.router("a").reachable(), []);
  assert.deepEqual(sim.router("d").reachable(), ["c"]);
  assert.equal(sim.router("a").table().find((r) => r.node === "d")?.reachable, false);
  assert.deepEqual(routeProblems(sim), []);
  sim.revive("b");
  await sim.run(2_000);
  assert.equal(sim.router("a").nextHop(n("d")), "b");
  assert.equal(sim.router("d").distance(n("a")), 3);
  assert.deepEqual(routeProblems(sim), []);
  stopAll(sim);
});

Deno.test("Router directory on every node lists every listed user with presence", async () => {
  const sim = await network(MESH_NODES, MESH);
  const expected = MESH_NODES.map((id) => ({
    address: `${id}@${id}`,
    presence: "online",
    node: id,
  }));
  for (const id of MESH_NODES) assert.deepEqual(sim.router(id).directory(), expected, id);
  stopAll(sim);
});

Deno.test("Router keeps unlisted users and unlisted nodes out of directories", async () => {
  const sim = await network(["a", "b", "c"], [["a", "b"], ["b", "c"]]);
  sim.router("b").setUsers([
    { name: toUserName("b"), presence: "online" },
    { name: toUserName("hidden"), presence: "online", listed: false },
  ]);
  sim.router("c").setListed(false);
  await sim.run(3_000);
  const addresses = sim.router("a").directory().map((e) => e.address);
  assert.deepEqual(addresses, ["a@a", "b@b"]);
  assert.equal(sim.router("a").nextHop(n("c")), "b"); // unlisted, still reachable
  assert.deepEqual(sim.router("c").directory().map((e) => e.address), ["a@a", "b@b"]);
  stopAll(sim);
});

Deno.test("Router spreads presence within seconds and coalesces bursts to one per second", async () => {
  const sim = await network(["a", "b", "c", "d"], LINE);
  const sentBefore = sim.sentCount("a", "b");
  const start = sim.clock.nowMs();
  for (let i = 0; i < 50; i++) {
    sim.router("a").setUsers([{ name: toUserName("a"), presence: i % 2 ? "online" : "offline" }]);
    await sim.run(20); // 50 changes over 1 s
  }
  await sim.run(1_500);
  const seen = sim.router("d").directory().find((e) => e.address === "a@a");
  assert.equal(seen?.presence, "online");
  // 50 changes in one second: at most one announcement per second left a.
  const announcements = sim.sentCount("a", "b") - sentBefore;
  assert.ok(announcements <= Math.ceil((sim.clock.nowMs() - start) / 1000) + 1, `${announcements}`);
  stopAll(sim);
});

Deno.test("Router ages out a node whose announcements stop", async () => {
  const sim = await network(["a", "b", "c"], [["a", "b"], ["b", "c"]], {
    routerOptions: { refreshMs: 60_000, lifetimeMs: 180_000 },
  });
  // c goes silent but b is never told: its last announcement still lists b.
  sim.router("c").stop();
  await sim.run(120_000);
  assert.equal(sim.router("a").nextHop(n("c")), "b");
  await sim.run(70_000);
  assert.equal(sim.router("a").nextHop(n("c")), undefined);
  assert.equal(sim.router("a").table().some((r) => r.node === "c"), false);
  assert.equal(sim.router("a").nextHop(n("b")), "b"); // refreshed, never aged out
  stopAll(sim);
});

Deno.test("Router moves traffic off a failing hop, and back as the penalty decays", async () => {
  const sim = await network(MESH_NODES, MESH);
  const a1 = sim.router("a1");
  assert.equal(a1.nextHop(n("b2")), "a2");
  a1.reportHopFailure(n("a2"));
  a1.reportHopFailure(n("a2"));
  assert.equal(a1.nextHop(n("b2")), "b1");
  assert.equal(a1.nextHop(n("a2")), "a2"); // direct neighbour: 3 via b1 vs 1 + 2 via a2
  await sim.run(240_000);
  assert.equal(a1.nextHop(n("b2")), "a2");
  stopAll(sim);
});

Deno.test("Router syncs a new neighbour with its whole database at once", async () => {
  const sim = await network(["a", "b", "c", "d"], LINE);
  await sim.addNode("e");
  sim.connect("d", "e");
  await sim.run(100); // five hops of delay at most: one hop for the sync, plus e's own
  assert.equal(sim.router("e").distance(n("a")), 4);
  await sim.run(1_000);
  assert.equal(sim.router("a").distance(n("e")), 4);
  stopAll(sim);
});

Deno.test("receiveAnnouncement() rejects garbage and reports the sender", async () => {
  const rejections: string[] = [];
  const router = new Router({
    self: n("a"),
    signer: FakeAnnouncementSigner.forNode("a"),
    verifier: new FakeAnnouncementVerifier(),
    clock: new SimClock(),
    send: () => {},
    events: { onRejected: (from, reason) => rejections.push(`${from}:${reason}`) },
  });
  router.linkUp(n("b"));
  assert.equal(await router.receiveAnnouncement(n("b"), new Uint8Array([1, 2, 3])), "rejected");
  assert.equal(await router.receiveAnnouncement(n("b"), new Uint8Array(70_000)), "rejected");
  const v1 = new Uint8Array(170).fill(7);
  v1[0] = 1;
  assert.equal(await router.receiveAnnouncement(n("b"), v1), "rejected");
  assert.deepEqual(rejections, ["b:bad-encoding", "b:bad-encoding", "b:bad-version"]);
  router.stop();
});
