/**
 * The sender's node answers a submission by its receipt when the receipt
 * comes in time (lib/node/fast_lane.ts): "delivered", and nothing stored.
 * Without a receipt in time, or with one that does not settle it, the
 * submission is stored in the durable outbox as if stored at once: "sent",
 * in flight (not sent twice), settled by a later receipt with a kept notice.
 */
import assert from "node:assert/strict";
import { FakeClock } from "../lib/clock.ts";
import { FAST_GRACE_MS, FAST_MAX_WAIT_MS } from "../lib/node/fast_lane.ts";
import { ALICE, senderNode, settledNotices, until } from "./_helpers/sender_node.ts";
import { tempRoot } from "./_helpers/node_proc.ts";

const HOUR = 3_600_000;

/** Moves `clock` on by `ms` in steps of the engine's tick (250 ms), letting each step's work run. */
async function ticks(clock: FakeClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 250) {
    clock.advance(250);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("fast lane: a receipt in time answers 'delivered'; no outbox row, no notice, sent once", async () => {
  const dir = await tempRoot("fastlane");
  const a = await senderNode(dir, undefined, 60_000);
  try {
    const alice = a.attach();
    const answer = a.submit(1);
    const id = a.forwarded[0];
    assert.equal(a.forwarded.length, 1, "forwarded at once, before any commit");
    assert.equal(a.delivery.view().awaitingReceipt, 1);
    a.receipt([id]);
    assert.deepEqual(await answer, { id, state: "delivered" });
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(a.store.outboxDestinations(), []);
    assert.deepEqual(a.store.outboxExpired(Date.now() + HOUR, 10), []);
    assert.deepEqual(a.store.noticesFor(ALICE, 10), []);
    assert.equal(settledNotices(alice.got).length, 0);
    assert.equal(a.store.outboxUsage().get(ALICE), undefined, "its budget is back");
    assert.equal(a.delivery.view().awaitingReceipt, 0);
    assert.deepEqual(a.forwarded, [id]);
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fast lane: a full window's receipts coming back after several ticks still answer 'delivered', nothing stored", async () => {
  // A sender that keeps its destination's window full waits window / rate for each receipt
  // (0.2–0.4 s at the bench's maximum): that is not "no receipt in time".
  const dir = await tempRoot("fastlane");
  const clock = new FakeClock(Date.now());
  const a = await senderNode(dir, clock, FAST_GRACE_MS);
  try {
    a.attach();
    const answers = Array.from({ length: 64 }, (_, i) => a.submit(100 + i));
    assert.equal(a.forwarded.length, 64, "forwarded at once");
    await ticks(clock, 750);
    assert.equal(a.delivery.view().awaitingReceipt, 64, "750 ms on, all still wait in memory");
    assert.deepEqual(a.store.outboxDestinations(), []);
    a.receipt([...a.forwarded]);
    const got = await Promise.all(answers);
    assert.deepEqual(new Set(got.map((r) => r.state)), new Set(["delivered"]));
    // The next submission takes the fast lane too: nothing of the destination's waits on disk.
    const next = a.submit(200);
    assert.equal(a.delivery.view().awaitingReceipt, 1);
    a.receipt([a.forwarded[64]]);
    assert.equal((await next).state, "delivered");
    assert.deepEqual(a.store.outboxDestinations(), []);
    assert.equal(a.store.outboxUsage().get(ALICE), undefined, "its budget is back");
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fast lane: submissions wait past the grace while their destination answers others, are stored once it falls silent for the grace, and at the latest after FAST_MAX_WAIT_MS", async () => {
  const dir = await tempRoot("fastlane");
  const clock = new FakeClock(Date.now());
  const a = await senderNode(dir, clock, 1000);
  const tick = (ms: number) => ticks(clock, ms);
  try {
    a.attach();
    const states: string[] = [];
    const first = a.submit(300);
    for (const n of [301, 302]) a.submit(n).then((r) => states.push(r.state));
    const [x, y, z] = a.forwarded;
    await tick(750);
    a.receipt([x]);
    assert.equal((await first).state, "delivered");
    await tick(750); // 1,500 ms after the forward, 750 after the last answer
    assert.equal(a.delivery.view().awaitingReceipt, 2, "its destination answers: they wait");
    assert.deepEqual(a.store.outboxDestinations(), []);
    await tick(500); // silent for the grace
    await until("both stored", () => states.length === 2);
    assert.deepEqual(states, ["sent", "sent"]);
    assert.deepEqual(a.store.outboxDestinations(), ["nb"]);
    a.receipt([y, z]);

    // Answers keep coming for others, never for this one: stored after FAST_MAX_WAIT_MS.
    let lost: string | undefined;
    a.submit(400).then((r) => lost = r.state);
    const lostId = a.forwarded.at(-1)!;
    let n = 401;
    for (let t = 0; t <= FAST_MAX_WAIT_MS; t += 500) {
      if (t === FAST_MAX_WAIT_MS - 500) assert.equal(lost, undefined, "still waiting");
      a.submit(n++);
      a.receipt([a.forwarded.at(-1)!]);
      await tick(500);
    }
    await until("the lost one stored", () => lost !== undefined);
    assert.equal(lost, "sent");
    // From the durable outbox it goes again when overdue, as if it had been stored at once.
    await tick(500);
    assert.ok(a.forwarded.filter((id) => id === lostId).length >= 2, "sent again");
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fast lane: no receipt in time stores it in flight ('sent', not sent again); the late receipt settles it with a notice", async () => {
  const dir = await tempRoot("fastlane");
  const clock = new FakeClock(Date.now());
  const a = await senderNode(dir, clock, 300);
  try {
    const alice = a.attach();
    let state: string | undefined;
    const answer = a.submit(2).then((r) => state = r.state);
    const id = a.forwarded[0];
    // The engine's tick (every 250 ms) stores what waited past its grace.
    clock.advance(250);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(state, undefined, "still waiting for its receipt");
    assert.deepEqual(a.store.outboxDestinations(), []);
    clock.advance(250);
    await answer;
    assert.equal(state, "sent");
    assert.deepEqual(a.store.outboxDestinations(), ["nb"]);
    assert.deepEqual(a.delivery.view(), {
      outboxInMemory: 1,
      inFlight: 1,
      awaitingReceipt: 0,
      streamingChunks: 0,
      pushedFirst: 0,
      pushedFirstIdOnly: 0,
      pushedFirstBytes: 0,
      pushedFirstChunks: 0,
      pushedFirstChunkBytes: 0,
    });
    // In flight from its first forward: the pump does not send it again before it is overdue.
    a.delivery.pump();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(a.forwarded, [id]);
    a.receipt([id]);
    await until("the notice", () => settledNotices(alice.got).length === 1);
    const [n] = settledNotices(alice.got);
    assert.deepEqual([n.ref, n.state], [id, "delivered"]);
    assert.deepEqual(a.store.noticesFor(ALICE, 10).map((r) => r.id), [id]);
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fast lane: a refusal while waiting is kept as a settled row: 'sent', then the notice 'failed'", async () => {
  const dir = await tempRoot("fastlane");
  const a = await senderNode(dir, undefined, 60_000);
  try {
    const alice = a.attach();
    const answer = a.submit(3);
    const id = a.forwarded[0];
    a.receipt([id], "refused");
    assert.deepEqual(await answer, { id, state: "sent" });
    await until("the notice", () => settledNotices(alice.got).length === 1);
    const [n] = settledNotices(alice.got);
    assert.deepEqual([n.ref, n.state, n.reason], [id, "failed", "refused"]);
    assert.deepEqual(a.store.outboxDestinations(), [], "settled: not sent again");
    assert.equal(a.store.outboxUsage().get(ALICE), undefined);
    assert.deepEqual(a.forwarded, [id]);
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fast lane: 'busy' stores it and sends it again after the pause; a resubmission meanwhile is answered with the first", async () => {
  const dir = await tempRoot("fastlane");
  const clock = new FakeClock(Date.now());
  const a = await senderNode(dir, clock, 100);
  try {
    const first = a.submit(4);
    const again = a.submit(4);
    const id = a.forwarded[0];
    assert.deepEqual(a.forwarded, [id], "the resubmission is not forwarded again");
    a.receipt([id], "busy");
    assert.deepEqual(await first, { id, state: "sent" });
    assert.deepEqual(await again, { id, state: "sent" });
    assert.deepEqual(a.store.outboxDestinations(), ["nb"]);
    // A later submission to the paused destination waits behind it (stored, not forwarded).
    const later = a.submit(5);
    assert.equal((await later).state, "sent");
    assert.deepEqual(a.forwarded, [id]);
    clock.advance(5_001);
    a.delivery.pump();
    await until("both sent after the pause", () => a.forwarded.length === 3);
    assert.deepEqual(a.forwarded.slice(1), [id, (await later).id]);
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});
