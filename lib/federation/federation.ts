/**
 * One node's federation: the link layer, the router and the forwarder wired
 * together. Links carry announcements to the router and envelopes to the
 * forwarder; the router's paths steer the forwarder.
 */
import { type BudgetRegistry, networkShare, ThrottledLog } from "../budget.ts";
import type { Clock } from "../clock.ts";
import { ed25519Sign } from "../e2e/base.ts";
import type { NodeId } from "../ids.ts";
import type { Logger } from "../log.ts";
import type { NodeStore } from "../store/mod.ts";
import type { Envelope } from "../protocol/mod.ts";
import { Forwarder } from "./forwarder.ts";
import { PeerConduct, type PeerConductOptions } from "./peer_conduct.ts";
import { Provenance } from "./provenance.ts";
import type { Endpoint } from "../channel/mod.ts";
import { LinkManager } from "./link_manager.ts";
import type { LinkMessage } from "./link_message.ts";
import type { NodeKey } from "./node_key.ts";
import {
  batchFrames,
  encodeAnnouncementBatch,
  encodeAnnouncementFrame,
  type LocalUser,
  type OriginLimits,
  Router,
  type TableRow,
} from "./routing/mod.ts";

/** Options of {@linkcode createFederation}. */
export interface FederationOptions {
  self: NodeId;
  key: NodeKey;
  endpoint: Endpoint;
  store: NodeStore;
  clock: Clock;
  log: Logger;
  open: boolean;
  maxMessageBytes: number;
  handshakeTimeoutMs: number;
  /** Whether the node lists its users in the directory. */
  listed: boolean;
  /** PKCS#8 DER of the node's private key, for signing envelope batches (provenance.ts). */
  privateKeyPkcs8: Uint8Array;
  /** The node's budgets; the federation registers its own in it (routing's included). */
  budgets: BudgetRegistry;
  /** Routing-origin budgets (`[Limits] max_routing_origins`, `max_provisional_*`). */
  routingLimits?: Partial<OriginLimits>;
  /** Limits on what one neighbour may send. */
  conduct: PeerConductOptions;
  /** An announcement of `origin` was accepted (read it with `router.announcementOf`). */
  onAnnouncement?(origin: NodeId): void;
  /** Budget and lifetime of link requests waiting for the owner. */
  pendingLinks: { perAddress: number; total: number; ttlMs: number; perNetwork?: number };
  /**
   * Budget of strangers an open node links at first contact (per address key, per network key,
   * in total; new ones per address and network key and minute). Network defaults: config.ts
   * `networkShare` of the address's.
   */
  openLinks?: {
    perAddress: number;
    total: number;
    perAddressPerMinute: number;
    perNetwork?: number;
    perNetworkPerMinute?: number;
  };
  /** Test hook: a malicious relay (see Forwarder). */
  alterForwarded?(envelope: Envelope, bytes: Uint8Array): Uint8Array | null;
}

/** The wired parts. */
export interface Federation {
  links: LinkManager;
  router: Router;
  forwarder: Forwarder;
  provenance: Provenance;
  /**
   * Sets who gets envelopes addressed to this node, proven (user kinds,
   * receipts, bundles); `viaPeer` handed it over (null: made here).
   */
  onLocal(handler: (envelope: Envelope, bytes: Uint8Array, viaPeer: NodeId | null) => void): void;
  /** Known nodes with next hop and distance, for `status --json`. */
  routes(): TableRow[];
  setUsers(users: readonly LocalUser[]): void;
  start(): void;
  stop(): void;
}

