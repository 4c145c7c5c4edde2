/**
 * Many routers in one process over a fake transport (constant per-hop delay, FIFO per
 * directed link) and a {@linkcode SimClock}: for tests and the routing benchmark.
 *
 * Built to reach 10,000 nodes: routers share one {@linkcode OriginIndex}; announcements are
 * passed as decoded objects, so there is one copy per (origin, seq) in the whole
 * simulation; with the fake signature scheme each is verified once for all routers; each
 * directed link queues its messages and costs one clock event per burst. Each node may be
 * given its own clock offset (clocks that disagree) and its own pins (restarts).
 */
import { type NodeId, toNodeId } from "../../ids.ts";
import type { Clock } from "../../clock.ts";
import { ANNOUNCEMENT_AGE_BYTES, type SignedAnnouncement } from "./announcement.ts";
import { Ed25519AnnouncementSigner, Ed25519AnnouncementVerifier } from "./ed25519_signature.ts";
import { FakeAnnouncementSigner, FakeAnnouncementVerifier } from "./fake_signature.ts";
import { OriginIndex } from "./origin_index.ts";
import { MemoryOriginPins } from "./origin_pins.ts";
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
  routerOptions?: Partial<
    Omit<RouterOptions, "self" | "signer" | "send" | "clock" | "verifier" | "pins" | "index">
  >;
  /** Give every node durable (in-memory) pins that survive `kill`/`revive`. Default false. */
  pins?: boolean;
  observer?: SimObserver;
}

/** Options of {@linkcode Simulation.addNode}. */
export interface SimNodeOptions {
  users?: readonly LocalUser[];
  listed?: boolean;
  /** This node's clock runs this many ms ahead (negative: behind). Default 0. */
  clockOffsetMs?: number;
}

/** Traffic over one directed link. */
export interface LinkTraffic {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly messages: number;
  readonly bytes: number;
}

/** One directed link: a FIFO of messages in flight, drained by one clock event per burst. */
class SimLink {
  readonly from: NodeId;
  readonly to: SimNode;
  messages = 0;
  bytes = 0;
  items: (SignedAnnouncement | Uint8Array)[] = [];
  ages: number[] = [];
  due: number[] = [];
  head = 0;
  scheduled = false;

  constructor(from: NodeId, to: SimNode) {
    this.from = from;
    this.to = to;
  }

  clear(): void {
    this.items = [];
    this.ages = [];
    this.due = [];
    this.head = 0;
  }
}

interface SimNode {
  id: NodeId;
  router: Router;
  signer: AnnouncementSigner;
  verifier: AnnouncementVerifier;
  clock: Clock;
  pins: MemoryOriginPins | undefined;
  users: readonly LocalUser[];
  listed: boolean;
  alive: boolean;
  links: Set<NodeId>;
  out: Map<NodeId, SimLink>;
}

/** A network of simulated nodes. */
export class Simulation {
  readonly clock: SimClock;
  /** Node-id indexes shared by every router. */
  readonly index = new OriginIndex({ shared: true });
  /** Messages and bytes handed to links so far. */
  messagesSent = 0;
  bytesSent = 0;
  /** Messages delivered to a live receiver. */
  messagesDelivered = 0;
  #o: SimulationOptions;
  #nodes = new Map<NodeId, SimNode>();
  #memo = new WeakMap<SignedAnnouncement, Uint8Array>();

  constructor(options: SimulationOptions = {}) {
    this.#o = options;
    this.clock = new SimClock({ startMs: options.startMs });
  }

