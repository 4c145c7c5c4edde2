import assert from "node:assert/strict";
import { type NodeId, toNodeId, toUserName } from "../ids.ts";
import { openSqliteNodeStore } from "../store/mod.ts";
import { Outbox } from "./outbox.ts";

const [b, c] = ["b", "c"].map(toNodeId);
const alice = toUserName("alice");

function fill(n: number, dest: NodeId, from = 0) {
  const store = openSqliteNodeStore(":memory:");
  const rows = Array.from({ length: n }, (_, i) => ({
    id: `${dest}-${from + i}`,
    owner: alice,
    dest,
    bytes: new Uint8Array(10),
    expiresAtMs: 1e12,
  }));
  store.outboxAdd(rows);
  return store;
}

Deno.test("Outbox reads a long queue from the store a page at a time, in order", () => {
  const store = fill(1000, b);
  const o = new Outbox({ store, window: 8, prefetch: 16 });
  const sent: string[] = [];
  o.pump(0, (e) => (sent.push(e.id), c));
  assert.deepEqual(sent, Array.from({ length: 8 }, (_, i) => `b-${i}`));
  assert.ok(o.inMemory <= 8 + 16, `holds ${o.inMemory}, not the whole queue`);
  for (const id of sent) o.remove(id);
  o.pump(0, (e) => (sent.push(e.id), c));
  assert.equal(sent.at(-1), "b-15");
  store.close();
});

Deno.test("Outbox stops a destination at the first refusal and sends overdue ones again first", () => {
  const store = fill(5, b);
  const o = new Outbox({ store, window: 10 });
  const sent: string[] = [];
  o.pump(0, () => null);
  assert.equal(sent.length, 0);
  o.pump(0, (e) => (sent.push(e.id), c));
  assert.equal(sent.length, 5);
  assert.equal(o.get("b-0")!.firstHop, "c");
  const late = o.overdue(6000, 5000);
  assert.equal(late.length, 5);
  sent.length = 0;
  o.pump(6000, (e) => (sent.push(e.id), b));
  assert.deepEqual(sent, ["b-0", "b-1", "b-2", "b-3", "b-4"]);
  assert.equal(o.get("b-0")!.attempts, 2);
  store.close();
});

Deno.test("Outbox: new rows join a complete lane in memory; a busy destination is left alone", () => {
  const store = fill(0, b);
  const o = new Outbox({ store, window: 4 });
  const [seq] = store.outboxAdd([{
    id: "n1",
    owner: alice,
    dest: b,
    bytes: new Uint8Array(1),
    expiresAtMs: 1e12,
  }]);
  o.added([{ seq, id: "n1", owner: alice, dest: b, bytes: new Uint8Array(1), expiresAtMs: 1e12 }]);
  const sent: string[] = [];
  o.pump(0, (e) => (sent.push(e.id), c));
  assert.deepEqual(sent, ["n1"]);
  o.requeue("n1");
  o.pause(b, 5000);
  o.pump(1000, (e) => (sent.push(e.id), c));
  assert.deepEqual(sent, ["n1"], "paused");
  o.pump(5000, (e) => (sent.push(e.id), c));
  assert.deepEqual(sent, ["n1", "n1"]);
  store.close();
});
