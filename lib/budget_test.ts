import assert from "node:assert/strict";
import { Budget, BudgetRegistry, RateBudget, ThrottledLog } from "./budget.ts";
import { FakeClock } from "./clock.ts";
import { createLogger } from "./log.ts";

Deno.test("Budget refuses past the per-key and the total limit, and counts refusals", () => {
  const refused: string[] = [];
  const b = new Budget("pending", { perKey: 2, total: 3 }, (k) => refused.push(k));
  assert.ok(b.take("a") && b.take("a"));
  assert.equal(b.take("a"), false);
  assert.ok(b.take("b"));
  assert.equal(b.take("c"), false, "total reached");
  b.release("a");
  assert.ok(b.take("c"));
  assert.deepEqual(refused, ["a", "c"]);
  const v = b.view();
  assert.equal(v.used, 3);
  assert.equal(v.refusals, 2);
  assert.deepEqual(v.top, { key: "a", used: 1 });
});

Deno.test("Budget refuses a new key beyond maxKeys, and set() replaces a count", () => {
  const b = new Budget("x", { perKey: 10, maxKeys: 1 });
  assert.ok(b.take("a", 5));
  assert.equal(b.take("b"), false);
  b.set("a", 2);
  assert.equal(b.used, 2);
  b.clear("a");
  assert.ok(b.take("b"));
});

Deno.test("RateBudget allows a burst, then refills per minute", () => {
  const r = new RateBudget("rate", { burst: 2, perMinute: 60 });
  assert.ok(r.take("k", 0) && r.take("k", 0));
  assert.equal(r.take("k", 0), false);
  assert.ok(r.take("k", 1000));
  assert.equal(r.view().refusals, 1);
});

Deno.test("RateBudget evicts the key used least recently (to within a second) beyond maxKeys", () => {
  const r = new RateBudget("rate", { burst: 1, perMinute: 1, maxKeys: 2 });
  assert.ok(r.take("a", 0));
  assert.ok(r.take("b", 0));
  // Used again a second later: "a" is now the most recent, so the new key evicts "b".
  assert.equal(r.take("a", 1000), false);
  assert.ok(r.take("c", 1000));
  assert.equal(r.take("a", 1000), false, "a kept its empty bucket");
  assert.ok(r.take("b", 1000), "b was forgotten: a full burst again");
});

Deno.test("ThrottledLog writes a key once per interval and counts what it held back", () => {
  const lines: string[] = [];
  const clock = new FakeClock(0);
  const t = new ThrottledLog(createLogger({ sink: (l) => lines.push(l) }), clock, {
    intervalMs: 1000,
  });
  for (let i = 0; i < 100; i++) t.write("warn", "peer-x", "flood", { peer: "x" });
  assert.equal(lines.length, 1);
  clock.advance(1000);
  t.write("warn", "peer-x", "flood", { peer: "x" });
  assert.equal(lines.length, 2);
  assert.match(lines[1], /repeated=99/);
});

Deno.test("BudgetRegistry reports refusals through one throttled log and snapshots by name", () => {
  const lines: string[] = [];
  const reg = new BudgetRegistry(createLogger({ sink: (l) => lines.push(l) }), new FakeClock(0));
  const b = reg.budget("approvals", { perKey: 1 });
  b.take("1.2.3.4");
  for (let i = 0; i < 50; i++) b.take("1.2.3.4");
  assert.equal(lines.length, 1);
  assert.match(lines[0], /budget=approvals key=1.2.3.4/);
  assert.deepEqual(Object.keys(reg.snapshot()), ["approvals"]);
  assert.equal(reg.snapshot().approvals.refusals, 50);
  assert.throws(() => reg.budget("approvals", { perKey: 1 }), RangeError);
});
