/**
 * Delivery: nothing acknowledged is lost, nothing is delivered twice. This is
 * the engine; the decisions are in admission.ts, the outbox index in
 * outbox.ts, the budgets in delivery_budgets.ts.
 *
 * Sending node: a client's envelope that would be sent now is forwarded at
 * once and waits for its receipt in memory (fast_lane.ts): answered in time,
 * its client hears "delivered" and nothing was stored. Otherwise (no route,
 * others waiting before it, no receipt in time, busy, refused) it goes into
 * the durable outbox (group commit) before the client hears "sent"; until
 * its client hears an answer, the client keeps it and submits it again after
 * a reconnection. From the outbox it is sent along the route and kept
 * until the destination's receipt arrives ("delivered"), sent again while it
 * has no route or no receipt (a first hop whose envelopes go unanswered loses
 * traffic to the next-best path), and reported "failed" at expiry (this
 * node's clock).
 *
 * Destination node: every envelope arrives proven (lib/federation/provenance.ts);
 * it is admitted or not on the recipient's policy, the id's history, the
 * proven origin's rates and the inbox's room; stored in the recipient's inbox
 * and only after the commit answered with a receipt. The inbox keeps it until
 * the client acknowledges it, or until its keep-until on this node's clock.
 */
import type { Clock } from "../clock.ts";
import type { ProvenanceVerdict } from "../federation/mod.ts";
import type { RateBudget, ThrottledLog } from "../budget.ts";
import { type NodeId, splitAddress, type UserName } from "../ids.ts";
import type { Logger } from "../log.ts";
import {
  type ChunkResult,
  decodeChunkBody,
  type DecodedEnvelope,
  decodeEnvelope,
  decodeHeldEnvelope,
  decodeReceiptQuery,
  DEFAULT_TTL,
  destinationNode,
  encodeEnvelope,
  type Envelope,
  EnvelopeError,
  envelopeIdHex,
  isGroupEnvelope,
  isUserEnvelope,
  type NodeEnvelope,
  originNode,
  TTL_OFFSET,
  type UserEnvelope,
  withoutAuth,
} from "../protocol/mod.ts";
import {
  type InboxAdd,
  type InboxKind,
  type InboxRecord,
  type NodeStore,
  storeFailure,
} from "../store/mod.ts";
import { type Admission, admit, admitChunk, checkSubmission, OPEN_FACTS } from "./admission.ts";
import type { CommitJob, Committer } from "./committer.ts";
import type { DeliveryBudgets } from "./delivery_budgets.ts";
import type { FileSpool } from "./file_spool.ts";
import { ChunksFirst } from "./chunks_first.ts";
import { DeliveryError } from "./errors.ts";
import { Custody } from "./custody.ts";
import { decodeReceiptEntries, type ReceiptEntry, type UserResult } from "./group_receipt.ts";
import { envelopeStatus } from "./group_rules.ts";
import type { GroupOutcome, GroupService } from "./group_service.ts";
import type { FanoutRow } from "./group_store.ts";
import { Outbox, type OutboxEntry } from "./outbox.ts";
import {
  answerFast,
  FAST_GRACE_MS,
  type FastEntry,
  FastLane,
  type SubmitAnswer,
  type SubmitResult,
} from "./fast_lane.ts";
import { ReceiptBatcher } from "./receipt_batcher.ts";
import type { ResourceState } from "./resource_state.ts";
import { type ReceiptStatus, TEMPORARY_STATUSES } from "./receipt.ts";
import { encodeNotice, NOTICE_KEEP_MS, type SettledNotice } from "./notice.ts";

export { DeliveryError } from "./errors.ts";
export type { SubmitAnswer, SubmitResult } from "./fast_lane.ts";

/** What delivery tells the client sessions. */
export type DeliveryEvent =
  | {
    kind: "state";
    owner: UserName;
    id: string;
    /**
     * `held`: a mailbox holds it for its destination (`reason` names the mailbox);
     * `kept`: a mailbox would not take it, this node keeps it (`reason` says why).
     */
    state: "held" | "kept" | "delivered" | "failed";
    reason?: string;
    /** Per-user results of a group envelope: address → receipt status. */
    users?: Record<string, string>;
  }
  /**
   * Receipts settled these outbox rows of `owner`'s: their notices are
   * committed (each kept in its row until the client acknowledges it).
   */
  | { kind: "notices"; owner: UserName; notices: SettledNotice[] }
  | {
    kind: "inbox";
    owner: UserName;
    /** The rows just committed (none: the id was stored before), when known: pushed as they are. */
    rows?: InboxRecord[];
  }
  /** A file chunk for `owner` is on disk. */
  | { kind: "chunks"; owner: UserName }
  /** What the destination did with chunks `owner` sent. */
  | { kind: "chunkResults"; owner: UserName; results: ChunkResult[] };

/** What delivery needs of the federation (the forwarder and the router's path judgement). */
export interface DeliveryNetwork {
  /** Hands this node's envelope towards `dest`; the first hop, or null with no route now. */
  /**
   * Sends unsigned envelope bytes of this node's; `sent` is called once nothing
   * refers to them any more (not when there is no route: null).
   */
  sendEncoded(dest: NodeId, bytes: Uint8Array, sent?: () => void): NodeId | null;
  /** Sends a node envelope of this node's (receipts), first through `prefer` if its link is up. */
  send(envelope: NodeEnvelope, prefer?: NodeId): unknown;
  /** Envelopes sent through `firstHop` to `dest` were not answered in time. */
  reportMiss(firstHop: NodeId, dest: NodeId): void;
  /** An envelope sent through `firstHop` to `dest` was answered. */
  reportDelivered(firstHop: NodeId, dest: NodeId): void;
  /** The neighbour this node would send an envelope for `dest` to now. */
  nextHop(dest: NodeId): NodeId | undefined;
  /** Ends the link to a neighbour that misbehaved. */
  disconnect(peer: NodeId, reason: string): void;
  /** Whether a route to `node` exists now. */
  hasRoute(node: NodeId): boolean;
  /** This node's proof on its own envelopes (unsigned in, signed out). */
  signOwn(unsigned: Uint8Array[]): Uint8Array[];
  /** Decodes envelope bytes with their proof and checks it (null: not an envelope). */
  verify(
    bytes: Uint8Array,
  ): { decoded: DecodedEnvelope; proven: boolean; verdict: ProvenanceVerdict } | null;
  /** The mailboxes `dest` named (kept across restarts). */
  mailboxesOf(dest: NodeId): readonly NodeId[];
}

/** Time limits of delivery. */
export interface DeliveryTimes {
  /** Longest life a client may give an envelope (this node's message lifetime). */
  maxLifetimeMs: number;
  /** How far another node's clock may be from ours when judging an envelope's age. */
  clockAllowanceMs: number;
  /** Resend an envelope with no receipt after this long. */
  retryMs: number;
  /** A destination that answered `busy` is left alone this long. */
  busyPauseMs: number;
}

/** Defaults of {@linkcode DeliveryTimes}. */
export const DELIVERY_TIMES: DeliveryTimes = {
  maxLifetimeMs: 7 * 24 * 3600_000,
  clockAllowanceMs: 12 * 3600_000,
  retryMs: 5_000,
  busyPauseMs: 5_000,
};

/** Options of {@linkcode Delivery}. */
export interface DeliveryOptions {
  self: NodeId;
  store: NodeStore;
  committer: Committer;
  network: DeliveryNetwork;
  /** Where file chunks for local users are kept. */
  spool: FileSpool;
  budgets: DeliveryBudgets;
  clock: Clock;
  log: Logger;
  /** Log lines about one offender, at most once per interval. */
  throttled: ThrottledLog;
  /** Where a full disk is reported. */
  resources?: ResourceState;

  times?: Partial<DeliveryTimes>;
  /** Envelopes in flight per destination node. */
  window?: number;
  /** Groups: judges group envelopes for this node's users, and is the hub of its groups. */
  groups?: GroupService;
  /**
   * How long a forwarded submission waits in memory for its receipt before it
   * is stored, at the engine's next tick ({@linkcode FAST_GRACE_MS}); 0 stores
   * every submission at once.
   */
  fastGraceMs?: number;
  /**
   * A message whose recipient's client can take it now is pushed before it
   * is stored ({@linkcode Delivery.earlyPush}); default true. False stores
   * every message before it is pushed.
   */
  pushFirst?: boolean;
  /**
   * Bytes of envelopes pushed before they are stored that this node holds at
   * once, across all its users ({@linkcode EARLY_BYTES}): past it, arrivals
   * are stored first.
   */
  earlyBytes?: number;
}

/**
 * How delivery pushes an envelope to its user's client before storing it
 * (the client hub implements it).
 */
export interface EarlyPush {
  /**
   * Whether `owner`'s client is attached, nothing stored for it waits to be
   * pushed, and its window has room for an envelope of `bytes` (in count and
   * bytes): an envelope pushed now keeps the order.
   */
  ready(owner: UserName, bytes: number): boolean;
  /** Pushes an envelope not stored yet (it has no inbox seq). */
  push(owner: UserName, id: string, bytes: Uint8Array): void;
  /**
   * Envelopes pushed before they were stored whose write failed (a full
   * disk) and that the client has not acknowledged: they will not be stored
   * here, so there is nothing to push again and nothing to wait for (their
   * origins send them again).
   */
  dropped(owner: UserName, ids: readonly string[]): void;
  /**
   * Whether `owner`'s client is attached, nothing stored for it waits to be
   * pushed (a file's offer comes before its chunks), and its chunk window has
   * room for a chunk of `bytes` pushed before it is spooled.
   */
  chunkReady?(owner: UserName, bytes: number): boolean;
  /**
   * Pushes a file chunk not spooled. `envelope` is copied before this returns;
   * the copy is returned (the node's, kept until `release`, to spool it if
   * the client does not acknowledge it), or null with no client now.
   */
  pushChunk?(
    owner: UserName,
    id: string,
    envelope: Uint8Array,
  ): { bytes: Uint8Array; release: () => void } | null;
}

/** A user envelope that arrived in this turn, admitted at its end ({@linkcode Delivery}). */
interface Arrival {
  e: UserEnvelope;
  bytes: Uint8Array;
  origin: NodeId;
  answer: (status: ReceiptStatus) => void;
}

