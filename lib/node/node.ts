/**
 * A running node: identity, certificate, store, TLS listener, links and the
 * owner's admin channel, built from a config.
 */
import { join } from "node:path";
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { type NodeStore, openSqliteNodeStore } from "../store/mod.ts";
import { loadOrCreateCertificate } from "../tls.ts";
import { startWssServer, type WssServer } from "../wss/mod.ts";
import {
  createFederation,
  type DirectoryEntry,
  type Federation,
  formatInvite,
  fullFingerprint,
  LINK_PATH,
  type LinkInfo,
  loadOrCreateNodeKey,
  type NodeKey,
  shortFingerprint,
  type TableRow,
} from "../federation/mod.ts";
import type { UserName } from "../ids.ts";
import { type AdminServer, checkNotRunning, startAdminServer } from "./admin_server.ts";
import { adminHandlers } from "./admin_handlers.ts";

/** Store file inside the data directory. */
export const STORE_FILE = "node.db";

/** What `status --json` prints. */
export interface NodeStatus {
  nodeId: string;
  fingerprint: string;
  listening: { host: string; port: number };
  endpoint: { host: string; port: number };
  invite: string;
  links: LinkInfo[];
  /** Known nodes with next hop and distance. */
  routes: TableRow[];
  /** Listed users of every reachable node. */
  directory: DirectoryEntry[];
}

/** A started node. */
export interface Node {
  config: Config;
  key: NodeKey;
  fingerprint: string;
  fullFingerprint: string;
  port: number;
  federation: Federation;
  store: NodeStore;
  status(): NodeStatus;
  invite(): string;
  stop(): Promise<void>;
}

/** Options of {@linkcode startNode}. */
export interface StartNodeOptions {
  config: Config;
  log: Logger;
  clock: Clock;
  /** The owner's client runs in this process (default mode), so the owner is online. */
  ownerOnline?: boolean;
}

/**
 * Creates what is missing in the data directory and starts every part.
 *
 * @throws {Error} with what to do (corrupt key, port in use, another node running)
 */
export async function startNode(options: StartNodeOptions): Promise<Node> {
  const { config, log, clock } = options;
  await Deno.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await Deno.chmod(config.dataDir, 0o700);
  await checkNotRunning(config.dataDir);
  const key = await loadOrCreateNodeKey(config.dataDir, log);
  const full = await fullFingerprint(key.publicKey);
  const tls = await loadOrCreateCertificate({
    dataDir: config.dataDir,
    hosts: [config.host, config.publicHost],
    nowMs: clock.nowMs(),
    log,
  });
  const store = openSqliteNodeStore(join(config.dataDir, STORE_FILE));
  const cleanups: Array<() => Promise<void> | void> = [() => store.close()];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn();
  };
  try {
    const federation = createFederation({
      self: config.nodeId,
      key,
      endpoint: { host: config.publicHost, port: config.publicPort },
      store,
      clock,
      log,
      open: config.openFederation,
      maxMessageBytes: config.maxFrameBytes,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      listed: true,
      deliverLocal: () => {},
    });
    const links = federation.links;
    cleanups.push(() => federation.stop());
    federation.setUsers([{
      name: config.nodeId as string as UserName,
      presence: options.ownerOnline ? "online" : "offline",
    }]);
    let server: WssServer;
    try {
      server = await startWssServer({
        host: config.host,
        port: config.port,
        cert: tls.cert,
        key: tls.key,
        maxConnections: config.maxConnections,
        maxConnectionsPerAddress: config.maxConnectionsPerAddress,
        handshakeTimeoutMs: config.handshakeTimeoutMs,
        maxMessageBytes: config.maxFrameBytes,
        routes: { [LINK_PATH]: (a) => links.accept(a) },
        log: log.child("listener"),
      });
    } catch (cause) {
      const why = (cause as { code?: string }).code === "EADDRINUSE"
        ? "the port is in use; pick another [Network] port"
        : (cause as Error).message;
      throw new Error(`Cannot listen on ${config.host}:${config.port}: ${why}`, { cause });
    }
    cleanups.push(() => server.close());
    const port = server.port;
    const endpointPort = config.publicPort === config.port ? port : config.publicPort;
    const invite = () =>
      formatInvite({
        nodeId: config.nodeId,
        host: config.publicHost,
        port: endpointPort,
        fingerprint: full,
      });
    const node: Node = {
      config,
      key,
      fingerprint: shortFingerprint(full),
      fullFingerprint: full,
      port,
      federation,
      store,
      invite,
      status: () => ({
        nodeId: config.nodeId,
        fingerprint: shortFingerprint(full),
        listening: { host: config.host, port },
        endpoint: { host: config.publicHost, port: endpointPort },
        invite: invite(),
        links: links.links(),
        routes: federation.routes(),
        directory: federation.router.directory(),
      }),
      stop: cleanup,
    };
    const admin: AdminServer = await startAdminServer(config.dataDir, adminHandlers(node), log);
    cleanups.push(() => admin.close());
    federation.start();
    return node;
  } catch (e) {
    await cleanup();
    throw e;
  }
}
