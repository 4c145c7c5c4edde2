import assert from "node:assert/strict";
import { FakeClock } from "../clock.ts";
import { toNodeId } from "../ids.ts";
import { nextBackoff, Redial } from "./redial.ts";

const peer = toNodeId("p");

Deno.test("nextBackoff() doubles from the minimum up to the cap", () => {
  assert.deepEqual([0, 500, 1000, 16_000, 30_000].map((x) => nextBackoff(x, 500, 30_000)), [
    500,
    1000,
    2000,
    30_000,
    30_000,
  ]);
});

Deno.test("Redial backs off with jitter on the injected clock and randomness, and resets", () => {
  const clock = new FakeClock(0);
  const r = new Redial({ clock, random: () => 0.5 });
  let dials = 0;
  const dial = () => dials++;
  r.afterFailure(peer, dial);
  clock.advance(499);
  assert.equal(dials, 0);
  clock.advance(1);
  assert.equal(dials, 1);
  r.afterFailure(peer, dial);
  clock.advance(999);
  assert.equal(dials, 1);
  clock.advance(1);
  assert.equal(dials, 2);
  r.reset(peer);
  r.afterFailure(peer, dial);
  clock.advance(500);
  assert.equal(dials, 3);
});

Deno.test("Redial waits the penalty after a disconnect for misbehaviour, doubling", () => {
  const clock = new FakeClock(0);
  const r = new Redial({ clock, random: () => 0 });
  let dials = 0;
  r.afterDrop(peer, () => dials++);
  clock.advance(200);
  assert.equal(dials, 1, "an ordinary drop redials soon");
  r.penalize(peer);
  r.afterDrop(peer, () => dials++);
  clock.advance(4_999);
  assert.equal(dials, 1);
  clock.advance(1);
  assert.equal(dials, 2);
  r.penalize(peer);
  r.afterDrop(peer, () => dials++);
  clock.advance(9_999);
  assert.equal(dials, 2);
  r.cancel(peer);
  clock.advance(10_000);
  assert.equal(dials, 2, "cancelled");
  assert.equal(r.scheduled(peer), false);
});
