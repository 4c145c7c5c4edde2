/**
 * Many routers in one process over a fake transport (constant per-hop delay, FIFO per
 * link) and a {@linkcode SimClock}: for tests and the routing benchmark. With the fake
 * signature scheme everything runs synchronously; with real Ed25519 the simulation waits
 * for the crypto after each event, simulated time standing still meanwhile.
 */
import { type NodeId, toNodeId } from "../../ids.ts";
import type { SignedAnnouncement } from "./announcement.ts";
import { Ed25519AnnouncementSigner, Ed25519AnnouncementVerifier } from "./ed25519_signature.ts";
import { FakeAnnouncementSigner, FakeAnnouncementVerifier } from "./fake_signature.ts";
import type { RejectReason } from "./origin_state.ts";
import type { LocalUser } from "./own_announcer.ts";
import { Router } from "./router.ts";
import type { RouterOptions } from "./router_options.ts";
import type { AnnouncementSigner, AnnouncementVerifier } from "./signatures.ts";
import { SimClock } from "./sim_clock.ts";

/** What a simulation reports as it runs. */
export interface SimObserver {
  accepted?(at: NodeId, origin: NodeId, seq: number): void;
  announced?(at: NodeId, announcement: SignedAnnouncement): void;
  rejected?(at: NodeId, fromPeer: NodeId, reason: RejectReason): void;
}

/** Options of {@linkcode Simulation}. */
export interface SimulationOptions {
  /** One-way delay of every link. Default 10 ms. */
  hopDelayMs?: number;
  /** "fake" (fast, forgeable) or "ed25519" (real). Default "fake". */
  crypto?: "fake" | "ed25519";
  startMs?: number;
  /** Passed to every router. */
  routerOptions?: Partial<Omit<RouterOptions, "self" | "signer" | "send" | "clock" | "verifier">>;
  observer?: SimObserver;
}

interface SimNode {
  router: Router;
  signer: AnnouncementSigner;
  verifier: AnnouncementVerifier;
  users: readonly LocalUser[];
  listed: boolean;
  alive: boolean;
  links: Set<NodeId>;
  sent: Map<NodeId, number>;
}

/** A network of simulated nodes. */
export class Simulation {
  readonly clock: SimClock;
  /** Messages and bytes handed to links so far. */
  messagesSent = 0;
  bytesSent = 0;
  #o: SimulationOptions;
  #nodes = new Map<NodeId, SimNode>();
  #decodeCache = new WeakMap<Uint8Array, SignedAnnouncement>();

  constructor(options: SimulationOptions = {}) {
    this.#o = options;
    this.clock = new SimClock({ startMs: options.startMs });
  }

  /** Adds a node with no links. */
  async addNode(
    id: string,
    { users = [], listed = true }: { users?: readonly LocalUser[]; listed?: boolean } = {},
  ): Promise<Router> {
    const self = toNodeId(id);
    if (this.#nodes.has(self)) {
      throw new RangeError(`Cannot add node ${JSON.stringify(id)}: exists`);
    }
    const real = this.#o.crypto === "ed25519";
    const signer = real
      ? await Ed25519AnnouncementSigner.generate()
      : FakeAnnouncementSigner.forNode(id);
    const node: SimNode = {
      router: undefined as unknown as Router,
      signer,
      verifier: real ? new Ed25519AnnouncementVerifier() : new FakeAnnouncementVerifier(),
      users,
      listed,
      alive: true,
      links: new Set(),
      sent: new Map(),
    };
    this.#nodes.set(self, node);
    node.router = this.#start(self, node);
    return node.router;
  }

  /** The router of `id`. */
  router(id: string): Router {
    return this.#node(id).router;
  }

  /** The signer of `id` (attack tests sign with it). */
  signer(id: string): AnnouncementSigner {
    return this.#node(id).signer;
  }

  /** The verifier of `id` (tests count its calls). */
  verifier(id: string): AnnouncementVerifier {
    return this.#node(id).verifier;
  }

  /** Messages `from` has handed to its link to `to`. */
  sentCount(from: string, to: string): number {
    return this.#node(from).sent.get(to as NodeId) ?? 0;
  }

