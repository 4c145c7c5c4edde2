/** The admin commands a node answers, each a thin call into its parts. */
import { toNodeId, toUserName } from "../ids.ts";
import { addUser } from "./accounts.ts";
import { parseInvite } from "../federation/mod.ts";
import { AdminError, type AdminHandler } from "./admin_server.ts";
import type { Federation } from "../federation/mod.ts";
import type { NodeId } from "../ids.ts";
import type { NodeStore } from "../store/mod.ts";
import type { ClientHub } from "./client_hub.ts";
import type { GroupService } from "./group_service.ts";
import type { MailboxService } from "./mailbox_service.ts";
import { MailboxAdmin } from "./mailbox_admin.ts";

/**
 * What the admin commands need of a node (lib/node/node.ts's `Node` has it);
 * declared here so that this file does not import node.ts, which imports it.
 */
export interface AdminNode {
  config: { nodeId: NodeId; publicHost: string };
  fingerprint: string;
  federation: Federation;
  store: NodeStore;
  clients: Pick<ClientHub, "online" | "announceUsers" | "detach">;
  groups: Pick<GroupService, "forgetUser">;
  mailbox: Pick<MailboxService, "serve" | "stopServing" | "served">;
  status(): { endpoint: { port: number } };
  invite(): string;
}

function str(args: Record<string, unknown>, name: string): string {
  const v = args[name];
  if (typeof v !== "string" || v.length === 0 || v.length > 500) {
    throw new AdminError(`Missing or bad argument ${name}`);
  }
  return v;
}

/** Builds the command table for `node`. */
export function adminHandlers(node: AdminNode): Record<string, AdminHandler> {
  const mailboxes = new MailboxAdmin(node);
  return {
    status: () => ({ kind: "result", value: node.status() }),
    // The process's memory as V8 sees it (rss, heapTotal, heapUsed, external): for benchmarks.
    // Only in a process started with --expose-gc (an experiment, bench/files.ts RELAY_ENV): also
    // what a forced full collection leaves (`liveExternal`, `liveHeap`).
    memory: () => {
      const usage = Deno.memoryUsage();
      const gc = (globalThis as { gc?: () => void }).gc;
      if (!gc) return { kind: "result", value: usage };
      gc();
      const after = Deno.memoryUsage();
      return {
        kind: "result",
        value: { ...usage, liveExternal: after.external, liveHeap: after.heapUsed },
      };
    },
    links: () => ({ kind: "result", value: node.federation.links.links() }),
    invite: () => ({ kind: "result", value: node.invite() }),
    connect: async (args) => {
      let target;
      if (typeof args.invite === "string") {
        target = parseInvite(args.invite);
      } else {
        const port = Number(args.port);
        if (!Number.isInteger(port) || port < 1 || port > 65535) {
          throw new AdminError(
            `Cannot connect: port ${JSON.stringify(args.port)} is not 1 to 65535`,
          );
        }
        target = { nodeId: toNodeId(str(args, "nodeId")), host: str(args, "host"), port };
      }
      const waitMs = typeof args.waitMs === "number" ? Math.min(60_000, args.waitMs) : 10_000;
      return { kind: "result", value: await node.federation.links.connect(target, waitMs) };
    },
    approve: (args) => ({
      kind: "result",
      value: node.federation.links.approve(toNodeId(args.nodeId)),
    }),
    ping: async (args) => {
      const waitMs = typeof args.waitMs === "number" ? Math.min(60_000, args.waitMs) : 5_000;
      return {
        kind: "result",
        value: await node.federation.forwarder.probe(toNodeId(args.nodeId), waitMs),
      };
    },
    routes: () => ({ kind: "result", value: node.federation.routes() }),
    directory: () => ({ kind: "result", value: node.federation.router.directory() }),
    "users-add": async (args) => ({
      kind: "result",
      value: {
        ...(await addUser(node.store, str(args, "name"), Date.now(), {
          listed: args.listed !== false,
        })),
        node: node.config.nodeId,
        host: node.config.publicHost,
        port: node.status().endpoint.port,
        fingerprint: node.fingerprint,
      },
    }),
    "users-list": () => ({
      kind: "result",
      value: node.store.listAccounts().map((a) => ({
        name: a.name,
        enrolled: a.publicKey !== null || (a.name as string) === node.config.nodeId,
        listed: a.listed,
        online: node.clients.online().has(a.name),
        inbox: node.store.inboxCount(a.name),
      })),
    }),
    "users-remove": (args) => {
      const name = toUserName(str(args, "name"));
      if ((name as string) === node.config.nodeId) {
        throw new AdminError("Cannot remove the node's owner");
      }
      if (!node.store.getAccount(name)) throw new AdminError(`Cannot remove ${name}: no such user`);
      node.store.deleteAccount(name);
      // Nor does a later account of the same name stand in the removed user's groups.
      node.groups.forgetUser(name);
      // The removed user's client goes at once: a later account of the same name is someone else.
      node.clients.detach(name, "account removed");
      node.clients.announceUsers();
      return { kind: "result", value: null };
    },
    "mailbox-list": () => ({ kind: "result", value: mailboxes.own() }),
    "mailbox-add": (args) => ({
      kind: "result",
      value: mailboxes.add(str(args, "nodeId"), Date.now()),
    }),
    "mailbox-remove": (args) => ({
      kind: "result",
      value: mailboxes.remove(str(args, "nodeId"), Date.now()),
    }),
    "mailbox-serve": (args) => ({
      kind: "result",
      value: mailboxes.serve(str(args, "nodeId"), args.quotaBytes),
    }),
    "mailbox-served": () => ({ kind: "result", value: mailboxes.served() }),
    "mailbox-stop": (args) => {
      mailboxes.stop(str(args, "nodeId"));
      return { kind: "result", value: null };
    },
    forget: (args) => {
      node.federation.links.forget(toNodeId(args.nodeId));
      return { kind: "result", value: null };
    },
    reject: (args) => {
      node.federation.links.reject(toNodeId(args.nodeId));
      return { kind: "result", value: null };
    },
  };
}
