import assert from "node:assert/strict";
import { type NodeId, toNodeId } from "../../ids.ts";
import type { SignedAnnouncement } from "./announcement.ts";
import { computeRoutes } from "./route_table.ts";
import { HopPenalties } from "./hop_penalties.ts";

/** A graph from "who announces which links"; only the links field is read. */
function graph(self: string, claims: Record<string, string[]>, penalty = (_: NodeId) => 0) {
  return {
    self: self as NodeId,
    links: claims[self].map(toNodeId),
    announcementOf: (node: NodeId) =>
      node in claims
        ? ({ links: [...claims[node]].sort() } as unknown as SignedAnnouncement)
        : undefined,
    penalty,
  };
}

Deno.test("computeRoutes() uses a link only when both ends announce it", () => {
  const routes = computeRoutes(graph("a", { a: ["b"], b: ["a", "c", "d"], c: ["b"], d: [] }));
  assert.deepEqual([...routes.keys()].sort(), ["b", "c"]);
  assert.deepEqual(routes.get("c" as NodeId), { node: "c", nextHop: "b", distance: 2, cost: 2 });
});

Deno.test("computeRoutes() counts its own links first-hand, before the peer announces them", () => {
  const routes = computeRoutes(graph("a", { a: ["b"], b: [] }));
  assert.equal(routes.get("b" as NodeId)?.distance, 1);
});

Deno.test("computeRoutes() breaks ties by next hop id and adds first-hop penalties", () => {
  // a - b - d and a - c - d
  const claims = { a: ["b", "c"], b: ["a", "d"], c: ["a", "d"], d: ["b", "c"] };
  assert.equal(computeRoutes(graph("a", claims)).get("d" as NodeId)?.nextHop, "b");
  const penalties = new HopPenalties({ halfLifeMs: 1000 });
  penalties.addFailure("b" as NodeId, 0);
  const route = computeRoutes(graph("a", claims, (p) => penalties.cost(p, 0))).get("d" as NodeId);
  assert.deepEqual(route, { node: "d", nextHop: "c", distance: 2, cost: 2 });
  assert.equal(penalties.cost("b" as NodeId, 1000), 0.5);
  assert.equal(penalties.cost("b" as NodeId, 3000), 0);
});
