/**
 * Keeps the node's links: dials the peers it knows with backoff, accepts and
 * authenticates incoming links under the owner's policy, pins keys, keeps one
 * link per peer, watches heartbeats, and reports state for `links` / `status`.
 */
import type { Clock } from "../clock.ts";
import { constantTimeEqual } from "../e2e/mod.ts";
import type { NodeId } from "../ids.ts";
import type { Logger } from "../log.ts";
import type { NodeStore, PeerRecord } from "../store/mod.ts";
import { type Accepted, dialWss, type WsConnection } from "../wss/mod.ts";
import {
  AuthError,
  type Endpoint,
  initiatorFinish,
  initiatorHello,
  type LinkSelf,
  nextChannelMessage,
  nextMessage,
  type PeerProof,
  responderFinish,
  responderHello,
  SecureChannel,
} from "../channel/mod.ts";
import { FederationError } from "./errors.ts";
import { decodeLinkMessage, encodeLinkMessage, type LinkMessage } from "./link_message.ts";
import { fingerprintMatches, fullFingerprint, shortFingerprint } from "./node_key.ts";

/** URL path of node links on the listener. */
export const LINK_PATH = "/fedchat/v1/link";

/** A link's state as shown to people and scripts. */
export type LinkState =
  | "up"
  | "connecting"
  | "down"
  | "pending-approval"
  | "awaiting-owner"
  | "refused";

/** One row of `links` / `status --json`. */
export interface LinkInfo {
  peer: NodeId;
  state: LinkState;
  sinceMs: number;
  host: string | null;
  port: number | null;
  fingerprint: string | null;
  lastError: string | null;
  lastErrorAtMs: number | null;
}

/** Options of {@linkcode LinkManager}. */
export interface LinkManagerOptions {
  self: LinkSelf;
  /** Where others should dial us (sent in HELLO_I). */
  endpoint: Endpoint;
  store: NodeStore;
  clock: Clock;
  log: Logger;
  /** Accept unknown nodes without approval. */
  open: boolean;
  maxMessageBytes: number;
  handshakeTimeoutMs: number;
  heartbeatMs?: number;
  /** A link with nothing received for this long is down. */
  deadAfterMs?: number;
  maxBackoffMs?: number;
}

interface Runtime {
  channel: SecureChannel | null;
  initiator: NodeId | null;
  state: LinkState;
  sinceMs: number;
  backoffMs: number;
  timer: number | null;
  dialing: boolean;
  lastReceivedMs: number;
  /** Redial delay after a disconnect for misbehaviour (0: none). */
  penaltyMs: number;
}

/** The link layer of one node. */
export class LinkManager {
  /** A link to `peer` is up (its key is proven). */
  onLinkUp: (peer: NodeId, publicKey: Uint8Array) => void = () => {};
  /** The link to `peer` went down. */
  onLinkDown: (peer: NodeId) => void = () => {};
  /** A message arrived from `peer` (heartbeats and results are handled here). */
  onMessage: (peer: NodeId, message: LinkMessage) => void = () => {};

  #o: Required<LinkManagerOptions>;
  #log: Logger;
  #peers = new Map<NodeId, Runtime>();
  #waiters = new Map<NodeId, Array<() => void>>();
  #heartbeat: number;
  #stopped = false;

  constructor(options: LinkManagerOptions) {
    this.#o = { heartbeatMs: 500, deadAfterMs: 2000, maxBackoffMs: 30_000, ...options };
    this.#log = options.log.child("links");
    this.#heartbeat = this.#o.clock.setTimer(() => this.#beat(), this.#o.heartbeatMs);
  }

  /** Starts dialling every linked peer with a known endpoint. */
  start(): void {
    for (const rec of this.#o.store.listPeers()) {
      if (rec.state === "linked" && rec.host && rec.port) this.#scheduleDial(rec.nodeId, 0);
    }
  }

  /** Closes every link and stops dialling. */
  stop(): void {
    this.#stopped = true;
    this.#o.clock.clearTimer(this.#heartbeat);
    for (const rt of this.#peers.values()) {
      if (rt.timer !== null) this.#o.clock.clearTimer(rt.timer);
      rt.channel?.close("node stopping");
    }
  }

