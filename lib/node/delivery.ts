/**
 * Delivery: nothing acknowledged is lost, nothing is delivered twice.
 *
 * Sending node: a client's envelope goes into the durable outbox (group
 * commit) before the client hears "sent"; it is sent along the route and kept
 * until the destination node's signed receipt arrives ("delivered"), retried
 * while it has no route or no receipt, and reported "failed" at expiry.
 * Destination node: de-duplicates by envelope id, checks the recipient's
 * policy, stores the envelope in the recipient's inbox, and only after the
 * commit sends the receipt. The inbox keeps it until the client acknowledges.
 */
import type { Clock } from "../clock.ts";
import type { Federation, NodeKey } from "../federation/mod.ts";
import {
  type ChunkBody,
  type ChunkResult,
  decodeChunkBody,
  decodeEnvelope,
  DEFAULT_TTL,
  destinationNode,
  type Envelope,
  envelopeIdHex,
  TTL_OFFSET,
} from "../protocol/mod.ts";
import { type Address, type NodeId, splitAddress, type UserName } from "../ids.ts";
import type { Logger } from "../log.ts";
import type { NodeStore } from "../store/mod.ts";
import type { Committer } from "./committer.ts";
import type { FileSpool } from "./file_spool.ts";
import { OutboxQueue, type Pending } from "./outbox_queue.ts";
import { RateLimiter } from "./rate_limit.ts";
import { openReceipt, type ReceiptStatus, signReceipt } from "./receipt.ts";

/** A refused submission; the message says why. */
export class DeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeliveryError";
  }
}

/** What delivery tells the client sessions. */
export type DeliveryEvent =
  | { kind: "state"; owner: UserName; id: string; state: "delivered" | "failed"; reason?: string }
  | { kind: "inbox"; owner: UserName }
  /** A file chunk for `owner` is on disk. */
  | { kind: "chunks"; owner: UserName }
  /** What the destination did with chunks `owner` sent. */
  | { kind: "chunkResults"; owner: UserName; results: ChunkResult[] };

/** Options of {@linkcode Delivery}. */
export interface DeliveryOptions {
  self: NodeId;
  key: NodeKey;
  store: NodeStore;
  committer: Committer;
  federation: Federation;
  /** Where file chunks for local users are kept. */
  spool: FileSpool;
  clock: Clock;
  log: Logger;
  onEvent(event: DeliveryEvent): void;
  /** Longest life a client may give an envelope. */
  maxLifetimeMs?: number;
  /** Resend an envelope with no receipt after this long. */
  retryMs?: number;
  /** Envelopes in flight per destination node. */
  window?: number;
}

const MAX_TEXT_BODY = 64 * 1024;
/** How long a forwarded chunk waits for its receipt before the sender's client retries it. */
const STREAM_FORGET_MS = 60_000;

/** Why a chunk was refused, as its sender's client is told. */
const CHUNK_REFUSALS: Record<string, string> = {
  "no-such-user": "there is no such user",
  refused: "the recipient has not accepted a chat with you",
  "too-large": "the file is larger than the recipient's node accepts",
  "quota-full": "the recipient's node has no room left for this user (quota full)",
};

/** The delivery engine of one node. */
export class Delivery {
  #o: Required<DeliveryOptions>;
  #pending = new OutboxQueue();
  /** Chunks forwarded and waiting for a receipt: not stored, the client retries them. */
  #streaming = new Map<string, { owner: UserName; dest: NodeId; sentAtMs: number }>();
  #receipts = new Map<NodeId, Array<{ id: Uint8Array; status: ReceiptStatus }>>();
  #receiptTimer: number | null = null;
  #pumpTimer: number;
  #bySender: RateLimiter;
  #byNode: RateLimiter;

