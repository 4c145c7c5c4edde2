// Attacks on announcements, with real Ed25519 on a small network:
//   m – a – b – c – d     (m is the attacker, a legitimate node that lies)
import assert from "node:assert/strict";
import { type NodeId, toNodeId, toUserName } from "../../ids.ts";
import type { AnnouncementBody } from "./announcement.ts";
import { joinAnnouncement } from "./announcement_codec.ts";
import type { Ed25519AnnouncementVerifier } from "./ed25519_signature.ts";
import { signAnnouncement } from "./signatures.ts";
import type { Simulation } from "./sim.ts";
import { network, stopAll } from "./_test_networks.ts";

const n = toNodeId;
const NODES = ["m", "a", "b", "c", "d"];
const HONEST = ["a", "b", "c", "d"];
const LINKS = [["m", "a"], ["a", "b"], ["b", "c"], ["c", "d"]] as const;
const MINUTE = 60_000;

function attackNet(): Promise<Simulation> {
  return network(NODES, LINKS, { crypto: "ed25519" });
}

/** An announcement for `origin` built from its current one, changed by `over`, signed by `by`. */
async function craft(
  sim: Simulation,
  origin: string,
  by: string,
  over: Partial<AnnouncementBody> = {},
): Promise<Uint8Array> {
  const now = sim.clock.nowMs();
  const current = sim.router(origin).announcementOf(n(origin))!;
  const body: AnnouncementBody = {
    origin: current.origin,
    publicKey: current.publicKey,
    seq: now + 1,
    issuedAtMs: now,
    expiresAtMs: now + 30 * MINUTE,
    listed: current.listed,
    links: current.links,
    users: current.users,
    ...over,
  };
  return (await signAnnouncement(body, sim.signer(by))).bytes;
}

/** Has `origin` issue a new announcement with the given presence; returns it before it spreads. */
async function issue(
  sim: Simulation,
  origin: string,
  presence: "online" | "offline",
): Promise<Uint8Array> {
  sim.router(origin).setUsers([{ name: toUserName(origin), presence }]);
  await sim.run(1); // its timer fires; its bytes are one hop delay from anyone
  return sim.router(origin).announcementOf(n(origin))!.bytes;
}

function verifies(sim: Simulation, id: string): number {
  return (sim.verifier(id) as Ed25519AnnouncementVerifier).verifyCount;
}

/**
 * Every honest node routes correctly and lists every user, with d's presence as given. (The
 * attacker's own view is its business: bytes injected "from m" never passed through m.)
 */
function assertCorrectViews(sim: Simulation, dPresence = "online"): void {
  for (const id of HONEST) {
    assert.deepEqual(sim.checkRoutes(id), []);
    const dir = sim.router(id).directory();
    assert.deepEqual(dir.map((e) => e.address), NODES.map((x) => `${x}@${x}`).sort(), id);
    assert.equal(dir.find((e) => e.node === "d")?.presence, dPresence, id);
  }
}

Deno.test("receiveAnnouncement() rejects a forged signature", async () => {
  const sim = await attackNet();
  const good = await craft(sim, "d", "d", { links: [n("c"), n("m")] });
  const forged = good.slice();
  forged[forged.length - 1] ^= 1;
  assert.equal(await sim.router("a").receiveAnnouncement(n("m"), forged), "rejected");
  const random = joinAnnouncement(
    good.subarray(0, good.length - 64),
    crypto.getRandomValues(new Uint8Array(64)),
  );
  assert.equal(await sim.router("a").receiveAnnouncement(n("m"), random), "rejected");
  await sim.run(2_000);
  assertCorrectViews(sim);
  stopAll(sim);
});

Deno.test("receiveAnnouncement() rejects an altered signed field, and still takes the real one", async () => {
  const sim = await attackNet();
  const real = await issue(sim, "d", "offline");
  const altered = real.slice();
  altered[real.length - 65] = 1; // the last user's presence byte: offline → online
  assert.equal(await sim.router("a").receiveAnnouncement(n("m"), altered), "rejected");
  assert.equal(await sim.router("a").receiveAnnouncement(n("m"), real), "accepted");
  await sim.run(2_000);
  assertCorrectViews(sim, "offline");
  stopAll(sim);
});

Deno.test("receiveAnnouncement() ignores a replayed older announcement", async () => {
  const sim = await attackNet();
  const old = sim.router("d").announcementOf(n("d"))!.bytes;
  sim.router("d").setUsers([{ name: toUserName("d"), presence: "offline" }]);
  await sim.run(2_000);
  const before = verifies(sim, "a");
  for (const id of ["a", "b", "c"]) {
    assert.equal(await sim.router(id).receiveAnnouncement(n("m"), old), "stale");
  }
  assert.equal(verifies(sim, "a"), before); // settled without a signature check
  await sim.run(2_000);
  assertCorrectViews(sim, "offline");
  stopAll(sim);
});

Deno.test("receiveAnnouncement() rejects another node's id signed with the sender's own key", async () => {
  const sim = await attackNet();
  const mKey = sim.signer("m").publicKey;
  // m speaks for d, with its own key, claiming d now links to m.
  const lie = await craft(sim, "d", "m", { publicKey: mKey, links: [n("c"), n("m")] });
  for (const id of ["a", "b", "c"]) {
    assert.equal(await sim.router(id).receiveAnnouncement(n("m"), lie), "rejected", id);
  }
  await sim.run(2_000);
  assertCorrectViews(sim);
  stopAll(sim);
});

