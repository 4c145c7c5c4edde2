/**
 * The client's connection to its home node: requests with replies, pushed
 * inbox items, acknowledgements, and reconnection with backoff when the link
 * drops.
 *
 * Acknowledgements are delayed, as TCP delays its ACKs (RFC 1122 §4.2.3.2):
 * they leave with the next message the client sends (one channel record and
 * one socket write with it), after {@linkcode ACK_DELAY_MS} at the latest, or
 * at once when {@linkcode ACK_AT_ONCE} wait. At 1,000 msg/s a receiver then
 * writes once per 20 messages instead of once per message, and a sender's
 * acknowledgements of its delivery notices ride its next submission
 * (docs/PERF_NOTES.md, branch `clientturn2`). Nothing is acknowledged earlier
 * than before, only later; the node keeps what is not acknowledged and pushes
 * it again after a reconnection.
 */
import type { Logger } from "../log.ts";
import {
  type ClientLink,
  type ClientMessage,
  decodeClientMessage,
  encodeClientMessage,
  MAX_IDS,
} from "../protocol/mod.ts";
import { NodeRefusedError, NodeUnavailableError } from "./errors.ts";

type Reply = Extract<ClientMessage, { type: "submitted" | "bundle" | "entries" | "keyPackage" }>;
type Request = Extract<
  ClientMessage,
  { type: "submit" | "fetch" | "directory" | "keyPackageFetch" }
>;
type WithoutReq<T> = T extends unknown ? Omit<T, "req"> : never;
type Submitted = Extract<ClientMessage, { type: "submitted" }>;
/** Hears one request's reply, or the error that ended it. */
type Settle = (reply: Reply | NodeUnavailableError) => void;

/**
 * How far a submission got, or why not: {@linkcode NodeUnavailableError} or
 * {@linkcode NodeRefusedError}.
 */
export type SubmitResult = "sent" | "delivered" | Error;

/** At most how long an acknowledgement waits for another message to the node to leave with. */
export const ACK_DELAY_MS = 20;
/**
 * Acknowledgements that leave at once when this many wait: a sixteenth of the
 * 1,024 items a node pushes unacknowledged, so a delay never stalls its pushes
 * (its 4 MiB of them: 64 envelopes of up to 64 KiB).
 */
export const ACK_AT_ONCE = 64;

/** Options of {@linkcode NodeConnection}. */
export interface NodeConnectionOptions {
  /** Opens a link and has sent the hello (remote) or attached (in process). */
  open(): Promise<ClientLink>;
  log: Logger;
  requestTimeoutMs?: number;
  /** At most how long an acknowledgement waits (default {@linkcode ACK_DELAY_MS}). */
  ackDelayMs?: number;
}

/** Who hears what the node pushes (given at {@linkcode NodeConnection.start}). */
export interface NodeReceiver {
  /** Each pushed inbox item, in order. */
  onPush(m: Extract<ClientMessage, { type: "deliver" | "notice" }>): void;
  /**
   * File chunks for us, and what became of the chunks we sent (outside the inbox order).
   * `keep` as in `ClientLink.onMessage`: given when the message's bytes are lent.
   */
  onChunk?(
    m: Extract<ClientMessage, { type: "chunkDeliver" | "chunkResult" }>,
    keep?: () => () => void,
  ): void;
  /** The node's resource conditions (a full disk), at every welcome and when they change. */
  onCondition?(m: Extract<ClientMessage, { type: "condition" }>): void;
  /** Called after every (re)connection, once the node said welcome. */
  onConnected(): void;
  /** How many of our group key packages the node has left (at welcome, and when one goes). */
  onKeyPackages?(m: Extract<ClientMessage, { type: "keyPackageCount" }>): void;
}

/** A reconnecting connection to the home node. */
export class NodeConnection {
  #o: NodeConnectionOptions;
  #link: ClientLink | null = null;
  #nextReq = 1;
  /** Requests waiting for their reply, in the order sent (so also by deadline). */
  #waiting = new Map<number, { settle: Settle; deadlineMs: number }>();
  /** One timer sweeps out requests past their deadline, instead of a timer per request. */
  #sweep: ReturnType<typeof setInterval> | null = null;
  #stopped = false;
  /** Acknowledgements waiting to leave on this link, and the timer that sends them. */
  #acks: string[] = [];
  #ackTimer: ReturnType<typeof setTimeout> | null = null;
  #backoffMs = 250;
  #connected: Promise<void>;
  #markConnected!: () => void;

  constructor(options: NodeConnectionOptions) {
    this.#o = options;
    this.#connected = new Promise((r) => (this.#markConnected = r));
  }

  /** True while a link is up. */
  get up(): boolean {
    return this.#link !== null;
  }

  #receiver: NodeReceiver | null = null;

  /** Connects (retrying), pushing to `receiver`; resolves once the first connection is up. */
  start(receiver: NodeReceiver): Promise<void> {
    this.#receiver = receiver;
    void this.#connect();
    return this.#connected;
  }