  /** Adds a node with no links. */
  async addNode(
    id: string,
    { users = [], listed = true, clockOffsetMs = 0 }: SimNodeOptions = {},
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
      id: self,
      router: undefined as unknown as Router,
      signer,
      verifier: real
        ? new Ed25519AnnouncementVerifier()
        : new FakeAnnouncementVerifier({ memo: this.#memo }),
      clock: clockOffsetMs === 0 ? this.clock : offsetClock(this.clock, clockOffsetMs),
      pins: this.#o.pins ? new MemoryOriginPins() : undefined,
      users,
      listed,
      alive: true,
      links: new Set(),
      out: new Map(),
    };
    this.index.intern(self);
    this.#nodes.set(self, node);
    node.router = this.#start(node);
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

  /** The durable pins of `id` (with `pins: true`). */
  pins(id: string): MemoryOriginPins | undefined {
    return this.#node(id).pins;
  }

  /** Messages `from` has handed to its link to `to`. */
  sentCount(from: string, to: string): number {
    return this.#node(from).out.get(to as NodeId)?.messages ?? 0;
  }

  /** Traffic of every directed link that carried anything. */
  linkTraffic(): LinkTraffic[] {
    const out: LinkTraffic[] = [];
    for (const node of this.#nodes.values()) {
      for (const l of node.out.values()) {
        out.push({ from: l.from, to: l.to.id, messages: l.messages, bytes: l.bytes });
      }
    }
    return out;
  }

  /** Ids of live nodes, sorted. */
  ids(): NodeId[] {
    return [...this.#nodes].filter(([, n]) => n.alive).map(([id]) => id).sort();
  }

  /** Brings up a link; both ends learn the other's key as a link handshake would give it. */
  connect(a: string, b: string): void {
    const [na, nb] = [this.#node(a), this.#node(b)];
    na.links.add(nb.id);
    nb.links.add(na.id);
    if (!na.alive || !nb.alive) return;
    na.router.linkUp(nb.id, nb.signer.publicKey);
    nb.router.linkUp(na.id, na.signer.publicKey);
  }

  /** Takes a link down at both ends (as their heartbeats would detect); in flight is lost. */
  disconnect(a: string, b: string): void {
    const [na, nb] = [this.#node(a), this.#node(b)];
    na.links.delete(nb.id);
    nb.links.delete(na.id);
    na.out.get(nb.id)?.clear();
    nb.out.get(na.id)?.clear();
    if (na.alive) na.router.linkDown(nb.id);
    if (nb.alive) nb.router.linkDown(na.id);
  }

  /** Kills a node: its neighbours detect it at once; its links are remembered for revive. */
  kill(id: string): void {
    const node = this.#node(id);
    if (!node.alive) return;
    node.alive = false;
    node.router.stop();
    for (const l of node.out.values()) l.clear();
    for (const peer of node.links) {
      const other = this.#nodes.get(peer)!;
      other.out.get(node.id)?.clear();
      if (other.alive) other.router.linkDown(node.id);
    }
  }

  /** Restarts a killed node with empty memory (same key, same pins) and its old links. */
  revive(id: string): void {
    const node = this.#node(id);
    if (node.alive) return;
    node.alive = true;
    node.router = this.#start(node);
    for (const peer of node.links) {
      const other = this.#nodes.get(peer)!;
      if (!other.alive) continue;
      node.router.linkUp(peer, other.signer.publicKey);
      other.router.linkUp(node.id, node.signer.publicKey);
    }
  }

  /** Delivers wire `bytes` to `to` after one hop delay, as if `from` had sent them on a link. */
  inject(from: string, to: string, bytes: Uint8Array): void {
    const sender = this.#nodes.get(from as NodeId);
    const receiver = this.#node(to);
    this.#enqueue(this.#link(sender, from as NodeId, receiver), bytes, 0, bytes.length);
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

  #start(node: SimNode): Router {
    const observer = this.#o.observer;
    const self = node.id;
    return new Router({
      ...this.#o.routerOptions,
      self,
      signer: node.signer,
      verifier: node.verifier,
      clock: node.clock,
      users: node.users,
      listed: node.listed,
      index: this.index,
      ...(node.pins ? { pins: node.pins } : {}),
      send: (peer, announcement, ageMs) => {
        const to = this.#nodes.get(peer);
        if (to === undefined) return;
        const bytes = announcement.bytes.length + ANNOUNCEMENT_AGE_BYTES;
        this.#enqueue(this.#link(node, self, to), announcement, ageMs, bytes);
      },
      events: {
        onAccepted: observer?.accepted && ((origin, seq) => observer.accepted!(self, origin, seq)),
        onAnnounced: observer?.announced && ((a) => observer.announced!(self, a)),
        onRejected: observer?.rejected &&
          ((from, reason) => observer.rejected!(self, from, reason)),
      },
    });
  }

  #link(sender: SimNode | undefined, from: NodeId, to: SimNode): SimLink {
    const out = sender?.out ?? new Map<NodeId, SimLink>();
    let link = out.get(to.id);
    if (link === undefined) {
      link = new SimLink(from, to);
      out.set(to.id, link);
    }
    return link;
  }

  #enqueue(
    link: SimLink,
    item: SignedAnnouncement | Uint8Array,
    ageMs: number,
    bytes: number,
  ): void {
    this.messagesSent++;
    this.bytesSent += bytes;
    link.messages++;
    link.bytes += bytes;
    const delayMs = this.#o.hopDelayMs ?? 10;
    link.items.push(item);
    link.ages.push(ageMs);
    link.due.push(this.clock.nowMs() + delayMs);
    if (!link.scheduled) {
      link.scheduled = true;
      this.clock.schedule(() => this.#drain(link), delayMs);
    }
  }

  /** Delivers everything due on `link`, in order; reschedules for what is not due yet. */
  #drain(link: SimLink): void {
    link.scheduled = false;
    const now = this.clock.nowMs();
    const receiver = link.to;
    while (link.head < link.items.length && link.due[link.head] <= now) {
      const item = link.items[link.head];
      const ageMs = link.ages[link.head];
      link.items[link.head] = undefined as unknown as SignedAnnouncement;
      link.head++;
      if (!receiver.alive) continue;
      this.messagesDelivered++;
      if (item instanceof Uint8Array) void receiver.router.receiveAnnouncement(link.from, item);
      else void receiver.router.receiveFrame(link.from, item, ageMs);
    }
    if (link.head === link.items.length) {
      link.clear();
      return;
    }
    if (link.head > 4096) {
      link.items = link.items.slice(link.head);
      link.ages = link.ages.slice(link.head);
      link.due = link.due.slice(link.head);
      link.head = 0;
    }
    link.scheduled = true;
    this.clock.schedule(() => this.#drain(link), link.due[link.head] - now);
  }

  #node(id: string): SimNode {
    const node = this.#nodes.get(id as NodeId);
    if (node === undefined) throw new RangeError(`Cannot find node ${JSON.stringify(id)}`);
    return node;
  }
}

/** A view of `clock` that reads `offsetMs` ahead; timers still count real durations. */
function offsetClock(clock: Clock, offsetMs: number): Clock {
  return {
    nowMs: () => clock.nowMs() + offsetMs,
    setTimer: (fn, delayMs) => clock.setTimer(fn, delayMs),
    clearTimer: (handle) => clock.clearTimer(handle),
  };
}