  /** Peers whose link is up now. */
  upPeers(): NodeId[] {
    return [...this.#peers].filter(([, rt]) => rt.state === "up").map(([id]) => id);
  }

  /**
   * Sends a message to a peer; false when it was not queued: the link is not
   * up, or the peer is not reading (the link is then closed). See
   * SecureChannel's `writable` / `onDrain` for when to send more.
   */
  send(peer: NodeId, message: LinkMessage): boolean {
    const rt = this.#peers.get(peer);
    if (!rt?.channel || rt.state !== "up") return false;
    return rt.channel.send(encodeLinkMessage(message));
  }

  /**
   * Records a peer to link with (from `connect` or an invite) and dials it.
   * Resolves with its link row once the attempt settles or `waitMs` passes.
   */
  async connect(
    target: { nodeId: NodeId; host: string; port: number; fingerprint?: string },
    waitMs = 10_000,
  ): Promise<LinkInfo> {
    if (target.nodeId === this.#o.self.nodeId) {
      throw new FederationError("Cannot connect: that is this node's own id");
    }
    const store = this.#o.store;
    const existing = store.getPeer(target.nodeId);
    if (existing?.publicKey && target.fingerprint) {
      const fp = await fullFingerprint(existing.publicKey);
      if (!fingerprintMatches(fp, target.fingerprint)) {
        throw new FederationError(
          `Cannot connect: ${target.nodeId} is pinned to key ${shortFingerprint(fp)}, ` +
            "but the invite names another key",
        );
      }
    }
    store.putPeer({
      nodeId: target.nodeId,
      publicKey: existing?.publicKey ?? null,
      expectedFingerprint: target.fingerprint ?? existing?.expectedFingerprint ?? null,
      host: target.host,
      port: target.port,
      state: "linked",
      createdAtMs: existing?.createdAtMs ?? this.#o.clock.nowMs(),
      lastError: null,
      lastErrorAtMs: null,
    });
    const rt = this.#runtime(target.nodeId);
    rt.backoffMs = 0;
    const settled = this.#waitSettled(target.nodeId, waitMs);
    if (rt.state !== "up") this.#scheduleDial(target.nodeId, 0);
    await settled;
    return this.links().find((l) => l.peer === target.nodeId)!;
  }

  /** Lets a pending node link; dials it when it left an endpoint. */
  approve(nodeId: NodeId): LinkInfo {
    const rec = this.#o.store.getPeer(nodeId);
    if (!rec || rec.state === "linked") {
      throw new FederationError(`Cannot approve ${nodeId}: no link request from it is waiting`);
    }
    this.#o.store.putPeer({ ...rec, state: "linked", lastError: null, lastErrorAtMs: null });
    this.#log.info("link approved", { peer: nodeId });
    const rt = this.#runtime(nodeId);
    rt.backoffMs = 0;
    if (rec.host && rec.port) this.#scheduleDial(nodeId, 0);
    else this.#setState(nodeId, "down");
    return this.links().find((l) => l.peer === nodeId)!;
  }

  /** Refuses a node: its link is closed and further attempts are turned away. */
  reject(nodeId: NodeId): void {
    const rec = this.#o.store.getPeer(nodeId);
    if (!rec) throw new FederationError(`Cannot reject ${nodeId}: this node does not know it`);
    this.#o.store.putPeer({ ...rec, state: "rejected" });
    const rt = this.#runtime(nodeId);
    if (rt.timer !== null) this.#o.clock.clearTimer(rt.timer);
    rt.timer = null;
    rt.channel?.close("rejected by the owner");
    this.#setState(nodeId, "refused");
    this.#log.info("link rejected", { peer: nodeId });
  }

  /**
   * Closes the link to a misbehaving peer (it may link again after the usual
   * backoff); the reason is logged and recorded as its last error.
   */
  disconnect(peer: NodeId, reason: string): void {
    const rt = this.#peers.get(peer);
    if (!rt?.channel) return;
    this.#log.warn("link closed: peer misbehaved", { peer, why: reason });
    this.#recordError(peer, `disconnected: ${reason}`);
    rt.penaltyMs = Math.min(this.#o.maxBackoffMs, Math.max(5_000, rt.penaltyMs * 2));
    rt.channel.close(reason, 1008);
  }

  /** Closes the link to a node and forgets it (its pin too). */
  remove(nodeId: NodeId): void {
    const rt = this.#peers.get(nodeId);
    if (rt) {
      if (rt.timer !== null) this.#o.clock.clearTimer(rt.timer);
      this.#peers.delete(nodeId);
      rt.channel?.close("link removed by the owner");
    }
    this.#fpCache.delete(nodeId);
    this.#o.store.deletePeer(nodeId);
  }

  /** Every known peer with its link state. */
  links(): LinkInfo[] {
    return this.#o.store.listPeers().map((rec) => {
      const rt = this.#peers.get(rec.nodeId);
      const state: LinkState = rec.state === "pending"
        ? "awaiting-owner"
        : rec.state === "rejected"
        ? "refused"
        : rt?.state ?? "down";
      return {
        peer: rec.nodeId,
        state,
        sinceMs: rt?.sinceMs ?? rec.createdAtMs,
        host: rec.host,
        port: rec.port,
        fingerprint: rec.publicKey ? this.#fpCache.get(rec.nodeId) ?? null : null,
        lastError: rec.lastError,
        lastErrorAtMs: rec.lastErrorAtMs,
      };
    });
  }

