/**
 * The router: a thin shell around the pure per-origin transition. It owns the link-state
 * database, issues this node's announcements (rate-limited, refreshed, expiring), floods
 * accepted ones unchanged, and answers route and directory queries from a lazily
 * recomputed table.
 */
import type { NodeId } from "../../ids.ts";
import { type Clock, SYSTEM_CLOCK } from "../../clock.ts";
import type { SignedAnnouncement } from "./announcement.ts";
import { decodeAnnouncement, peekAnnouncement } from "./announcement_codec.ts";
import { buildDirectory, type DirectoryEntry } from "./directory.ts";
import { Ed25519AnnouncementVerifier } from "./ed25519_signature.ts";
import { HopPenalties } from "./hop_penalties.ts";
import { LinkStateDb } from "./link_state_db.ts";
import { bytesEqual, checkAnnouncement, receive, type RejectReason } from "./origin_state.ts";
import { computeRoutes, type Route } from "./route_table.ts";
import { type LocalUser, OwnAnnouncer } from "./own_announcer.ts";
import { type AnnouncementVerifier, verifyAnnouncement } from "./signatures.ts";
import type { ReceiveKind, RouterOptions, TableRow } from "./router_options.ts";

interface Flight {
  readonly waiting: {
    fromPeer: NodeId;
    bytes: Uint8Array;
    resolve(kind: ReceiveKind | PromiseLike<ReceiveKind>): void;
  }[];
}

/** A node's routing core. */
export class Router {
  readonly self: NodeId;
  #options: RouterOptions;
  #clock: Clock;
  #verifier: AnnouncementVerifier;
  #db: LinkStateDb;
  #neighbours = new Set<NodeId>();
  #neighbourList: readonly NodeId[] = [];
  #flights = new Map<string, Flight>();
  #busy = 0;
  #idleWaiters: (() => void)[] = [];
  #penalties: HopPenalties;
  #routes: Map<NodeId, Route> | undefined;
  #routesAtMs = 0;
  #own: OwnAnnouncer;
  #purgeTimer: number | undefined;
  #stopped = false;

