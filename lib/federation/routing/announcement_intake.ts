/**
 * The router's receive path: from wire bytes, batches, or ids in a shared
 * {@linkcode AnnouncementTable} (a simulation) to changes of the link-state database. A thin
 * shell: the pure decisions (`checkAnnouncement()` / `receive()` / `confirmByDuplicate()` in
 * origin_state.ts, `admitOrigin()` / `admitGrowth()` in origin_budget.ts) decide, this applies
 * them, floods what was accepted ({@linkcode Flooder}) and coalesces signature checks of one
 * (origin, seq) that are in flight together.
 */
import type { NodeId } from "../../ids.ts";
import type { Clock } from "../../clock.ts";
import {
  ANNOUNCEMENT_AGE_BYTES,
  ANNOUNCEMENT_VERSION,
  type SignedAnnouncement,
} from "./announcement.ts";
import { decodeAnnouncementBatch } from "./announcement_batch.ts";
import {
  decodeAnnouncementFrame,
  type DecodeOptions,
  peekAnnouncement,
  peekVersion,
} from "./announcement_codec.ts";
import type { Flooder } from "./flooder.ts";
import type { LinkStateDb, OriginBudgets } from "./link_state_db.ts";
import { admitGrowth, admitOrigin, type OriginLimits } from "./origin_budget.ts";
import {
  bytesEqual,
  checkAnnouncement,
  confirmByDuplicate,
  type OriginState,
  pinByLink,
  pinned,
  type Precheck,
  receive,
  type RejectReason,
  UNKNOWN_ORIGIN,
} from "./origin_state.ts";
import type { ReceiveKind, RouterOptions } from "./router_options.ts";
import { type AnnouncementVerifier, verifyAnnouncement } from "./signatures.ts";

/** Options of {@linkcode AnnouncementIntake}. */
export interface IntakeOptions {
  /** The router's options: acceptance bounds, pins and events are read from them. */
  router: RouterOptions;
  clock: Clock;
  verifier: AnnouncementVerifier;
  limits: OriginLimits;
  budgets: OriginBudgets;
  db: LinkStateDb;
  flooder: Flooder;
  /** An announcement of this node's own id came back. */
  receiveOwn(fromPeer: NodeId, a: SignedAnnouncement): ReceiveKind | Promise<ReceiveKind>;
  /** The database changed: routes are stale. */
  changed(): void;
  /** Called with each promise of asynchronous crypto, so the owner can wait for it. */
  track<T>(promise: Promise<T>): Promise<T>;
}

interface Waiting {
  fromPeer: NodeId;
  announcement: SignedAnnouncement;
  ageMs: number;
  resolve(kind: ReceiveKind | PromiseLike<ReceiveKind>): void;
}

function flightKey(a: SignedAnnouncement): string {
  return `${a.origin}:${a.seq}`;
}

// The smallest version 1 announcement (no links, no users, 1-character id).
const MIN_V1_BYTES = 128;
// Evictions one admission may make (bytes may need more than one).
const MAX_EVICTIONS = 16;

/** Judges received announcements and applies the decisions. */
export class AnnouncementIntake {
  #o: IntakeOptions;
  #self: NodeId;
  #selfIndex: number;
  #db: LinkStateDb;
  #decodeOptions: DecodeOptions;
  #flights = new Map<string, Waiting[]>();
  #stopped = false;
  /** Inside {@linkcode receiveShared}: its caller flushes. */
  #burst = false;

