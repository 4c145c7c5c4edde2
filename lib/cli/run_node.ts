/**
 * Running a node: headless (`server`), or with its owner's client and the UI
 * in the same process (the default). The client core, the UI server and the
 * routes (lib/cli/app.ts) are loaded by `import()` only in the default mode,
 * so a headless node never holds their code in memory.
 */
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import { createLogger, printLine } from "../log.ts";
import { installProcessGuard } from "../process_guard.ts";
import { type AdminHandler, startNode } from "../node/mod.ts";
import type { RouteManifest } from "../web/mod.ts";
import { waitForSignal } from "./wait_for_signal.ts";

/** Options of {@linkcode runNode}. */
export interface RunNodeOptions {
  clock: Clock;
  /** Node only: no owner's client, no UI. */
  headless: boolean;
  /** Loads the UI's routes (routes/mod.ts), handed in by main.ts; not called when headless. */
  loadManifest: () => Promise<RouteManifest>;
}

/** Runs a node, with the owner's client in the same process unless `headless`. */
export async function runNode(config: Config, options: RunNodeOptions): Promise<number> {
  const { clock, headless, loadManifest } = options;
  const startedAt = performance.now();
  const log = createLogger({ level: config.logLevel });
  // Last resort only: connection input is contained by lib/wss's guard.
  const guard = installProcessGuard({ log: log.child("process") });
  const extras: Record<string, AdminHandler> = {};
  const node = await startNode({ config, log, clock, adminExtras: extras });
  let closeClient = () => {};
  let uiUrl = "";
  if (!headless) {
    const { startOwnerSide } = await import("./app.ts");
    const manifest = await loadManifest();
    const owner = await startOwnerSide(node, { clock, log, adminExtras: extras, manifest });
    uiUrl = owner.uiUrl;
    closeClient = owner.close;
  }
  const readyMs = Math.round(performance.now() - startedAt);
  printLine(`fedchat node ${node.config.nodeId} (${headless ? "server" : "server+client"})`);
  printLine(`  fingerprint  ${node.fingerprint}`);
  printLine(`  listening    ${config.host}:${node.port} (TLS)`);
  printLine(`  invite       ${node.invite()}`);
  if (uiUrl) printLine(`  open         ${uiUrl}`);
  printLine(`ready on ${config.host}:${node.port} in ${readyMs} ms`);
  await waitForSignal();
  printLine("stopping");
  closeClient();
  await node.stop();
  guard.uninstall();
  return 0;
}
