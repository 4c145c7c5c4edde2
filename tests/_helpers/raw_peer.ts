/**
 * A hand-driven node for attack tests: it links like a real node (real TLS,
 * the node-key handshake) but sends whatever the test tells it to, and can
 * sign envelopes with its own key as their origin (or claim another origin).
 */
import { BudgetRegistry } from "../../lib/budget.ts";
import { SYSTEM_CLOCK } from "../../lib/clock.ts";
import { LinkManager, type LinkMessage } from "../../lib/federation/mod.ts";
import { Provenance } from "../../lib/federation/provenance.ts";
import { type NodeId, toNodeId } from "../../lib/ids.ts";
import { SILENT_LOGGER } from "../../lib/log.ts";
import { encodeEnvelope, type EnvelopeInit } from "../../lib/protocol/mod.ts";
import { type NodeStore, openSqliteNodeStore } from "../../lib/store/mod.ts";

/** A raw peer: its link layer, its key, and what it received. */
export interface RawPeer {
  id: NodeId;
  links: LinkManager;
  store: NodeStore;
  publicKey: Uint8Array;
  received: Array<{ peer: NodeId; message: LinkMessage }>;
  /** Links to a node on 127.0.0.1 and waits until the link is up (or `waitMs`). */
  connect(nodeId: string, port: number, waitMs?: number): Promise<string>;
  /** Sends a link message; false when the link is not up. */
  send(peer: string, message: LinkMessage): boolean;
  /** Envelope bytes proven with this peer's own key (valid only for its own namespace). */
  sign(envelopes: EnvelopeInit[]): Uint8Array[];
  up(peer: string): boolean;
  /** Whether the link to `peer` takes more now (below its high-water mark). */
  writable(peer: string): boolean;
  stop(): void;
}

/**
 * Makes a raw peer with id `id` and a fresh key (or `keyPair`'s), dialling
 * from `localAddress` (a loopback address such as 127.0.0.2) when given.
 */
export async function rawPeer(
  id: string,
  keyPair?: CryptoKeyPair,
  localAddress?: string,
): Promise<RawPeer> {
  const pair = keyPair ??
    await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as CryptoKeyPair;
  const key = {
    privateKey: pair.privateKey,
    publicKey: new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)),
  };
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const store = openSqliteNodeStore(":memory:");
  const received: RawPeer["received"] = [];
  const self = toNodeId(id);
  const links = new LinkManager({
    self: { nodeId: self, key },
    endpoint: { host: "127.0.0.1", port: 9 },
    store,
    clock: SYSTEM_CLOCK,
    log: SILENT_LOGGER,
    open: true,
    maxMessageBytes: 1 << 20,
    handshakeTimeoutMs: 5000,
    localAddress,
    pendingBudget: new BudgetRegistry(SILENT_LOGGER, SYSTEM_CLOCK).budget("p", { perKey: 100 }),
    pendingTtlMs: 3_600_000,
    events: {
      up: () => {},
      down: () => {},
      message: (peer, message) => received.push({ peer, message }),
    },
  });
  const provenance = new Provenance({ self, privateKeyPkcs8: pkcs8, keyOf: () => undefined });
  let stopped = false;
  return {
    id: self,
    links,
    store,
    publicKey: key.publicKey,
    received,
    connect: async (nodeId, port, waitMs = 10_000) =>
      (await links.connect({ nodeId: toNodeId(nodeId), host: "127.0.0.1", port }, waitMs)).state,
    send: (peer, message) => links.send(toNodeId(peer), message),
    sign: (envelopes) => provenance.signBatch(envelopes.map(encodeEnvelope)),
    up: (peer) => links.links().find((l) => l.peer === peer)?.state === "up",
    writable: (peer) => links.writable(toNodeId(peer)),
    stop: () => {
      if (stopped) return;
      stopped = true;
      links.stop();
      store.close();
    },
  };
}