  constructor(options: RouterOptions) {
    this.self = options.self;
    this.#options = options;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#verifier = options.verifier ?? new Ed25519AnnouncementVerifier();
    this.#db = new LinkStateDb(this.#clock);
    this.#penalties = new HopPenalties(options);
    this.#own = new OwnAnnouncer({
      ...options,
      clock: this.#clock,
      links: () => this.#neighbourList,
      publish: (a) => this.#publishOwn(a),
      track: (p) => this.#track(p),
      onForged: (peer, reason) => this.#reject(peer, reason, this.self),
    });
    this.#schedulePurge();
  }

  /** Pins `node` to `publicKey` (from the link handshake); a different stored key is dropped. */
  pinKey(node: NodeId, publicKey: Uint8Array): void {
    // The handshake proved possession of this key; what flooding said before is void.
    if (node !== this.self && this.#db.pin(node, publicKey)) this.#invalidate();
  }

  /** A link to `peer` is up (after its handshake): syncs it and re-announces. */
  linkUp(peer: NodeId, publicKey?: Uint8Array): void {
    if (this.#stopped || peer === this.self) return;
    if (publicKey !== undefined) this.pinKey(peer, publicKey);
    if (!this.#neighbours.has(peer)) {
      this.#neighbours.add(peer);
      this.#neighbourList = [...this.#neighbours].sort();
    }
    // Full database to the new neighbour, so it needs no further round trip.
    const own = this.#own.current;
    if (own !== undefined) this.#options.send(peer, own.bytes);
    // Including the peer's own: after a restart it learns the seq to go past.
    for (const a of this.#db.liveAnnouncements()) this.#options.send(peer, a.bytes);
    this.#invalidate();
    this.#own.request();
  }

  /** The link to `peer` is down: routes drop it now, and the next announcement omits it. */
  linkDown(peer: NodeId): void {
    if (this.#stopped || !this.#neighbours.delete(peer)) return;
    this.#neighbourList = [...this.#neighbours].sort();
    this.#penalties.clear(peer);
    this.#invalidate();
    this.#own.request();
  }

  /**
   * Handles announcement bytes from neighbour `fromPeer`. Answers synchronously when it
   * can (duplicates, bad input, synchronous verifiers), else after the signature check.
   * The router keeps and forwards `bytes` itself: do not reuse the buffer afterwards.
   */
  receiveAnnouncement(fromPeer: NodeId, bytes: Uint8Array): ReceiveKind | Promise<ReceiveKind> {
    if (this.#stopped) return "rejected";
    const peek = peekAnnouncement(bytes);
    if (peek === undefined) return this.#reject(fromPeer, "bad-encoding", undefined);
    if (peek.origin === this.self) {
      return this.#own.receiveOwn(fromPeer, bytes, peek.seq, this.#verifier);
    }
    const known = this.#db.seqOf(peek.origin);
    if (peek.seq < known) return "stale";
    if (peek.seq === known) return "duplicate";
    const flightKey = `${peek.origin}:${peek.seq}`;
    const flight = this.#flights.get(flightKey);
    if (flight !== undefined) {
      return new Promise((resolve) => flight.waiting.push({ fromPeer, bytes, resolve }));
    }
    let a: SignedAnnouncement;
    try {
      a = this.#decode(bytes);
    } catch {
      return this.#reject(fromPeer, "bad-encoding", peek.origin);
    }
    const state = this.#db.get(a.origin);
    const nowMs = this.#clock.nowMs();
    const pre = checkAnnouncement({
      state,
      input: { announcement: a, nowMs },
      options: this.#options,
    });
    if (pre.kind === "rejected") return this.#reject(fromPeer, pre.reason, a.origin);
    if (pre.kind !== "verify") return pre.kind;
    const valid = verifyAnnouncement(a, pre.publicKey, this.#verifier);
    if (typeof valid === "boolean") return this.#finish(fromPeer, a, valid);
    const entry: Flight = { waiting: [] };
    this.#flights.set(flightKey, entry);
    return this.#track(valid.then((ok) => {
      this.#flights.delete(flightKey);
      const kind = this.#stopped ? "rejected" : this.#finish(fromPeer, a, ok);
      for (const w of entry.waiting) {
        // Same bytes as a refused one: refused without a second check; else judged afresh.
        if (kind === "rejected" && bytesEqual(w.bytes, a.bytes)) w.resolve("rejected");
        else w.resolve(this.receiveAnnouncement(w.fromPeer, w.bytes));
      }
      return kind;
    }));
  }

  /** Replaces this node's users; an announcement follows if what is listed changed. */
  setUsers(users: readonly LocalUser[]): void {
    this.#own.setUsers(users);
  }

  /** Lists or unlists the whole node. */
  setListed(listed: boolean): void {
    this.#own.setListed(listed);
  }

  /** Notes a failed hand-off through `peer`; routes through it cost more for a while. */
  reportHopFailure(peer: NodeId): void {
    if (!this.#neighbours.has(peer)) return;
    this.#penalties.addFailure(peer, this.#clock.nowMs());
    this.#invalidate();
  }

  /** The neighbour to forward an envelope for `dest` to, or undefined if unreachable. */
  nextHop(dest: NodeId): NodeId | undefined {
    return this.#table().get(dest)?.nextHop;
  }

  /** Hops to `dest`, 0 for this node, undefined if unreachable. */
  distance(dest: NodeId): number | undefined {
    return dest === this.self ? 0 : this.#table().get(dest)?.distance;
  }

  /** Every node with a route, sorted. */
  reachable(): NodeId[] {
    return [...this.#table().keys()].sort();
  }

  /** Live neighbours, sorted. */
  neighbours(): readonly NodeId[] {
    return this.#neighbourList;
  }

  /** Every known node (reachable or not) with next hop and distance, for `status --json`. */
  table(): TableRow[] {
    const routes = this.#table();
    const rows: TableRow[] = [];
    for (const a of this.#db.liveAnnouncements()) {
      const route = routes.get(a.origin);
      rows.push({
        node: a.origin,
        reachable: route !== undefined,
        ...(route ? { nextHop: route.nextHop, distance: route.distance } : {}),
        seq: a.seq,
        expiresAtMs: a.expiresAtMs,
        ...(a.endpoint ? { endpoint: a.endpoint } : {}),
      });
    }
    return rows.sort((x, y) => (x.node < y.node ? -1 : 1));
  }

  /** Listed users of this node and every reachable node, with presence. */
  directory(): DirectoryEntry[] {
    return buildDirectory({
      self: this.self,
      ownUsers: this.#own.listedUsers,
      reachable: this.#table().keys(),
      announcementOf: (n) => this.#db.live(n),
    });
  }

  /** The current announcement of `node`, if live (this node's own included). */
  announcementOf(node: NodeId): SignedAnnouncement | undefined {
    return node === this.self ? this.#own.current : this.#db.live(node);
  }

  /** Resolves once no signature check or signing is in flight. */
  settled(): Promise<void> {
    if (this.#busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Whether a signature check or signing is in flight. */
  get busy(): boolean {
    return this.#busy > 0;
  }

  /** Stops timers; the router then ignores input. */
  stop(): void {
    this.#stopped = true;
    this.#own.stop();
    if (this.#purgeTimer !== undefined) this.#clock.clearTimer(this.#purgeTimer);
    this.#purgeTimer = undefined;
  }

  #finish(fromPeer: NodeId, a: SignedAnnouncement, signatureValid: boolean): ReceiveKind {
    const result = receive({
      state: this.#db.get(a.origin),
      input: {
        announcement: a,
        nowMs: this.#clock.nowMs(),
        signatureValid,
        fromPeer,
        neighbours: this.#neighbourList,
      },
      options: this.#options,
    });
    if (result.kind === "rejected") return this.#reject(fromPeer, result.reason!, a.origin);
    if (result.kind !== "accepted") return result.kind;
    this.#db.set(a.origin, result.newState);
    for (const peer of result.forward) this.#options.send(peer, a.bytes);
    this.#invalidate();
    this.#options.events?.onAccepted?.(a.origin, a.seq);
    return "accepted";
  }

  #reject(fromPeer: NodeId, reason: RejectReason, origin: string | undefined): "rejected" {
    this.#options.events?.onRejected?.(fromPeer, reason, origin);
    return "rejected";
  }

  #decode(bytes: Uint8Array): SignedAnnouncement {
    const cache = this.#options.decodeCache;
    let a = cache?.get(bytes);
    if (a === undefined) {
      a = decodeAnnouncement(bytes);
      cache?.set(bytes, a);
    }
    return a;
  }

  #publishOwn(a: SignedAnnouncement): void {
    if (this.#stopped) return;
    for (const peer of this.#neighbourList) this.#options.send(peer, a.bytes);
    this.#options.events?.onAnnounced?.(a);
  }

  #table(): Map<NodeId, Route> {
    const nowMs = this.#clock.nowMs();
    const decaying = this.#penalties.active &&
      nowMs - this.#routesAtMs >= (this.#options.penaltyRecomputeMs ?? 1000);
    if (this.#routes === undefined || decaying) {
      this.#routes = computeRoutes({
        self: this.self,
        links: this.#neighbourList,
        announcementOf: (n) => this.#db.live(n),
        penalty: (p) => this.#penalties.cost(p, nowMs),
      });
      this.#routesAtMs = nowMs;
    }
    return this.#routes;
  }

  #invalidate(): void {
    this.#routes = undefined;
  }

  #schedulePurge(): void {
    this.#purgeTimer = this.#clock.setTimer(() => {
      if (this.#db.purgeExpired()) this.#invalidate();
      if (!this.#stopped) this.#schedulePurge();
    }, this.#options.purgeIntervalMs ?? 60_000);
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#busy++;
    return promise.finally(() => {
      if (--this.#busy === 0) { for (const wake of this.#idleWaiters.splice(0)) wake(); }
    });
  }
}