  constructor(options: IntakeOptions) {
    this.#o = options;
    this.#self = options.router.self;
    this.#db = options.db;
    this.#selfIndex = this.#db.index.intern(this.#self);
    const index = this.#db.index;
    // Ids this node holds already are kept once: an announcement's links share them.
    this.#decodeOptions = {
      known: (id) => {
        const i = index.find(id);
        return i < 0 ? undefined : index.name(i);
      },
    };
  }

  /** Handles an announcement frame from the wire (signed bytes and age). */
  receiveBytes(fromPeer: NodeId, bytes: Uint8Array): ReceiveKind | Promise<ReceiveKind> {
    if (this.#stopped) return "rejected";
    // A node not yet upgraded is honest, only old: refused without blame.
    if (peekVersion(bytes) === ANNOUNCEMENT_VERSION - 1 && bytes.length >= MIN_V1_BYTES) {
      return this.reject(fromPeer, "bad-version", undefined);
    }
    const peek = peekAnnouncement(bytes);
    if (peek === undefined) return this.reject(fromPeer, "bad-encoding", undefined);
    const db = this.#db;
    // Replays of a pinned origin are settled before decoding.
    const i = db.index.find(peek.origin);
    if (peek.origin !== this.#self && i >= 0 && !db.isProvisional(i)) {
      const known = db.seqOf(peek.origin);
      if (peek.seq < known) return "stale";
      if (peek.seq === known) {
        this.#o.flooder.queue.heard(i, this.#o.flooder.queue.slotOf(fromPeer));
        return "duplicate";
      }
    }
    // A new origin from a neighbour whose provisional budget is spent costs no decoding or
    // signature check.
    if (peek.origin !== this.#self && (i < 0 || db.at(i).trust === undefined)) {
      const decision = admitOrigin({
        usage: db,
        limits: this.#o.limits,
        introducer: fromPeer,
        bytes: bytes.length - ANNOUNCEMENT_AGE_BYTES,
      });
      if (decision.kind === "refuse" && decision.budget === "per-peer") {
        this.#o.budgets.provisional.refuse(fromPeer, this.#o.clock.nowMs());
        return this.reject(fromPeer, "over-budget", peek.origin);
      }
    }
    let frame;
    try {
      frame = decodeAnnouncementFrame(bytes, this.#decodeOptions);
    } catch {
      return this.reject(fromPeer, "bad-encoding", peek.origin);
    }
    return this.receiveFrame(fromPeer, frame.announcement, frame.ageMs);
  }

  /** Handles a batch from the wire: each frame as if it had come alone. */
  receiveBatchBytes(
    fromPeer: NodeId,
    bytes: Uint8Array,
  ): ReceiveKind[] | Promise<ReceiveKind[]> {
    if (this.#stopped) return ["rejected"];
    let frames;
    try {
      frames = decodeAnnouncementBatch(bytes);
    } catch {
      return [this.reject(fromPeer, "bad-encoding", undefined)];
    }
    const kinds = frames.map((f) => this.receiveBytes(fromPeer, f));
    return kinds.some((k) => k instanceof Promise) ? Promise.all(kinds) : kinds as ReceiveKind[];
  }

  /**
   * Handles `ids[start … end)` of the database's own table, with their ages (a transport
   * that shares the table, as the simulation does): duplicates cost a few array reads. The
   * caller flushes ({@linkcode Flooder.flush}) once its burst is handled; what a signature
   * check finishes later is flushed by the timer.
   */
  receiveShared(
    fromPeer: NodeId,
    ids: Uint32Array,
    ages: Uint32Array,
    start: number,
    end: number,
  ): void {
    if (this.#stopped) return;
    const db = this.#db;
    const table = db.table;
    const queue = this.#o.flooder.queue;
    const slot = queue.slotOf(fromPeer);
    for (let k = start; k < end; k++) {
      const id = ids[k];
      const i = table.originAt(id);
      if (i !== this.#selfIndex) {
        const settled = db.settledSeqAt(i);
        const seq = table.seqAt(id);
        if (seq < settled) continue;
        if (seq === settled) {
          queue.heard(i, slot);
          continue;
        }
      }
      this.#burst = true;
      void this.#judge(fromPeer, slot, table.get(id), ages[k], i, id);
      this.#burst = false;
    }
  }

  /** Handles a decoded announcement and its age (the signature is still checked). */
  receiveFrame(
    fromPeer: NodeId,
    a: SignedAnnouncement,
    ageMs: number,
  ): ReceiveKind | Promise<ReceiveKind> {
    if (this.#stopped) return "rejected";
    const slot = this.#o.flooder.queue.slotOf(fromPeer);
    return this.#judge(fromPeer, slot, a, ageMs, this.#db.index.find(a.origin), 0);
  }

  /**
   * Pins `node` to `key` (proven by a link handshake): flooded knowledge of it is void.
   * @returns whether anything changed
   */
  pin(node: NodeId, key: Uint8Array): boolean {
    const state = this.#db.get(node);
    const next = pinByLink(state, key.slice());
    if (next === state) return false;
    if (state.trust === undefined) this.#admit(undefined, 0);
    this.#apply(node, state, next, 0, -1);
    return true;
  }

  /** Reports a refusal to the owner. */
  reject(fromPeer: NodeId, reason: RejectReason, origin: string | undefined): "rejected" {
    this.#o.router.events?.onRejected?.(fromPeer, reason, origin);
    return "rejected";
  }

  stop(): void {
    this.#stopped = true;
  }

  /** `i` is the origin's index (−1 if unknown); `id` its table id if it has one, else 0. */
  #judge(
    fromPeer: NodeId,
    slot: number,
    a: SignedAnnouncement,
    ageMs: number,
    i: number,
    id: number,
  ): ReceiveKind | Promise<ReceiveKind> {
    if (i === this.#selfIndex) return this.#o.receiveOwn(fromPeer, a);
    const db = this.#db;
    // Hot path: replays and duplicates of a settled (not provisional) origin, no state built.
    if (i >= 0) {
      const settled = db.settledSeqAt(i);
      if (a.seq < settled) return "stale";
      if (a.seq === settled) {
        this.#o.flooder.queue.heard(i, slot);
        return "duplicate";
      }
    }
    const state = i < 0 ? UNKNOWN_ORIGIN : db.at(i);
    const nowMs = this.#o.clock.nowMs();
    const options = this.#o.router;
    const pre = checkAnnouncement({
      state,
      input: { announcement: a, ageMs, nowMs, fromPeer },
      options,
    });
    if (pre.kind === "duplicate") {
      const same = state.announcement !== undefined &&
        bytesEqual(state.announcement.bytes, a.bytes);
      const next = confirmByDuplicate({ state, fromPeer, sameBytes: same });
      if (next !== state) this.#apply(a.origin, state, next, 0, i);
      if (same) this.#o.flooder.queue.heard(i, slot);
      return "duplicate";
    }
    if (pre.kind === "rejected") return this.reject(fromPeer, pre.reason, a.origin);
    if (pre.kind !== "verify") return "stale";
    const flight = this.#flights.size === 0 ? undefined : this.#flights.get(flightKey(a));
    if (flight !== undefined) {
      return new Promise((resolve) => flight.push({ fromPeer, announcement: a, ageMs, resolve }));
    }
    const valid = verifyAnnouncement(a, pre.publicKey, this.#o.verifier);
    // Synchronous (simulations): nothing changed in between, so the state and precheck hold.
    if (typeof valid === "boolean") {
      return this.#finish(fromPeer, slot, a, ageMs, valid, id, i, state, pre);
    }
    const key = flightKey(a);
    const waiting: Waiting[] = [];
    this.#flights.set(key, waiting);
    return this.#o.track(valid.then((ok) => {
      this.#flights.delete(key);
      // The table id may have been given up while the check ran: the decoded object serves.
      const kind = this.#stopped
        ? "rejected"
        : this.#finish(fromPeer, this.#o.flooder.queue.slotOf(fromPeer), a, ageMs, ok, 0, -1);
      for (const w of waiting) {
        // Same bytes as a refused one: refused without a second check; else judged afresh.
        if (kind === "rejected" && bytesEqual(w.announcement.bytes, a.bytes)) w.resolve("rejected");
        else w.resolve(this.receiveFrame(w.fromPeer, w.announcement, w.ageMs));
      }
      return kind;
    }));
  }

  #finish(
    fromPeer: NodeId,
    slot: number,
    a: SignedAnnouncement,
    ageMs: number,
    signatureValid: boolean,
    id: number,
    i: number,
    known?: OriginState,
    precheck?: Precheck,
  ): ReceiveKind {
    const state = known ?? this.#db.get(a.origin);
    const result = receive({
      state,
      input: {
        announcement: a,
        ageMs,
        nowMs: this.#o.clock.nowMs(),
        fromPeer,
        signatureValid,
        precheck,
      },
      options: this.#o.router,
    });
    if (result.kind === "rejected") {
      if (result.newState !== state) this.#db.set(a.origin, result.newState); // a rival key
      return this.reject(fromPeer, result.reason!, a.origin);
    }
    if (result.kind !== "accepted") return result.kind;
    const next = result.newState;
    if (state.trust === undefined) {
      const introducer = next.trust === "provisional" ? next.introducer : undefined;
      if (!this.#admit(introducer, a.bytes.length)) {
        return this.reject(fromPeer, "over-budget", a.origin);
      }
    } else if (state.trust === "provisional" && next.trust === "provisional") {
      const ok = admitGrowth({
        usage: this.#db,
        limits: this.#o.limits,
        introducer: next.introducer!,
        oldBytes: state.announcement?.bytes.length ?? 0,
        newBytes: a.bytes.length,
      });
      if (!ok) {
        this.#o.budgets.provisionalBytes.refuse(next.introducer!, this.#o.clock.nowMs());
        return this.reject(fromPeer, "over-budget", a.origin);
      }
    }
    const at = this.#apply(a.origin, state, next, id, i);
    // Flooded at the next flush to every neighbour without it; the origin gets its own
    // announcement back too, so that it lifts its seq past an earlier run's.
    this.#o.flooder.changed(at, slot, !this.#burst);
    this.#o.router.events?.onAccepted?.(a.origin, a.seq);
    return "accepted";
  }

  /** Makes room for one more origin, evicting provisional ones as decided; false if refused. */
  #admit(introducer: NodeId | undefined, bytes: number): boolean {
    const { limits, budgets, clock } = this.#o;
    for (let i = 0; i <= MAX_EVICTIONS; i++) {
      const decision = admitOrigin({ usage: this.#db, limits, introducer, bytes });
      if (decision.kind === "admit") return true;
      const victim = decision.kind === "evict" ? this.#db.provisionalOf(decision.peer) : undefined;
      if (victim === undefined) break;
      this.#db.delete(victim);
      this.#o.changed();
    }
    this.#db.syncBudgets();
    const nowMs = clock.nowMs();
    if (introducer === undefined) budgets.origins.refuse("all", nowMs);
    else budgets.provisional.refuse(introducer, nowMs);
    return false;
  }

  /** Stores a decided state; a key newly believed is saved to the pins. Returns the index. */
  /** `i` is `node`'s index if known (−1 if not); `id` as for {@linkcode LinkStateDb.set}. */
  #apply(node: NodeId, old: OriginState, next: OriginState, id: number, i: number): number {
    const db = this.#db;
    if (i >= 0) db.setAt(i, next, id);
    else i = db.set(node, next, id);
    this.#o.changed();
    if (next.key === undefined || !pinned(next)) return i;
    if (old.trust === next.trust && old.key !== undefined && bytesEqual(old.key, next.key)) {
      return i;
    }
    this.#o.router.pins?.save(node, next.key, next.trust as "link" | "confirmed");
    return i;
  }
}
