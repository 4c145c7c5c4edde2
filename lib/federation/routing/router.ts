/**
 * The router: a thin shell around the pure decisions (origin_state.ts, origin_budget.ts,
 * suspicion.ts, route_table.ts, first_hops.ts, directory.ts). It owns the link-state
 * database, hands received announcements to its {@linkcode AnnouncementIntake}, issues this
 * node's announcements, floods in batches through its {@linkcode Flooder}, and answers
 * route and directory queries from a lazily recomputed table.
 */
import type { Address, NodeId } from "../../ids.ts";
import { Budget } from "../../budget.ts";
import { type Clock, SYSTEM_CLOCK } from "../../clock.ts";
import type { SignedAnnouncement } from "./announcement.ts";
import { AnnouncementIntake } from "./announcement_intake.ts";
import {
  buildDirectoryPage,
  type DirectoryEntry,
  type DirectoryPage,
  type DirectoryQuery,
  MAX_DIRECTORY_ENTRIES,
  MAX_DIRECTORY_PER_NODE,
} from "./directory.ts";
import { Ed25519AnnouncementVerifier } from "./ed25519_signature.ts";
import { rankFirstHops } from "./first_hops.ts";
import { Flooder } from "./flooder.ts";
import { LinkStateDb, type OriginBudgets } from "./link_state_db.ts";
import { DEFAULT_ORIGIN_LIMITS } from "./origin_budget.ts";
import { believed, pinFromStore, type Trust } from "./origin_state.ts";
import { computeRoutes, type Route, type RouteGraph } from "./route_table.ts";
import { type LocalUser, OwnAnnouncer } from "./own_announcer.ts";
import { PathJudge } from "./path_judge.ts";
import type { Suspect } from "./suspicion.ts";
import type { ReceiveKind, RouterOptions, RoutingStats, TableRow } from "./router_options.ts";

/** A node's routing core. */
export class Router {
  readonly self: NodeId;
  #o: RouterOptions;
  #clock: Clock;
  #db: LinkStateDb;
  #flooder: Flooder;
  #intake: AnnouncementIntake;
  #neighbours = new Set<NodeId>();
  #neighbourList: readonly NodeId[] = [];
  #busy = 0;
  #idleWaiters: (() => void)[] = [];
  #judge: PathJudge;
  #routes: Map<NodeId, Route> | undefined;
  #sortedReachable: NodeId[] | undefined;
  #routesAtMs = 0;
  #own: OwnAnnouncer;
  /** Table id of the own announcement, 0 before the first. */
  #ownId = 0;
  #purgeTimer: number | undefined;
  #stopped = false;

