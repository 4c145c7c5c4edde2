/**
 * The router: a thin shell around the pure decisions (origin_state.ts, origin_budget.ts,
 * suspicion.ts, route_table.ts, first_hops.ts, directory.ts). It owns the link-state
 * database, issues this node's announcements, floods accepted ones with their age raised,
 * and answers route and directory queries from a lazily recomputed table.
 */
import type { NodeId } from "../../ids.ts";
import { Budget } from "../../budget.ts";
import { type Clock, SYSTEM_CLOCK } from "../../clock.ts";
import {
  ANNOUNCEMENT_AGE_BYTES,
  ANNOUNCEMENT_VERSION,
  type SignedAnnouncement,
} from "./announcement.ts";
import { decodeAnnouncementFrame, peekAnnouncement, peekVersion } from "./announcement_codec.ts";
import {
  buildDirectoryPage,
  type DirectoryEntry,
  type DirectoryPage,
  type DirectoryQuery,
  MAX_DIRECTORY_ENTRIES,
} from "./directory.ts";
import { Ed25519AnnouncementVerifier } from "./ed25519_signature.ts";
import { rankFirstHops } from "./first_hops.ts";
import { LinkStateDb, type OriginBudgets } from "./link_state_db.ts";
import {
  admitGrowth,
  admitOrigin,
  DEFAULT_ORIGIN_LIMITS,
  type OriginLimits,
} from "./origin_budget.ts";
import {
  believed,
  bytesEqual,
  checkAnnouncement,
  confirmByDuplicate,
  type OriginState,
  pinByLink,
  pinFromStore,
  pinned,
  type Precheck,
  receive,
  type RejectReason,
  type Trust,
  UNKNOWN_ORIGIN,
} from "./origin_state.ts";
import { computeRoutes, type Route, type RouteGraph } from "./route_table.ts";
import { type LocalUser, OwnAnnouncer } from "./own_announcer.ts";
import { type AnnouncementVerifier, verifyAnnouncement } from "./signatures.ts";
import { PathJudge } from "./path_judge.ts";
import type { Suspect } from "./suspicion.ts";
import type { ReceiveKind, RouterOptions, RoutingStats, TableRow } from "./router_options.ts";

interface Flight {
  readonly waiting: {
    fromPeer: NodeId;
    announcement: SignedAnnouncement;
    ageMs: number;
    resolve(kind: ReceiveKind | PromiseLike<ReceiveKind>): void;
  }[];
}

// The smallest version 1 announcement (no links, no users, 1-character id).
const MIN_V1_BYTES = 128;
// Evictions one admission may make (bytes may need more than one).
const MAX_EVICTIONS = 16;

/** A node's routing core. */
export class Router {
  readonly self: NodeId;
  #o: RouterOptions;
  #clock: Clock;
  #verifier: AnnouncementVerifier;
  #limits: OriginLimits;
  #budgets: OriginBudgets;
  #db: LinkStateDb;
  #neighbours = new Set<NodeId>();
  #neighbourList: readonly NodeId[] = [];
  #flights = new Map<string, Flight>();
  #busy = 0;
  #idleWaiters: (() => void)[] = [];
  #judge: PathJudge;
  #routes: Map<NodeId, Route> | undefined;
  #sortedReachable: NodeId[] | undefined;
  #routesAtMs = 0;
  #own: OwnAnnouncer;
  #hopAgeMs: number;
  #purgeTimer: number | undefined;
  #stopped = false;

