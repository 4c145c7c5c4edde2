/**
 * Every fuzz target, in a fixed order.
 *
 * @module
 */
import type { FuzzTarget } from "../harness.ts";
import { E2E_TARGETS } from "./e2e.ts";
import { GROUP_TARGETS } from "./group.ts";
import { TEXT_TARGETS } from "./text.ts";
import { TRANSPORT_TARGETS } from "./transport.ts";
import { WIRE_TARGETS } from "./wire.ts";

/** All targets; names are unique. */
export const TARGETS: readonly FuzzTarget[] = [
  ...WIRE_TARGETS,
  ...E2E_TARGETS,
  ...GROUP_TARGETS,
  ...TRANSPORT_TARGETS,
  ...TEXT_TARGETS,
];
