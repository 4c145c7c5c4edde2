import assert from "node:assert/strict";
import { flowAfterChange, type FlowVerdict, overflows, writeLimits } from "./write_limits.ts";

const limits = writeLimits({ highWaterBytes: 1000, maxBufferedBytes: 10_000, stallMs: 100 });
const MSG = 500;
const step = (bufferedBytes: number, previous: FlowVerdict) =>
  flowAfterChange({ bufferedBytes, maxMessageBytes: MSG, previous }, limits);
const fresh: FlowVerdict = { writable: true, readingPaused: false };

Deno.test("writeLimits() derives the low-water mark and refuses marks out of order", () => {
  assert.equal(limits.lowWaterBytes, 250);
  assert.throws(() => writeLimits({ highWaterBytes: 100, lowWaterBytes: 100 }), RangeError);
  assert.throws(() => writeLimits({ highWaterBytes: 100, maxBufferedBytes: 100 }), RangeError);
  assert.throws(() => writeLimits({ stallMs: 0 }), RangeError);
  assert.ok(writeLimits().maxBufferedBytes > writeLimits().highWaterBytes);
});

Deno.test("flowAfterChange(): not writable from the high water until the low water", () => {
  assert.deepEqual(step(999, fresh), fresh);
  const full = step(1000, fresh);
  assert.equal(full.writable, false);
  assert.equal(step(600, full).writable, false, "hysteresis: still above the low water");
  assert.equal(step(251, full).writable, false);
  assert.equal(step(250, full).writable, true);
});

Deno.test("flowAfterChange(): reading pauses one message past the high water, resumes at low", () => {
  const sender = step(1000 + MSG - 1, fresh);
  assert.equal(sender.readingPaused, false, "a sender that respects writable never pauses reading");
  const paused = step(1000 + MSG, fresh);
  assert.deepEqual(paused, { writable: false, readingPaused: true });
  assert.equal(step(400, paused).readingPaused, true);
  assert.deepEqual(step(250, paused), fresh);
});

Deno.test("overflows() is true past the hard limit only", () => {
  assert.equal(overflows(9_000, 1_000, limits), false);
  assert.equal(overflows(9_000, 1_001, limits), true);
});