  constructor(options: RouterOptions) {
    this.self = options.self;
    this.#o = options;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#verifier = options.verifier ?? new Ed25519AnnouncementVerifier();
    this.#hopAgeMs = options.hopAgeMs ?? 1000;
    this.#limits = { ...DEFAULT_ORIGIN_LIMITS, ...options.limits };
    const make = (name: string, perKey: number, total: number) =>
      options.budgets?.budget(name, { perKey, total }) ?? new Budget(name, { perKey, total });
    const l = this.#limits;
    this.#budgets = {
      origins: make("routing.origins", l.maxOrigins, l.maxOrigins),
      provisional: make(
        "routing.provisional_origins",
        l.maxProvisionalPerPeer,
        l.maxProvisionalTotal,
      ),
      provisionalBytes: make(
        "routing.provisional_bytes",
        l.maxProvisionalBytesPerPeer,
        l.maxProvisionalBytesTotal,
      ),
    };
    this.#db = new LinkStateDb({ index: options.index, budgets: this.#budgets });
    for (const pin of options.pins?.load() ?? []) {
      if (pin.node === this.self || this.#db.origins >= l.maxOrigins) continue;
      this.#db.set(pin.node, pinFromStore(pin.key, pin.source));
    }
    this.#judge = new PathJudge(options);
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

  /** Pins `node` to `publicKey` (proven by a link handshake); flooded knowledge of it is void. */
  pinKey(node: NodeId, publicKey: Uint8Array): void {
    if (node === this.self) return;
    const state = this.#db.get(node);
    const next = pinByLink(state, publicKey.slice());
    if (next === state) return;
    if (state.trust === undefined) this.#admit(undefined, 0);
    this.#apply(node, state, next);
    this.#invalidate();
  }

  /**
   * Forgets everything believed about `node` (the owner's `links forget`): its
   * key, pin and announcement; the next key heard for it starts from nothing.
   */
  forget(node: NodeId): void {
    if (node === this.self) return;
    this.#db.delete(node);
    this.#o.pins?.forget(node);
    this.#invalidate();
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
    const nowMs = this.#clock.nowMs();
    const own = this.#own.current;
    if (own !== undefined) this.#o.send(peer, own, this.#own.ageAt(nowMs));
    // Including the peer's own: after a restart it learns the seq to go past.
    for (const [a, expiresAtMs] of this.#db.liveAnnouncements(nowMs)) {
      const ageMs = Math.max(0, Math.ceil(a.lifetimeMs - (expiresAtMs - nowMs))) + this.#hopAgeMs;
      if (ageMs < a.lifetimeMs) this.#o.send(peer, a, ageMs);
    }
    this.#invalidate();
    this.#own.request();
  }

  /** The link to `peer` is down: routes drop it now, and the next announcement omits it. */
  linkDown(peer: NodeId): void {
    if (this.#stopped || !this.#neighbours.delete(peer)) return;
    this.#neighbourList = [...this.#neighbours].sort();
    this.#judge.linkDown(peer);
    this.#invalidate();
    this.#own.request();
  }

  /**
   * Handles an announcement frame from the wire (signed bytes and age) from neighbour
   * `fromPeer`. Answers synchronously when it can (duplicates, bad input, synchronous
   * verifiers), else after the signature check.
   */
  receiveAnnouncement(fromPeer: NodeId, bytes: Uint8Array): ReceiveKind | Promise<ReceiveKind> {
    if (this.#stopped) return "rejected";
    // A node not yet upgraded is honest, only old: refused without blame.
    if (peekVersion(bytes) === ANNOUNCEMENT_VERSION - 1 && bytes.length >= MIN_V1_BYTES) {
      return this.#reject(fromPeer, "bad-version", undefined);
    }
    const peek = peekAnnouncement(bytes);
    if (peek === undefined) return this.#reject(fromPeer, "bad-encoding", undefined);
    // Replays of a pinned origin are settled before decoding.
    const i = this.#db.index.find(peek.origin);
    if (peek.origin !== this.self && i >= 0 && !this.#db.isProvisional(i)) {
      const known = this.#db.seqOf(peek.origin);
      if (peek.seq < known) return "stale";
      if (peek.seq === known) return "duplicate";
    }
    // A new origin from a neighbour whose provisional budget is spent costs no decoding or
    // signature check.
    if (peek.origin !== this.self && (i < 0 || this.#db.at(i).trust === undefined)) {
      const decision = admitOrigin({
        usage: this.#db,
        limits: this.#limits,
        introducer: fromPeer,
        bytes: bytes.length - ANNOUNCEMENT_AGE_BYTES,
      });
      if (decision.kind === "refuse" && decision.budget === "per-peer") {
        this.#budgets.provisional.refuse(fromPeer, this.#clock.nowMs());
        return this.#reject(fromPeer, "over-budget", peek.origin);
      }
    }
    let frame;
    try {
      frame = decodeAnnouncementFrame(bytes);
    } catch {
      return this.#reject(fromPeer, "bad-encoding", peek.origin);
    }
    return this.receiveFrame(fromPeer, frame.announcement, frame.ageMs);
  }

  /**
   * Handles a decoded announcement and its age from neighbour `fromPeer` (in-process
   * transports such as the simulation; the signature is still checked).
   */
  receiveFrame(
    fromPeer: NodeId,
    a: SignedAnnouncement,
    ageMs: number,
  ): ReceiveKind | Promise<ReceiveKind> {
    if (this.#stopped) return "rejected";
    if (a.origin === this.self) return this.#own.receiveOwn(fromPeer, a, this.#verifier);
    // Hot path: replays and duplicates of a settled (not provisional) origin, no state built.
    const i = this.#db.index.find(a.origin);
    if (i >= 0) {
      const settled = this.#db.settledSeqAt(i);
      if (a.seq < settled) return "stale";
      if (a.seq === settled) return "duplicate";
    }
    const state = i < 0 ? UNKNOWN_ORIGIN : this.#db.at(i);
    const nowMs = this.#clock.nowMs();
    const pre = checkAnnouncement({
      state,
      input: { announcement: a, ageMs, nowMs, fromPeer },
      options: this.#o,
    });
    if (pre.kind === "duplicate") {
      const same = state.announcement !== undefined &&
        bytesEqual(state.announcement.bytes, a.bytes);
      const next = confirmByDuplicate({ state, fromPeer, sameBytes: same });
      if (next !== state) {
        this.#apply(a.origin, state, next);
        this.#invalidate();
      }
      return "duplicate";
    }
    if (pre.kind === "rejected") return this.#reject(fromPeer, pre.reason, a.origin);
    if (pre.kind !== "verify") return "stale";
    const flightKey = `${a.origin}:${a.seq}`;
    const flight = this.#flights.get(flightKey);
    if (flight !== undefined) {
      return new Promise((resolve) =>
        flight.waiting.push({ fromPeer, announcement: a, ageMs, resolve })
      );
    }
    const valid = verifyAnnouncement(a, pre.publicKey, this.#verifier);
    // Synchronous (simulations): nothing changed in between, so the state and precheck hold.
    if (typeof valid === "boolean") return this.#finish(fromPeer, a, ageMs, valid, state, pre);
    const entry: Flight = { waiting: [] };
    this.#flights.set(flightKey, entry);
    return this.#track(valid.then((ok) => {
      this.#flights.delete(flightKey);
      const kind = this.#stopped ? "rejected" : this.#finish(fromPeer, a, ageMs, ok);
      for (const w of entry.waiting) {
        // Same bytes as a refused one: refused without a second check; else judged afresh.
        if (kind === "rejected" && bytesEqual(w.announcement.bytes, a.bytes)) w.resolve("rejected");
        else w.resolve(this.receiveFrame(w.fromPeer, w.announcement, w.ageMs));
      }
      return kind;
    }));
  }

  /** Replaces this node's users; an announcement follows if what is listed changed. */
  setUsers(users: readonly LocalUser[]): void {
    this.#own.setUsers(users);
  }

  /** Names the nodes that hold envelopes for this one while it is away (its mailboxes). */
  setMailboxes(mailboxes: readonly NodeId[]): void {
    this.#own.setMailboxes(mailboxes);
  }

  /** The mailboxes `node` names in its current announcement (empty if none or unknown). */
  mailboxesOf(node: NodeId): readonly NodeId[] {
    return this.announcementOf(node)?.mailboxes ?? [];
  }

  /** Lists or unlists the whole node. */
  setListed(listed: boolean): void {
    this.#own.setListed(listed);
  }

  /** Notes a failed hand-off through `peer` (the link refused it); its routes cost more. */
  reportHopFailure(peer: NodeId): void {
    if (!this.#neighbours.has(peer)) return;
    this.#judge.hopFailed(peer, this.#clock.nowMs());
    this.#invalidate();
  }

  /**
   * An envelope for `dest` handed to `firstHop` got no receipt in time: suspicion of that
   * hop rises (for `dest`, and by half for everything), so resends prefer other paths.
   */
  reportMiss(firstHop: NodeId, dest: NodeId): void {
    this.#judge.miss(firstHop, dest, this.#clock.nowMs());
    this.#invalidate();
  }

  /** A receipt came back for an envelope for `dest` sent through `firstHop`. */
  reportDelivered(firstHop: NodeId, dest: NodeId): void {
    if (this.#judge.delivered(firstHop, dest, this.#clock.nowMs())) this.#invalidate();
  }

  /** Forgets every suspicion of `peer` (the owner vouches for it again). */
  clearSuspicion(peer: NodeId): void {
    this.#judge.forget(peer);
    this.#invalidate();
  }

  /** Suspected hops (misses without receipts), strongest first. */
  suspects(): Suspect[] {
    return this.#judge.suspects(this.#clock.nowMs());
  }

  /** The neighbour to forward an envelope for `dest` to, or undefined if unreachable. */
  nextHop(dest: NodeId): NodeId | undefined {
    const hop = this.#table().get(dest)?.nextHop;
    if (hop === undefined) return undefined;
    if (this.#judge.pairCost(hop, dest, this.#clock.nowMs()) === 0) return hop;
    return this.nextHops(dest)[0] ?? hop;
  }

  /**
   * Ranked first hops toward `dest`: the best path (avoiding suspected hops) first, then
   * alternatives whose paths share no node with it, then the rest. Empty if unreachable.
   */
  nextHops(dest: NodeId): NodeId[] {
    if (dest === this.self || !this.#table().has(dest)) return [];
    const nowMs = this.#clock.nowMs();
    return rankFirstHops({
      graph: this.#graph(nowMs),
      dest,
      cost: (hop) => this.#judge.hopCost(hop, nowMs) + this.#judge.pairCost(hop, dest, nowMs),
    }).map((h) => h.hop);
  }

  /** Hops to `dest`, 0 for this node, undefined if unreachable. */
  distance(dest: NodeId): number | undefined {
    return dest === this.self ? 0 : this.#table().get(dest)?.distance;
  }

  /** Every node with a route, sorted. */
  reachable(): NodeId[] {
    return [...this.#reachableSorted()];
  }

  /** Live neighbours, sorted. */
  neighbours(): readonly NodeId[] {
    return this.#neighbourList;
  }

  /** Every node with a live announcement, with next hop, distance, trust and suspicion. */
  table(): TableRow[] {
    const routes = this.#table();
    const nowMs = this.#clock.nowMs();
    const rows: TableRow[] = [];
    for (const [a, expiresAtMs] of this.#db.liveAnnouncements(nowMs)) {
      const route = routes.get(a.origin);
      const state = this.#db.get(a.origin);
      const hop = route === undefined ? undefined : this.nextHop(a.origin);
      const suspicion = hop === undefined
        ? 0
        : this.#judge.pairCost(hop, a.origin, nowMs) + this.#judge.hopCost(hop, nowMs);
      rows.push({
        node: a.origin,
        reachable: route !== undefined,
        ...(route ? { nextHop: hop, distance: route.distance } : {}),
        seq: a.seq,
        expiresAtMs,
        ...(a.endpoint ? { endpoint: a.endpoint } : {}),
        trust: state.trust!,
        ...(state.introducer ? { introducedBy: state.introducer } : {}),
        ...(suspicion > 0 ? { suspicion: Math.round(suspicion * 100) / 100 } : {}),
        ...(a.mailboxes ? { mailboxes: a.mailboxes } : {}),
      });
    }
    return rows.sort((x, y) => (x.node < y.node ? -1 : 1));
  }

  /**
   * One page of the directory (listed users of this node and every reachable node, by node
   * then name). `limit` is capped at {@linkcode MAX_DIRECTORY_PAGE}.
   * @throws {RangeError} a limit that is not a positive whole number
   */
  directoryPage(query: DirectoryQuery): DirectoryPage {
    const nowMs = this.#clock.nowMs();
    return buildDirectoryPage({
      self: this.self,
      ownUsers: this.#own.listedUsers,
      reachable: this.#reachableSorted(),
      announcementOf: (n) => this.#db.live(n, nowMs),
      request: query,
    });
  }

  /** The first {@linkcode MAX_DIRECTORY_ENTRIES} entries of the directory. */
  directory(): DirectoryEntry[] {
    const nowMs = this.#clock.nowMs();
    return buildDirectoryPage({
      self: this.self,
      ownUsers: this.#own.listedUsers,
      reachable: this.#reachableSorted(),
      announcementOf: (n) => this.#db.live(n, nowMs),
      request: { limit: MAX_DIRECTORY_ENTRIES },
      maxLimit: MAX_DIRECTORY_ENTRIES,
    }).entries;
  }

  /** The current announcement of `node`, if live (this node's own included). */
  announcementOf(node: NodeId): SignedAnnouncement | undefined {
    return node === this.self ? this.#own.current : this.#db.live(node, this.#clock.nowMs());
  }

  /** The key held for `node` and how far it is believed; undefined if none. */
  keyOf(node: NodeId): { key: Uint8Array; trust: Trust } | undefined {
    if (node === this.self) return { key: this.#o.signer.publicKey, trust: "link" };
    const s = this.#db.get(node);
    return s.key === undefined ? undefined : { key: s.key, trust: s.trust! };
  }

  /**
   * The key of `node` to verify what it signs outside routing (delivery receipts): a key
   * pinned by a link handshake or confirmed through two neighbours, or the earliest key
   * heard while no neighbour contests it; undefined for a contested id.
   */
  believedKey(node: NodeId): Uint8Array | undefined {
    if (node === this.self) return this.#o.signer.publicKey;
    const s = this.#db.get(node);
    return believed(s) ? s.key : undefined;
  }

  /** Counts for `status --json`. */
  stats(): RoutingStats {
    this.#db.syncBudgets();
    let live = 0;
    for (const _ of this.#db.liveAnnouncements(this.#clock.nowMs())) live++;
    return {
      origins: this.#db.origins,
      provisional: this.#db.provisional,
      provisionalBytes: this.#db.provisionalBytes,
      live,
      neighbours: this.#neighbourList.length,
    };
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

  #finish(
    fromPeer: NodeId,
    a: SignedAnnouncement,
    ageMs: number,
    signatureValid: boolean,
    known?: OriginState,
    precheck?: Precheck,
  ): ReceiveKind {
    const state = known ?? this.#db.get(a.origin);
    const result = receive({
      state,
      input: {
        announcement: a,
        ageMs,
        nowMs: this.#clock.nowMs(),
        fromPeer,
        signatureValid,
        neighbours: this.#neighbourList,
        precheck,
      },
      options: this.#o,
    });
    if (result.kind === "rejected") {
      if (result.newState !== state) this.#db.set(a.origin, result.newState); // a rival key
      return this.#reject(fromPeer, result.reason!, a.origin);
    }
    if (result.kind !== "accepted") return result.kind;
    const next = result.newState;
    if (state.trust === undefined) {
      const introducer = next.trust === "provisional" ? next.introducer : undefined;
      if (!this.#admit(introducer, a.bytes.length)) {
        return this.#reject(fromPeer, "over-budget", a.origin);
      }
    } else if (state.trust === "provisional" && next.trust === "provisional") {
      const ok = admitGrowth({
        usage: this.#db,
        limits: this.#limits,
        introducer: next.introducer!,
        oldBytes: state.announcement?.bytes.length ?? 0,
        newBytes: a.bytes.length,
      });
      if (!ok) {
        this.#budgets.provisionalBytes.refuse(next.introducer!, this.#clock.nowMs());
        return this.#reject(fromPeer, "over-budget", a.origin);
      }
    }
    this.#apply(a.origin, state, next);
    const ageOut = ageMs + this.#hopAgeMs;
    if (ageOut < a.lifetimeMs) { for (const peer of result.forward) this.#o.send(peer, a, ageOut); }
    this.#invalidate();
    this.#o.events?.onAccepted?.(a.origin, a.seq);
    return "accepted";
  }

  /** Makes room for one more origin, evicting provisional ones as decided; false if refused. */
  #admit(introducer: NodeId | undefined, bytes: number): boolean {
    for (let i = 0; i <= MAX_EVICTIONS; i++) {
      const decision = admitOrigin({ usage: this.#db, limits: this.#limits, introducer, bytes });
      if (decision.kind === "admit") return true;
      const victim = decision.kind === "evict" ? this.#db.provisionalOf(decision.peer) : undefined;
      if (victim === undefined) break;
      this.#db.delete(victim);
      this.#invalidate();
    }
    this.#db.syncBudgets();
    const nowMs = this.#clock.nowMs();
    if (introducer === undefined) this.#budgets.origins.refuse("all", nowMs);
    else this.#budgets.provisional.refuse(introducer, nowMs);
    return false;
  }

  /** Stores a decided state; a key newly believed is saved to the pins. */
  #apply(node: NodeId, old: OriginState, next: OriginState): void {
    this.#db.set(node, next);
    if (next.key === undefined || !pinned(next)) return;
    if (old.trust === next.trust && old.key !== undefined && bytesEqual(old.key, next.key)) return;
    this.#o.pins?.save(node, next.key, next.trust as "link" | "confirmed");
  }

  #reject(fromPeer: NodeId, reason: RejectReason, origin: string | undefined): "rejected" {
    this.#o.events?.onRejected?.(fromPeer, reason, origin);
    return "rejected";
  }

  #publishOwn(a: SignedAnnouncement): void {
    if (this.#stopped) return;
    for (const peer of this.#neighbourList) this.#o.send(peer, a, 0);
    this.#o.events?.onAnnounced?.(a);
  }

  #graph(nowMs: number): RouteGraph {
    return {
      self: this.self,
      links: this.#neighbourList,
      announcementOf: (n) => this.#db.live(n, nowMs),
      penalty: (p) => this.#judge.hopCost(p, nowMs),
    };
  }

  #table(): Map<NodeId, Route> {
    const nowMs = this.#clock.nowMs();
    const decaying = this.#judge.active &&
      nowMs - this.#routesAtMs >= (this.#o.penaltyRecomputeMs ?? 1000);
    if (this.#routes === undefined || decaying) {
      this.#routes = computeRoutes(this.#graph(nowMs));
      this.#sortedReachable = undefined;
      this.#routesAtMs = nowMs;
    }
    return this.#routes;
  }

  #reachableSorted(): NodeId[] {
    const routes = this.#table();
    this.#sortedReachable ??= [...routes.keys()].sort();
    return this.#sortedReachable;
  }

  #invalidate(): void {
    this.#routes = undefined;
    this.#sortedReachable = undefined;
  }

  #schedulePurge(): void {
    this.#purgeTimer = this.#clock.setTimer(() => {
      if (this.#db.purgeExpired(this.#clock.nowMs())) this.#invalidate();
      this.#db.syncBudgets();
      if (!this.#stopped) this.#schedulePurge();
    }, this.#o.purgeIntervalMs ?? 60_000);
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#busy++;
    return promise.finally(() => {
      if (--this.#busy === 0) { for (const wake of this.#idleWaiters.splice(0)) wake(); }
    });
  }
}
