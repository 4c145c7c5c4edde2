/**
 * A running node: identity, certificate, store, TLS listener, links and the
 * owner's admin channel, built from a config.
 */
import { join } from "node:path";
import { BudgetRegistry, type BudgetView, ThrottledLog } from "../budget.ts";
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
import { decodeEnvelopeWithAuth, type Envelope } from "../protocol/mod.ts";
import {
  type AdminHandler,
  type AdminServer,
  checkNotRunning,
  startAdminServer,
} from "./admin_server.ts";
import { ensureOwner } from "./accounts.ts";
import { BundleService } from "./bundle_service.ts";
import { CLIENT_PATH, ClientHub, type ClientLink } from "./client_hub.ts";
import { inProcessLink } from "./in_process_link.ts";
import { Committer } from "./committer.ts";
import { Delivery } from "./delivery.ts";
import { MailboxService } from "./mailbox_service.ts";
import { DeliveryBudgets } from "./delivery_budgets.ts";
import { type ResourceCondition, ResourceState } from "./resource_state.ts";
import { FileSpool } from "./file_spool.ts";
import { GroupService } from "./group_service.ts";
import { GroupStore } from "./group_store.ts";
import { adminHandlers } from "./admin_handlers.ts";
import { KnownMailboxes } from "./known_mailboxes.ts";

/** Store file inside the data directory. */
export const STORE_FILE = "node.db";
/** Folder of file chunks kept for local users, inside the data directory. */
export const SPOOL_DIR = "files";
/** The group tables (hub state, member copies, key packages), inside the data directory. */
export const GROUP_STORE_FILE = "groups.db";

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
  /** Neighbours whose envelopes went unanswered (paths judged by results). */
  suspects: ReturnType<Federation["router"]["suspects"]>;
  /** Origins known, provisional ones, and their bytes. */
  routing: ReturnType<Federation["router"]["stats"]>;
  /** Every budget: limits, what is in use, refusals. */
  budgets: Record<string, BudgetView>;
  /** Resource conditions (a full disk is named here). */
  resources: Record<string, ResourceCondition>;
  delivery: ReturnType<Delivery["view"]>;
  /**
   * Relay backpressure: incoming links not read now because their next hop is not writable,
   * holds made since start, and holds that ran out (the next hop stayed slow).
   */
  relayHolds: { held: number; made: number; ranOut: number };
  /** The process's memory in bytes: resident, the JS heap (total, used), and outside it. */
  memory: Deno.MemoryUsage;
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
  delivery: Delivery;
  clients: ClientHub;
  groups: GroupService;
  resources: ResourceState;
  mailbox: MailboxService;
  /** Connects a client running in this process as `user` (trusted: no handshake). */
  attachLocalClient(user: UserName): ClientLink;
  status(): NodeStatus;
  invite(): string;
  stop(): Promise<void>;
}

