/**
 * The processes with a client and the UI: the owner's side of a node in the
 * default mode ({@linkcode startOwnerSide}, started by lib/cli/run_node.ts),
 * or a client of a node elsewhere (`client`). Loaded by `import()` only when
 * one of these runs: a headless node or a command does not need the client
 * core, the UI server or the routes.
 */
import { join, resolve } from "node:path";
import { type ClientApi, MAX_MESSAGE_CHARS, openClient, remoteLink } from "../client/mod.ts";
import {
  type RouteManifest,
  startUiServer,
  type UiServer,
  type UiServerLimits,
} from "../web/mod.ts";
import type { Clock } from "../clock.ts";
import { type Address, ID_RULE, type NodeId, toAddress, toNodeId, toUserName } from "../ids.ts";
import { createLogger, type Logger, printLine } from "../log.ts";
import { installProcessGuard } from "../process_guard.ts";
import { type AdminHandler, type Node, startAdminServer } from "../node/mod.ts";
import { CliError } from "./cli_error.ts";
import { clientAdminHandlers } from "./client_admin.ts";
import { openOwnerClient, ownerClientDir, watchChanges } from "./owner_client.ts";
import { parseHostPort } from "./host_port.ts";
import { waitForSignal } from "./wait_for_signal.ts";

/** Options of {@linkcode startOwnerSide}. */
export interface OwnerSideOptions {
  clock: Clock;
  /** The node's logger. */
  log: Logger;
  /** The node's admin extras: the client's and the UI's commands are added. */
  adminExtras: Record<string, AdminHandler>;
  /** The UI's routes (routes/mod.ts). */
  manifest: RouteManifest;
}

/**
 * The owner's side of the default mode, beside a running node: the owner's
 * client on the node's in-process link and the UI server. `close` stops both.
 */
export async function startOwnerSide(
  node: Node,
  o: OwnerSideOptions,
): Promise<{ uiUrl: string; close: () => void }> {
  const { clock, log, adminExtras, manifest } = o;
  const config = node.config;
  const owner = await openOwnerClient(node, { clock, log, adminExtras });
  const ui = await startUi({
    client: owner.client.core,
    manifest,
    port: config.uiPort,
    tokenFile: join(ownerClientDir(config), UI_TOKEN_FILE),
    limits: {
      maxConnections: config.uiMaxConnections,
      maxConnectionsPerAddress: config.uiMaxConnectionsPerAddress,
      headTimeoutMs: config.uiHeadTimeoutMs,
      idleTimeoutMs: config.uiIdleTimeoutMs,
      maxUploadBytes: config.uiMaxUploadBytes,
    },
    log: log.child("ui"),
  });
  Object.assign(adminExtras, uiAdminHandlers(ui));
  return {
    uiUrl: ui.url,
    close: () => {
      void ui.close();
      owner.close();
    },
  };
}

/** File (in the client's directory, mode 0600) that keeps the UI's token across restarts. */
const UI_TOKEN_FILE = "ui.token";

/** Starts the UI server with the routes and the client core's limits. */
function startUi(o: {
  client: ClientApi;
  manifest: RouteManifest;
  port: number;
  tokenFile: string;
  limits?: Partial<UiServerLimits>;
  log: Logger;
}): Promise<UiServer> {
  return startUiServer({ ...o, clientLimits: { maxMessageChars: MAX_MESSAGE_CHARS } });
}

/** The UI's admin commands (CLI twins: `ui-url`, `ui-signout`, `ui-status`). */
function uiAdminHandlers(ui: UiServer): Record<string, AdminHandler> {
  return {
    "ui-url": () => ({ kind: "result", value: { url: ui.url } }),
    "ui-signout": async () => {
      const { url, signedOut } = await ui.signOut(null);
      return { kind: "result", value: { url, signedOut } };
    },
    "ui-status": () => ({ kind: "result", value: ui.status() }),
  };
}

/** Options of {@linkcode runClientOnly}. */
export interface ClientOnlyOptions {
  dir: string;
  node?: string;
  user?: string;
  code?: string;
  fingerprint?: string;
  clock: Clock;
  logLevel?: "debug" | "info" | "warn" | "error";
  uiPort?: number;
  /** Loads the UI's routes (routes/mod.ts), handed in by main.ts. */
  loadManifest: () => Promise<RouteManifest>;
}

/** The `--user` flag as an address. @throws {CliError} when it is not NAME@NODE */
function userAddress(user: string): Address {
  try {
    return toAddress(user);
  } catch (cause) {
    // toAddress throws TypeError or RangeError for any value it refuses; here, what was typed.
    throw new CliError(
      `Cannot start client: --user ${JSON.stringify(user)} is not NAME@NODE, each ${ID_RULE}`,
      { cause },
    );
  }
}

/** Runs a client (and its admin socket) against a node elsewhere. */
export async function runClientOnly(o: ClientOnlyOptions): Promise<number> {
  const manifest = await o.loadManifest();
  const dir = resolve(o.dir);
  const settingsFile = join(dir, "client.json");
  let saved: { host: string; port: number; address: string } | null = null;
  try {
    saved = JSON.parse(await Deno.readTextFile(settingsFile));
  } catch { /* first run */ }
  let host = saved?.host;
  let port = saved?.port;
  if (o.node) ({ host, port } = parseHostPort(o.node));
  const address: Address | undefined = o.user
    ? (o.user.includes("@") ? userAddress(o.user) : undefined)
    : saved
    ? toAddress(saved.address)
    : undefined;
  if (!host || !port || !address) {
    throw new CliError(
      "Cannot start client: give --node HOST:PORT and --user NAME@NODE the first time (users add prints both)",
    );
  }
  const [user, nodeId] = address.split("@") as [string, string];
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(settingsFile, JSON.stringify({ host, port, address }));
  const log: Logger = createLogger({ level: o.logLevel ?? "info" });
  const guard = installProcessGuard({ log: log.child("process") });
  const client = await openClient({
    dir,
    address,
    clock: o.clock,
    log: log.child("client"),
    open: remoteLink({
      host,
      port,
      nodeId: toNodeId(nodeId) as NodeId,
      user: toUserName(user),
      enrollCode: o.code,
      nodeFingerprint: o.fingerprint,
    }),
  });
  const handlers = clientAdminHandlers(client.core as ClientApi);
  const admin = await startAdminServer(dir, handlers, log);
  const ui = await startUi({
    client: client.core,
    manifest,
    port: o.uiPort ?? 0,
    tokenFile: join(dir, UI_TOKEN_FILE),
    log: log.child("ui"),
  });
  Object.assign(handlers, uiAdminHandlers(ui));
  const stopWatch = watchChanges(
    client.core,
    async () => ["", JSON.stringify(await client.core.directory())],
  );
  printLine(`fedchat client ${address} connected to ${host}:${port}`);
  printLine(`  open         ${ui.url}`);
  printLine(`ready (client directory ${dir})`);
  await waitForSignal();
  stopWatch();
  await ui.close();
  await admin.close();
  client.close();
  guard.uninstall();
  return 0;
}
