import assert from "node:assert/strict";
import { FakeClock } from "../clock.ts";
import { type NodeId, toNodeId } from "../ids.ts";
import { KnownMailboxes } from "./known_mailboxes.ts";

const n = toNodeId;

Deno.test("KnownMailboxes: past its limit the longest-unheard node the router let go makes room; nodes it holds are never dropped for that (a new one is refused instead)", () => {
  const saved = new Map<NodeId, NodeId[]>([[n("old"), [n("m1")]]]);
  const held = new Set<NodeId>([n("a"), n("b"), n("c")]);
  const known = new KnownMailboxes({
    load: () => new Map(saved),
    save: (node, list) => list.length > 0 ? saved.set(node, list) : saved.delete(node),
    held: (node) => held.has(node),
    clock: new FakeClock(0),
    limit: 2,
  });
  known.heard(n("a"), [n("m1")]);
  assert.equal(known.size, 2);
  // "old" is let go by the router: it makes room for "b".
  known.heard(n("b"), [n("m2")]);
  assert.deepEqual([...saved.keys()].sort(), ["a", "b"]);
  // Both held: "c" is refused, counted.
  known.heard(n("c"), [n("m3")]);
  assert.deepEqual(known.get(n("c")), []);
  assert.equal(known.view().refusals, 1);
  // An update of a node kept, and a node naming none, need no room.
  known.heard(n("a"), [n("m4")]);
  assert.deepEqual(known.get(n("a")), ["m4"]);
  known.heard(n("b"), []);
  assert.deepEqual([...saved.keys()], ["a"]);
  assert.equal(known.view().used, 1);
});

Deno.test("KnownMailboxes: rows past a limit lowered since the last run go at start, those of nodes the router let go first", () => {
  const saved = new Map<NodeId, NodeId[]>(
    ["x", "y", "z"].map((k) => [n(k), [n("m")]] as [NodeId, NodeId[]]),
  );
  const known = new KnownMailboxes({
    load: () => new Map(saved),
    save: (node, list) => list.length > 0 ? saved.set(node, list) : saved.delete(node),
    held: (node) => node === n("x"),
    clock: new FakeClock(0),
    limit: 1,
  });
  known.trim();
  assert.equal(known.size, 1);
  assert.deepEqual([...saved.keys()], ["x"]);
});