/** Options of {@linkcode startNode}. */
export interface StartNodeOptions {
  config: Config;
  log: Logger;
  clock: Clock;
  /**
   * More admin commands (the in-process client's); the object may be filled
   * after start: commands are looked up when they arrive.
   */
  adminExtras?: Record<string, AdminHandler>;
  /** Test hook: a malicious relay that changes what it forwards (tests/files_test.ts). */
  alterForwarded?(envelope: Envelope, bytes: Uint8Array): Uint8Array | null;
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
    ensureOwner(store, config.nodeId as string as UserName, clock.nowMs());
    const limits = config.limits;
    const verify = (bytes: Uint8Array) => {
      let decoded;
      try {
        decoded = decodeEnvelopeWithAuth(bytes);
      } catch {
        return null;
      }
      const verdict = federation.provenance.verify(bytes, decoded);
      return { decoded, proven: verdict === "ok", verdict };
    };
    const budgets = new BudgetRegistry(log.child("budgets"), clock);
    const resources = new ResourceState(clock, log.child("resources"));
    const committer = new Committer(store, log.child("store"), resources);
    cleanups.push(() => committer.close());
    const spool = await FileSpool.open({
      dir: join(config.dataDir, SPOOL_DIR),
      maxFileBytes: config.maxFileBytes,
      quotaBytes: config.fileQuotaBytes,
      totalBytes: limits.fileSpoolTotalBytes,
      segmentsPerUser: limits.fileSegmentsPerUser,
      segmentsTotal: limits.fileSegmentsTotal,
      senderSharePercent: limits.senderSharePercent,
      keepMs: config.delivery.messageLifetimeMs + 2 * config.delivery.clockAllowanceMs,
      log: log.child("files"),
    });
    cleanups.push(() => spool.close());
    budgets.add({
      name: "file_spool_bytes",
      view: () => ({
        limit: config.fileQuotaBytes,
        totalLimit: limits.fileSpoolTotalBytes,
        used: spool.totalBytes,
        refusals: 0,
      }),
    });
    budgets.add({
      name: "file_spool_segments",
      view: () => ({
        limit: limits.fileSegmentsPerUser,
        totalLimit: limits.fileSegmentsTotal,
        used: spool.segments,
        refusals: 0,
      }),
    });
    // The mailboxes each node named last, kept across restarts and bounded (known_mailboxes.ts).
    const knownMailboxes = new KnownMailboxes({
      load: () => store.knownMailboxes(),
      save: (node, mailboxes, nowMs) => store.setKnownMailboxes(node, mailboxes, nowMs),
      // Asked only once the federation is made (trim() below, then announcements).
      held: (node) => federation.router.keyOf(node) !== undefined,
      clock,
      limit: limits.routingOrigins,
    });
    const federation: Federation = createFederation({
      onAnnouncement: (origin) =>
        knownMailboxes.heard(origin, federation.router.announcementOf(origin)?.mailboxes ?? []),
      self: config.nodeId,
      key,
      privateKeyPkcs8: new Uint8Array(await crypto.subtle.exportKey("pkcs8", key.privateKey)),
      endpoint: { host: config.publicHost, port: config.publicPort },
      store,
      clock,
      log,
      budgets,
      conduct: {
        envelopesPerSecond: limits.peerEnvelopesPerSecond,
        forgedPerMinute: limits.peerForgedPerMinute,
        overRatePerMinute: limits.peerEnvelopesPerSecond * 60,
      },
      routingLimits: {
        maxOrigins: limits.routingOrigins,
        maxProvisionalPerPeer: limits.provisionalOriginsPerPeer,
        maxProvisionalTotal: limits.provisionalOrigins,
        maxProvisionalBytesPerPeer: limits.provisionalBytesPerPeer,
        maxProvisionalBytesTotal: limits.provisionalBytes,
      },
      pendingLinks: {
        perAddress: limits.pendingLinksPerAddress,
        total: limits.pendingLinksTotal,
        perNetwork: limits.pendingLinksPerNetwork,
        ttlMs: limits.pendingLinkTtlMs,
      },
      openLinks: {
        perAddress: limits.openLinksPerAddress,
        total: limits.openLinksTotal,
        perAddressPerMinute: limits.openLinksPerAddressPerMinute,
        perNetwork: limits.openLinksPerNetwork,
        perNetworkPerMinute: limits.openLinksPerNetworkPerMinute,
      },
      open: config.openFederation,
      maxMessageBytes: config.maxFrameBytes,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      listed: config.listed,
      alterForwarded: options.alterForwarded,
    });
    cleanups.push(() => federation.stop());
    knownMailboxes.trim();
    budgets.add(knownMailboxes);
    const bundles = new BundleService({
      self: config.nodeId,
      store,
      clock,
      forwarder: federation.forwarder,
      reportMiss: (hop, dest) => federation.router.reportMiss(hop, dest),
    });
    const groupStore = new GroupStore(join(config.dataDir, GROUP_STORE_FILE));
    cleanups.push(() => groupStore.close());
    // The hub's fan-out goes through delivery's outbox; delivery is made just below.
    let enqueueOwn: Delivery["enqueueOwn"] = () => Promise.reject(new Error("not started"));
    const groups = new GroupService({
      self: config.nodeId,
      store,
      groups: groupStore,
      clock,
      log: log.child("groups"),
      registry: budgets,
      limits,
      forwarder: federation.forwarder,
      reportMiss: (hop) => federation.router.reportHopFailure(hop),
      fanout: (rows) => enqueueOwn(rows),
      lifetimeMs: config.delivery.messageLifetimeMs,
    });
    cleanups.push(() => groups.stop());
    const deliveryBudgets = new DeliveryBudgets(budgets, limits, store);
    // One origin node's share of each user's quotas (spool bytes and segments, inbox bytes):
    // `used` is the (user, origin) pairs holding something, `refusals` those over their share.
    // (The mailbox's share of a served node's quota too, made below: read when status asks.)
    const shares = () => [
      spool.byteShare,
      spool.segmentShare,
      deliveryBudgets.inboxShare,
      mailbox.share,
    ];
    budgets.add({
      name: "sender_share",
      view: () => ({
        limit: limits.senderSharePercent,
        used: shares().reduce((n, s) => n + s.entries, 0),
        refusals: shares().reduce((n, s) => n + s.refusals, 0),
      }),
    });
    const delivery = new Delivery({
      self: config.nodeId,
      store,
      committer,
      network: {
        sendEncoded: (dest, bytes, sent) =>
          federation.forwarder.sendEncoded(dest, bytes, undefined, sent),
        send: (e, prefer) => federation.forwarder.send(e, undefined, prefer),
        reportMiss: (hop, dest) => federation.router.reportMiss(hop, dest),
        reportDelivered: (hop, dest) => federation.router.reportDelivered(hop, dest),
        nextHop: (dest) => federation.router.nextHop(dest),
        hasRoute: (dest) => federation.router.nextHop(dest) !== undefined,
        signOwn: (unsigned) => federation.provenance.signBatch(unsigned),
        verify,
        mailboxesOf: (dest) => knownMailboxes.get(dest),
        disconnect: (peer, reason) => federation.links.disconnect(peer, reason),
      },
      spool,
      budgets: deliveryBudgets,
      clock,
      log: log.child("delivery"),
      throttled: new ThrottledLog(log.child("delivery"), clock),
      resources,
      times: {
        maxLifetimeMs: config.delivery.messageLifetimeMs,
        clockAllowanceMs: config.delivery.clockAllowanceMs,
      },
      pushFirst: config.delivery.pushFirst,
      earlyBytes: limits.pushFirstBytesTotal,
      groups,
    });
    enqueueOwn = (rows) => delivery.enqueueOwn(rows);
    cleanups.push(() => delivery.stop());
    delivery.queryRate = budgets.rate("receipt_queries", { burst: 10, perMinute: 60 });
    const mailbox = new MailboxService({
      self: config.nodeId,
      store,
      committer,
      network: {
        verify,
        hasRoute: (n) => federation.router.nextHop(n) !== undefined,
        send: (e) => federation.forwarder.send(e),
        answer: (to, id, status, via) => delivery.answer(to, id, status, via),
      },
      clock,
      log: log.child("mailbox"),
      limits: {
        perSenderBytes: limits.mailboxBytesPerSender,
        totalBytes: limits.mailboxBytesTotal,
        defaultQuotaBytes: limits.mailboxDefaultQuotaBytes,
        senderSharePercent: limits.senderSharePercent,
        keepMs: config.delivery.messageLifetimeMs + 2 * config.delivery.clockAllowanceMs,
      },
      refusals: budgets.budget("mailbox_refusals", { perKey: 0 }),
      commitBytes: {
        take: (sender, bytes, nowMs) => deliveryBudgets.commitTake(sender, bytes, nowMs),
        release: (sender, bytes) => deliveryBudgets.commitRelease(sender, bytes),
      },
    });
    budgets.add(mailbox);
    cleanups.push(() => mailbox.stop());
    delivery.receiptTap = (entries, from) => mailbox.settle(entries, from);
    federation.router.setMailboxes(store.ownMailboxes());
    const clients = new ClientHub({
      self: { nodeId: config.nodeId, key },
      store,
      committer,
      federation,
      bundles,
      delivery,
      resources,
      spool,
      clock,
      log: log.child("clients"),
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      pushWindowBytes: limits.pushWindowBytesPerClient,
      groups,
    });
    cleanups.push(() => clients.stop());
    budgets.add({ name: "push_window_bytes", view: () => clients.windowView() });
    budgets.add({
      name: "push_first_bytes",
      view: () => ({
        limit: limits.pushFirstBytesTotal,
        used: delivery.view().pushedFirstBytes,
        refusals: 0,
      }),
    });
    federation.onLocal((e, bytes, viaPeer) => {
      if (e.kind === "bundleRequest" || e.kind === "bundleReply") bundles.receive(e, viaPeer);
      else if (e.kind === "custody") mailbox.receiveCustody(e, viaPeer);
      else if (e.kind === "keyPackageRequest" || e.kind === "keyPackageReply") {
        groups.receive(e, viaPeer);
      } else delivery.receiveLocal(e, bytes, viaPeer);
    });
    const links = federation.links;
    clients.announceUsers();
    let server: WssServer;
    try {
      server = await startWssServer({
        host: config.host,
        port: config.port,
        cert: tls.cert,
        key: tls.key,
        maxConnections: config.maxConnections,
        maxConnectionsPerAddress: config.maxConnectionsPerAddress,
        maxUnauthenticatedConnections: config.maxUnauthenticatedConnections,
        maxUnauthenticatedConnectionsPerNetwork: config.maxUnauthenticatedConnectionsPerNetwork,
        reservedKnownConnections: config.reservedKnownConnections,
        handshakesPerAddressPerMinute: limits.handshakesPerAddressPerMinute,
        handshakesPerNetworkPerMinute: limits.handshakesPerNetworkPerMinute,
        handshakeTimeoutMs: config.handshakeTimeoutMs,
        maxMessageBytes: config.maxFrameBytes,
        write: {
          highWaterBytes: config.writeBufferBytes,
          maxBufferedBytes: config.maxWriteBufferBytes,
          stallMs: config.writeStallMs,
        },
        // Linked peers count as known at once, before they re-authenticate: the owner's by
        // their endpoints, strangers (which only dial in) by the address they linked from, never
        // by the endpoint they claimed (and as strangers': rated by their network still).
        knownAddresses: store.listPeers().flatMap((p) =>
          p.state === "linked" && !p.address && p.host ? [p.host] : []
        ),
        knownStrangerAddresses: store.listPeers().flatMap((p) =>
          p.state === "linked" && p.address ? [p.address] : []
        ),
        clock,
        // The listener's caps (listener.connections / .unauthenticated / .reservedKnown).
        budgets,
        routes: { [LINK_PATH]: (a) => links.accept(a), [CLIENT_PATH]: (a) => clients.accept(a) },
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
      delivery,
      clients,
      groups,
      resources,
      mailbox,
      attachLocalClient: (user) => attachLocal(clients, user),
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
        suspects: federation.router.suspects(),
        routing: federation.router.stats(),
        budgets: budgets.snapshot(),
        resources: resources.snapshot(),
        delivery: delivery.view(),
        relayHolds: federation.links.holdsView(),
        memory: Deno.memoryUsage(),
      }),
      stop: cleanup,
    };
    const handlers = Object.assign(options.adminExtras ?? {}, adminHandlers(node));
    const admin: AdminServer = await startAdminServer(config.dataDir, handlers, log);
    cleanups.push(() => admin.close());
    federation.start();
    await groups.start();
    return node;
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Two ends of an in-process client connection carrying the same encoded messages. */
function attachLocal(clients: ClientHub, user: UserName): ClientLink {
  const [clientEnd, nodeEnd] = inProcessLink();
  clients.attach(user, nodeEnd);
  return clientEnd;
}
