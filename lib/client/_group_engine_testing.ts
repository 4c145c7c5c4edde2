/**
 * A group engine for tests (private to lib/client): a client store in a fresh
 * folder under `.tmp/`, a node connection that takes everything, no content
 * handler. `cleanup` stops the engine and removes the folder.
 */
import { join } from "node:path";
import type { Clock } from "../clock.ts";
import type * as e2e from "../e2e/mod.ts";
import type { Address } from "../ids.ts";
import { SILENT_LOGGER } from "../log.ts";
import { ClientStore } from "./client_store.ts";
import { GroupEngine } from "./group_engine.ts";
import type { NodeConnection } from "./node_connection.ts";
import { TurnCommit } from "./turn_commit.ts";

/** Options of {@linkcode testGroupEngine}. */
export interface TestGroupEngineOptions {
  self: Address;
  identity: e2e.IdentityKeyPair;
  clock: Clock;
  /** Name prefix of the temporary folder. */
  prefix: string;
}

/** Makes the engine and its store; see the module doc. */
export async function testGroupEngine(
  { self, identity, clock, prefix }: TestGroupEngineOptions,
): Promise<{ store: ClientStore; engine: GroupEngine; cleanup: () => Promise<void> }> {
  await Deno.mkdir(".tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: ".tmp", prefix });
  const store = new ClientStore(join(dir, `${self.slice(0, self.indexOf("@"))}.db`));
  const engine = new GroupEngine(
    {
      self,
      identity,
      store,
      connection: { send: () => true } as unknown as NodeConnection,
      clock,
      log: SILENT_LOGGER,
      lifetimeMs: 60_000,
      emit: () => {},
      turn: new TurnCommit({ store, log: SILENT_LOGGER }),
      states: new Map(),
    },
    () => ({ write: (g) => g, after: () => {} }),
    () => {},
  );
  const cleanup = async () => {
    engine.stop();
    store.close();
    await Deno.remove(dir, { recursive: true });
  };
  return { store, engine, cleanup };
}
