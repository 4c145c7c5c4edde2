/**
 * Running processes: a node with its owner's client (default), a headless
 * node (`server`), or a client of a node elsewhere (`client`).
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
import type { Config } from "../config.ts";
import { type Address, ID_RULE, type NodeId, toAddress, toNodeId, toUserName } from "../ids.ts";
import { createLogger, type Logger, printLine } from "../log.ts";
import { installProcessGuard } from "../process_guard.ts";
import { type AdminHandler, startAdminServer, startNode } from "../node/mod.ts";
import { CliError } from "./cli_error.ts";
import { clientAdminHandlers } from "./client_admin.ts";
import { openOwnerClient, ownerClientDir, watchChanges } from "./owner_client.ts";
import { parseHostPort } from "./host_port.ts";

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    Deno.addSignalListener("SIGINT", () => resolve());
    Deno.addSignalListener("SIGTERM", () => resolve());
  });
}

/** Options of {@linkcode runNode}. */
export interface RunNodeOptions {
  clock: Clock;
  /** Node only: no owner's client, no UI. */
  headless: boolean;
  /** The UI's routes (routes/mod.ts), handed in by main.ts. */
  manifest: RouteManifest;
}

/** Runs a node, with the owner's client in the same process unless `headless`. */
export async function runNode(config: Config, options: RunNodeOptions): Promise<number> {
  const { clock, headless, manifest } = options;
  const startedAt = performance.now();
  const log = createLogger({ level: config.logLevel });
  // Last resort only: connection input is contained by lib/wss's guard.
  const guard = installProcessGuard({ log: log.child("process") });
  const extras: Record<string, AdminHandler> = {};
  const node = await startNode({ config, log, clock, adminExtras: extras });
  let closeClient = () => {};
  let uiUrl = "";
  if (!headless) {
    const owner = await openOwnerClient(node, { clock, log, adminExtras: extras });
    const client = owner.client;
    const ui = await startUi({
      client: client.core,
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
    Object.assign(extras, uiAdminHandlers(ui));
    uiUrl = ui.url;
    closeClient = () => {
      void ui.close();
      owner.close();
    };
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
  /** The UI's routes (routes/mod.ts), handed in by main.ts. */
  manifest: RouteManifest;
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
    manifest: o.manifest,
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
