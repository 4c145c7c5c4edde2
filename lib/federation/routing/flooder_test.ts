// Flooding in batches, through routers on small simulated networks and one router alone.
import assert from "node:assert/strict";
import { toNodeId, toUserName } from "../../ids.ts";
import type { SignedAnnouncement } from "./announcement.ts";
import { decodeAnnouncementBatch, encodeAnnouncementBatch } from "./announcement_batch.ts";
import { decodeAnnouncementFrame, encodeAnnouncementFrame } from "./announcement_codec.ts";
import { FakeAnnouncementSigner, FakeAnnouncementVerifier } from "./fake_signature.ts";
import { type AnnouncementBatch, batchFrames } from "./flooder.ts";
import { Router } from "./router.ts";
import { signAnnouncement } from "./signatures.ts";
import { SimClock } from "./sim_clock.ts";
import { network, routeProblems, stopAll } from "./_test_networks.ts";

const n = toNodeId;

Deno.test("Router syncs a new neighbour in one link message, its own announcement first", async () => {
  const sim = await network(["a", "b", "c", "d"], [["a", "b"], ["b", "c"], ["c", "d"]]);
  await sim.addNode("e");
  const before = sim.linkTraffic().find((t) => t.from === "d" && t.to === "e");
  assert.equal(before, undefined);
  sim.connect("d", "e");
  await sim.run(10); // one flush, one hop
  const sync = sim.linkTraffic().find((t) => t.from === "d" && t.to === "e")!;
  assert.equal(sync.frames, 1);
  assert.equal(sync.messages, 4); // d's own, then a, b, c
  assert.equal(sim.router("e").distance(n("a")), 4);
  await sim.run(2_000);
  assert.deepEqual(routeProblems(sim), []);
  stopAll(sim);
});

Deno.test("Router sends nothing back to neighbours that sent it the same announcement", async () => {
  //   b
  //  / \
  // a   d    a's news reaches d through b and c at the same time: d owes neither a copy.
  //  \ /
  //   c
  const sim = await network(["a", "b", "c", "d"], [["a", "b"], ["a", "c"], ["b", "d"], ["c", "d"]]);
  const sent = () => ["db", "dc", "bd", "cd"].map(([x, y]) => sim.sentCount(x, y));
  const [db, dc, bd, cd] = sent();
  sim.router("a").setUsers([{ name: toUserName("a"), presence: "offline" }]);
  await sim.run(2_000);
  assert.deepEqual(sent(), [db, dc, bd + 1, cd + 1]);
  assert.equal(sim.router("d").directory().find((e) => e.node === "a")?.presence, "offline");
  stopAll(sim);
});

Deno.test("Router floods what it accepts together in one link message per neighbour", async () => {
  const sim = await network(["a", "b", "c"], [["a", "b"], ["b", "c"]]);
  const frames0 = sim.linkTraffic().find((t) => t.from === "b" && t.to === "c")!.frames;
  const batch = await Promise.all(["x", "y", "z"].map((o, i) => frame(o, i + 1)));
  for (const bytes of batch) sim.inject("a", "b", bytes); // three arrive together
  await sim.run(100);
  const toC = sim.linkTraffic().find((t) => t.from === "b" && t.to === "c")!;
  assert.equal(toC.frames, frames0 + 1);
  for (const o of ["x", "y", "z"]) assert.ok(sim.router("c").announcementOf(n(o)), o);
  stopAll(sim);
});

Deno.test("receiveAnnouncementBatch() judges each frame alone, then floods them as one batch", async () => {
  const sent: { peer: string; frames: number; origins: string[] }[] = [];
  const rejections: string[] = [];
  const clock = new SimClock();
  const router = new Router({
    self: n("r"),
    signer: FakeAnnouncementSigner.forNode("r"),
    verifier: new FakeAnnouncementVerifier(),
    clock,
    send: (peer: string, batch: AnnouncementBatch) =>
      sent.push({
        peer,
        frames: batch.count,
        origins: batchFrames(batch).map((f) => f.announcement.origin),
      }),
    events: { onRejected: (from, reason) => rejections.push(`${from}:${reason}`) },
  });
  router.linkUp(n("p"));
  router.linkUp(n("q"));
  clock.runUntil(clock.nowMs() + 2_000);
  sent.length = 0;
  const x = decodeAnnouncementFrame(await frame("x", 1));
  const y = decodeAnnouncementFrame(await frame("y", 1));
  const bytes = encodeAnnouncementBatch([x, y]);
  assert.equal(decodeAnnouncementBatch(bytes).length, 2);
  assert.deepEqual(await router.receiveAnnouncementBatch(n("p"), bytes), ["accepted", "accepted"]);
  assert.deepEqual(await router.receiveAnnouncementBatch(n("q"), bytes), [
    "duplicate",
    "duplicate",
  ]);
  clock.runUntil(clock.nowMs() + 1);
  // Both came from p and q before the flush: neither is owed a copy.
  assert.deepEqual(sent, []);
  const z = decodeAnnouncementFrame(await frame("z", 1));
  const w = decodeAnnouncementFrame(await frame("w", 1));
  await router.receiveAnnouncementBatch(n("p"), encodeAnnouncementBatch([z, w]));
  clock.runUntil(clock.nowMs() + 1);
  assert.deepEqual(sent, [{ peer: "q", frames: 2, origins: ["z", "w"] }]);
  const broken = bytes.slice(0, bytes.length - 1);
  assert.deepEqual(await router.receiveAnnouncementBatch(n("p"), broken), ["rejected"]);
  assert.deepEqual(rejections, ["p:bad-encoding"]);
  router.stop();
});

/** A frame of a node `origin` (fake signature) with no links. */
async function frame(origin: string, seq: number): Promise<Uint8Array> {
  const signer = FakeAnnouncementSigner.forNode(origin);
  const announcement: SignedAnnouncement = await signAnnouncement({
    origin: n(origin),
    publicKey: signer.publicKey,
    seq,
    lifetimeMs: 3_600_000,
    listed: true,
    links: [],
    users: [],
  }, signer);
  return encodeAnnouncementFrame({ announcement, ageMs: 0 });
}