  constructor(options: DeliveryOptions) {
    this.#o = { maxLifetimeMs: 7 * 24 * 3600_000, retryMs: 5_000, window: 512, ...options };
    this.#bySender = new RateLimiter(options.clock, { burst: 5, perMinute: 5 });
    this.#byNode = new RateLimiter(options.clock, { burst: 30, perMinute: 30 });
    for (const r of options.store.outboxAll()) {
      try {
        this.#pending.add(r.id, {
          envelope: decodeEnvelope(r.bytes),
          bytes: r.bytes,
          owner: r.owner,
          dest: r.dest,
        });
      } catch {
        this.#o.log.error("dropped an undecodable outbox entry", { id: r.id });
      }
    }
    this.#pumpTimer = options.clock.setTimer(() => this.#tick(), 250);
  }

  /** Envelopes waiting for a receipt. */
  get outboxSize(): number {
    return this.#pending.size;
  }

  stop(): void {
    this.#o.clock.clearTimer(this.#pumpTimer);
    if (this.#receiptTimer !== null) this.#o.clock.clearTimer(this.#receiptTimer);
  }

  /**
   * Takes an envelope from a local user's client. Resolves once it is durable:
   * "sent" (in the outbox) or "delivered" (the recipient is on this node).
   *
   * @throws {DeliveryError} not from this user, bad kind, too big, bad expiry
   */
  submit(owner: UserName, bytes: Uint8Array): Promise<{ id: string; state: "sent" | "delivered" }> {
    let e: Envelope;
    try {
      e = decodeEnvelope(bytes);
    } catch (err) {
      throw new DeliveryError((err as Error).message);
    }
    const now = this.#o.clock.nowMs();
    if (e.kind !== "request" && e.kind !== "message") {
      throw new DeliveryError(`Cannot send: clients may not send ${e.kind} envelopes`);
    }
    if (e.from !== `${owner}@${this.#o.self}`) {
      throw new DeliveryError(
        `Cannot send: an envelope from ${owner} must say from ${owner}@${this.#o.self}`,
      );
    }
    if (e.kind === "request" && e.body.length > MAX_TEXT_BODY) {
      throw new DeliveryError("Cannot send: request too large");
    }
    if (e.expiresAtMs <= now || e.expiresAtMs > now + this.#o.maxLifetimeMs) {
      throw new DeliveryError("Cannot send: expiry must be in the future and within 7 days");
    }
    if (e.ttl !== DEFAULT_TTL) e = { ...e, ttl: DEFAULT_TTL };
    const id = envelopeIdHex(e.id);
    const dest = destinationNode(e);
    if (dest === this.#o.self) {
      return new Promise((resolve, reject) => {
        const verdict = this.#admit(e, bytes);
        if (verdict.status === "no-such-user") {
          return reject(new DeliveryError(`Cannot send: there is no user ${e.to}`));
        }
        if (!verdict.store) return resolve({ id, state: "delivered" });
        this.#o.committer.write(
          () => this.#inboxAdd(e, bytes, now),
          () => {
            this.#o.onEvent({ kind: "inbox", owner: splitAddress(e.to as Address).name });
            resolve({ id, state: "delivered" });
          },
        );
      });
    }
    return new Promise((resolve) => {
      this.#o.committer.write(
        () => this.#o.store.outboxAdd([{ id, owner, dest, bytes, expiresAtMs: e.expiresAtMs }]),
        () => {
          this.#pending.add(id, { envelope: e, bytes, owner, dest });
          this.#sendSoon();
          resolve({ id, state: "sent" });
        },
      );
    });
  }

  /**
   * Takes a file chunk from a local user's client and forwards it at once,
   * without storing it: the client keeps the file and retries a chunk until
   * the destination's receipt comes back (as a `chunkResults` event). Returns
   * a result now when there is one already (refused, local, no route).
   *
   * @throws {DeliveryError} not a chunk from this user, bad expiry
   */
  stream(owner: UserName, bytes: Uint8Array): Promise<ChunkResult | null> {
    let e: Envelope;
    try {
      e = decodeEnvelope(bytes);
    } catch (err) {
      throw new DeliveryError((err as Error).message);
    }
    const now = this.#o.clock.nowMs();
    if (e.kind !== "chunk") throw new DeliveryError("Cannot send: expected a chunk envelope");
    if (e.from !== `${owner}@${this.#o.self}`) {
      throw new DeliveryError(
        `Cannot send: an envelope from ${owner} must say from ${owner}@${this.#o.self}`,
      );
    }
    if (e.expiresAtMs <= now || e.expiresAtMs > now + this.#o.maxLifetimeMs) {
      throw new DeliveryError("Cannot send: expiry must be in the future and within 7 days");
    }
    const id = envelopeIdHex(e.id);
    if (destinationNode(e) === this.#o.self) {
      return new Promise((resolve) =>
        this.#receiveChunk(e, bytes, (s) => resolve(chunkResult(id, s)))
      );
    }
    if (e.ttl !== DEFAULT_TTL) {
      bytes = bytes.slice();
      e = { ...e, ttl: DEFAULT_TTL };
      bytes[TTL_OFFSET] = DEFAULT_TTL;
    }
    const dest = destinationNode(e);
    if (this.#o.federation.forwarder.send(e, bytes) !== "forwarded") {
      return Promise.resolve({ id, state: "retry", reason: `no route to ${dest} now` });
    }
    this.#streaming.set(id, { owner, dest, sentAtMs: now });
    return Promise.resolve(null);
  }

  /** Keeps a chunk for a local user on disk, then reports what became of it. */
  #receiveChunk(e: Envelope, bytes: Uint8Array, done: (status: ReceiptStatus) => void): void {
    const { name } = splitAddress(e.to as Address);
    const id = envelopeIdHex(e.id);
    let chunk: ChunkBody;
    try {
      chunk = decodeChunkBody(e.body);
    } catch (err) {
      this.#o.log.info("chunk dropped: malformed", { id, why: (err as Error).message });
      return done("refused");
    }
    if (!this.#o.store.getAccount(name)) return done("no-such-user");
    if (this.#o.store.contactPolicy(name, e.from) !== "allow") {
      this.#o.log.info("chunk dropped: sender not accepted", { to: name, from: e.from });
      return done("refused");
    }
    // A retransmission of a chunk taken already, or one being kept: the same answer again.
    if (this.#o.store.wasDelivered(id)) return done("stored");
    const verdict = this.#o.spool.admit(name, {
      id,
      fileId: envelopeIdHex(chunk.fileId),
      index: chunk.index,
      fileBytes: chunk.fileBytes,
      bytes: bytes.length,
    });
    if (verdict === "duplicate") return; // its first copy answers once written
    if (verdict !== "ok") return done(verdict);
    const now = this.#o.clock.nowMs();
    this.#o.spool.write(name, id, bytes).then(
      () =>
        this.#o.committer.write(
          () =>
            this.#o.store.markDelivered([{
              id,
              keepUntilMs: Math.max(e.expiresAtMs, now) + 24 * 3600_000,
            }]),
          () => {
            done("stored");
            this.#o.onEvent({ kind: "chunks", owner: name });
          },
        ),
      (err) => {
        // A full disk refuses this chunk and nothing else; the sender sees the quota error.
        this.#o.log.error("cannot keep a chunk", { to: name, why: (err as Error).message });
        done("quota-full");
      },
    );
  }

  /** Handles an envelope addressed to this node (from the forwarder). */
  receiveLocal(e: Envelope, bytes: Uint8Array): void {
    if (e.kind === "receipt") {
      void this.#onReceipt(e);
      return;
    }
    if (e.kind === "chunk") {
      const origin = splitAddress(e.from as Address).node;
      this.#receiveChunk(e, bytes, (status) => this.#queueReceipt(origin, e.id, status));
      return;
    }
    if (e.kind !== "request" && e.kind !== "message") return;
    const verdict = this.#admit(e, bytes);
    const origin = splitAddress(e.from as Address).node;
    if (!verdict.store) {
      this.#queueReceipt(origin, e.id, verdict.status);
      return;
    }
    this.#o.committer.write(
      () => this.#inboxAdd(e, bytes, this.#o.clock.nowMs()),
      () => {
        this.#queueReceipt(origin, e.id, "stored");
        this.#o.onEvent({ kind: "inbox", owner: splitAddress(e.to as Address).name });
      },
    );
  }

  /** Decides what to do with an envelope for a local user. */
  #admit(e: Envelope, _bytes: Uint8Array): { store: boolean; status: ReceiptStatus } {
    const { name } = splitAddress(e.to as Address);
    const account = this.#o.store.getAccount(name);
    if (!account) return { store: false, status: "no-such-user" };
    const policy = this.#o.store.contactPolicy(name, e.from);
    if (e.kind === "request") {
      // A blocked or over-eager sender is dropped without telling it: it sees "delivered".
      if (policy === "block") return { store: false, status: "stored" };
      if (this.#o.store.wasDelivered(envelopeIdHex(e.id))) {
        return { store: false, status: "stored" };
      }
      const senderNode = splitAddress(e.from as Address).node;
      if (
        !this.#bySender.take(`${name}|${e.from}`) || !this.#byNode.take(`${name}|${senderNode}`)
      ) {
        this.#o.log.info("request dropped: rate limit", { to: name, from: e.from });
        return { store: false, status: "stored" };
      }
      return { store: true, status: "stored" };
    }
    if (policy !== "allow") {
      this.#o.log.info("message dropped: sender not accepted", { to: name, from: e.from });
      return { store: false, status: "refused" };
    }
    return { store: true, status: "stored" };
  }

  #inboxAdd(e: Envelope, bytes: Uint8Array, now: number): void {
    const { name } = splitAddress(e.to as Address);
    this.#o.store.inboxAdd([{
      id: envelopeIdHex(e.id),
      owner: name,
      bytes,
      receivedAtMs: now,
      keepUntilMs: Math.max(e.expiresAtMs, now) + 24 * 3600_000,
    }]);
  }

  #queueReceipt(origin: NodeId, id: Uint8Array, status: ReceiptStatus): void {
    const list = this.#receipts.get(origin) ?? [];
    list.push({ id, status });
    this.#receipts.set(origin, list);
    if (list.length >= 1024) this.#flushReceipts();
    else if (this.#receiptTimer === null) {
      this.#receiptTimer = this.#o.clock.setTimer(() => this.#flushReceipts(), 5);
    }
  }

  #flushReceipts(): void {
    if (this.#receiptTimer !== null) this.#o.clock.clearTimer(this.#receiptTimer);
    this.#receiptTimer = null;
    const batches = this.#receipts;
    this.#receipts = new Map();
    for (const [origin, entries] of batches) {
      void signReceipt({ dest: this.#o.self, origin, entries }, this.#o.key.privateKey).then(
        (body) => {
          const now = this.#o.clock.nowMs();
          this.#o.federation.forwarder.send({
            id: crypto.getRandomValues(new Uint8Array(16)),
            kind: "receipt",
            ttl: DEFAULT_TTL,
            createdAtMs: now,
            expiresAtMs: now + 60_000,
            from: this.#o.self,
            to: origin,
            body,
          });
        },
      );
    }
  }

  #keyOf(node: NodeId): Uint8Array | undefined {
    return this.#o.federation.router.announcementOf(node)?.publicKey ??
      this.#o.store.getPeer(node)?.publicKey ?? undefined;
  }

  async #onReceipt(e: Envelope): Promise<void> {
    const dest = e.from as NodeId;
    const key = this.#keyOf(dest);
    if (!key) return this.#o.log.warn("receipt from a node with no known key", { node: dest });
    let receipt;
    try {
      receipt = await openReceipt(e.body, key);
    } catch (err) {
      return this.#o.log.warn("malformed receipt", { node: dest, why: (err as Error).message });
    }
    if (!receipt || receipt.dest !== dest || receipt.origin !== this.#o.self) {
      return this.#o.log.warn("receipt refused: bad signature or addressing", { node: dest });
    }
    const done: Array<[Pending, ReceiptStatus]> = [];
    const chunks = new Map<UserName, ChunkResult[]>();
    for (const entry of receipt.entries) {
      const hex = envelopeIdHex(entry.id);
      const s = this.#streaming.get(hex);
      if (s && s.dest === dest) {
        this.#streaming.delete(hex);
        const list = chunks.get(s.owner) ?? [];
        list.push(chunkResult(hex, entry.status));
        chunks.set(s.owner, list);
        continue;
      }
      const p = this.#pending.get(hex);
      if (p && p.dest === dest) done.push([p, entry.status]);
    }
    for (const [owner, results] of chunks) {
      this.#o.onEvent({ kind: "chunkResults", owner, results });
    }
    if (done.length === 0) return;
    const ids = done.map(([p]) => envelopeIdHex(p.envelope.id));
    for (const id of ids) this.#pending.remove(id);
    this.#o.committer.write(() => this.#o.store.outboxDelete(ids), () => {
      for (const [p, status] of done) {
        this.#o.onEvent({
          kind: "state",
          owner: p.owner,
          id: envelopeIdHex(p.envelope.id),
          state: status === "stored" ? "delivered" : "failed",
          reason: status === "stored" ? undefined : status,
        });
      }
      this.#sendSoon();
    });
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
    this.#pending.requeueOverdue(this.#o.clock.nowMs(), this.#o.retryMs);
    this.pump();
    this.#expire();
    this.#pumpTimer = this.#o.clock.setTimer(() => this.#tick(), 250);
  }

  /** Sends what is due: new envelopes, and ones whose receipt is overdue. */
  pump(): void {
    const now = this.#o.clock.nowMs();
    this.#pending.pump(
      this.#o.window,
      now,
      (p) => this.#o.federation.forwarder.send(p.envelope, p.bytes) === "forwarded",
    );
  }

  #expire(): void {
    const now = this.#o.clock.nowMs();
    for (const [id, s] of this.#streaming) {
      if (now - s.sentAtMs > STREAM_FORGET_MS) this.#streaming.delete(id);
    }
    const expired = [...this.#pending.values()].filter((p) => p.envelope.expiresAtMs <= now);
    if (expired.length === 0) return;
    const ids = expired.map((p) => envelopeIdHex(p.envelope.id));
    for (const id of ids) this.#pending.remove(id);
    this.#o.committer.write(() => this.#o.store.outboxDelete(ids), () => {
      for (const p of expired) {
        this.#o.onEvent({
          kind: "state",
          owner: p.owner,
          id: envelopeIdHex(p.envelope.id),
          state: "failed",
          reason: "expired",
        });
      }
    });
  }
}

function chunkResult(id: string, status: ReceiptStatus): ChunkResult {
  return status === "stored"
    ? { id, state: "stored" }
    : { id, state: "failed", reason: CHUNK_REFUSALS[status] ?? status };
}