  constructor(options: RouterOptions) {
    this.self = options.self;
    this.#o = options;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    const verifier = options.verifier ?? new Ed25519AnnouncementVerifier();
    const limits = { ...DEFAULT_ORIGIN_LIMITS, ...options.limits };
    const make = (name: string, perKey: number, total: number) =>
      options.budgets?.budget(name, { perKey, total }) ?? new Budget(name, { perKey, total });
    const budgets: OriginBudgets = {
      origins: make("routing.origins", limits.maxOrigins, limits.maxOrigins),
      provisional: make(
        "routing.provisional_origins",
        limits.maxProvisionalPerPeer,
        limits.maxProvisionalTotal,
      ),
      provisionalBytes: make(
        "routing.provisional_bytes",
        limits.maxProvisionalBytesPerPeer,
        limits.maxProvisionalBytesTotal,
      ),
    };
    const index = options.table?.index ?? options.index;
    this.#db = new LinkStateDb({ index, table: options.table, budgets });
    for (const pin of options.pins?.load() ?? []) {
      if (pin.node === this.self || this.#db.origins >= limits.maxOrigins) continue;
      this.#db.set(pin.node, pinFromStore(pin.key, pin.source));
    }
    this.#judge = new PathJudge(options);
    this.#flooder = new Flooder({
      db: this.#db,
      clock: this.#clock,
      hopAgeMs: options.hopAgeMs ?? 1000,
      flushDelayMs: options.flushDelayMs ?? 0,
      own: (nowMs) =>
        this.#ownId === 0 ? undefined : { id: this.#ownId, ageMs: this.#own.ageAt(nowMs) },
      send: options.send,
    });
    this.#intake = new AnnouncementIntake({
      router: options,
      clock: this.#clock,
      verifier,
      limits,
      budgets,
      db: this.#db,
      flooder: this.#flooder,
      receiveOwn: (peer, a) => this.#own.receiveOwn(peer, a, verifier),
      changed: () => this.#invalidate(),
      track: (p) => this.#track(p),
    });
    this.#own = new OwnAnnouncer({
      ...options,
      clock: this.#clock,
      links: () => this.#neighbourList,
      publish: (a) => this.#publishOwn(a),
      track: (p) => this.#track(p),
      onForged: (peer, reason) => this.#intake.reject(peer, reason, this.self),
    });
    this.#schedulePurge();
  }

  /** Pins `node` to `publicKey` (proven by a link handshake); flooded knowledge of it is void. */
  pinKey(node: NodeId, publicKey: Uint8Array): void {
    if (node !== this.self) this.#intake.pin(node, publicKey);
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

  /**
   * A link to `peer` is up (after its handshake): at the next flush the peer gets the whole
   * database (so it needs no further round trip), and this node re-announces.
   */
  linkUp(peer: NodeId, publicKey?: Uint8Array): void {
    if (this.#stopped || peer === this.self) return;
    if (publicKey !== undefined) this.pinKey(peer, publicKey);
    if (!this.#neighbours.has(peer)) {
      this.#neighbours.add(peer);
      this.#neighbourList = [...this.#neighbours].sort();
    }
    // The re-announcement first: when it can go at once, it rides in the same flush.
    this.#own.request();
    this.#flooder.linkUp(peer);
    this.#invalidate();
  }

  /** The link to `peer` is down: routes drop it now, and the next announcement omits it. */
  linkDown(peer: NodeId): void {
    if (this.#stopped || !this.#neighbours.delete(peer)) return;
    this.#neighbourList = [...this.#neighbours].sort();
    this.#flooder.linkDown(peer);
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
    return this.#intake.receiveBytes(fromPeer, bytes);
  }

  /**
   * Handles an ANNOUNCE_BATCH link message from `fromPeer`: each frame as if it had come
   * alone; a malformed container is refused as `bad-encoding`.
   */
  receiveAnnouncementBatch(
    fromPeer: NodeId,
    bytes: Uint8Array,
  ): ReceiveKind[] | Promise<ReceiveKind[]> {
    return this.#intake.receiveBatchBytes(fromPeer, bytes);
  }

  /**
   * Handles a decoded announcement and its age from neighbour `fromPeer` (in-process
   * transports; the signature is still checked).
   */
  receiveFrame(
    fromPeer: NodeId,
    a: SignedAnnouncement,
    ageMs: number,
  ): ReceiveKind | Promise<ReceiveKind> {
    return this.#intake.receiveFrame(fromPeer, a, ageMs);
  }

  /**
   * Handles a batch by ids of the router's {@linkcode AnnouncementTable}, `ids[start … end)`
   * with `ages` (a simulation, whose routers share one table; the signature is still
   * checked, once per announcement for all routers with the fake scheme).
   */
  receiveShared(
    fromPeer: NodeId,
    ids: Uint32Array,
    ages: Uint32Array,
    start: number,
    end: number,
  ): void {
    this.#intake.receiveShared(fromPeer, ids, ages, start, end);
  }

  /**
   * Sends what waits to be flooded now, instead of at the flush timer: for a transport that
   * knows a burst of messages has ended (the simulation).
   */
  flush(): void {
    this.#flooder.flush();
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

  /**
   * At most {@linkcode MAX_DIRECTORY_ENTRIES} entries of the directory, at most
   * {@linkcode MAX_DIRECTORY_PER_NODE} of each other node, by node then name: this
   * node's and proven nodes' (linked, or confirmed through two neighbours) first,
   * then provisional ones (heard through one neighbour) in what room is left,
   * shared fairly between the neighbours that introduced them. Before, nodes came
   * in id order: one neighbour's made-up origins under ids that sort first (within
   * its provisional budgets) filled the list and hid every real node after them.
   */
  directory(): DirectoryEntry[] {
    const nowMs = this.#clock.nowMs();
    const proven: NodeId[] = [];
    const byIntroducer = new Map<NodeId, NodeId[]>();
    for (const node of this.#reachableSorted()) {
      const s = this.#db.get(node);
      if (s.trust !== "provisional" || s.introducer === undefined) proven.push(node);
      else {
        const list = byIntroducer.get(s.introducer);
        if (list) list.push(node);
        else byIntroducer.set(s.introducer, [node]);
      }
    }
    const announcementOf = (n: NodeId) => this.#db.live(n, nowMs);
    const entries = buildDirectoryPage({
      self: this.self,
      ownUsers: this.#own.listedUsers,
      reachable: proven,
      announcementOf,
      request: { limit: MAX_DIRECTORY_ENTRIES },
      maxLimit: MAX_DIRECTORY_ENTRIES,
      perNode: MAX_DIRECTORY_PER_NODE,
    }).entries;
    const provisional = [...byIntroducer.values()];
    const shares = fairShares(
      provisional.map((nodes) => nodes.map((n) => listedCount(announcementOf(n)))),
      MAX_DIRECTORY_ENTRIES - entries.length,
    );
    provisional.forEach((nodes, i) => {
      let room = shares[i];
      for (const node of nodes) {
        if (room <= 0) break;
        const a = announcementOf(node);
        if (!a?.listed) continue;
        for (const user of a.users.slice(0, Math.min(MAX_DIRECTORY_PER_NODE, room))) {
          entries.push({
            address: `${user.name}@${node}` as Address,
            presence: user.presence,
            node,
          });
          room--;
        }
      }
    });
    // By node (a stable sort: each node's users stay in their announced order).
    return entries.sort((x, y) => (x.node === y.node ? 0 : x.node < y.node ? -1 : 1));
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
      columnBytes: this.#db.columnBytes + this.#flooder.queue.columnBytes,
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
    this.#intake.stop();
    this.#flooder.stop();
    if (this.#purgeTimer !== undefined) this.#clock.clearTimer(this.#purgeTimer);
    this.#purgeTimer = undefined;
  }

  #publishOwn(a: SignedAnnouncement): void {
    if (this.#stopped) return;
    const table = this.#db.table;
    const old = this.#ownId;
    this.#ownId = table.add(a);
    table.unref(old);
    this.#flooder.ownChanged();
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

/** Users a node lists in the directory, at most {@linkcode MAX_DIRECTORY_PER_NODE}. */
function listedCount(a: SignedAnnouncement | undefined): number {
  return a?.listed ? Math.min(a.users.length, MAX_DIRECTORY_PER_NODE) : 0;
}

/**
 * Splits `room` between groups wanting `wants` (per group, per node): each gets
 * what it wants if that is no more than an equal share of what is left, the
 * rest share the remainder equally (max-min fair).
 */
function fairShares(wants: number[][], room: number): number[] {
  const want = wants.map((w) => w.reduce((a, b) => a + b, 0));
  const shares = want.map(() => 0);
  const order = want.map((_, i) => i).sort((x, y) => want[x] - want[y]);
  let left = Math.max(0, room);
  order.forEach((i, k) => {
    const share = Math.floor(left / (order.length - k));
    shares[i] = Math.min(want[i], share);
    left -= shares[i];
  });
  return shares;
}
