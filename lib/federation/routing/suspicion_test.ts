import assert from "node:assert/strict";
import type { NodeId } from "../../ids.ts";
import {
  forgetPeer,
  NO_SUSPICION,
  pairSuspicion,
  peerSuspicion,
  reportDelivered,
  reportMiss,
  suspects,
} from "./suspicion.ts";

const r = "r" as NodeId;
const q = "q" as NodeId;
const d = "d" as NodeId;
const e = "e" as NodeId;
const MIN = 60_000;

Deno.test("reportMiss() raises (hop, dest) fully and the hop by half, without mutating", () => {
  const one = reportMiss(NO_SUSPICION, { peer: r, dest: d, nowMs: 0 });
  assert.equal(NO_SUSPICION.size, 0);
  assert.equal(pairSuspicion(one, r, d, 0), 1);
  assert.equal(peerSuspicion(one, r, 0), 0.5);
  assert.equal(pairSuspicion(one, r, e, 0), 0);
  assert.deepEqual(suspects(one, 0), []);
  const two = reportMiss(one, { peer: r, dest: d, nowMs: 0 });
  assert.deepEqual(suspects(two, 0), [{ peer: r, dest: d, score: 2, misses: 2, lastMissAtMs: 0 }]);
});

Deno.test("suspicion halves every half-life and is forgotten once negligible", () => {
  let s = reportMiss(NO_SUSPICION, { peer: r, dest: d, nowMs: 0 });
  s = reportMiss(s, { peer: r, dest: d, nowMs: 0 });
  assert.equal(pairSuspicion(s, r, d, 5 * MIN), 1);
  assert.equal(pairSuspicion(s, r, d, 15 * MIN), 0.25);
  assert.equal(pairSuspicion(s, r, d, 20 * MIN), 0);
  assert.equal(pairSuspicion(s, r, d, MIN, { suspicionHalfLifeMs: MIN }), 1);
});

Deno.test("a relay that drops everything becomes suspect as a whole", () => {
  let s = NO_SUSPICION;
  for (const dest of ["d1", "d2", "d3", "d4"]) {
    s = reportMiss(s, { peer: r, dest: dest as NodeId, nowMs: 0 });
  }
  assert.deepEqual(suspects(s, 0).map((x) => [x.peer, x.dest, x.score]), [[r, undefined, 2]]);
});

Deno.test("reportDelivered() clears the pair and halves the hop; forgetPeer() clears all of it", () => {
  let s = reportMiss(NO_SUSPICION, { peer: r, dest: d, nowMs: 0 });
  s = reportMiss(s, { peer: r, dest: e, nowMs: 0 });
  s = reportMiss(s, { peer: q, dest: d, nowMs: 0 });
  const delivered = reportDelivered(s, { peer: r, dest: d, nowMs: 0 });
  assert.equal(pairSuspicion(delivered, r, d, 0), 0);
  assert.equal(pairSuspicion(delivered, r, e, 0), 1);
  assert.equal(peerSuspicion(delivered, r, 0), 0.5);
  assert.equal(reportDelivered(NO_SUSPICION, { peer: r, dest: d, nowMs: 0 }), NO_SUSPICION);
  const forgotten = forgetPeer(s, r);
  assert.equal(pairSuspicion(forgotten, r, e, 0), 0);
  assert.equal(pairSuspicion(forgotten, q, d, 0), 1);
});

Deno.test("reportMiss() keeps at most maxSuspicionEntries, dropping the weakest", () => {
  let s = NO_SUSPICION;
  for (let i = 0; i < 20; i++) {
    s = reportMiss(s, { peer: r, dest: `d${i}` as NodeId, nowMs: i * MIN }, {
      maxSuspicionEntries: 8,
    });
  }
  assert.equal(s.size, 8);
  assert.ok(peerSuspicion(s, r, 19 * MIN) > 0);
});
