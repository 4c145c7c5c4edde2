/**
 * The combined process's start (bench/_client_proc.ts with `inNode`): a node
 * and its owner's client in this process, as `runNode` starts them
 * (lib/cli/app.ts), without the UI server. Imported only there, so a client
 * process does not load the node's code.
 */
import { openOwnerClient } from "../lib/cli/owner_client.ts";
import type { OpenClient } from "../lib/client/mod.ts";
import { SYSTEM_CLOCK } from "../lib/clock.ts";
import { loadConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { type AdminHandler, startNode } from "../lib/node/mod.ts";

/** Starts the node from `configPath`, then its owner's client; `close` stops both. */
export async function openInNode(
  configPath: string,
): Promise<[OpenClient, () => Promise<void>]> {
  const config = await loadConfig(configPath);
  const log = createLogger({ level: config.logLevel });
  const adminExtras: Record<string, AdminHandler> = {};
  const node = await startNode({ config, log, clock: SYSTEM_CLOCK, adminExtras });
  const owner = await openOwnerClient(node, { clock: SYSTEM_CLOCK, log, adminExtras });
  return [owner.client, async () => {
    owner.close();
    await node.stop();
  }];
}
