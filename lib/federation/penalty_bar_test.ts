import assert from "node:assert/strict";
import { FakeClock } from "../clock.ts";
import { toNodeId } from "../ids.ts";
import { BARRED_MAX, PenaltyBar } from "./penalty_bar.ts";

const id = (i: number) => toNodeId(`stranger-${i}`);

Deno.test("PenaltyBar bars a peer until its time, then lets it go", () => {
  const clock = new FakeClock(0);
  const bars = new PenaltyBar(clock);
  bars.bar(id(1), 5_000);
  assert.equal(bars.barred(id(1)), true);
  assert.equal(bars.barred(id(2)), false);
  clock.advance(4_999);
  assert.equal(bars.barred(id(1)), true);
  clock.advance(1);
  assert.equal(bars.barred(id(1)), false);
  assert.equal(bars.size, 0, "an expired bar is dropped when looked at");
  bars.bar(id(3), 10_000);
  bars.lift(id(3));
  assert.equal(bars.barred(id(3)), false);
});

Deno.test("PenaltyBar keeps at most its limit: cut strangers under fresh ids cannot grow it", () => {
  const clock = new FakeClock(0);
  const bars = new PenaltyBar(clock);
  const strangers = BARRED_MAX * 3;
  for (let i = 0; i < strangers; i++) bars.bar(id(i), 30_000);
  assert.equal(bars.size, BARRED_MAX, `${strangers} cut strangers kept ${bars.size} bars`);
  assert.equal(bars.barred(id(strangers - 1)), true, "the newest bar is kept");
  assert.equal(bars.barred(id(0)), false, "the oldest bar made room");
});

Deno.test("PenaltyBar makes room from expired bars before live ones", () => {
  const clock = new FakeClock(0);
  const bars = new PenaltyBar(clock, 4);
  bars.bar(id(0), 60_000); // long penalty, barred first
  bars.bar(id(1), 1_000);
  bars.bar(id(2), 1_000);
  bars.bar(id(3), 60_000);
  clock.advance(2_000); // ids 1 and 2 have run out
  bars.bar(id(4), 60_000);
  bars.bar(id(5), 60_000);
  assert.equal(bars.size, 4);
  for (const i of [0, 3, 4, 5]) assert.equal(bars.barred(id(i)), true, `id ${i} still barred`);
  bars.bar(id(6), 60_000); // none expired: the oldest (id 0) goes
  assert.equal(bars.barred(id(0)), false);
  assert.equal(bars.barred(id(6)), true);
  bars.bar(id(3), 90_000); // barred again: moves to the newest place
  bars.bar(id(7), 60_000);
  assert.equal(bars.barred(id(3)), true, "a renewed bar is not the oldest");
  assert.equal(bars.barred(id(4)), false);
});