Deno.test("Router ignores a one-sided link claim", async () => {
  const sim = await attackNet();
  // m (correctly signed) claims a link to d, which would make d two hops from a.
  const claim = await craft(sim, "m", "m", { links: [n("a"), n("d")] });
  assert.equal(await sim.router("a").receiveAnnouncement(n("m"), claim), "accepted");
  await sim.run(2_000);
  assert.equal(sim.router("a").nextHop(n("d")), "b");
  assert.equal(sim.router("a").distance(n("d")), 3);
  assert.equal(sim.router("d").nextHop(n("m")), "c");
  assertCorrectViews(sim);
  stopAll(sim);
});

Deno.test("receiveAnnouncement() rejects an absurd seq or expiry without locking out the origin", async () => {
  const sim = await attackNet();
  const now = sim.clock.nowMs();
  const a = sim.router("a");
  // Signed by d itself (a clock gone wrong, or a signing oracle): still refused.
  const farSeq = await craft(sim, "d", "d", { seq: now + 365 * 24 * 60 * MINUTE });
  const maxSeq = await craft(sim, "d", "d", { seq: 2 ** 53 - 1 });
  const farIssued = await craft(sim, "d", "d", {
    issuedAtMs: now + 10 * MINUTE,
    expiresAtMs: now + 20 * MINUTE,
  });
  const forever = await craft(sim, "d", "d", { expiresAtMs: now + 10 * 365 * 24 * 60 * MINUTE });
  const dead = await craft(sim, "d", "d", { issuedAtMs: now - 2 * MINUTE, expiresAtMs: now - 1 });
  for (const bytes of [farSeq, maxSeq, farIssued, forever, dead]) {
    assert.equal(await a.receiveAnnouncement(n("m"), bytes), "rejected");
  }
  sim.router("d").setUsers([{ name: toUserName("d"), presence: "offline" }]);
  await sim.run(2_000);
  assertCorrectViews(sim, "offline");
  stopAll(sim);
});

Deno.test("Router lifts its own seq past a bogus own announcement within the skew", async () => {
  const sim = await attackNet();
  const ahead = await craft(sim, "d", "d", {
    seq: sim.clock.nowMs() + 4 * MINUTE,
    links: [n("c"), n("m")],
  });
  assert.equal(await sim.router("a").receiveAnnouncement(n("m"), ahead), "accepted");
  await sim.run(2_000); // floods to d, which re-announces above it
  sim.router("d").setUsers([{ name: toUserName("d"), presence: "offline" }]);
  await sim.run(2_000);
  assert.ok(sim.router("a").announcementOf(n("d"))!.seq > sim.clock.nowMs() + 3 * MINUTE);
  assertCorrectViews(sim, "offline");
  stopAll(sim);
});

Deno.test("Router verifies a flood of 1,000 duplicates once and forwards it once per neighbour", async () => {
  const sim = await attackNet();
  const bytes = await issue(sim, "d", "offline");
  const [verifiesBefore, toB, toM] = [
    verifies(sim, "a"),
    sim.sentCount("a", "b"),
    sim.sentCount("a", "m"),
  ];
  for (let i = 0; i < 500; i++) sim.inject("m", "a", bytes); // one burst, all in flight at once
  await sim.run(100);
  for (let i = 0; i < 500; i++) {
    sim.inject("m", "a", bytes);
    await sim.run(20); // the rest over 10 s
  }
  assert.equal(verifies(sim, "a") - verifiesBefore, 1);
  assert.equal(sim.sentCount("a", "b") - toB, 1);
  assert.equal(sim.sentCount("a", "m") - toM, 0); // never back to where it came from
  assertCorrectViews(sim, "offline");
  stopAll(sim);
});

Deno.test("receiveAnnouncement() still takes a real announcement that races a forgery of it", async () => {
  const sim = await attackNet();
  const real = await issue(sim, "d", "offline");
  const forged = real.slice();
  forged[forged.length - 1] ^= 1;
  const a = sim.router("a");
  const kinds = await Promise.all([
    a.receiveAnnouncement(n("m"), forged),
    a.receiveAnnouncement(n("b"), real),
    a.receiveAnnouncement(n("m"), forged),
  ]);
  // The second forged copy is refused as the same bytes, without a second check.
  assert.deepEqual(kinds, ["rejected", "accepted", "rejected"]);
  await sim.run(2_000);
  assertCorrectViews(sim, "offline");
  stopAll(sim);
});

Deno.test("Router pins an unknown id on first sight, but it routes nowhere without a confirming link", async () => {
  const sim = await attackNet();
  const ghost = await craft(sim, "m", "m", { origin: "ghost" as NodeId, links: [n("a"), n("b")] });
  assert.equal(await sim.router("a").receiveAnnouncement(n("m"), ghost), "accepted");
  await sim.run(2_000);
  for (const id of NODES) assert.equal(sim.router(id).nextHop(n("ghost")), undefined, id);
  assertCorrectViews(sim);
  stopAll(sim);
});

Deno.test("pinKey() from a link handshake overrides a key learnt by flooding", async () => {
  const sim = await attackNet();
  const mKey = sim.signer("m").publicKey;
  const b = sim.router("b");
  b.pinKey(n("c"), mKey); // as if the handshake had proved m's key for id c
  assert.equal(b.announcementOf(n("c")), undefined);
  const real = await craft(sim, "c", "c");
  assert.equal(await b.receiveAnnouncement(n("a"), real), "rejected");
  b.pinKey(n("c"), sim.signer("c").publicKey);
  assert.equal(await b.receiveAnnouncement(n("a"), real), "accepted");
  stopAll(sim);
});
