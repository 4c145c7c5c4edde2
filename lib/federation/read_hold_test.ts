import assert from "node:assert/strict";
import { FakeClock } from "../clock.ts";
import type { NodeId } from "../ids.ts";
import { ReadHolds } from "./read_hold.ts";

const A = "a" as NodeId;
const B = "b" as NodeId;
const C = "c" as NodeId;

function setup() {
  const clock = new FakeClock(0);
  const writable = new Map<NodeId, boolean>();
  const paused = new Set<NodeId>();
  const holds = new ReadHolds({
    clock,
    maxHoldMs: 1000,
    writable: (p) => writable.get(p) ?? true,
    pause: (p) => paused.add(p),
    resume: (p) => paused.delete(p),
  });
  return { clock, writable, paused, holds };
}

Deno.test("ReadHolds pauses the incoming link while the next hop is not writable, resumes on drain", () => {
  const { writable, paused, holds } = setup();
  assert.equal(holds.hold(A, C), false, "a writable next hop holds nothing");
  writable.set(C, false);
  assert.equal(holds.hold(A, C), true);
  assert.ok(paused.has(A) && holds.isHeld(A));
  assert.equal(holds.hold(A, C), false, "held once");
  writable.set(C, true);
  holds.drained(C);
  assert.ok(!paused.has(A) && !holds.isHeld(A));
  assert.deepEqual(holds.view(), { held: 0, made: 1, ranOut: 0 });
});

Deno.test("ReadHolds ends a hold after maxHoldMs and holds no more for a slow hop until it drains", () => {
  const { clock, writable, paused, holds } = setup();
  writable.set(C, false);
  holds.hold(A, C);
  clock.advance(999);
  assert.ok(paused.has(A));
  clock.advance(1);
  assert.ok(!paused.has(A), "bounded: the link is read again");
  assert.equal(holds.hold(A, C), false, "the slow hop's own budgets apply now");
  assert.equal(holds.hold(B, C), false);
  holds.drained(C);
  assert.equal(holds.hold(A, C), true, "a hop that drained may be waited for again");
  assert.deepEqual(holds.view(), { held: 1, made: 2, ranOut: 1 });
});

Deno.test("ReadHolds releases links held for a peer whose link went down, and a downed held link", () => {
  const { clock, writable, paused, holds } = setup();
  writable.set(C, false);
  writable.set(A, false);
  holds.hold(A, C);
  holds.hold(B, C);
  holds.down(C);
  assert.equal(paused.size, 0);
  holds.hold(B, A);
  holds.down(B);
  assert.ok(!holds.isHeld(B));
  clock.advance(5000);
  assert.deepEqual(holds.view().ranOut, 0, "no timer left behind");
});

Deno.test("ReadHolds never holds a link for itself", () => {
  const { writable, holds } = setup();
  writable.set(A, false);
  assert.equal(holds.hold(A, A), false);
});