  stop(): void {
    this.#stopped = true;
    this.#stopSweep();
    this.#flushAcks();
    this.#dropAcks();
    this.#link?.close("client stopping");
    this.#link = null;
  }

  async #connect(): Promise<void> {
    while (!this.#stopped) {
      try {
        const link = await this.#o.open();
        const welcomed = new Promise<void>((resolve, reject) => {
          link.onMessage = (bytes, keep) => {
            let m: ClientMessage;
            try {
              m = decodeClientMessage(bytes);
            } catch (e) {
              this.#o.log.warn("node sent a malformed message", { why: (e as Error).message });
              return;
            }
            if (m.type === "welcome") return resolve();
            this.#receive(m, keep);
          };
          link.onClose = (reason) => reject(new Error(reason));
        });
        await welcomed;
        this.#link = link;
        this.#backoffMs = 250;
        link.onClose = (reason) => {
          if (this.#link !== link) return;
          this.#link = null;
          // Acknowledgements belong to the link's session: the next one pushes those items again.
          this.#dropAcks();
          this.#o.log.info("disconnected from node", { why: reason });
          const waiting = [...this.#waiting.values()];
          this.#waiting.clear();
          for (const w of waiting) {
            w.settle(new NodeUnavailableError(`Cannot reach the node: ${reason}`));
          }
          if (!this.#stopped) void this.#connect();
        };
        this.#markConnected();
        this.#receiver?.onConnected();
        return;
      } catch (e) {
        this.#o.log.info("cannot connect to node", {
          why: (e as Error).message,
          retryMs: this.#backoffMs,
        });
        await new Promise((r) => setTimeout(r, this.#backoffMs));
        this.#backoffMs = Math.min(10_000, this.#backoffMs * 2);
      }
    }
  }

  /** `keep`: the bytes `m` was decoded from are lent (see `ClientLink.onMessage`). */
  #receive(m: ClientMessage, keep?: () => () => void): void {
    switch (m.type) {
      case "deliver":
      case "notice":
        return this.#receiver?.onPush(m);
      case "chunkDeliver":
      case "chunkResult":
        return this.#receiver?.onChunk?.(m, keep);
      case "condition":
        return this.#receiver?.onCondition?.(m);
      case "keyPackageCount":
        return this.#receiver?.onKeyPackages?.(m);
      case "submitted":
      case "bundle":
      case "entries":
      case "keyPackage": {
        const w = this.#waiting.get(m.req);
        if (w) {
          this.#waiting.delete(m.req);
          w.settle(m);
        }
        return;
      }
      case "error":
        return this.#o.log.warn("node reported an error", { why: m.message });
      default:
        return;
    }
  }

  /** Sends a message that needs no reply (waiting acknowledgements first); false when not connected. */
  send(m: ClientMessage): boolean {
    if (!this.#link) return false;
    this.#flushAcks();
    this.#link.send(encodeClientMessage(m));
    return true;
  }

  /**
   * Acknowledges inbox items (delayed: see the module's doc). Call only once
   * they are durable. Dropped when not connected: the node pushes them again.
   */
  ack(ids: readonly string[]): void {
    if (!this.#link || ids.length === 0) return;
    for (const id of ids) this.#acks.push(id);
    if (this.#acks.length >= ACK_AT_ONCE) return this.#flushAcks();
    this.#ackTimer ??= setTimeout(() => {
      this.#ackTimer = null;
      this.#flushAcks();
    }, this.#o.ackDelayMs ?? ACK_DELAY_MS);
  }

  /**
   * Sends the waiting acknowledgements now (before whatever is sent next, in
   * order). The timer is left to run out, not cleared: a sender whose
   * acknowledgements ride its submissions then arms one timer per
   * {@linkcode ACK_DELAY_MS}, not one per message.
   */
  #flushAcks(): void {
    if (this.#acks.length === 0) return;
    const link = this.#link;
    const acks = this.#acks;
    this.#acks = [];
    if (!link) return;
    for (let i = 0; i < acks.length; i += MAX_IDS) {
      link.send(encodeClientMessage({ type: "ack", ids: acks.slice(i, i + MAX_IDS) }));
    }
  }

  #dropAcks(): void {
    this.#acks = [];
    if (this.#ackTimer !== null) clearTimeout(this.#ackTimer);
    this.#ackTimer = null;
  }

  /**
   * Sends a message encoded already (a file chunk framed once from its parts:
   * `encodeChunkSubmitParts`); false when not connected. With `consumed`, the
   * caller means to reuse `bytes`: see `ClientLink.send`.
   */
  /**
   * Whether `sendEncoded`'s `consumed` always comes while connected (the
   * in-process link, whose node calls it once its link to the next hop takes
   * more): a sender may wait for it (see `ClientLink.handsBack`).
   */
  get handsBack(): boolean {
    return this.#link?.handsBack === true;
  }

  sendEncoded(bytes: Uint8Array, consumed?: () => void): boolean {
    if (!this.#link) return false;
    this.#flushAcks();
    this.#link.send(bytes, consumed);
    return true;
  }

  /**
   * Sends a request and resolves with the node's reply.
   *
   * @throws {NodeUnavailableError} not connected, timed out, or disconnected meanwhile
   */
  request<T extends Reply>(m: WithoutReq<Request>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#ask(m, (r) => r instanceof Error ? reject(r) : resolve(r as T));
    });
  }

  /**
   * Sends a request; `settle` hears its reply or the {@linkcode NodeUnavailableError}
   * that ended it, once, and never before this returns.
   */
  #ask(m: WithoutReq<Request>, settle: Settle): void {
    if (!this.#link) {
      const e = new NodeUnavailableError("Cannot reach the node: not connected");
      return queueMicrotask(() => settle(e));
    }
    const req = this.#nextReq++;
    const timeoutMs = this.#o.requestTimeoutMs ?? 15_000;
    this.#waiting.set(req, { settle, deadlineMs: Date.now() + timeoutMs });
    this.#sweep ??= setInterval(() => this.#expire(), Math.min(1000, timeoutMs));
    try {
      this.#flushAcks();
      this.#link.send(encodeClientMessage({ ...m, req } as ClientMessage));
    } catch (e) {
      // Never settled twice: a request that did not leave is not waited for.
      this.#waiting.delete(req);
      throw e;
    }
  }

  /** Fails the requests past their deadline; stops sweeping once none waits. */
  #expire(): void {
    const now = Date.now();
    const expired: Settle[] = [];
    for (const [req, w] of this.#waiting) {
      if (w.deadlineMs > now) break;
      this.#waiting.delete(req);
      expired.push(w.settle);
    }
    for (const settle of expired) {
      settle(new NodeUnavailableError("Cannot reach the node: no answer"));
    }
    if (this.#waiting.size === 0) this.#stopSweep();
  }

  #stopSweep(): void {
    if (this.#sweep !== null) clearInterval(this.#sweep);
    this.#sweep = null;
  }

  /**
   * Hands the node an envelope to deliver; `answered` hears once, never before
   * this returns, how far it got or why not: {@linkcode NodeUnavailableError}
   * (the node cannot be asked now: send it again later) or
   * {@linkcode NodeRefusedError} (the node refused it; its sentence is the
   * message). No promise: while a submission waits for the node it holds only
   * its entry here and `answered` (hundreds wait at once in a burst, long
   * enough to be promoted: docs/PERF_NOTES.md, `gcwhy` and `msgcpu`).
   */
  submit(envelope: Uint8Array, answered: (result: SubmitResult) => void): void {
    this.#ask({ type: "submit", envelope }, (r) => {
      if (r instanceof Error) return answered(r);
      const s = r as Submitted;
      answered(
        s.error || !s.state
          ? new NodeRefusedError(s.error ?? "Cannot send: refused by the node")
          : s.state,
      );
    });
  }

  /**
   * Hands the node a group envelope; resolves with how far it got and, for
   * one kept at this very node, what it did for each user.
   *
   * @throws {NodeUnavailableError} the node cannot be asked now (send it again later)
   * @throws {NodeRefusedError} the node refused it (its sentence is the message)
   */
  async submitGroup(
    envelope: Uint8Array,
  ): Promise<{ state: "sent" | "delivered"; users?: Record<string, string> }> {
    const r = await this.request<Submitted>({ type: "submit", envelope });
    if (r.error || !r.state) {
      throw new NodeRefusedError(r.error ?? "Cannot send: refused by the node");
    }
    return { state: r.state, ...(r.users ? { users: r.users } : {}) };
  }

  /**
   * Asks the node for one MLS key package of `address` (handed out once).
   *
   * @throws {NodeUnavailableError} the node cannot be asked now
   * @throws {NodeRefusedError} none to be had (no such user, none published, unreachable)
   */
  async fetchKeyPackage(address: string): Promise<Uint8Array> {
    const r = await this.request<Extract<ClientMessage, { type: "keyPackage" }>>({
      type: "keyPackageFetch",
      address,
    });
    if (!r.keyPackage) throw new NodeRefusedError(r.error ?? `Cannot invite ${address}`);
    return r.keyPackage;
  }

  /**
   * Asks the node for a user's published identity bundle.
   *
   * @throws {NodeUnavailableError} the node cannot be asked now
   * @throws {NodeRefusedError} no bundle (no such user, unreachable, not published)
   */
  async fetchBundle(address: string): Promise<Uint8Array> {
    const r = await this.request<Extract<ClientMessage, { type: "bundle" }>>({
      type: "fetch",
      address,
    });
    if (!r.bundle) throw new NodeRefusedError(r.error ?? `Cannot find ${address}`);
    return r.bundle;
  }

  /**
   * The directory as the node knows it.
   *
   * @throws {NodeUnavailableError} the node cannot be asked now
   */
  async directory(): Promise<Extract<ClientMessage, { type: "entries" }>["entries"]> {
    return (await this.request<Extract<ClientMessage, { type: "entries" }>>({ type: "directory" }))
      .entries;
  }
}
