/**
 * The owner's client in the node's own process (the default mode, `deno task
 * start`): the client core on the node's in-process link, its admin commands
 * on the node's admin channel, and the node's controls it may use. The UI
 * server is started beside it (lib/cli/app.ts, startOwnerSide); benchmarks start this
 * part alone (bench/_client_proc.ts).
 */
import { basename, dirname, join } from "node:path";
import { type ClientCore, type OpenClient, openClient } from "../client/mod.ts";
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { LinkInfo } from "../federation/mod.ts";
import { toAddress, toNodeId, type UserName } from "../ids.ts";
import type { Logger } from "../log.ts";
import type { AdminHandler, Node } from "../node/mod.ts";
import { clientAdminHandlers } from "./client_admin.ts";
import { mailboxControl } from "./mailbox_control.ts";

/** Where the owner's client keeps its store in the default mode: beside the node's data. */
export function ownerClientDir(config: Config): string {
  return join(dirname(config.dataDir), `${basename(config.dataDir)}-client`);
}

/** Options of {@linkcode openOwnerClient}. */
export interface OwnerClientOptions {
  clock: Clock;
  /** The node's logger; the client logs under `client`. */
  log: Logger;
  /** The node's admin extras (startNode's `adminExtras`): the client's commands are added. */
  adminExtras: Record<string, AdminHandler>;
}

/** The owner's client, open on `node`'s in-process link; `close` stops it and its watcher. */
export async function openOwnerClient(
  node: Node,
  o: OwnerClientOptions,
): Promise<{ client: OpenClient; close: () => void }> {
  const config = node.config;
  const owner = config.nodeId as string as UserName;
  const client = await openClient({
    dir: ownerClientDir(config),
    address: toAddress(`${owner}@${config.nodeId}`),
    clock: o.clock,
    log: o.log.child("client"),
    node: nodeControl(node),
    open: () => Promise.resolve(node.attachLocalClient(owner)),
    downloadsDir: config.downloadsDir ?? undefined,
    autoAcceptFileBytes: config.autoAcceptFileBytes,
    awayAcceptFileBytes: config.awayAcceptFileBytes,
    messageLifetimeMs: config.delivery.messageLifetimeMs,
  });
  Object.assign(o.adminExtras, clientAdminHandlers(client.core));
  const stopWatch = watchChanges(client.core, () =>
    Promise.resolve([
      JSON.stringify(node.federation.links.links().map((l) => [l.peer, l.state])),
      JSON.stringify(node.federation.router.directory()),
    ]));
  return {
    client,
    close: () => {
      stopWatch();
      client.close();
    },
  };
}

/**
 * Tells views when links or the directory change: compares a snapshot every
 * second (cheap: tens of rows) and emits on change.
 */
export function watchChanges(
  core: ClientCore,
  snapshot: () => Promise<[string, string]>,
): () => void {
  let last: [string, string] = ["", ""];
  const timer = setInterval(async () => {
    const now = await snapshot().catch(() => last);
    if (now[0] !== last[0]) core.notify({ kind: "links" });
    if (now[1] !== last[1]) core.notify({ kind: "directory" });
    last = now;
  }, 1000);
  return () => clearInterval(timer);
}

function linkView(l: LinkInfo) {
  return {
    peer: l.peer,
    state: l.state,
    host: l.host,
    port: l.port,
    fingerprint: l.fingerprint,
    lastError: l.lastError,
  };
}

/** What the owner's client may do to the node in the same process. */
function nodeControl(node: Node) {
  const links = node.federation.links;
  return {
    nodeId: node.config.nodeId,
    nodeFingerprint: node.fingerprint,
    invite: () => node.invite(),
    links: () => Promise.resolve(links.links().map(linkView)),
    connect: async (t: { host: string; port: number; nodeId: string } | { invite: string }) => {
      const { parseInvite } = await import("../federation/mod.ts");
      const target = "invite" in t ? parseInvite(t.invite) : { ...t, nodeId: toNodeId(t.nodeId) };
      return linkView(await links.connect(target));
    },
    approve: (id: string) => Promise.resolve(void links.approve(toNodeId(id))),
    reject: (id: string) => Promise.resolve(links.reject(toNodeId(id))),
    mailbox: mailboxControl(node),
  };
}
