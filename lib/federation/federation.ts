/**
 * One node's federation: the link layer, the router and the forwarder wired
 * together. Links carry announcements to the router and envelopes to the
 * forwarder; the router's paths steer the forwarder.
 */
import { ThrottledLog } from "../budget.ts";
import type { Clock } from "../clock.ts";
import { ed25519Sign } from "../e2e/mod.ts";
import type { NodeId } from "../ids.ts";
import type { Logger } from "../log.ts";
import type { NodeStore } from "../store/mod.ts";
import type { Envelope } from "../protocol/mod.ts";
import { Forwarder } from "./forwarder.ts";
import type { Endpoint } from "../channel/mod.ts";
import { LinkManager } from "./link_manager.ts";
import type { NodeKey } from "./node_key.ts";
import {
  type BudgetFactory,
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
  /** Routing-origin budgets (`config.routingLimits`); defaults when missing. */
  routingLimits?: Partial<OriginLimits>;
  /** Where the routing budgets are registered, so `status --json` shows them. */
  budgets?: BudgetFactory;
  /** An envelope for this node arrived (user kinds and receipts). */
  deliverLocal(envelope: Envelope, bytes: Uint8Array): void;
  /** Test hook: a malicious relay (see Forwarder). */
  alterForwarded?(envelope: Envelope, bytes: Uint8Array): Uint8Array;
}

/** The wired parts. */
export interface Federation {
  links: LinkManager;
  router: Router;
  forwarder: Forwarder;
  /** Known nodes with next hop and distance, for `status --json`. */
  routes(): TableRow[];
  setUsers(users: readonly LocalUser[]): void;
  start(): void;
  stop(): void;
}

/** Builds the link layer, router and forwarder of one node. */
export function createFederation(o: FederationOptions): Federation {
  const log = o.log;
  const links = new LinkManager({
    self: { nodeId: o.self, key: o.key },
    endpoint: o.endpoint,
    store: o.store,
    clock: o.clock,
    log,
    open: o.open,
    maxMessageBytes: o.maxMessageBytes,
    handshakeTimeoutMs: o.handshakeTimeoutMs,
  });
  // A neighbour can make us refuse thousands of announcements: one line per kind per minute.
  const refusals = new ThrottledLog(log.child("routing"), o.clock);
  const router = new Router({
    self: o.self,
    signer: { publicKey: o.key.publicKey, sign: (m) => ed25519Sign(o.key.privateKey, m) },
    send: (peer, announcement, ageMs) =>
      void links.send(peer, {
        kind: "announce",
        bytes: encodeAnnouncementFrame({ announcement, ageMs }),
      }),
    clock: o.clock,
    endpoint: o.endpoint,
    listed: o.listed,
    // Keys proven by handshakes or confirmed through two neighbours survive restarts.
    pins: o.store.originPins,
    limits: o.routingLimits,
    budgets: o.budgets,
    events: {
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
  const forwarder = new Forwarder({
    self: o.self,
    clock: o.clock,
    log: log.child("forward"),
    sendToPeer: (peer, bytes) => links.send(peer, { kind: "envelope", bytes }),
    nextHop: (dest) => router.nextHop(dest),
    reportHopFailure: (peer) => router.reportHopFailure(peer),
    deliverLocal: o.deliverLocal,
    alterForwarded: o.alterForwarded,
  });
  // Neighbours' keys are proven by the link handshake: pin them for routing too.
  for (const rec of o.store.listPeers()) {
    if (rec.publicKey && rec.state === "linked") router.pinKey(rec.nodeId, rec.publicKey);
  }
  links.onLinkUp = (peer, key) => router.linkUp(peer, key);
  links.onLinkDown = (peer) => router.linkDown(peer);
  links.onMessage = (peer, m) => {
    if (m.kind === "announce") {
      Promise.resolve(router.receiveAnnouncement(peer, m.bytes)).catch((e) =>
        log.warn("announcement failed", { peer, why: (e as Error).message })
      );
    } else if (m.kind === "envelope" && forwarder.receive(peer, m.bytes) === "invalid") {
      // Every hop decodes what it forwards, so a malformed envelope comes from this neighbour.
      links.disconnect(peer, "sent a malformed envelope");
    }
  };
  return {
    links,
    router,
    forwarder,
    routes: () => router.table(),
    setUsers: (users) => router.setUsers(users),
    start: () => links.start(),
    stop: () => {
      links.stop();
      router.stop();
    },
  };
}
