import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
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

Deno.test("staged fan-out: read back in the order staged, in batches within a byte bound (at least one row), counted by origin; a groups.db without the origin column gains it", () => {
  // Under .tmp: the test runner may write only there (tests/run.ts).
  Deno.mkdirSync(".tmp", { recursive: true });
  const dir = Deno.makeTempDirSync({ dir: ".tmp", prefix: "group-store-" });
  const path = `${dir}/groups.db`;
  const old = new DatabaseSync(path);
  old.exec(
    "CREATE TABLE hub_fanout (id TEXT PRIMARY KEY, dest TEXT NOT NULL, bytes BLOB NOT NULL, expires_at_ms INTEGER NOT NULL) STRICT",
  );
  old.prepare("INSERT INTO hub_fanout VALUES ('z0', 'n1', ?, 9)").run(new Uint8Array(10));
  old.close();
  const s = new GroupStore(path);
  const row = (id: string, n: number) => ({
    id,
    dest: "n1",
    bytes: new Uint8Array(n),
    expiresAtMs: 9,
  });
  // Ids out of alphabetical order: the order is the staging order.
  assert.equal(s.stageFanout([row("c", 100), row("a", 100), row("b", 300)], "o1"), 500);
  assert.equal(s.stageFanout([row("a", 100)], "o1"), 0, "a row staged already is not counted");
  assert.deepEqual([...s.stagedFanoutUsage()].sort(), [["", 10], ["o1", 500]]);
  assert.deepEqual(s.stagedFanout(210).map((r) => r.id), ["z0", "c", "a"]);
  assert.deepEqual(s.stagedFanout(5).map((r) => r.id), ["z0"]);
  s.unstageFanout(["z0", "c", "a"]);
  assert.deepEqual(s.stagedFanout(50).map((r) => [r.id, r.origin]), [["b", "o1"]]);
  assert.equal(s.stagedFanoutCount(), 1);
  s.close();
  Deno.removeSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
});
