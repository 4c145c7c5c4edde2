import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { collectingUncaught } from "../tests/_helpers/uncaught.ts";
import { atTurnEnd, MAX_ROUNDS } from "./turn_end.ts";

/** Waits `ms` without yielding, so that a timer queued before is due. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* due */ }
}

const later = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("atTurnEnd: work queued by end-of-turn work, or by its microtasks, runs in the same iteration", async () => {
  const order: string[] = [];
  atTurnEnd(() => {
    order.push("commit");
    // Due before the next iteration's check phase: a nested setImmediate would run after it.
    setTimeout(() => order.push("next iteration's timer"), 0);
    busy(5);
    atTurnEnd(() => order.push("seal"));
    Promise.resolve().then(() => atTurnEnd(() => order.push("seal after a microtask")));
  });
  await later(50);
  assert.deepEqual(order, [
    "commit",
    "seal",
    "seal after a microtask",
    "next iteration's timer",
  ]);
});

Deno.test("atTurnEnd: the same in plain setImmediate would wait for the next iteration's timers", async () => {
  // What the module replaces, for the record: the nested immediate runs after the timer.
  const order: string[] = [];
  setImmediate(() => {
    setTimeout(() => order.push("timer"), 0);
    busy(5);
    setImmediate(() => order.push("nested"));
  });
  await later(50);
  assert.deepEqual(order, ["timer", "nested"]);
});

Deno.test("atTurnEnd: a throw is reported and the rest still runs; endless requeueing yields", async () => {
  const ran: string[] = [];
  let n = 0;
  let timerAt = -1;
  const errors = await collectingUncaught(async (errors) => {
    atTurnEnd(() => {
      throw new Error("boom");
    });
    atTurnEnd(() => ran.push("after"));
    // Work that queues itself from a microtask forever runs MAX_ROUNDS times per iteration.
    const again = () => {
      n++;
      if (n < 3 * MAX_ROUNDS) queueMicrotask(() => atTurnEnd(again));
    };
    atTurnEnd(again);
    setTimeout(() => (timerAt = n), 0);
    busy(5);
    await later(50);
    return errors;
  });
  assert.deepEqual(ran, ["after"]);
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as Error).message, "boom");
  assert.equal(n, 3 * MAX_ROUNDS);
  assert.ok(timerAt >= 0 && timerAt < 3 * MAX_ROUNDS, `the timer ran in between (at ${timerAt})`);
});
