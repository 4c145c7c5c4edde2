import assert from "node:assert/strict";
import { GroupStore } from "./group_store.ts";

const kp = (n: number) => new Uint8Array([n]);

Deno.test("key packages: a one-time package is handed out once, oldest first; the last-resort one after them, kept", () => {
  const s = new GroupStore(":memory:");
  const now = 1000;
  s.addKeyPackages("bob", [
    { ref: "r1", bytes: kp(1), lastResort: false, notAfterMs: 5000 },
    { ref: "r2", bytes: kp(2), lastResort: false, notAfterMs: 5000 },
    { ref: "lr", bytes: kp(9), lastResort: true, notAfterMs: 5000 },
  ]);
  assert.deepEqual(s.keyPackageCount("bob", now), { oneTime: 2, lastResort: true });
  assert.deepEqual(s.takeKeyPackage("bob", now), kp(1));
  assert.deepEqual(s.takeKeyPackage("bob", now), kp(2));
  assert.deepEqual(s.takeKeyPackage("bob", now), kp(9));
  assert.deepEqual(s.takeKeyPackage("bob", now), kp(9));
  assert.deepEqual(s.keyPackageCount("bob", now), { oneTime: 0, lastResort: true });
  assert.equal(s.takeKeyPackage("carol", now), null);
  s.close();
});

Deno.test("key packages: expired ones are never handed out; a new last-resort one replaces the old", () => {
  const s = new GroupStore(":memory:");
  s.addKeyPackages("bob", [
    { ref: "old", bytes: kp(1), lastResort: false, notAfterMs: 100 },
    { ref: "lr1", bytes: kp(8), lastResort: true, notAfterMs: 10_000 },
  ]);
  s.addKeyPackages("bob", [{ ref: "lr2", bytes: kp(9), lastResort: true, notAfterMs: 10_000 }]);
  assert.deepEqual(s.takeKeyPackage("bob", 200), kp(9));
  assert.equal(s.keyPackageUsage().get("bob"), 1);
  s.close();
});

Deno.test("local standing and decisions: kept, counted, expired", () => {
  const s = new GroupStore(":memory:");
  s.setLocalState("bob", "g1", "invited", 10);
  s.setLocalState("bob", "g2", "joined", 10);
  s.setLocalState("carol", "g1", "invited", 500);
  assert.deepEqual(s.localUsage().get("bob"), { groups: 2, invited: 1 });
  assert.deepEqual(s.expireInvitations(100), ["bob"]);
  assert.equal(s.localState("bob", "g1"), null);
  assert.equal(s.localState("carol", "g1"), "invited");
  s.putDecision("e1", { status: "stored" }, 50);
  assert.deepEqual(s.decision("e1"), { status: "stored" });
  s.purgeDecisions(60);
  assert.equal(s.decision("e1"), undefined);
  s.close();
});