/** An envelope pushed before it is stored. */
interface EarlyEntry extends Arrival {
  id: string;
  owner: UserName;
  pushedAtMs: number;
  /** The client acknowledged it (it has it durably): answered "stored". */
  acked: boolean;
  /** "stored" went to its origin. */
  answered: boolean;
  /** The answers of copies that came before its write: "stored" with it. */
  copies: Array<(status: ReceiptStatus) => void>;
  /**
   * What its write did: kept only its id (acked first), its row, or nothing (a copy, or "taken":
   * another origin's envelope was stored under its id meanwhile, #copyOrTaken).
   */
  wrote?: "id" | "row" | "copy" | "taken" | "gone";
  row?: InboxRecord;
  /** Answers "stored" once (the acknowledgement or the flush). */
  stored: () => void;
}

/**
 * Owner of the outbox rows of this node's own envelopes (a hub's fan-out): not a
 * user name (user names cannot start with "~"), so nobody is told about them.
 */
export const NODE_OWNER = "~node" as UserName;

/** Spooled chunks' ids committed at once, at the latest (else every tick). */
const MAX_CHUNK_MARKS = 256;
/** How long a forwarded chunk waits for its receipt before the sender's client retries it. */
const STREAM_FORGET_MS = 60_000;
const MAX_REQUEST_BODY = 64 * 1024;
/**
 * How long a stored envelope's receipt waits for a flush started by something
 * else (or for its user's acknowledgement) before it starts one of its own:
 * at 1,000 msg/s that is one fdatasync per this many milliseconds instead of
 * one per message or two (each about 300 µs of CPU here, most of it waking
 * threads). Receipts are gathered for 10 ms anyway (receipt_batcher.ts).
 */
const RECEIPT_FLUSH_MS = 50;
/**
 * How long an envelope pushed before it was stored waits for its client's
 * acknowledgement before its row is written (then only its id is). A client
 * acknowledges within 20 ms when it keeps up (ACK_DELAY_MS); at the maximum
 * rate it works through up to a window of pushes first, and at 40 ms a
 * tenth of those pushed first still got a row, deleted again at their
 * acknowledgement (node B 107 → 92 µs per message at the maximum with 200,
 * docs/PERF_NOTES.md, `inboxrows`). Only a client that does not acknowledge
 * (gone, or its disk full) makes its origin's receipt wait this long.
 */
const EARLY_WAIT_MS = 200;
/**
 * Default of {@linkcode DeliveryOptions.earlyBytes}: envelopes pushed before
 * they are stored are held in memory until their deferred write (about
 * {@linkcode EARLY_WAIT_MS}, longer when the disk is slow). Each client's
 * window bounds its own share (client_hub.ts, PUSH_WINDOW_BYTES); this bounds
 * their sum, whatever the number of clients.
 */
export const EARLY_BYTES = 16 * 1024 * 1024;
/** The outbox is checked for expired envelopes this often; inboxes and ids every minute. */
const EXPIRY_MS = 1_000;
const SWEEP_MS = 60_000;
const SWEEP_ROWS = 5_000;

/** Why a chunk was refused, as its sender's client is told. */
const CHUNK_REFUSALS: Record<string, string> = {
  "no-such-user": "there is no such user",
  refused: "the recipient has not accepted a chat with you",
  "too-large": "the file is larger than the recipient's node accepts",
  "quota-full": "the recipient's node has no room left for this user (quota full)",
  expired: "it arrived past its expiry",
};

/** The delivery engine of one node. */
export class Delivery {
  #o: DeliveryOptions;
  #t: DeliveryTimes;
  #outbox: Outbox;
  /** Chunks forwarded and waiting for a receipt: not stored, the client retries them. */
  #streaming = new Map<
    string,
    { owner: UserName; dest: NodeId; sentAtMs: number; custodyAt: NodeId | null }
  >();
  #custody: Custody;
  #queries: RateBudget | null = null;
  #receipts: ReceiptBatcher;
  #pumpTimer: number;
  #sweepTimer: number;
  #stopped = false;
  #listeners = new Set<(event: DeliveryEvent) => void>();
  #sweeps = 0;
  #missedBack = new Map<NodeId, number>();
  /** Outbox rows settled by a receipt whose delete is not committed yet (it is deferred). */
  #settling = new Set<string>();
  /** Ids of chunks spooled and not yet remembered (committed each tick, see #markChunks). */
  #chunkMarks: Array<{ id: string; keepUntilMs: number; origin: NodeId }> = [];
  /** Submissions forwarded and answered by their receipt when it comes in time (fast_lane.ts). */
  #fast: FastLane;
  /** Per destination: outbox rows queued for the next commit (a later submission waits behind). */
  #committing = new Map<NodeId, number>();
  /**
   * Envelopes pushed to their user's client and not yet flushed here: answered
   * "stored" when the client acknowledges them (it has them durably) or when
   * the flush comes, whichever is first.
   */
  #awaitingAck = new Map<string, { owner: UserName; stored: () => void }>();
  /**
   * Ids of user envelopes queued for a commit the usual way (#storeThenPush) and not committed;
   * kept only with push-first on, as by default (#takeArrivals is its one reader).
   */
  #storing = new Set<string>();
  /**
   * Per recipient: envelopes taking the usual way not committed yet (with push-first on). Their
   * user's later arrivals take it too: pushed first, one would overtake them.
   */
  #storingFor = new Map<UserName, number>();
  /** The turn's arrivals that may be pushed before they are stored (#takeArrivals). */
  #arrivals: Arrival[] = [];
  /** Envelopes pushed to their user's client before they are stored, until their write commits. */
  #early = new Map<string, EarlyEntry>();
  /** Bytes of the envelopes in {@linkcode #early}: at most `earlyBytes`. */
  #earlyBytes = 0;
  /** Of those, the ones whose write has not run yet, in push order. */
  #earlyQueue: EarlyEntry[] = [];
  #earlyJobQueued = false;
  #pushedFirst = 0;
  #pushedFirstIdOnly = 0;
  /** File chunks pushed to their client before they were spooled, until acknowledged or spooled. */
  #chunksFirst = new ChunksFirst();

  /**
   * The client sessions' way of pushing an envelope before it is stored
   * (set by the client hub); null: every envelope is stored first.
   */
  earlyPush: EarlyPush | null = null;