  #fpCache = new Map<NodeId, string>();

  /** Handles an incoming connection on {@linkcode LINK_PATH}. */
  accept(accepted: Accepted): void {
    this.#acceptAsync(accepted).catch((e) => {
      this.#log.info("incoming link refused", {
        addr: accepted.ws.remoteAddress,
        why: (e as Error).message,
      });
      accepted.ws.close(1008, e instanceof AuthError ? "authentication failed" : "protocol error");
    });
  }

  async #acceptAsync({ ws, authenticated }: Accepted): Promise<void> {
    const timeout = this.#o.handshakeTimeoutMs;
    const { state, message } = await responderHello(this.#o.self, await nextMessage(ws, timeout));
    ws.send(message);
    const { keys, peer } = await responderFinish(state, await nextMessage(ws, timeout));
    const channel = new SecureChannel(ws, keys);
    const verdict = await this.#policy(peer);
    const result = (status: "accepted" | "pending" | "refused", reason: string) =>
      channel.send(encodeLinkMessage({ kind: "result", status, reason }));
    if (verdict.status !== "accepted") {
      result(verdict.status, verdict.reason);
      await channel.flushed();
      channel.close(verdict.reason);
      return;
    }
    // Only a peer let in ends the deadline and makes its address known to the listener.
    authenticated();
    result("accepted", "");
    this.#register(peer.nodeId, channel, peer.nodeId, peer.publicKey);
  }

  async #policy(
    peer: PeerProof,
  ): Promise<{ status: "accepted" | "pending" | "refused"; reason: string }> {
    const store = this.#o.store;
    const rec = store.getPeer(peer.nodeId);
    const now = this.#o.clock.nowMs();
    const fp = await fullFingerprint(peer.publicKey);
    if (rec) {
      const refusal = await this.#checkPins(rec, peer.publicKey, fp);
      if (refusal) return { status: "refused", reason: "key does not match the pinned key" };
      if (rec.state === "rejected") return { status: "refused", reason: "refused by the owner" };
      const endpoint = peer.endpoint ??
        (rec.host && rec.port ? { host: rec.host, port: rec.port } : null);
      store.putPeer({
        ...rec,
        publicKey: peer.publicKey,
        host: rec.host ?? endpoint?.host ?? null,
        port: rec.port ?? endpoint?.port ?? null,
      });
      this.#fpCache.set(peer.nodeId, shortFingerprint(fp));
      if (rec.state === "pending") return { status: "pending", reason: "waiting for the owner" };
      return { status: "accepted", reason: "" };
    }
    store.putPeer({
      nodeId: peer.nodeId,
      publicKey: peer.publicKey,
      expectedFingerprint: null,
      host: peer.endpoint?.host ?? null,
      port: peer.endpoint?.port ?? null,
      state: this.#o.open ? "linked" : "pending",
      createdAtMs: now,
      lastError: null,
      lastErrorAtMs: null,
    });
    this.#fpCache.set(peer.nodeId, shortFingerprint(fp));
    if (this.#o.open) return { status: "accepted", reason: "" };
    this.#log.info("link request waits for approval", {
      peer: peer.nodeId,
      fp: shortFingerprint(fp),
    });
    return { status: "pending", reason: "waiting for the owner" };
  }

  /** Returns a refusal text when the proven key breaks a pin (and records it). */
  async #checkPins(rec: PeerRecord, key: Uint8Array, fp: string): Promise<string | null> {
    let why: string | null = null;
    if (rec.publicKey && !constantTimeEqual(rec.publicKey, key)) {
      why = `refused a different key for ${rec.nodeId}: presented ${shortFingerprint(fp)}, ` +
        `pinned ${shortFingerprint(await fullFingerprint(rec.publicKey))}`;
    } else if (
      !rec.publicKey && rec.expectedFingerprint && !fingerprintMatches(fp, rec.expectedFingerprint)
    ) {
      why = `refused a key for ${rec.nodeId} that does not match the invite: presented ${
        shortFingerprint(fp)
      }`;
    }
    if (why) {
      this.#log.warn("link refused: key mismatch", {
        peer: rec.nodeId,
        presented: shortFingerprint(fp),
      });
      this.#o.store.putPeer({ ...rec, lastError: why, lastErrorAtMs: this.#o.clock.nowMs() });
    }
    return why;
  }

  #runtime(peer: NodeId): Runtime {
    let rt = this.#peers.get(peer);
    if (!rt) {
      rt = {
        channel: null,
        initiator: null,
        state: "down",
        sinceMs: this.#o.clock.nowMs(),
        backoffMs: 0,
        timer: null,
        dialing: false,
        lastReceivedMs: 0,
        penaltyMs: 0,
      };
      this.#peers.set(peer, rt);
    }
    return rt;
  }

  #setState(peer: NodeId, state: LinkState): void {
    const rt = this.#runtime(peer);
    if (rt.state !== state) {
      rt.state = state;
      rt.sinceMs = this.#o.clock.nowMs();
    }
    if (state !== "connecting") {
      for (const w of this.#waiters.get(peer) ?? []) w();
      this.#waiters.delete(peer);
    }
  }

  #waitSettled(peer: NodeId, waitMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.#o.clock.setTimer(resolve, waitMs);
      const list = this.#waiters.get(peer) ?? [];
      list.push(() => {
        this.#o.clock.clearTimer(timer);
        resolve();
      });
      this.#waiters.set(peer, list);
    });
  }

  #scheduleDial(peer: NodeId, delayMs: number): void {
    if (this.#stopped) return;
    const rt = this.#runtime(peer);
    if (rt.timer !== null) this.#o.clock.clearTimer(rt.timer);
    rt.timer = this.#o.clock.setTimer(() => {
      rt.timer = null;
      this.#dial(peer);
    }, delayMs);
  }

  #retry(peer: NodeId): void {
    const rt = this.#runtime(peer);
    rt.backoffMs = Math.min(this.#o.maxBackoffMs, Math.max(500, rt.backoffMs * 2));
    const jitter = rt.backoffMs * (0.8 + Math.random() * 0.4);
    this.#scheduleDial(peer, jitter);
  }

  async #dial(peer: NodeId): Promise<void> {
    const rt = this.#runtime(peer);
    const rec = this.#o.store.getPeer(peer);
    if (this.#stopped || rt.dialing || rt.state === "up" || !rec || rec.state !== "linked") return;
    if (!rec.host || !rec.port) return;
    rt.dialing = true;
    if (rt.state !== "pending-approval" && rt.state !== "refused") {
      this.#setState(peer, "connecting");
    }
    let ws: WsConnection | null = null;
    try {
      const timeout = this.#o.handshakeTimeoutMs;
      ws = await dialWss({
        host: rec.host,
        port: rec.port,
        path: LINK_PATH,
        timeoutMs: timeout,
        maxMessageBytes: this.#o.maxMessageBytes,
      });
      const hello = await initiatorHello(this.#o.self, {
        expected: peer,
        endpoint: this.#o.endpoint,
      });
      ws.send(hello.message);
      const fin = await initiatorFinish(hello.state, await nextMessage(ws, timeout));
      const fp = await fullFingerprint(fin.peer.publicKey);
      const current = this.#o.store.getPeer(peer) ?? rec;
      const refusal = await this.#checkPins(current, fin.peer.publicKey, fp);
      if (refusal) throw new AuthError(refusal);
      if (!current.publicKey) {
        this.#o.store.putPeer({ ...current, publicKey: fin.peer.publicKey });
        this.#log.info("pinned node key", { peer, fp: shortFingerprint(fp) });
      }
      this.#fpCache.set(peer, shortFingerprint(fp));
      ws.send(fin.message);
      const channel = new SecureChannel(ws, fin.keys);
      const first = decodeLinkMessage(
        await nextChannelMessage(channel, timeout),
        this.#o.maxMessageBytes,
      );
      if (first.kind !== "result") throw new FederationError("peer did not answer the link");
      if (first.status === "accepted") {
        rt.dialing = false;
        rt.backoffMs = 0;
        this.#register(peer, channel, this.#o.self.nodeId, fin.peer.publicKey);
        return;
      }
      channel.close("link not accepted");
      this.#setState(peer, first.status === "pending" ? "pending-approval" : "refused");
      if (first.status === "refused") {
        this.#recordError(peer, `refused by ${peer}: ${first.reason}`);
      }
    } catch (e) {
      ws?.destroy();
      const msg = (e as Error).message;
      this.#recordError(peer, msg);
      this.#setState(peer, e instanceof AuthError ? "refused" : "down");
      this.#log.info("link attempt failed", { peer, why: msg });
    } finally {
      rt.dialing = false;
    }
    this.#retry(peer);
  }

  #recordError(peer: NodeId, why: string): void {
    const rec = this.#o.store.getPeer(peer);
    if (rec) {
      this.#o.store.putPeer({ ...rec, lastError: why, lastErrorAtMs: this.#o.clock.nowMs() });
    }
  }

  #register(peer: NodeId, channel: SecureChannel, initiator: NodeId, key: Uint8Array): void {
    const rt = this.#runtime(peer);
    const self = this.#o.self.nodeId;
    if (rt.channel?.open) {
      // Both sides keep the link initiated by the smaller id; a same-direction
      // newcomer replaces the old one (the peer restarted).
      const preferred = self < peer ? self : peer;
      if (rt.initiator === preferred && initiator !== preferred) {
        channel.close("duplicate link");
        return;
      }
      const old = rt.channel;
      rt.channel = null;
      old.close("replaced by a newer link");
    }
    if (rt.timer !== null) this.#o.clock.clearTimer(rt.timer);
    rt.timer = null;
    rt.channel = channel;
    rt.initiator = initiator;
    rt.lastReceivedMs = this.#o.clock.nowMs();
    const latest = this.#o.store.getPeer(peer);
    if (latest?.lastError) {
      this.#o.store.putPeer({ ...latest, lastError: null, lastErrorAtMs: null });
    }
    this.#setState(peer, "up");
    this.#log.info("link up", { peer, initiator });
    channel.onMessage = (bytes) => {
      rt.lastReceivedMs = this.#o.clock.nowMs();
      let m: LinkMessage;
      try {
        m = decodeLinkMessage(bytes, this.#o.maxMessageBytes);
      } catch (e) {
        this.#log.warn("link closed: bad message", { peer, why: (e as Error).message });
        channel.close("protocol error", 1002);
        return;
      }
      if (m.kind === "heartbeat" || m.kind === "result") return;
      if (m.kind === "bye") return channel.close(`peer said bye: ${m.reason}`);
      this.onMessage(peer, m);
    };
    channel.onClose = (reason) => {
      if (rt.channel !== channel) return;
      rt.channel = null;
      this.#setState(peer, "down");
      this.#log.info("link down", { peer, why: reason });
      this.onLinkDown(peer);
      // Redial soon after an ordinary drop; later after a disconnect for misbehaviour.
      if (!this.#stopped) this.#scheduleDial(peer, rt.penaltyMs || 200 + Math.random() * 300);
    };
    this.onLinkUp(peer, key);
  }

  #beat(): void {
    if (this.#stopped) return;
    const now = this.#o.clock.nowMs();
    for (const [peer, rt] of this.#peers) {
      if (!rt.channel || rt.state !== "up") continue;
      if (now - rt.lastReceivedMs > this.#o.deadAfterMs) {
        this.#log.info("link silent: closing", { peer, silentMs: now - rt.lastReceivedMs });
        rt.channel.close("heartbeat timeout");
        continue;
      }
      rt.channel.send(encodeLinkMessage({ kind: "heartbeat" }));
    }
    this.#heartbeat = this.#o.clock.setTimer(() => this.#beat(), this.#o.heartbeatMs);
  }
}
