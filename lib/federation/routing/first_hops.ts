/**
 * Ranked first hops toward one destination, for resends that alternate paths: every
 * neighbour with a path to the destination that does not come back through this node,
 * cheapest first (hops plus that neighbour's penalty and suspicion), then, among the rest,
 * those whose path shares no node with the best one before those that do.
 */
import type { NodeId } from "../../ids.ts";
import type { RouteGraph } from "./route_table.ts";

/** One ranked first hop. */
export interface FirstHop {
  readonly hop: NodeId;
  /** Hops from this node to the destination through `hop`. */
  readonly distance: number;
  /** Distance plus penalty and suspicion of `hop`; what the rank is by. */
  readonly cost: number;
  /** Whether its path shares no intermediate node with the best path. */
  readonly disjoint: boolean;
}

/**
 * Ranks the first hops toward `dest` (pure: reads the graph, decides nothing else).
 * `cost(hop)` is the extra cost of a first hop for this destination.
 */
export function rankFirstHops(
  { graph, dest, cost }: { graph: RouteGraph; dest: NodeId; cost(hop: NodeId): number },
): FirstHop[] {
  const neighbours = [...graph.links];
  if (dest === graph.self) return [];
  // One breadth-first search from the destination, never entering this node: distance and
  // next step toward dest for every node (links count only when both ends announce them).
  const dist = new Map<NodeId, number>([[dest, 0]]);
  const toward = new Map<NodeId, NodeId>();
  const queue: NodeId[] = [dest];
  for (let q = 0; q < queue.length; q++) {
    const node = queue[q];
    const a = graph.announcementOf(node);
    if (a === undefined) continue;
    for (const next of a.links) {
      if (next === graph.self || dist.has(next)) continue;
      const other = graph.announcementOf(next);
      if (other === undefined || !sortedIncludes(other.links, node)) continue;
      dist.set(next, dist.get(node)! + 1);
      toward.set(next, node);
      queue.push(next);
    }
  }
  const ranked = neighbours
    .filter((n) => dist.has(n))
    .map((hop) => ({ hop, distance: dist.get(hop)! + 1, cost: dist.get(hop)! + 1 + cost(hop) }))
    .sort((a, b) => a.cost - b.cost || (a.hop < b.hop ? -1 : 1));
  if (ranked.length === 0) return [];
  const interior = (hop: NodeId): Set<NodeId> => {
    const nodes = new Set<NodeId>();
    for (let n: NodeId | undefined = hop; n !== undefined && n !== dest; n = toward.get(n)) {
      nodes.add(n);
    }
    return nodes;
  };
  const best = interior(ranked[0].hop);
  const marked = ranked.map((r, i) => {
    if (i === 0) return { ...r, disjoint: true };
    const path = interior(r.hop);
    return { ...r, disjoint: ![...path].some((n) => best.has(n)) };
  });
  return [
    marked[0],
    ...marked.slice(1).filter((r) => r.disjoint),
    ...marked.slice(1).filter((r) => !r.disjoint),
  ];
}

/** Binary search in a sorted id list. */
export function sortedIncludes(list: readonly NodeId[], id: NodeId): boolean {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid] === id) return true;
    if (list[mid] < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
