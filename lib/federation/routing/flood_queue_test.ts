import assert from "node:assert/strict";
import { toNodeId } from "../../ids.ts";
import { type FloodDue, FloodQueue } from "./flood_queue.ts";

const [A, B, C] = ["a", "b", "c"].map(toNodeId);

/** Drains `q`: peer → [own, full, origins]. */
function drain(q: FloodQueue): Record<string, [boolean, boolean, number[]]> {
  const out: Record<string, [boolean, boolean, number[]]> = {};
  q.drain((d: FloodDue) => {
    out[d.peer] = [d.own, d.full, [...d.origins.subarray(0, d.count)]];
  });
  return out;
}

function queueWith(...peers: string[]): FloodQueue {
  const q = new FloodQueue();
  for (const p of peers) q.addNeighbour(toNodeId(p));
  drain(q);
  return q;
}

Deno.test("FloodQueue owes a new neighbour the whole database, and every neighbour a new own announcement", () => {
  const q = new FloodQueue();
  q.addNeighbour(A);
  q.ownChanged();
  assert.deepEqual(drain(q), { a: [true, true, []] });
  q.addNeighbour(B);
  assert.deepEqual(drain(q), { b: [false, true, []] });
  assert.equal(q.empty, true);
  q.ownChanged();
  assert.deepEqual(drain(q), { a: [true, false, []], b: [true, false, []] });
});

Deno.test("FloodQueue sends an accepted announcement to every neighbour but its sender", () => {
  const q = queueWith("a", "b", "c");
  q.changed(7, q.slotOf(A));
  q.changed(9, -1); // from no neighbour (injected): to all
  assert.deepEqual(drain(q), {
    a: [false, false, [9]],
    b: [false, false, [7, 9]],
    c: [false, false, [7, 9]],
  });
  assert.equal(q.empty, true);
});

Deno.test("FloodQueue sends nothing back to a neighbour that sent the same (origin, seq) before the flush", () => {
  const q = queueWith("a", "b", "c");
  q.changed(7, q.slotOf(A));
  q.heard(7, q.slotOf(B)); // implied acknowledgement
  assert.deepEqual(drain(q), { c: [false, false, [7]] });
  // Once sent, a later duplicate or a second queueing of the same seq sends nothing more.
  q.changed(8, q.slotOf(A));
  q.heard(8, q.slotOf(C));
  assert.deepEqual(drain(q), { b: [false, false, [8]] });
});

Deno.test("FloodQueue starts afresh for a newer seq, and sends an origin queued twice once", () => {
  const q = queueWith("a", "b", "c");
  q.changed(7, q.slotOf(A));
  q.heard(7, q.slotOf(B));
  q.changed(7, q.slotOf(C)); // a newer seq from c: a and b lack it
  assert.deepEqual(drain(q), { a: [false, false, [7]], b: [false, false, [7]] });
});

Deno.test("FloodQueue forgets a neighbour that went down, and a new one in its slot is owed everything", () => {
  const q = queueWith("a", "b");
  const slot = q.slotOf(B);
  q.changed(7, slot);
  q.removeNeighbour(B);
  assert.equal(q.slotOf(B), -1);
  assert.deepEqual(drain(q), { a: [false, false, [7]] });
  assert.equal(q.addNeighbour(C), slot);
  assert.deepEqual(drain(q), { c: [false, true, []] });
  // c's slot carries none of b's marks.
  q.changed(3, q.slotOf(A));
  assert.deepEqual(drain(q), { c: [false, false, [3]] });
});

Deno.test("FloodQueue queues what arrives while it drains for the next flush", () => {
  const q = queueWith("a", "b");
  q.changed(1, q.slotOf(A));
  const seen: number[][] = [];
  q.drain((d) => {
    seen.push([...d.origins.subarray(0, d.count)]);
    q.changed(2, q.slotOf(A));
  });
  assert.deepEqual(seen, [[1]]);
  assert.deepEqual(drain(q), { b: [false, false, [2]] });
});
