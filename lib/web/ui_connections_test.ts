import assert from "node:assert/strict";
import { UiConnections } from "./ui_connections.ts";

function tracker(max: number, perAddress: number) {
  const connections = new UiConnections({ maxConnections: max, maxPerAddress: perAddress });
  const evicted: string[] = [];
  const admit = (name: string, address = "127.0.0.1") => {
    const a = connections.admit(address, () => evicted.push(name));
    return a;
  };
  return { connections, evicted, admit };
}

Deno.test("UiConnections admits up to the caps, then pushes out the oldest that has not signed in", () => {
  const t = tracker(100, 3);
  const a = t.admit("a");
  const b = t.admit("b");
  const c = t.admit("c");
  assert.ok(a.kind === "admit" && b.kind === "admit" && c.kind === "admit");
  t.connections.trust(a.id);
  assert.equal(c.kind === "admit" && c.pushedOut, false);
  // The address is full: the oldest unsigned one (b) makes room, not the signed-in a.
  const d = t.admit("d");
  assert.equal(d.kind === "admit" && d.pushedOut, true);
  assert.deepEqual(t.evicted, ["b"]);
  assert.equal(t.admit("e").kind, "admit");
  assert.deepEqual(t.evicted, ["b", "c"]);
  assert.equal(t.connections.size, 3);
  assert.equal(t.connections.view().evicted, 2);
});

Deno.test("UiConnections refuses a newcomer when every connection has signed in", () => {
  const t = tracker(100, 2);
  for (const name of ["a", "b"]) {
    const r = t.admit(name);
    assert.ok(r.kind === "admit");
    t.connections.trust(r.id);
  }
  assert.deepEqual(t.admit("c"), { kind: "refuse", why: "address" });
  assert.deepEqual(t.evicted, []);
  assert.equal(t.connections.view().refusals, 1);
});

Deno.test("UiConnections: the total cap pushes out the oldest unsigned of any address", () => {
  const t = tracker(3, 3);
  const a = t.admit("a", "127.0.0.1");
  t.admit("b", "127.0.0.2");
  t.admit("c", "127.0.0.1");
  assert.ok(a.kind === "admit");
  t.connections.trust(a.id);
  assert.equal(t.admit("d", "::1").kind, "admit");
  assert.deepEqual(t.evicted, ["b"]);
});

Deno.test("UiConnections: a released connection frees its place once, and evictOldestUntrusted() picks the oldest", () => {
  const t = tracker(2, 2);
  const a = t.admit("a");
  const b = t.admit("b");
  assert.ok(a.kind === "admit" && b.kind === "admit");
  t.connections.release(a.id);
  t.connections.release(a.id);
  assert.equal(t.connections.size, 1);
  assert.equal(t.admit("c").kind, "admit");
  assert.equal(t.connections.evictOldestUntrusted(), true);
  assert.deepEqual(t.evicted, ["b"]);
  assert.equal(t.connections.view().used, 1);
});