/** Builds the link layer, router and forwarder of one node. */
export function createFederation(o: FederationOptions): Federation {
  const log = o.log;
  const { perAddress = 32, total = 1024, perAddressPerMinute: perMinute = 30 } = o.openLinks ?? {};
  const networkPerMinute = o.openLinks?.perNetworkPerMinute ?? networkShare(perMinute);
  const links = new LinkManager({
    self: { nodeId: o.self, key: o.key },
    endpoint: o.endpoint,
    store: o.store,
    clock: o.clock,
    log,
    open: o.open,
    maxMessageBytes: o.maxMessageBytes,
    handshakeTimeoutMs: o.handshakeTimeoutMs,
    pendingBudget: o.budgets.budget("pending_links", {
      perKey: o.pendingLinks.perAddress,
      total: o.pendingLinks.total,
    }),
    pendingNetworkBudget: o.budgets.budget("pending_links_network", {
      perKey: o.pendingLinks.perNetwork ??
        networkShare(o.pendingLinks.perAddress, o.pendingLinks.total),
    }),
    pendingTtlMs: o.pendingLinks.ttlMs,
    openBudget: o.budgets.budget("open_links", { perKey: perAddress, total }),
    openNetworkBudget: o.budgets.budget("open_links_network", {
      perKey: o.openLinks?.perNetwork ?? networkShare(perAddress, total),
    }),
    openRate: o.budgets.rate("open_links_new", { burst: perMinute, perMinute }),
    openNetworkRate: o.budgets.rate("open_links_network_new", {
      burst: networkPerMinute,
      perMinute: networkPerMinute,
    }),
    // Any key routing holds for the id: a stranger may not take over a node known here.
    knownKey: (node) => router.keyOf(node)?.key,
    events: {
      up: (peer, key) => router.linkUp(peer, key),
      down: (peer) => router.linkDown(peer),
      message: (peer, m) => onMessage(peer, m),
      forgotten: (peer) => router.forget(peer),
    },
  });
  // A neighbour can make us refuse thousands of announcements: one line per kind per minute.
  const refusals = new ThrottledLog(log.child("routing"), o.clock);
  const router = new Router({
    self: o.self,
    signer: { publicKey: o.key.publicKey, sign: (m) => ed25519Sign(o.key.privateKey, m) },
    // One link message per flush and neighbour: a lone announcement as before, more batched.
    send: (peer, batch) => {
      const frames = batchFrames(batch);
      void links.send(
        peer,
        frames.length === 1
          ? { kind: "announce", bytes: encodeAnnouncementFrame(frames[0]) }
          : { kind: "announce-batch", bytes: encodeAnnouncementBatch(frames) },
      );
    },
    clock: o.clock,
    endpoint: o.endpoint,
    listed: o.listed,
    // Keys proven by handshakes or confirmed through two neighbours survive restarts.
    pins: o.store.originPins,
    limits: o.routingLimits,
    budgets: o.budgets,
    events: {
      onAccepted: (origin) => o.onAnnouncement?.(origin),
      onRejected: (peer, reason, origin) => {
        refusals.write("warn", `${peer}|${reason}`, "announcement refused", {
          peer,
          reason,
          origin,
        });
        // Neighbours forward only announcements they verified: undecodable or forged
        // bytes can only come from the neighbour itself. (Expiry, skew and key
        // conflicts can be honest and are only logged.)
        if (reason === "bad-encoding" || reason === "bad-signature") {
          links.disconnect(peer, `sent a ${reason} announcement`);
        }
      },
    },
  });
  let local: (e: Envelope, bytes: Uint8Array, via: NodeId | null) => void = () => {};
  const provenance = new Provenance({
    self: o.self,
    privateKeyPkcs8: o.privateKeyPkcs8,
    // Keys proven by a link handshake first, then what routing believes (never a
    // provisional key that another neighbour contests).
    keyOf: (node) => links.pinnedKey(node) ?? router.believedKey(node),
  });
  const forwarder = new Forwarder({
    self: o.self,
    clock: o.clock,
    log: log.child("forward"),
    provenance,
    sendToPeer: (peer, bytes) => links.send(peer, { kind: "envelope", bytes }),
    forwardToPeer: (peer, bytes) => links.forward(peer, bytes),
    sendPartsToPeer: (peer, parts) => links.sendEnvelopeParts(peer, parts),
    nextHop: (dest) => router.nextHop(dest),
    reportHopFailure: (peer) => router.reportHopFailure(peer),
    forwarded: (from, hop) => links.holdReading(from, hop),
    whenWritable: (peer, fn) => links.whenWritable(peer, fn),
    deliverLocal: (e, bytes, via) => local(e, bytes, via),
    alterForwarded: o.alterForwarded,
  });
  const conduct = new PeerConduct(o.budgets, o.conduct);
  const throttled = new ThrottledLog(log.child("forward"), o.clock);
  // Neighbours' keys are proven by the link handshake: pin them for routing too.
  for (const rec of o.store.listPeers()) {
    if (rec.publicKey && rec.state === "linked") router.pinKey(rec.nodeId, rec.publicKey);
  }
  const onMessage = (peer: NodeId, m: LinkMessage) => {
    if (m.kind === "announce" || m.kind === "announce-batch") {
      const kinds = m.kind === "announce"
        ? router.receiveAnnouncement(peer, m.bytes)
        : router.receiveAnnouncementBatch(peer, m.bytes);
      Promise.resolve(kinds).catch((e) =>
        log.warn("announcement failed", { peer, why: (e as Error).message })
      );
    } else if (m.kind === "envelope") {
      // Every hop proves what it forwards, so what fails here comes from this neighbour.
      const result = forwarder.receive(peer, m.bytes);
      const verdict = conduct.judge(peer, result, o.clock.nowMs());
      if (verdict.kind === "disconnect") links.disconnect(peer, verdict.reason);
      else if (verdict.kind === "drop") {
        throttled.write("warn", `${peer}|${verdict.reason}`, `dropped a ${verdict.reason}`, {
          peer,
        });
      } else if (result === "unknown-origin") {
        throttled.write("info", `${peer}|unknown`, "dropped an envelope from an unknown origin", {
          peer,
        });
      }
    }
  };
  return {
    links,
    router,
    forwarder,
    provenance,
    onLocal: (handler) => {
      local = handler;
    },
    routes: () => router.table(),
    setUsers: (users) => router.setUsers(users),
    start: () => links.start(),
    stop: () => {
      links.stop();
      router.stop();
    },
  };
}
