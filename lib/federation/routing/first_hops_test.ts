import assert from "node:assert/strict";
import { type NodeId, toNodeId } from "../../ids.ts";
import type { SignedAnnouncement } from "./announcement.ts";
import { rankFirstHops } from "./first_hops.ts";

/** A graph from "who announces which links"; only the links field is read. */
function graph(self: string, claims: Record<string, string[]>) {
  return {
    self: self as NodeId,
    links: claims[self].map(toNodeId),
    announcementOf: (node: NodeId) =>
      node in claims
        ? ({ links: [...claims[node]].sort() } as unknown as SignedAnnouncement)
        : undefined,
    penalty: () => 0,
  };
}

// s has three neighbours; a and b lead to d through the same relay x; c has its own path.
//   s - a - x - d,  s - b - x,  s - c - y - z - d
const CLAIMS = {
  s: ["a", "b", "c"],
  a: ["s", "x"],
  b: ["s", "x"],
  c: ["s", "y"],
  x: ["a", "b", "d"],
  y: ["c", "z"],
  z: ["y", "d"],
  d: ["x", "z"],
};

Deno.test("rankFirstHops() ranks by cost, then disjoint paths before shared ones", () => {
  const hops = rankFirstHops({ graph: graph("s", CLAIMS), dest: "d" as NodeId, cost: () => 0 });
  assert.deepEqual(hops.map((h) => [h.hop, h.distance, h.disjoint]), [
    ["a", 3, true],
    ["c", 4, true],
    ["b", 3, false],
  ]);
});

Deno.test("rankFirstHops() puts a suspected hop last when its cost says so", () => {
  const hops = rankFirstHops({
    graph: graph("s", CLAIMS),
    dest: "d" as NodeId,
    cost: (hop) => (hop === "a" ? 2 : 0),
  });
  assert.deepEqual(hops.map((h) => h.hop), ["b", "c", "a"]);
});

Deno.test("rankFirstHops() ignores one-sided links and unreachable destinations", () => {
  const claims = { ...CLAIMS, z: ["y"] }; // z no longer confirms z–d
  const hops = rankFirstHops({ graph: graph("s", claims), dest: "d" as NodeId, cost: () => 0 });
  assert.deepEqual(hops.map((h) => h.hop), ["a", "b"]);
  assert.deepEqual(
    rankFirstHops({ graph: graph("s", CLAIMS), dest: "nowhere" as NodeId, cost: () => 0 }),
    [],
  );
});