  /** Ids of live nodes, sorted. */
  ids(): NodeId[] {
    return [...this.#nodes].filter(([, n]) => n.alive).map(([id]) => id).sort();
  }

  /** Brings up a link; both ends learn the other's key as a link handshake would give it. */
  connect(a: string, b: string): void {
    const [na, nb] = [this.#node(a), this.#node(b)];
    na.links.add(b as NodeId);
    nb.links.add(a as NodeId);
    if (!na.alive || !nb.alive) return;
    na.router.linkUp(b as NodeId, nb.signer.publicKey);
    nb.router.linkUp(a as NodeId, na.signer.publicKey);
  }

  /** Takes a link down at both ends (as their heartbeats would detect). */
  disconnect(a: string, b: string): void {
    const [na, nb] = [this.#node(a), this.#node(b)];
    na.links.delete(b as NodeId);
    nb.links.delete(a as NodeId);
    if (na.alive) na.router.linkDown(b as NodeId);
    if (nb.alive) nb.router.linkDown(a as NodeId);
  }

  /** Kills a node: its neighbours detect it at once; its links are remembered for revive. */
  kill(id: string): void {
    const node = this.#node(id);
    if (!node.alive) return;
    node.alive = false;
    node.router.stop();
    for (const peer of node.links) {
      const other = this.#nodes.get(peer)!;
      if (other.alive) other.router.linkDown(id as NodeId);
    }
  }

  /** Restarts a killed node with empty state (same key) and its old links. */
  revive(id: string): void {
    const node = this.#node(id);
    if (node.alive) return;
    node.alive = true;
    node.router = this.#start(id as NodeId, node);
    for (const peer of node.links) {
      const other = this.#nodes.get(peer)!;
      if (!other.alive) continue;
      node.router.linkUp(peer, other.signer.publicKey);
      other.router.linkUp(id as NodeId, node.signer.publicKey);
    }
  }

  /** Delivers `bytes` to `to` after one hop delay, as if `from` had sent them on a link. */
  inject(from: string, to: string, bytes: Uint8Array): void {
    this.#transmit(from as NodeId, to as NodeId, bytes);
  }

  /** Runs simulated time forward by `ms`. */
  async run(ms: number): Promise<void> {
    const end = this.clock.nowMs() + ms;
    if (this.#o.crypto !== "ed25519") {
      this.clock.runUntil(end);
      return;
    }
    for (;;) {
      await Promise.all([...this.#nodes.values()].map((n) => n.router.settled()));
      if (!this.clock.step(end)) break;
    }
    this.clock.runUntil(end);
  }

  /** Hop counts from `from` over live links (the truth routes are checked against). */
  trueDistances(from: string): Map<NodeId, number> {
    if (!this.#node(from).alive) return new Map();
    const dist = new Map<NodeId, number>([[from as NodeId, 0]]);
    const queue: NodeId[] = [from as NodeId];
    for (let i = 0; i < queue.length; i++) {
      const node = this.#nodes.get(queue[i])!;
      for (const peer of node.links) {
        if (dist.has(peer) || !this.#nodes.get(peer)!.alive) continue;
        dist.set(peer, dist.get(queue[i])! + 1);
        queue.push(peer);
      }
    }
    return dist;
  }

  /**
   * Differences between `id`'s routes and the truth over live links (distance to every
   * node, and each next hop one step closer); empty when it routes correctly.
   */
  checkRoutes(id: string): string[] {
    const truth = this.trueDistances(id);
    const router = this.router(id);
    const fromHop = new Map<NodeId, Map<NodeId, number>>();
    for (const hop of this.#node(id).links) fromHop.set(hop, this.trueDistances(hop));
    const problems: string[] = [];
    for (const [dest, node] of this.#nodes) {
      if (dest === id || !node.alive) continue;
      const want = truth.get(dest);
      const got = router.distance(dest);
      const hop = router.nextHop(dest);
      if (want !== got) problems.push(`${id}→${dest}: distance ${got}, truth ${want}`);
      else if (want !== undefined && fromHop.get(hop!)?.get(dest) !== want - 1) {
        problems.push(`${id}→${dest}: next hop ${hop} is not on a shortest path`);
      }
    }
    return problems;
  }

  #start(self: NodeId, node: SimNode): Router {
    const observer = this.#o.observer;
    return new Router({
      ...this.#o.routerOptions,
      self,
      signer: node.signer,
      verifier: node.verifier,
      clock: this.clock,
      users: node.users,
      listed: node.listed,
      decodeCache: this.#o.crypto === "ed25519" ? undefined : this.#decodeCache,
      send: (peer, bytes) => {
        node.sent.set(peer, (node.sent.get(peer) ?? 0) + 1);
        this.#transmit(self, peer, bytes);
      },
      events: {
        onAccepted: (origin, seq) => observer?.accepted?.(self, origin, seq),
        onAnnounced: (a) => observer?.announced?.(self, a),
        onRejected: (from, reason) => observer?.rejected?.(self, from, reason),
      },
    });
  }

  #transmit(from: NodeId, to: NodeId, bytes: Uint8Array): void {
    this.messagesSent++;
    this.bytesSent += bytes.length;
    const sender = this.#nodes.get(from);
    const receiver = this.#nodes.get(to);
    if (receiver === undefined) return;
    const router = receiver.router;
    this.clock.schedule(() => {
      // A message in flight when either end died, or the link went down, is lost.
      if (receiver.alive && receiver.router === router && (sender?.alive ?? true)) {
        void router.receiveAnnouncement(from, bytes);
      }
    }, this.#o.hopDelayMs ?? 10);
  }

  #node(id: string): SimNode {
    const node = this.#nodes.get(id as NodeId);
    if (node === undefined) throw new RangeError(`Cannot find node ${JSON.stringify(id)}`);
    return node;
  }
}
