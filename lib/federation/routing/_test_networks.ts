/** Small simulated networks shared by the routing tests. */
import { toUserName } from "../../ids.ts";
import { Simulation, type SimulationOptions } from "./sim.ts";

/** Builds a simulation with one listed owner user per node and the given links. */
export async function network(
  nodes: readonly string[],
  links: readonly (readonly [string, string])[],
  options: SimulationOptions = {},
): Promise<Simulation> {
  const sim = new Simulation(options);
  for (const id of nodes) {
    await sim.addNode(id, { users: [{ name: toUserName(id), presence: "online" }] });
  }
  for (const [a, b] of links) sim.connect(a, b);
  await sim.run(5_000);
  return sim;
}

/** Asserts-by-returning every node's route problems, empty when all route correctly. */
export function routeProblems(sim: Simulation): string[] {
  return sim.ids().flatMap((id) => sim.checkRoutes(id));
}

/** Stops every router so no timer outlives a test. */
export function stopAll(sim: Simulation): void {
  for (const id of sim.ids()) sim.router(id).stop();
}
