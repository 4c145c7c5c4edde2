/**
 * Shortest paths over the link-state database. A link between two other nodes counts only
 * when both announce it; the node's own links count as soon as they are up (first-hand).
 * Each hop costs 1; the first hop also costs its neighbour's failure penalty.
 */
import type { NodeId } from "../../ids.ts";
import type { SignedAnnouncement } from "./announcement.ts";
import { MinHeap } from "./_min_heap.ts";

/** How to reach one node. */
export interface Route {
  readonly node: NodeId;
  /** The neighbour to hand an envelope for `node` to. */
  readonly nextHop: NodeId;
  /** Hops along the chosen path. */
  readonly distance: number;
  /** Hops plus the first hop's penalty; what the path was chosen by. */
  readonly cost: number;
}

/** What {@linkcode computeRoutes} reads. */
export interface RouteGraph {
  readonly self: NodeId;
  /** The node's own live links. */
  readonly links: Iterable<NodeId>;
  /** The live (unexpired) announcement of `node`, if any. */
  announcementOf(node: NodeId): SignedAnnouncement | undefined;
  /** Extra cost of the first hop through neighbour `peer`. */
  penalty(peer: NodeId): number;
}

interface Candidate {
  node: NodeId;
  cost: number;
  distance: number;
  nextHop: NodeId;
}

/** Dijkstra from `graph.self`; ties go to the smaller next hop id, so results are stable. */
export function computeRoutes(graph: RouteGraph): Map<NodeId, Route> {
  const routes = new Map<NodeId, Route>();
  const heap = new MinHeap<Candidate>(before);
  for (const peer of graph.links) {
    heap.push({ node: peer, cost: 1 + graph.penalty(peer), distance: 1, nextHop: peer });
  }
  for (let c = heap.pop(); c !== undefined; c = heap.pop()) {
    if (routes.has(c.node) || c.node === graph.self) continue;
    routes.set(c.node, Object.freeze({ ...c }));
    const announcement = graph.announcementOf(c.node);
    if (announcement === undefined) continue;
    for (const next of announcement.links) {
      if (next === graph.self || routes.has(next)) continue;
      const other = graph.announcementOf(next);
      if (other === undefined || !sortedIncludes(other.links, c.node)) continue;
      heap.push({ node: next, cost: c.cost + 1, distance: c.distance + 1, nextHop: c.nextHop });
    }
  }
  return routes;
}

function before(a: Candidate, b: Candidate): boolean {
  if (a.cost !== b.cost) return a.cost < b.cost;
  if (a.nextHop !== b.nextHop) return a.nextHop < b.nextHop;
  return a.node < b.node;
}

function sortedIncludes(list: readonly NodeId[], id: NodeId): boolean {
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