  constructor(options: DeliveryOptions) {
    this.#o = options;
    this.#t = { ...DELIVERY_TIMES, ...options.times };
    this.#outbox = new Outbox({ store: options.store, window: options.window ?? 512 });
    this.#receipts = new ReceiptBatcher(options.self, {
      clock: options.clock,
      send: (e, prefer) => options.network.send(e, prefer),
    });
    this.#custody = new Custody({
      self: options.self,
      store: options.store,
      committer: options.committer,
      network: {
        hasRoute: (n) => options.network.hasRoute(n),
        signOwn: (b) => options.network.signOwn(b),
        sendEncoded: (d, b) => options.network.sendEncoded(d, b),
        send: (e) => options.network.send(e),
      },
      clock: options.clock,
      log: options.log,
      mailboxesOf: (d) => options.network.mailboxesOf(d),
      emit: (ev) => this.#emit({ kind: "state", ...ev }),
      released: (owner, bytes) => options.budgets.outboxRelease(owner, bytes),
    });
    this.#fast = new FastLane();
    this.#pumpTimer = options.clock.setTimer(() => this.#tick(), 250);
    this.#sweepTimer = options.clock.setTimer(() => this.#sweep(), EXPIRY_MS);
  }

  /** Rate of receipt queries per origin (registered once the node has its budgets). */
  set queryRate(rate: RateBudget) {
    this.#queries = rate;
  }

  /**
   * Sees receipts first (a mailbox settling what it handed over) and returns
   * the entries that were not about its envelopes.
   */
  receiptTap: ((entries: ReceiptEntry[], from: NodeId) => ReceiptEntry[]) | null = null;

  /** Calls `listener` with every delivery event (the client sessions listen). */
  onEvent(listener: (event: DeliveryEvent) => void): void {
    this.#listeners.add(listener);
  }

  #emit(event: DeliveryEvent): void {
    if (event.owner === NODE_OWNER) return;
    for (const l of this.#listeners) l(event);
  }

  /**
   * `owner`'s client acknowledged these inbox ids: it stored them before it
   * did, so their receipts go now instead of after this node's flush. Returns
   * the ids that may have an inbox row to delete: not those pushed before
   * they were stored whose write has not run (it keeps only their id now).
   */
  acked(owner: UserName, ids: string[]): string[] {
    if (this.#early.size > 0) {
      const rows: string[] = [];
      for (const id of ids) {
        const x = this.#early.get(id);
        if (x?.owner === owner && !x.acked) {
          x.acked = true;
          x.stored();
        }
        if (x?.owner !== owner || x.wrote !== undefined) rows.push(id);
      }
      this.#ackedStored(owner, ids);
      return rows;
    }
    this.#ackedStored(owner, ids);
    return ids;
  }

  /** Acknowledged ids whose rows are stored: answered "stored" now (#awaitingAck). */
  #ackedStored(owner: UserName, ids: readonly string[]): void {
    if (this.#awaitingAck.size === 0) return;
    for (const id of ids) {
      const w = this.#awaitingAck.get(id);
      if (w?.owner === owner) w.stored();
    }
  }

  /**
   * A client took inbox rows (their sizes and kinds, from the store's delete):
   * their room is free again.
   */
  released(
    owner: UserName,
    rows: Array<{ kind: InboxKind; bytes: number; origin: NodeId | null }>,
  ): void {
    for (const r of rows) this.#o.budgets.inboxRelease(owner, r.kind, r.bytes, r.origin);
  }

  /** What `status --json` shows of delivery. */
  view(): {
    outboxInMemory: number;
    inFlight: number;
    awaitingReceipt: number;
    streamingChunks: number;
    /** Since start: envelopes pushed before they were stored, and of those, kept as an id only. */
    pushedFirst: number;
    pushedFirstIdOnly: number;
    /** Bytes of envelopes pushed first and not written yet, held now. */
    pushedFirstBytes: number;
    /** Since start: file chunks pushed before they were spooled. */
    pushedFirstChunks: number;
    /** Bytes of those held now (not acknowledged, not spooled yet). */
    pushedFirstChunkBytes: number;
  } {
    return {
      outboxInMemory: this.#outbox.inMemory,
      inFlight: this.#outbox.inFlight,
      awaitingReceipt: this.#fast.size,
      streamingChunks: this.#streaming.size,
      pushedFirst: this.#pushedFirst,
      pushedFirstIdOnly: this.#pushedFirstIdOnly,
      pushedFirstBytes: this.#earlyBytes,
      pushedFirstChunks: this.#chunksFirst.pushed,
      pushedFirstChunkBytes: this.#chunksFirst.bytes,
    };
  }

  stop(): void {
    this.#stopped = true;
    this.#receipts.stop();
    this.#custody.stop();
    this.#o.clock.clearTimer(this.#pumpTimer);
    this.#o.clock.clearTimer(this.#sweepTimer);
  }

  #decodeSubmitted(bytes: Uint8Array): UserEnvelope {
    let e: Envelope;
    try {
      e = decodeEnvelope(bytes);
    } catch (err) {
      if (err instanceof EnvelopeError) throw new DeliveryError(err.message);
      throw err;
    }
    return e as UserEnvelope;
  }

  #check(
    owner: UserName,
    e: Envelope,
    kinds: Array<"request" | "message" | "chunk" | "group" | "groupHub">,
  ): void {
    const verdict = checkSubmission({
      envelope: e,
      owner,
      self: this.#o.self,
      kinds,
      nowMs: this.#o.clock.nowMs(),
      maxLifetimeMs: this.#t.maxLifetimeMs,
    });
    if (!verdict.ok) throw new DeliveryError(verdict.message);
  }

  /**
   * Takes an envelope from a local user's client. Resolves once it is durable:
   * "sent" (in the outbox) or "delivered" (the recipient is on this node).
   * {@linkcode Delivery.submitThen} behind a promise.
   *
   * @throws {DeliveryError} not from this user, bad kind, too big, bad expiry, outbox full
   */
  submit(owner: UserName, bytes: Uint8Array): Promise<SubmitResult> {
    let answer!: SubmitAnswer;
    const answered = new Promise<SubmitResult>((resolve, reject) => {
      answer = (r) => r instanceof Error ? reject(r) : resolve(r);
    });
    this.submitThen(owner, bytes, answer);
    return answered;
  }

  /**
   * Takes an envelope from a local user's client; `answer` hears, once and
   * never before this returns, "sent" (durable in the outbox) or "delivered"
   * (the recipient is on this node, or its node stored it), or a
   * `DeliveryError` (the store failed, the group's node refused). One
   * callback per submission instead of a chain of promises: a client keeps
   * hundreds waiting at once, long enough for all they hold to be promoted
   * (docs/PERF_NOTES.md, branch `nodecb`).
   *
   * @throws {DeliveryError} not from this user, bad kind, too big, bad expiry, outbox full
   */
  submitThen(owner: UserName, bytes: Uint8Array, answer: SubmitAnswer): void {
    let e = this.#decodeSubmitted(bytes);
    this.#check(
      owner,
      e,
      this.#o.groups ? ["request", "message", "group", "groupHub"] : [
        "request",
        "message",
      ],
    );
    if (e.kind === "request" && e.body.length > MAX_REQUEST_BODY) {
      throw new DeliveryError("Cannot send: request too large");
    }
    if (e.ttl !== DEFAULT_TTL) {
      e = { ...e, ttl: DEFAULT_TTL };
      bytes = encodeEnvelope(e);
    }
    const id = envelopeIdHex(e.id);
    const dest = destinationNode(e);
    const now = this.#o.clock.nowMs();
    if (dest === this.#o.self && isGroupEnvelope(e)) {
      this.#submitGroupHere(e, bytes, id).then(answer, (err) => answer(asError(err)));
      return;
    }
    if (dest === this.#o.self) {
      const verdict = this.#admitUserEnvelope(e, bytes.length, this.#o.self);
      if (verdict.status === "no-such-user") {
        throw new DeliveryError(`Cannot send: there is no user ${e.to}`);
      }
      if (verdict.status === "busy") {
        throw new DeliveryError(`Cannot send: ${e.to}'s inbox is full; try again later`);
      }
      if (!verdict.store) {
        queueMicrotask(() => answer({ id, state: "delivered" }));
        return;
      }
      let row: InboxRecord | undefined;
      this.#o.committer.job({
        write: () => row = this.#inboxAdd(e, bytes, this.#o.self, now),
        // Pushed before the flush, answered after it (lib/node/committer.ts).
        committed: () =>
          this.#emit({ kind: "inbox", owner: splitAddress(e.to).name, rows: row ? [row] : [] }),
        then: () => answer({ id, state: "delivered" }),
        failed: (kind) =>
          answer(new DeliveryError(`Cannot send: this node's store failed (${kind})`)),
      });
      return;
    }
    const waiting = this.#fast.get(id);
    if (waiting && waiting.owner === owner) return this.#fast.join(waiting, answer);
    if (!this.#o.budgets.outboxTake(owner, bytes.length, now)) {
      throw new DeliveryError(
        "Cannot send: your outbox is full (the messages waiting for their recipients reach its " +
          "count or size limit); " +
          "try again when some are delivered",
      );
    }
    // User envelopes only: a group envelope's receipt carries per-user results, kept in its row.
    if (!waiting && isUserEnvelope(e) && this.#fastFits(dest, id)) {
      const hop = this.#o.network.sendEncoded(dest, bytes);
      if (hop !== null) {
        const { expiresAtMs } = e;
        return this.#fast.add(
          { id, owner, dest, bytes, expiresAtMs, sentAtMs: now, firstHop: hop },
          answer,
        );
      }
    }
    this.#committingAdd(dest, 1);
    let seq = 0;
    this.#o.committer.job({
      write: () => {
        seq = this.#o.store.outboxAdd([{ id, owner, dest, bytes, expiresAtMs: e.expiresAtMs }])[0];
      },
      // Forwarded once committed, before the flush: lost with the power, the client (which has
      // not heard "sent") submits it again and the destination de-duplicates it.
      committed: () => {
        this.#committingAdd(dest, -1);
        if (seq > 0) {
          this.#outbox.added([{ seq, id, owner, dest, bytes, expiresAtMs: e.expiresAtMs }]);
        } else this.#o.budgets.outboxRelease(owner, bytes.length);
        this.#sendSoon();
      },
      then: () => answer({ id, state: "sent" }),
      failed: (kind, inStore) => {
        // In the store (the flush failed), the row keeps its budget until its receipt.
        if (!inStore) {
          this.#committingAdd(dest, -1);
          this.#o.budgets.outboxRelease(owner, bytes.length);
        }
        answer(new DeliveryError(`Cannot send: this node's store failed (${kind})`));
      },
    });
  }

  #committingAdd(dest: NodeId, n: number): void {
    const left = (this.#committing.get(dest) ?? 0) + n;
    if (left > 0) this.#committing.set(dest, left);
    else this.#committing.delete(dest);
  }

  /**
   * Whether a submission for `dest` may wait for its receipt in memory: it
   * would be sent now anyway (nothing of `dest`'s waits before it, here, on
   * disk or for a commit; the window has room) and it is not in the outbox.
   */
  #fastFits(dest: NodeId, id: string): boolean {
    if (this.#o.fastGraceMs === 0 || this.#committing.has(dest) || this.#outbox.get(id)) {
      return false;
    }
    return this.#outbox.roomIfIdle(dest) > this.#fast.countTo(dest);
  }

  /** A receipt for a submission waiting in memory: answered, or handed to the outbox. */
  #fastAnswered(f: FastEntry, status: ReceiptStatus): void {
    this.#fast.heard(f.dest, this.#o.clock.nowMs());
    if (f.storing) {
      // Its row is queued: the commit reads what to do from the outcome.
      f.outcome ??= status;
      return;
    }
    if (status !== "stored") {
      f.outcome = status;
      return this.#storeFast(f);
    }
    this.#fastDelivered(f);
  }

  /** A submission waiting in memory was stored at its destination: nothing of it stays here. */
  #fastDelivered(f: FastEntry): void {
    this.#fast.delete(f.id);
    this.#o.budgets.outboxRelease(f.owner, f.bytes.length);
    answerFast(f, { id: f.id, state: "delivered" });
  }

  /**
   * Stores a submission that waited in memory (no receipt in time, or one
   * that does not settle it): from then on it is the durable outbox's, as if
   * stored at once. Its client hears "sent" once the row is flushed; a final
   * refusal that came meanwhile settles the row in the same write, and the
   * client hears it as a notice.
   */
  #storeFast(f: FastEntry): void {
    f.storing = true;
    this.#committingAdd(f.dest, 1);
    const { id, owner, dest, bytes, expiresAtMs } = f;
    let seq = 0;
    let notice: SettledNotice | undefined;
    const job: CommitJob = {
      write: () => {
        if (f.outcome === "stored") {
          job.then = undefined;
          return;
        }
        seq = this.#o.store.outboxAdd([{ id, owner, dest, bytes, expiresAtMs }])[0];
        if (seq > 0 && f.outcome && !TEMPORARY_STATUSES.has(f.outcome)) {
          notice = { seq, id, state: "failed", reason: f.outcome };
          this.#o.store.outboxSettle([{
            id,
            notice: encodeNotice(notice),
            keepUntilMs: this.#o.clock.nowMs() + NOTICE_KEEP_MS,
          }]);
        }
      },
      committed: () => {
        this.#committingAdd(dest, -1);
        if (f.outcome === "stored") return this.#fastDelivered(f);
        this.#fast.delete(id);
        // Stored before (a copy of a submission the outbox has), or settled by a refusal: the
        // row holds no budget of this submission's.
        if (seq === 0 || notice) return this.#o.budgets.outboxRelease(owner, bytes.length);
        const row = { seq, id, owner, dest, bytes, expiresAtMs };
        if (f.outcome) {
          // Busy: sent again once its destination's pause is over.
          this.#outbox.added([row]);
          this.#outbox.pause(dest, this.#o.clock.nowMs() + this.#t.busyPauseMs);
        } else this.#outbox.addedInFlight(row, f.sentAtMs, f.firstHop);
        this.#sendSoon();
      },
      then: () => answerFast(f, { id, state: "sent" }),
      told: () => {
        if (notice) this.#emit({ kind: "notices", owner, notices: [notice] });
      },
      failed: (kind, inStore) => {
        if (!inStore) {
          this.#committingAdd(dest, -1);
          this.#fast.delete(id);
          this.#o.budgets.outboxRelease(owner, bytes.length);
        }
        // Answered "delivered" by its commit (a receipt came meanwhile), it is not answered again.
        answerFast(f, new DeliveryError(`Cannot send: this node's store failed (${kind})`));
      },
    };
    this.#o.committer.job(job);
  }

  /**
   * Takes a file chunk from a local user's client and forwards it at once,
   * without storing it: the client keeps the file and retries a chunk until
   * the destination's receipt comes back (as a `chunkResults` event). Returns
   * a result now when there is one already (refused, local, no route).
   *
   * `keep`, when given, says that `bytes` are lent (the client reuses them for
   * its next chunk): what is not done with them when this returns calls it, and
   * the function it returns once nothing refers to them any more. Only the
   * forwarding waits (for the end of the turn, when its batch is proven and
   * sealed); every other way copies now what it keeps.
   *
   * @throws {DeliveryError} not a chunk from this user, bad expiry
   */
  stream(
    owner: UserName,
    bytes: Uint8Array,
    keep?: () => () => void,
  ): Promise<ChunkResult | null> {
    let e = this.#decodeSubmitted(bytes);
    this.#check(owner, e, ["chunk"]);
    const id = envelopeIdHex(e.id);
    if (destinationNode(e) === this.#o.self) {
      return new Promise((resolve) =>
        this.#receiveChunk(e, bytes, this.#o.self, (s) => resolve(chunkResult(id, s)))
      );
    }
    if (e.ttl !== DEFAULT_TTL) {
      bytes = bytes.slice();
      e = { ...e, ttl: DEFAULT_TTL };
      bytes[TTL_OFFSET] = DEFAULT_TTL;
    }
    const dest = destinationNode(e);
    // A destination with mailboxes and no route: the chunk goes to one of them.
    const mailbox = this.#custody.maybeHandOver({ dest, attempts: 0, bytes });
    if (mailbox === null) {
      const release = keep?.();
      if (this.#o.network.sendEncoded(dest, bytes, release) === null) {
        release?.();
        return Promise.resolve({ id, state: "retry", reason: `no route to ${dest} now` });
      }
    }
    this.#streaming.set(id, { owner, dest, sentAtMs: this.#o.clock.nowMs(), custodyAt: mailbox });
    return Promise.resolve(null);
  }

  /** Handles a proven envelope addressed to this node (from the forwarder). */
  receiveLocal(e: Envelope, bytes: Uint8Array, viaPeer: NodeId | null): void {
    if (e.kind === "receipt") return this.#onReceipt(e);
    if (e.kind === "mailboxDelivery") return this.#fromMailbox(e);
    if (e.kind === "receiptQuery") return this.#answerQuery(e, viaPeer);
    if (e.kind === "chunk" || e.kind === "request" || e.kind === "message") {
      this.#receiveUser(e, bytes, viaPeer, null);
    }
    if (e.kind === "group" || e.kind === "groupHub" || e.kind === "groupFanout") {
      const origin = originNode(e);
      void this.#receiveGroup(e, bytes, origin).then(
        (r) => this.#answer(origin, e.id, r.status, viaPeer, r.users),
        (err) => this.#o.log.warn("cannot judge a group envelope", { why: String(err) }),
      );
      return;
    }
  }

  /**
   * A user envelope for this node: admitted, stored, answered to its origin
   * (and, when a mailbox handed it over, to that mailbox too).
   */
  #receiveUser(
    e: UserEnvelope,
    bytes: Uint8Array,
    viaPeer: NodeId | null,
    mailbox: NodeId | null,
  ): void {
    const origin = originNode(e);
    const answer = (status: ReceiptStatus) => {
      this.#answer(origin, e.id, status, viaPeer);
      if (mailbox) this.#receipts.add(mailbox, e.id, status, null);
    };
    if (e.kind === "chunk") return this.#receiveChunk(e, bytes, origin, answer);
    // What needs no store is decided now (the same answer whatever the id's history).
    const early = admit(e.kind === "request" ? "request" : "message", {
      ...OPEN_FACTS,
      stale: this.#stale(e),
      recipientExists: this.#o.store.getAccount(splitAddress(e.to).name) !== undefined,
      policy: null,
      alreadyDelivered: false,
    });
    if (early.status === "expired" || early.status === "no-such-user") {
      return answer(this.#noted(early, e, origin).status);
    }
    if (e.kind === "message" && mailbox === null && this.earlyPush && this.#o.pushFirst !== false) {
      // Its recipient's client may take it before it is stored: decided at the end of the turn,
      // for all of the turn's arrivals at once (#takeArrivals).
      this.#arrivals.push({ e, bytes, origin, answer });
      if (this.#arrivals.length === 1) queueMicrotask(() => this.#takeArrivals());
      return;
    }
    this.#storeThenPush(e, bytes, origin, answer);
  }

  /**
   * The turn's arrivals: a message whose recipient's client can take it now
   * (attached, nothing stored waiting before it, room in its window) and
   * whose id is new is admitted at once, pushed, and stored by one deferred
   * write for the turn. Acknowledged by the client before that write runs (it
   * stores before it acknowledges), only its id is kept; else its row is, and
   * the flush answers it as usual. "stored" goes to its origin only at the
   * acknowledgement or after the flush. A lost push (a crash here) is no
   * loss: no receipt went, its origin sends it again. Anything else, and an
   * id the table knows (a copy), takes the usual way (#storeThenPush).
   */
  #takeArrivals(): void {
    const arrivals = this.#arrivals;
    this.#arrivals = [];
    const push = this.earlyPush;
    const store = this.#o.store;
    const unknown: Arrival[] = [];
    const unknownIds: string[] = [];
    for (const a of arrivals) {
      const id = envelopeIdHex(a.e.id);
      const pushed = this.#early.get(id);
      if (pushed) {
        // A copy of one pushed and not written yet: answered with it (no second row, no push).
        pushed.copies.push(a.answer);
        if (pushed.answered) a.answer("stored");
        continue;
      }
      // A store that cannot write (a full disk) could not keep the id either: the usual way then
      // answers "busy" and nothing is pushed, as for any other arrival.
      if (
        !push || this.#stopped || this.#storing.has(id) ||
        this.#o.resources?.storeWritable === false || !this.#mayPushFirst(a)
      ) {
        this.#storeThenPush(a.e, a.bytes, a.origin, a.answer);
      } else {
        unknown.push(a);
        unknownIds.push(id);
      }
    }
    if (unknown.length === 0) return;
    // The table says whether they are new before they are pushed: one read for the turn's ids
    // (`id IN (...)`, about half the cost per id of a read each; one read transaction around
    // single reads cost more, its BEGIN and COMMIT included). Not left to the insert: a copy
    // pushed again would rest on the client's memory of ids, and the table is the authority.
    const seen = store.deliveredAmong(unknownIds);
    const batch: EarlyEntry[] = [];
    unknown.forEach((a, i) => {
      const id = unknownIds[i];
      const owner = splitAddress(a.e.to).name;
      // A copy (answered after the flush, as usual), or the client's window (or the node's bytes
      // pushed first) filled meanwhile.
      if (seen.has(id) || this.#early.has(id) || !this.#mayPushFirst(a)) {
        return this.#storeThenPush(a.e, a.bytes, a.origin, a.answer);
      }
      const verdict = this.#admitUserEnvelope(a.e, a.bytes.length, a.origin);
      if (!verdict.store) {
        if (verdict.status === "stored") {
          return this.#storeThenPush(a.e, a.bytes, a.origin, a.answer);
        }
        return a.answer(verdict.status);
      }
      const x: EarlyEntry = {
        ...a,
        id,
        owner,
        pushedAtMs: this.#o.clock.nowMs(),
        acked: false,
        answered: false,
        copies: [],
        stored: () => {
          if (x.answered) return;
          x.answered = true;
          this.#awaitingAck.delete(id);
          a.answer("stored");
          for (const answer of x.copies) answer("stored");
        },
      };
      this.#early.set(id, x);
      this.#earlyBytes += a.bytes.length;
      this.#pushedFirst++;
      batch.push(x);
      push!.push(owner, id, a.bytes);
    });
    if (batch.length > 0) this.#writeEarly(batch);
  }

  /** Whether `n` more bytes pushed first (messages and file chunks together) fit `earlyBytes`. */
  #earlyRoom(n: number): boolean {
    return this.#earlyBytes + this.#chunksFirst.bytes + n <= (this.#o.earlyBytes ?? EARLY_BYTES);
  }

  /**
   * Whether an arrival may be pushed before it is stored: its user's client can take it now
   * (`ready`), nothing of that user's is on its way to the store the usual way (it would be
   * overtaken), and the bytes held by all envelopes pushed first stay within `earlyBytes`.
   */
  #mayPushFirst(a: Arrival): boolean {
    const owner = splitAddress(a.e.to).name;
    const n = a.bytes.length;
    return this.#earlyRoom(n) && !this.#storingFor.has(owner) &&
      this.earlyPush!.ready(owner, n);
  }

  /**
   * Queues the write of envelopes pushed before they were stored: one
   * deferred commit job at a time ({@linkcode #earlyJob}).
   */
  #writeEarly(entries: EarlyEntry[]): void {
    for (const x of entries) this.#earlyQueue.push(x);
    if (this.#earlyJobQueued) return;
    this.#earlyJobQueued = true;
    this.#o.committer.job(this.#earlyJob());
  }

  /**
   * One deferred write of the envelopes pushed before they were stored: those
   * the client acknowledged keep only their id; those pushed
   * {@linkcode EARLY_WAIT_MS} ago or more keep their row; the others wait for
   * the next job (the client's acknowledgement leaves it up to 20 ms after
   * the push: lib/client/node_connection.ts, ACK_DELAY_MS).
   */
  #earlyJob(): CommitJob {
    const store = this.#o.store;
    const b = this.#o.budgets;
    let batch: EarlyEntry[] = [];
    const again = () => {
      this.#earlyJobQueued = false;
      if (this.#earlyQueue.length > 0) this.#writeEarly([]);
    };
    const job: CommitJob = {
      write: () => {
        const now = this.#o.clock.nowMs();
        const ids: Array<{ id: string; keepUntilMs: number; origin: NodeId }> = [];
        const rest: EarlyEntry[] = [];
        batch = [];
        for (const x of this.#earlyQueue) {
          if (x.acked || now - x.pushedAtMs >= EARLY_WAIT_MS || this.#stopped) batch.push(x);
          else rest.push(x);
        }
        this.#earlyQueue = rest;
        for (const x of batch) {
          if (!store.getAccount(x.owner)) {
            x.wrote = "gone";
          } else if (x.acked) {
            x.wrote = "id";
            ids.push({ id: x.id, keepUntilMs: this.#keepUntil(x.e, now), origin: x.origin });
          } else {
            x.row = this.#inboxAdd(x.e, x.bytes, x.origin, now);
            x.wrote = x.row
              ? "row"
              : this.#copyOrTaken(x.id, x.origin).status === "refused"
              ? "taken"
              : "copy";
          }
        }
        // An id stored meanwhile by another way (its copy's row) holds that copy's budget already.
        const fresh = ids.length > 0 ? store.markDelivered(ids) : undefined;
        for (const x of batch) if (x.wrote === "id" && !fresh!.has(x.id)) x.wrote = "copy";
        // Nothing kept that anyone waits for: no flush of its own (the next one covers it).
        if (!batch.some((x) => (x.wrote === "row" || x.wrote === "copy") && !x.acked)) {
          job.then = undefined;
        }
      },
      committed: () => {
        const rows = new Map<UserName, InboxRecord[]>();
        for (const x of batch) {
          this.#forgetEarly(x);
          // Its row never written: the inbox's room is free again (its id keeps its budget).
          if (x.wrote === "id") {
            this.#pushedFirstIdOnly++;
            b.inboxRelease(x.owner, kindOf(x.e), x.bytes.length, x.origin);
          }
          if (x.wrote === "gone" || (x.wrote === "copy" && x.acked)) {
            b.inboxRelease(x.owner, kindOf(x.e), x.bytes.length, x.origin);
            b.dedupRelease(x.origin);
          }
          if (x.wrote === "taken") {
            x.answered = true;
            for (const answer of [x.answer, ...x.copies]) answer("refused");
          }
          if (x.wrote === "row" && !x.acked) {
            this.#awaitingAck.set(x.id, { owner: x.owner, stored: x.stored });
            let list = rows.get(x.owner);
            if (!list) rows.set(x.owner, list = []);
            list.push(x.row!);
          }
        }
        // Reported like any stored row: a client session that had it pushed does not get it again;
        // one attached since (the push went to an older one) does.
        for (const [owner, list] of rows) this.#emit({ kind: "inbox", owner, rows: list });
        again();
      },
      then: () => {
        for (const x of batch) if (x.wrote === "row" || x.wrote === "copy") x.stored();
      },
      flushWithinMs: RECEIPT_FLUSH_MS,
      failed: (_kind, inStore) => {
        const dropped = new Map<UserName, string[]>();
        for (const x of batch) {
          this.#forgetEarly(x);
          this.#awaitingAck.delete(x.id);
          if (!inStore && !x.acked) {
            let list = dropped.get(x.owner);
            if (!list) dropped.set(x.owner, list = []);
            list.push(x.id);
          }
          // A copy found by the insert gave its budget back already.
          if (inStore || ((x.wrote === "copy" || x.wrote === "taken") && !x.acked)) continue;
          // Not kept: no receipt went unless the client had it; its origin sends it again.
          b.inboxRelease(x.owner, kindOf(x.e), x.bytes.length, x.origin);
          b.dedupRelease(x.origin);
        }
        // Their places in the clients' windows are given back: a client that could not store
        // them either (the same full disk) never acknowledges them, and file chunks wait for an
        // empty window (tests/push_first_test.ts, tests/disk_full_test.ts).
        for (const [owner, ids] of dropped) this.earlyPush?.dropped(owner, ids);
        if (!inStore) again();
      },
      // It joins the next batch, or waits DEFER_MS.
      defer: true,
    };
    return job;
  }

  /** An envelope pushed first whose write ran (or failed): no longer held here. */
  #forgetEarly(x: EarlyEntry): void {
    if (this.#early.delete(x.id)) this.#earlyBytes -= x.bytes.length;
  }

  /**
   * The usual way of a user envelope: admitted inside the turn's transaction
   * (the same transaction keeps the envelope and its id), pushed to its user
   * once committed, answered once the client acknowledged it or the flush came.
   */
  #storeThenPush(
    e: UserEnvelope,
    bytes: Uint8Array,
    origin: NodeId,
    answer: (status: ReceiptStatus) => void,
  ): void {
    // Held in memory until it is answered (its commit and its flush, or its client's
    // acknowledgement): past its origin's share (or the node's total) while the disk is slow,
    // "busy" now (its origin keeps it and sends it again later) rather than held.
    const size = bytes.length;
    if (!this.#o.budgets.commitTake(origin, size, this.#o.clock.nowMs())) return answer("busy");
    let holding = true;
    const letGo = () => {
      if (!holding) return;
      holding = false;
      this.#o.budgets.commitRelease(origin, size);
    };
    const id = envelopeIdHex(e.id);
    const owner = splitAddress(e.to).name;
    let storing = this.#o.pushFirst !== false;
    if (storing) {
      this.#storing.add(id);
      this.#storingFor.set(owner, (this.#storingFor.get(owner) ?? 0) + 1);
    }
    // Committed or failed (a failed flush comes after its commit): no longer on its way.
    const leftStoring = () => {
      if (!storing) return;
      storing = false;
      this.#storing.delete(id);
      const n = this.#storingFor.get(owner)!;
      if (n > 1) this.#storingFor.set(owner, n - 1);
      else this.#storingFor.delete(owner);
    };
    let verdict: Admission | undefined;
    let row: InboxRecord | undefined;
    let answered = false;
    const stored = () => {
      if (answered) return;
      answered = true;
      letGo();
      if (row) this.#awaitingAck.delete(row.id);
      // Answered by the client's acknowledgement: its flush is waited for by nobody now.
      job.then = undefined;
      answer("stored");
    };
    const job: CommitJob = {
      write: () => {
        verdict = this.#admitUserEnvelope(e, bytes.length, origin);
        if (verdict.store) {
          row = this.#inboxAdd(e, bytes, origin, this.#o.clock.nowMs());
          if (row) return;
          // The insert found the id (its budget went back): a copy of what was stored is answered
          // as one; another node's envelope under that id is refused (#copyOrTaken).
          verdict = this.#copyOrTaken(id, origin);
          if (verdict.status === "stored") return;
        }
        // Refused or busy: nothing to flush for it, answered once committed. A copy of what was
        // stored keeps its `then`: "stored" again only once the first copy is flushed too.
        if (verdict.status !== "stored") job.then = undefined;
      },
      // Pushed to the user once committed; the receipt waits for the flush. Lost with the power,
      // the envelope comes again (no receipt went) and the client de-duplicates it.
      committed: () => {
        // Refused or busy: answered now, nothing more to wait for.
        if (!job.then) letGo();
        leftStoring();
        if (verdict!.store) {
          if (row) this.#awaitingAck.set(row.id, { owner, stored });
          this.#emit({ kind: "inbox", owner, rows: row ? [row] : [] });
        } else if (verdict!.status !== "stored") answer(verdict!.status);
      },
      then: stored,
      // A client online acknowledges it sooner than that (the usual case): no flush of its own.
      flushWithinMs: RECEIPT_FLUSH_MS,
      failed: (_kind, inStore) => {
        letGo();
        leftStoring();
        if (row) this.#awaitingAck.delete(row.id);
        if (inStore || !verdict?.store) return;
        this.#o.budgets.inboxRelease(owner, kindOf(e), bytes.length, origin);
        this.#o.budgets.dedupRelease(origin);
      },
    };
    this.#o.committer.job(job);
  }

  /**
   * Judges a group envelope addressed to this node (groups.judge decides), keeps
   * it for the users it is stored for (each within their inbox's room; one
   * without room is "busy" and its sender tries again), and resolves with the
   * receipt's status and per-user results once that is durable.
   */
  async #receiveGroup(
    e: Envelope,
    bytes: Uint8Array,
    origin: NodeId,
  ): Promise<{ status: ReceiptStatus; users?: UserResult[]; note?: string }> {
    const groups = this.#o.groups;
    if (!groups) return { status: "refused" };
    if (this.#stale(e)) return { status: "expired" };
    const now = this.#o.clock.nowMs();
    if (e.kind === "group" && !this.#o.budgets.messageRate(origin, now)) return { status: "busy" };
    const verdict: GroupOutcome = await groups.judge(e, origin);
    // From another node, held in memory until its commit is flushed: within its origin's share
    // of `commit_bytes` (as #storeThenPush), else "busy" as a whole (its sender tries again).
    const held = origin !== this.#o.self && verdict.store.length > 0 ? bytes.length : 0;
    if (held > 0 && !this.#o.budgets.commitTake(origin, held, now)) return { status: "busy" };
    const hex = envelopeIdHex(e.id);
    const users = verdict.users?.map((u) => ({ ...u }));
    const rows: InboxAdd[] = [];
    const length = bytes.length;
    for (const s of verdict.store) {
      const rowId = `${hex}.${s.name}`;
      if (this.#o.store.wasDelivered(rowId)) {
        // Kept before: a copy, or another node's envelope under this id (#copyOrTaken).
        const u = users?.find((x) => x.name === s.name);
        if (u) u.status = this.#copyOrTaken(rowId, origin).status;
        continue;
      }
      const name = s.name as UserName;
      if (!this.#o.budgets.inboxTake(name, s.kind, length, origin, now)) {
        const u = users?.find((x) => x.name === s.name);
        if (u) u.status = "busy";
        continue;
      }
      rows.push({
        id: rowId,
        owner: name,
        bytes,
        kind: s.kind,
        receivedAtMs: now,
        keepUntilMs: this.#keepUntil(e, now),
        origin,
      });
    }
    const status = users && verdict.status !== "busy" && verdict.store.length > 0
      ? envelopeStatus(users)
      : verdict.status;
    if (verdict.note && status !== "stored") {
      this.#o.throttled.write("info", `group|${origin}|${verdict.note}`, "group envelope dropped", {
        origin,
        kind: e.kind,
        why: verdict.note,
      });
    }
    const result = {
      status,
      ...(users ? { users } : {}),
      ...(verdict.note ? { note: verdict.note } : {}),
    };
    const letGo = () => {
      if (held > 0) this.#o.budgets.commitRelease(origin, held);
    };
    if (rows.length === 0) {
      letGo();
      return result;
    }
    return await new Promise((resolve) => {
      let seqs = new Map<string, number>();
      this.#o.committer.job({
        write: () => {
          seqs = this.#o.store.inboxAdd(rows);
        },
        // Reported once committed, as every inbox row is (#storeThenPush): a client session pushes
        // rows just committed as they come and moves its mark past them, so a row reported only
        // after the flush, behind a 1:1 row of the same batch reported at its commit, was left
        // behind the mark until the client attached again (the chaos soak, seed 3). The receipt
        // still waits for the flush.
        committed: () => {
          const stored = new Map<UserName, InboxRecord[]>();
          for (const r of rows) {
            const seq = seqs.get(r.id);
            if (seq === undefined) continue;
            let list = stored.get(r.owner);
            if (!list) stored.set(r.owner, list = []);
            list.push({
              seq,
              id: r.id,
              owner: r.owner,
              bytes: r.bytes,
              receivedAtMs: r.receivedAtMs,
            });
          }
          for (const owner of new Set(rows.map((r) => r.owner))) {
            this.#emit({ kind: "inbox", owner, rows: stored.get(owner) ?? [] });
          }
        },
        then: () => {
          letGo();
          resolve(result);
        },
        failed: (_kind, inStore) => {
          letGo();
          if (inStore) return resolve({ status: "busy" });
          for (const r of rows) {
            this.#o.budgets.inboxRelease(r.owner, r.kind, length, origin);
            this.#o.budgets.dedupRelease(origin);
          }
          resolve({ status: "busy" });
        },
      });
    });
  }

  /** A local client's group envelope for this very node (its own home node, or members here). */
  async #submitGroupHere(
    e: Envelope,
    bytes: Uint8Array,
    id: string,
  ): Promise<{ id: string; state: "delivered"; users?: Record<string, string> }> {
    const r = await this.#receiveGroup(e, bytes, this.#o.self);
    if (r.status === "busy") {
      throw new DeliveryError("Cannot send: this node is busy with the group; try again later");
    }
    if (e.kind === "groupHub" && r.status !== "stored") {
      throw new DeliveryError(
        `Cannot change the group: its home node refused (${r.note ?? r.status})`,
      );
    }
    return {
      id,
      state: "delivered",
      ...(r.users ? { users: userMap(r.users, this.#o.self) } : {}),
    };
  }

  /**
   * Takes this node's own envelopes (a hub's fan-out): those for other nodes
   * into the outbox (sent and resent like any), those for this node judged and
   * kept here. Resolves once all are durable.
   */
  enqueueOwn(rows: readonly FanoutRow[]): Promise<void> {
    const here = rows.filter((r) => r.dest === this.#o.self);
    const there = rows.filter((r) => r.dest !== this.#o.self);
    const local = here.map(async (r) => {
      const e = decodeEnvelope(r.bytes);
      const out = await this.#receiveGroup(e, r.bytes, this.#o.self);
      if (out.status === "busy") throw new DeliveryError("Cannot keep the fan-out here yet");
    });
    const remote = there.length === 0 ? Promise.resolve() : new Promise<void>((resolve, reject) => {
      let seqs: number[] = [];
      const items = there.map((r) => ({
        id: r.id,
        owner: NODE_OWNER,
        dest: r.dest as NodeId,
        bytes: r.bytes,
        expiresAtMs: r.expiresAtMs,
      }));
      this.#o.committer.write(
        () => {
          seqs = this.#o.store.outboxAdd(items);
        },
        () => {
          this.#outbox.added(
            items.map((x, i) => ({ ...x, seq: seqs[i] })).filter((x) => x.seq > 0),
          );
          this.#sendSoon();
          resolve();
        },
        (kind) => reject(new DeliveryError(`Cannot keep the fan-out: store failed (${kind})`)),
      );
    });
    return Promise.all([remote, ...local]).then(() => {});
  }

  /** A mailbox hands over an envelope it held for this node: its origin's proof decides. */
  #fromMailbox(e: NodeEnvelope): void {
    let inner: Uint8Array;
    try {
      inner = decodeHeldEnvelope(e.body);
    } catch {
      return this.#receipts.add(e.from, e.id, "refused", null);
    }
    const checked = this.#o.network.verify(inner);
    const env = checked?.decoded.envelope;
    const group = env && (isGroupEnvelope(env) || env.kind === "groupFanout");
    if (
      !checked || !env || !(isUserEnvelope(env) || group) || destinationNode(env) !== this.#o.self
    ) {
      return this.#receipts.add(e.from, e.id, "refused", null);
    }
    if (checked.verdict === "unknown-origin") {
      // The origin's key is unknown here yet: the mailbox keeps it and tries again.
      this.#o.throttled.write("info", `mailbox|${e.from}`, "held envelope not proven yet", {
        mailbox: e.from,
      });
      return this.#receipts.add(e.from, env.id, "busy", null);
    }
    if (!checked.proven) {
      // Altered or forged (by the mailbox or before it): never stored.
      this.#o.throttled.write(
        "warn",
        `mailbox-forged|${e.from}`,
        "a mailbox handed over a forged or altered envelope",
        {
          mailbox: e.from,
          verdict: checked.verdict,
        },
      );
      return this.#receipts.add(e.from, env.id, "refused", null);
    }
    const bytes = withoutAuth(inner, checked.decoded);
    if (group) {
      // Group envelopes a mailbox held: judged like any, answered to the origin and the mailbox.
      const origin = originNode(env);
      void this.#receiveGroup(env, bytes, origin).then(
        (r) => {
          this.#answer(origin, env.id, r.status, null, r.users);
          this.#receipts.add(e.from, env.id, r.status, null);
        },
        (err) => this.#o.log.warn("cannot judge a group envelope", { why: String(err) }),
      );
      return;
    }
    this.#receiveUser(env as UserEnvelope, bytes, null, e.from);
  }

  /** A sender whose envelopes went to a mailbox asks what became of them. */
  #answerQuery(e: NodeEnvelope, viaPeer: NodeId | null): void {
    if (this.#queries && !this.#queries.take(e.from, this.#o.clock.nowMs())) return;
    let ids: Uint8Array[];
    try {
      ids = decodeReceiptQuery(e.body);
    } catch {
      return;
    }
    for (const id of ids) {
      // Only the envelope's origin hears about it: nobody else learns what was delivered.
      if (this.#o.store.wasDeliveredFrom(envelopeIdHex(id), e.from)) {
        this.#answer(e.from, id, "stored", viaPeer);
      }
    }
  }

  #stale(e: Envelope): boolean {
    return this.#o.clock.nowMs() > e.expiresAtMs + this.#t.clockAllowanceMs;
  }

  /**
   * Gathers the facts and asks {@linkcode admit}; takes budget only when it
   * will store. The id's history is asked of the table only when the answer
   * would not be to store it; a copy that would be stored is found by the
   * insert itself ({@linkcode #inboxAdd}: the table's INSERT OR IGNORE is the
   * authority), which gives its budget back: no read per new envelope.
   */
  #admitUserEnvelope(e: UserEnvelope, size: number, origin: NodeId): Admission {
    const { name } = splitAddress(e.to);
    const kind = e.kind === "request" ? "request" : "message";
    const id = envelopeIdHex(e.id);
    const base = {
      stale: this.#stale(e),
      recipientExists: this.#o.store.getAccount(name) !== undefined,
      policy: this.#o.store.contactPolicy(name, e.from),
      alreadyDelivered: false,
    };
    let pre = admit(kind, { ...base, ...OPEN_FACTS });
    if (!pre.store && this.#o.store.wasDelivered(id)) {
      const known = this.#copyOrTaken(id, origin);
      if (known.status === "refused") return known;
      base.alreadyDelivered = true;
      pre = admit(kind, { ...base, ...OPEN_FACTS });
    }
    if (base.alreadyDelivered) this.#returnPathMissed(origin);
    if (!pre.store) return this.#noted(pre, e, origin);
    const now = this.#o.clock.nowMs();
    const b = this.#o.budgets;
    const withinRate = kind === "request"
      ? b.requestRate(e.from, origin, now)
      : b.messageRate(origin, now);
    const room = withinRate && b.inboxTake(name, kindOf(e), size, origin, now);
    const verdict = admit(kind, { ...base, withinRate, room });
    if (!verdict.store && this.#o.store.wasDelivered(id)) {
      const known = this.#copyOrTaken(id, origin);
      if (known.status === "refused") return known;
      // Over the rate or without room, but a copy of what was stored: the same answer again.
      this.#returnPathMissed(origin);
      return admit(kind, { ...base, alreadyDelivered: true, withinRate, room });
    }
    return this.#noted(verdict, e, origin);
  }

  /**
   * An id the table knows, from `origin`: a copy of what was stored ("stored" again), or the id
   * of another node's envelope ("refused": ids are no secret, and a relay that saw one could
   * otherwise send its own envelope under it first and make this node answer "stored" for an
   * envelope it never kept; the origin's user sees it failed instead of delivered).
   */
  #copyOrTaken(id: string, origin: NodeId): Admission {
    if (!this.#o.store.deliveredFromOther(id, origin)) return { store: false, status: "stored" };
    return this.#taken(id, origin);
  }

  /** Refuses `origin`'s envelope under `id`, which another node's holds here (#copyOrTaken). */
  #taken(id: string, origin: NodeId): Admission {
    const why = "envelope refused: its id is another node's";
    this.#o.throttled.write("warn", `id-taken|${origin}`, why, { origin, id });
    return { store: false, status: "refused" };
  }

  /**
   * An envelope stored before came again: its origin did not get our receipt,
   * so the path back counts as missed (at most once a second per origin).
   */
  #returnPathMissed(origin: NodeId): void {
    const now = this.#o.clock.nowMs();
    if (origin === this.#o.self || now - (this.#missedBack.get(origin) ?? 0) < 1_000) return;
    this.#missedBack.set(origin, now);
    if (this.#missedBack.size > 10_000) this.#missedBack.clear();
    const hop = this.#o.network.nextHop(origin);
    if (hop) this.#o.network.reportMiss(hop, origin);
  }

  #noted(a: Admission, e: UserEnvelope, origin: NodeId): Admission {
    if (a.note) {
      this.#o.throttled.write("info", `drop|${origin}|${a.note}`, `${e.kind} dropped: ${a.note}`, {
        origin,
        to: e.to,
      });
    }
    return a;
  }

  /**
   * Keeps a chunk for a local user: pushed to the user's client before it is
   * spooled when the client can take it now (answered "stored" at the
   * client's acknowledgement, or spooled if none comes in time), else on disk
   * in the spool; then reports what became of it.
   */
  #receiveChunk(
    e: UserEnvelope,
    bytes: Uint8Array,
    origin: NodeId,
    done: (status: ReceiptStatus) => void,
  ): void {
    const { name } = splitAddress(e.to);
    const id = envelopeIdHex(e.id);
    const first = this.#chunksFirst.get(id);
    if (first) {
      // Another node's chunk under the id of one pushed first and held is not a copy of it.
      if (first.origin !== origin) return done(this.#taken(id, origin).status);
      // A copy of one pushed first and held: answered with it.
      if (first.owner === name) first.answers.push(done);
      return;
    }
    let chunk;
    try {
      // Only the header is kept (the spool writes `bytes`): no copy of the sealed chunk.
      chunk = decodeChunkBody(e.body, { view: true });
    } catch (err) {
      this.#o.throttled.write("info", `chunk|${origin}`, "chunk dropped: malformed", {
        origin,
        why: (err as Error).message,
      });
      return done("refused");
    }
    const delivered = this.#o.store.wasDelivered(id);
    if (delivered && this.#copyOrTaken(id, origin).status === "refused") return done("refused");
    const verdict = admitChunk({
      stale: this.#stale(e),
      recipientExists: this.#o.store.getAccount(name) !== undefined,
      policy: this.#chunkPolicy(name, e.from),
      alreadyDelivered: delivered,
    });
    if (verdict !== "spool") {
      if (verdict.status === "stored") this.#returnPathMissed(origin);
      return done(this.#noted(verdict, e, origin).status);
    }
    const header = {
      id,
      fileId: envelopeIdHex(chunk.fileId),
      index: chunk.index,
      fileBytes: chunk.fileBytes,
      bytes: bytes.length,
    };
    if (chunk.fileBytes > this.#o.spool.maxFileBytes) return done("too-large");
    const now = this.#o.clock.nowMs();
    if (this.#pushChunkFirst(e, bytes, origin, header, done, now)) return;
    const spooled = this.#o.spool.admit(name, header, origin);
    if (spooled === "taken") return done(this.#taken(id, origin).status);
    if (spooled === "duplicate") {
      // Held and durable: answered again (the first answer may have been lost, or came before a
      // restart); still being written: its first copy answers once it is durable.
      if (this.#o.spool.isDurable(name, id)) done("stored");
      return;
    }
    if (spooled !== "ok") return done(spooled);
    if (!this.#o.budgets.dedupTake(origin, now)) {
      void this.#o.spool.remove(name, [id]);
      return done("busy");
    }
    // From another node, held in memory (the spool's copy) until its write is durable: within its
    // origin's share of `commit_bytes` (as #storeThenPush), else "busy" (its sender tries again).
    const held = origin !== this.#o.self ? bytes.length : 0;
    if (held > 0 && !this.#o.budgets.commitTake(origin, held, now)) {
      this.#o.budgets.dedupRelease(origin);
      void this.#o.spool.remove(name, [id]);
      return done("busy");
    }
    this.#spoolWrite(name, id, bytes, origin, held, this.#keepUntil(e, now), [done]);
  }

  /**
   * Pushes a chunk to its user's client before it is spooled, when the client
   * can take it now, this node holds no more than `earlyBytes` pushed first
   * (with the messages pushed first), the spool does not hold it already, and
   * its origin's budgets have room. True: it is held until the client
   * acknowledges it ({@linkcode chunksTaken}) or, after
   * `CHUNK_ACK_WAIT_MS` (chunks_first.ts), spooled ({@linkcode #spoolDueChunks}).
   */
  #pushChunkFirst(
    e: UserEnvelope,
    bytes: Uint8Array,
    origin: NodeId,
    header: { id: string; fileId: string; index: number; fileBytes: number },
    done: (status: ReceiptStatus) => void,
    now: number,
  ): boolean {
    const push = this.earlyPush;
    const owner = splitAddress(e.to).name;
    const n = bytes.length;
    if (
      this.#o.pushFirst === false || this.#stopped || !push?.chunkReady || !push.pushChunk ||
      !this.#earlyRoom(n) || !push.chunkReady(owner, n) || this.#o.spool.holds(owner, header.id)
    ) return false;
    if (!this.#o.budgets.dedupTake(origin, now)) return false;
    const held = origin !== this.#o.self ? n : 0;
    if (held > 0 && !this.#o.budgets.commitTake(origin, held, now)) {
      this.#o.budgets.dedupRelease(origin);
      return false;
    }
    const copy = push.pushChunk(owner, header.id, bytes);
    if (!copy) {
      if (held > 0) this.#o.budgets.commitRelease(origin, held);
      this.#o.budgets.dedupRelease(origin);
      return false;
    }
    this.#chunksFirst.add({
      ...header,
      owner,
      origin,
      bytes: copy.bytes,
      release: copy.release,
      held,
      keepUntilMs: this.#keepUntil(e, now),
      pushedAtMs: now,
      answers: [done],
    });
    return true;
  }

  /**
   * `owner`'s client acknowledged file chunks: it wrote them and committed
   * its progress first. Those pushed before they were spooled are answered
   * "stored" now and their ids remembered (as a spooled chunk's); the others
   * are the spool's (the client hub deletes them there).
   */
  chunksTaken(owner: UserName, ids: readonly string[]): void {
    if (this.#chunksFirst.size === 0) return;
    for (const id of ids) {
      if (this.#chunksFirst.get(id)?.owner !== owner) continue;
      const c = this.#chunksFirst.take(id)!;
      c.release();
      if (c.held > 0) this.#o.budgets.commitRelease(c.origin, c.held);
      for (const answer of c.answers) answer("stored");
      this.#chunkMarks.push({ id, keepUntilMs: c.keepUntilMs, origin: c.origin });
    }
    if (this.#chunkMarks.length >= MAX_CHUNK_MARKS) this.#markChunks();
  }

  /**
   * Chunks pushed first that their client did not acknowledge in time (it is
   * gone, slow, or waits for the file's offer): spooled the usual way, and
   * answered once durable there (a later acknowledgement deletes them there).
   */
  #spoolDueChunks(now: number): void {
    for (const c of this.#chunksFirst.due(now)) {
      const verdict = this.#o.spool.admit(c.owner, { ...c, bytes: c.bytes.length }, c.origin);
      if (verdict !== "ok") {
        // Not "duplicate": a copy that came meanwhile joined this one's answers.
        c.release();
        if (c.held > 0) this.#o.budgets.commitRelease(c.origin, c.held);
        this.#o.budgets.dedupRelease(c.origin);
        const status = verdict === "duplicate" ? "busy" : verdict === "taken" ? "refused" : verdict;
        for (const answer of c.answers) answer(status);
        continue;
      }
      // Copied by the spool before write() returns.
      try {
        this.#spoolWrite(c.owner, c.id, c.bytes, c.origin, c.held, c.keepUntilMs, c.answers);
      } finally {
        c.release();
      }
    }
  }

  /** Writes an admitted chunk into the spool; answers once it is durable. */
  #spoolWrite(
    name: UserName,
    id: string,
    bytes: Uint8Array,
    origin: NodeId,
    held: number,
    keepUntilMs: number,
    answers: Array<(status: ReceiptStatus) => void>,
  ): void {
    this.#o.spool.write(name, id, bytes).then(
      () => {
        if (held > 0) this.#o.budgets.commitRelease(origin, held);
        // Durable in the spool (which a restart reads back): answered now, not after a commit.
        // Its id joins the others' in one commit per tick (a crash may forget the last tick's
        // ids: a resend is then kept again, and the client keeps one copy).
        for (const done of answers) done("stored");
        this.#emit({ kind: "chunks", owner: name });
        this.#chunkMarks.push({ id, keepUntilMs, origin });
        if (this.#chunkMarks.length >= MAX_CHUNK_MARKS) this.#markChunks();
      },
      (err) => {
        if (held > 0) this.#o.budgets.commitRelease(origin, held);
        this.#o.budgets.dedupRelease(origin);
        // A full disk refuses this chunk and nothing else: "busy", so the sender tries again
        // when there may be room; any other write failure is a refusal it hears about.
        const kind = storeFailure(err);
        if (kind === "disk-full") this.#o.resources?.storeFailed(kind, (err as Error).message);
        this.#o.throttled.write("error", `chunk-write|${name}`, "cannot keep a chunk", {
          to: name,
          why: (err as Error).message,
        });
        for (const done of answers) done(kind === "disk-full" ? "busy" : "quota-full");
      },
    );
  }

  /** Remembers the ids of chunks spooled since the last call, in one commit. */
  #markChunks(): void {
    const marks = this.#chunkMarks;
    if (marks.length === 0) return;
    this.#chunkMarks = [];
    this.#o.committer.write(() => this.#o.store.markDelivered(marks), undefined, () => {
      for (const m of marks) this.#o.budgets.dedupRelease(m.origin);
    });
  }

  /** A chunk's sender is allowed by the recipient, or shares a group they joined (a group file). */
  #chunkPolicy(name: UserName, from: string): ReturnType<NodeStore["contactPolicy"]> {
    const policy = this.#o.store.contactPolicy(name, from);
    if (policy === null && this.#o.groups?.sharesGroup(name, from)) return "allow";
    return policy;
  }

  /**
   * How long this node remembers an id (and keeps an unread inbox row), on its
   * own clock: the envelope's own lifetime (a duration, so clocks need not
   * agree), at most this node's message lifetime, plus twice the clock
   * allowance, so a resend its origin may still make finds the id.
   */
  #keepUntil(e: Envelope, nowMs: number): number {
    const lifetime = Math.min(e.expiresAtMs - e.createdAtMs, this.#t.maxLifetimeMs);
    return nowMs + lifetime + 2 * this.#t.clockAllowanceMs;
  }

  /**
   * Stores one envelope admitted with its budget; returns its row, or
   * undefined when its id was delivered before (the insert found it: the
   * budget goes back, and the path back counts as missed).
   */
  #inboxAdd(
    e: UserEnvelope,
    bytes: Uint8Array,
    origin: NodeId,
    now: number,
  ): InboxRecord | undefined {
    const id = envelopeIdHex(e.id);
    const owner = splitAddress(e.to).name;
    const seq = this.#o.store.inboxAdd([{
      id,
      owner,
      bytes,
      kind: kindOf(e),
      receivedAtMs: now,
      keepUntilMs: this.#keepUntil(e, now),
      origin,
    }]).get(id);
    if (seq === undefined) {
      this.#o.budgets.inboxRelease(owner, kindOf(e), bytes.length, origin);
      this.#o.budgets.dedupRelease(origin);
      this.#returnPathMissed(origin);
      return undefined;
    }
    return { seq, id, owner, bytes, receivedAtMs: now };
  }

  /** Queues a receipt entry for `to` (the mailbox service answers through it too). */
  answer(to: NodeId, id: Uint8Array, status: ReceiptStatus, viaPeer: NodeId | null): void {
    this.#receipts.add(to, id, status, viaPeer);
  }

  /** Queues a receipt entry for `origin`; undeliverable envelopes count against their origin. */
  #answer(
    origin: NodeId,
    id: Uint8Array,
    status: ReceiptStatus,
    viaPeer: NodeId | null,
    users?: UserResult[],
  ): void {
    if (status === "no-such-user" || status === "refused") {
      const nowMs = this.#o.clock.nowMs();
      if (!this.#o.budgets.undeliverable(origin, nowMs) && viaPeer === origin) {
        this.#o.network.disconnect(origin, "kept sending undeliverable envelopes");
      }
    }
    if (origin === this.#o.self) {
      this.#settle([{ id, status, ...(users ? { users } : {}) }], this.#o.self);
      return;
    }
    this.#receipts.add(origin, id, status, viaPeer, users);
  }

  #onReceipt(e: NodeEnvelope): void {
    let entries: ReceiptEntry[];
    try {
      entries = decodeReceiptEntries(e.body);
    } catch (err) {
      this.#o.throttled.write("warn", `receipt|${e.from}`, "malformed receipt", {
        node: e.from,
        why: (err as Error).message,
      });
      return;
    }
    const rest = this.receiptTap ? this.receiptTap(entries, e.from) : entries;
    this.#settle(this.#custody.settle(rest, e.from), e.from);
  }

  /**
   * Applies what `from` (proven) did with our envelopes and chunks: the
   * destination's receipts, or a mailbox's answers for what we handed it.
   */
  #settle(entries: ReceiptEntry[], from: NodeId): void {
    const done: Array<
      [
        { id: string; seq: number; owner: UserName; bytes: number },
        ReceiptStatus,
        UserResult[] | undefined,
      ]
    > = [];
    const held = new Map<NodeId, OutboxEntry[]>();
    const chunks = new Map<UserName, ChunkResult[]>();
    const now = this.#o.clock.nowMs();
    for (const entry of entries) {
      const hex = envelopeIdHex(entry.id);
      const s = this.#streaming.get(hex);
      if (s && (s.custodyAt ?? s.dest) === from) {
        this.#streaming.delete(hex);
        let list = chunks.get(s.owner);
        if (!list) chunks.set(s.owner, list = []);
        list.push(chunkResult(hex, entry.status, s.custodyAt));
        if (s.custodyAt && entry.status !== "held") {
          this.#custody.refusedBy(from, s.dest, entry.status);
        }
        continue;
      }
      const f = this.#fast.get(hex);
      if (f && f.dest === from) {
        this.#o.network.reportDelivered(f.firstHop, from);
        this.#fastAnswered(f, entry.status);
        continue;
      }
      const p = this.#outbox.get(hex);
      if (!p || (p.custodyAt ?? p.dest) !== from) continue;
      if (p.custodyAt) {
        // A mailbox's answer: it holds the envelope now, or it would not.
        if (entry.status === "held") {
          this.#outbox.remove(hex);
          let list = held.get(from);
          if (!list) held.set(from, list = []);
          list.push(p);
        } else {
          this.#custody.refusedBy(from, p.dest, entry.status);
          p.custodyAt = null;
          this.#outbox.requeue(hex);
          this.#emit({
            kind: "state",
            owner: p.owner,
            id: hex,
            state: "kept",
            reason: `mailbox ${from} refused (${entry.status}); kept here until ${p.dest} is back`,
          });
        }
        continue;
      }
      if (p.firstHop) this.#o.network.reportDelivered(p.firstHop, from);
      if (TEMPORARY_STATUSES.has(entry.status)) {
        this.#outbox.requeue(hex);
        this.#outbox.pause(from, now + this.#t.busyPauseMs);
        continue;
      }
      this.#outbox.remove(hex);
      done.push([
        { id: hex, seq: p.seq, owner: p.owner, bytes: p.bytes.length },
        entry.status,
        entry.users,
      ]);
    }
    for (const [mailbox, list] of held) this.#custody.held(list, mailbox);
    for (const [owner, results] of chunks) {
      this.#emit({ kind: "chunkResults", owner, results });
    }
    if (done.length === 0) return;
    // Settled rows keep their notice (a user's) until the client takes it; the node's own go.
    // Nobody waits for the flush: lost with the power, the envelope is sent again and its
    // destination answers from its de-duplication record.
    const gone: string[] = [];
    const settled: Array<{ id: string; notice: string; keepUntilMs: number }> = [];
    const notices = new Map<UserName, SettledNotice[]>();
    for (const [p, status, users] of done) {
      this.#settling.add(p.id);
      if (p.owner === NODE_OWNER) {
        gone.push(p.id);
        continue;
      }
      const n: SettledNotice = status === "stored"
        ? { seq: p.seq, id: p.id, state: "delivered" }
        : { seq: p.seq, id: p.id, state: "failed", reason: status };
      if (users) n.users = userMap(users, from);
      settled.push({ id: p.id, notice: encodeNotice(n), keepUntilMs: now + NOTICE_KEEP_MS });
      let list = notices.get(p.owner);
      if (!list) notices.set(p.owner, list = []);
      list.push(n);
    }
    this.#o.committer.job({
      write: () => {
        if (gone.length > 0) this.#o.store.outboxDelete(gone);
        if (settled.length > 0) this.#o.store.outboxSettle(settled);
      },
      committed: () => {
        for (const [p] of done) {
          this.#settling.delete(p.id);
          this.#o.budgets.outboxRelease(p.owner, p.bytes);
        }
      },
      // Told once committed (a crash of the process keeps them), one event per user, with the
      // batch's "sent" answers when there are any: one client message record for both.
      told: () => {
        for (const [owner, list] of notices) this.#emit({ kind: "notices", owner, notices: list });
      },
      failed: () => {
        for (const [p] of done) this.#settling.delete(p.id);
      },
      // The in-memory outbox let them go already (their window is free now): the rows can wait
      // for the next batch.
      defer: true,
    });
    this.#sendSoon();
  }

  #sendScheduled = false;
  #sendSoon(): void {
    if (this.#sendScheduled) return;
    this.#sendScheduled = true;
    queueMicrotask(() => {
      this.#sendScheduled = false;
      this.pump();
    });
  }

  #tick(): void {
    if (this.#stopped) return;
    const now = this.#o.clock.nowMs();
    this.#spoolDueChunks(now);
    this.#markChunks();
    // Paths are judged by results: a first hop whose envelopes went unanswered is reported once
    // per tick, and the resends take whatever path the router prefers now.
    const missed = new Set<string>();
    for (const e of this.#outbox.overdue(now, this.#t.retryMs)) {
      if (e.firstHop && !missed.has(`${e.firstHop}|${e.dest}`)) {
        missed.add(`${e.firstHop}|${e.dest}`);
        this.#o.network.reportMiss(e.firstHop, e.dest);
      }
    }
    for (const f of this.#fast.due(now, this.#o.fastGraceMs ?? FAST_GRACE_MS)) this.#storeFast(f);
    this.pump();
    for (const [id, s] of this.#streaming) {
      if (now - s.sentAtMs > STREAM_FORGET_MS) this.#streaming.delete(id);
    }
    this.#pumpTimer = this.#o.clock.setTimer(() => this.#tick(), 250);
  }

  /** Sends what is due: new envelopes, and ones whose receipt is overdue. */
  pump(): void {
    this.#outbox.pump(this.#o.clock.nowMs(), (p) => {
      // A destination that is away (or silent) and named mailboxes: one of them takes it.
      const mailbox = this.#custody.maybeHandOver(p);
      p.custodyAt = mailbox;
      return mailbox ?? this.#o.network.sendEncoded(p.dest, p.bytes);
    });
  }

  /** Reports envelopes past their expiry (this node's clock) as failed, and drops them. */
  #expireOutbox(now: number): boolean {
    const found = this.#o.store.outboxExpired(now, SWEEP_ROWS);
    // Receipted, their delete not committed yet: delivered, not expired.
    const expired = found.filter((r) => !this.#settling.has(r.id));
    if (expired.length === 0) return found.length === SWEEP_ROWS;
    for (const r of expired) this.#outbox.remove(r.id);
    this.#o.committer.write(() => this.#o.store.outboxDelete(expired.map((r) => r.id)), () => {
      for (const r of expired) {
        this.#o.budgets.outboxRelease(r.owner, r.bytes.length);
        this.#emit({ kind: "state", owner: r.owner, id: r.id, state: "failed", reason: "expired" });
      }
    });
    return found.length === SWEEP_ROWS;
  }

  /** Expires the outbox, forgets old inbox rows and ids, gives their budget back. */
  #sweep(): void {
    if (this.#stopped) return;
    const now = this.#o.clock.nowMs();
    const more = this.#expireOutbox(now);
    this.#sweeps++;
    if (this.#sweeps % (SWEEP_MS / EXPIRY_MS) === 1) {
      this.#o.committer.write(() => {
        const gone = this.#o.store.purgeExpired(now, SWEEP_ROWS);
        for (const r of gone.inbox) {
          this.#o.budgets.inboxRelease(r.owner, r.kind, r.bytes, r.origin);
        }
        for (const r of gone.delivered) this.#o.budgets.dedupRelease(r.origin);
      });
      this.#o.spool.expire(now).catch((e) =>
        this.#o.log.warn("cannot expire chunks", { why: (e as Error).message })
      );
    }
    this.#sweepTimer = this.#o.clock.setTimer(() => this.#sweep(), more ? 100 : EXPIRY_MS);
  }
}

/** What a promise rejected with, as an error to answer. */
function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function kindOf(e: UserEnvelope): InboxKind {
  return e.kind === "request" ? "request" : "message";
}

function chunkResult(
  id: string,
  status: ReceiptStatus,
  mailbox: NodeId | null = null,
): ChunkResult {
  if (status === "stored") return { id, state: "stored" };
  if (status === "held") return { id, state: "stored", reason: `held at mailbox ${mailbox}` };
  if (mailbox) return { id, state: "retry", reason: `mailbox ${mailbox} refused (${status})` };
  if (TEMPORARY_STATUSES.has(status)) {
    return { id, state: "retry", reason: "the recipient's node is busy" };
  }
  return { id, state: "failed", reason: CHUNK_REFUSALS[status] ?? status };
}

/** Per-user results as addresses on `node`, for the sender's client. */
function userMap(users: readonly UserResult[], node: NodeId): Record<string, string> {
  return Object.fromEntries(users.map((u) => [`${u.name}@${node}`, u.status]));
}
