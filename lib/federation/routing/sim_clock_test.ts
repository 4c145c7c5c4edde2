import assert from "node:assert/strict";
import { SimClock } from "./sim_clock.ts";

Deno.test("SimClock runs timers and scheduled events in time order, ties in scheduling order", () => {
  const clock = new SimClock({ startMs: 0 });
  const seen: string[] = [];
  clock.schedule(() => seen.push("d10"), 10);
  clock.setTimer(() => seen.push("t5"), 5);
  clock.schedule(() => seen.push("d10b"), 10);
  clock.setTimer(() => seen.push("t10"), 10);
  clock.setTimer(() => {
    seen.push("t1");
    clock.schedule(() => seen.push("d1+3"), 3);
  }, 1);
  clock.runUntil(20);
  assert.deepEqual(seen, ["t1", "d1+3", "t5", "d10", "d10b", "t10"]);
  assert.equal(clock.nowMs(), 20);
});

Deno.test("SimClock.clearTimer() cancels a pending timer, and time stops at the limit", () => {
  const clock = new SimClock({ startMs: 0 });
  let fired = 0;
  const handle = clock.setTimer(() => fired++, 5);
  clock.setTimer(() => fired++, 50);
  clock.clearTimer(handle);
  clock.runUntil(10);
  assert.equal(fired, 0);
  assert.equal(clock.nextAtMs(), 50);
  clock.runUntil(50);
  assert.equal(fired, 1);
});
