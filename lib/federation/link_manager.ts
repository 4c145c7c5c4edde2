/**
 * Keeps the node's links: the shell around link_policy.ts (which decides who
 * may link and what is pinned) and redial.ts (which decides when to dial).
 * It runs handshakes, stores what the decisions return, keeps one channel per
 * peer, sends heartbeats, budgets the nodes waiting for approval (per address,
 * in total, with expiry), and reports state for `links` / `status`.
 */
import { concatBytes } from "@noble/hashes/utils.js";
import type { Budget, RateBudget } from "../budget.ts";
import type { Clock } from "../clock.ts";
import type { NodeId } from "../ids.ts";
import type { Logger } from "../log.ts";
import type { NodeStore, PeerRecord } from "../store/mod.ts";
import { type Accepted, addressKey, dialWss, networkKey, type WsConnection } from "../wss/mod.ts";
import {
  AuthError,
  type Endpoint,
  initiatorFinish,
  initiatorHello,
  type LinkSelf,
  nextChannelMessage,
  nextMessage,
  RECORD_MAX_BYTES,
  responderFinish,
  responderHello,
  SecureChannel,
} from "../channel/mod.ts";
import { ENVELOPE_KINDS, TTL_OFFSET } from "../protocol/mod.ts";
import { FederationError } from "./errors.ts";
import { type BeatState, firstBeat, nextBeat, silentMs } from "./heartbeat.ts";
import { ReadHolds } from "./read_hold.ts";
import {
  decideApprove,
  decideConnect,
  decideIncoming,
  decideOutgoing,
  isStranger,
  type LinkProof,
  type LinkVerdict,
  preferLink,
  type StrangerHolding,
  strangerRoom,
} from "./link_policy.ts";
import {
  decodeLinkMessage,
  encodeLinkMessage,
  envelopeMessageParts,
  type LinkMessage,
} from "./link_message.ts";
import { fingerprintOf, fullFingerprint, shortFingerprint } from "./node_key.ts";
import { PenaltyBar } from "./penalty_bar.ts";
import { Redial } from "./redial.ts";

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
  /** The pinned key's fingerprint, or for a node awaiting approval the one it presented. */
  fingerprint: string | null;
  lastError: string | null;
  lastErrorAtMs: number | null;
  /**
   * While the link is up: `plain` when the handshake proved both nodes hold one TLS session
   * (records go without the channel's own cipher), `sealed` otherwise (a TLS-terminating proxy
   * between them, or no binding); null while it is not up.
   */
  records: "plain" | "sealed" | null;
}

/** What the link layer tells the rest of the node. */
export interface LinkEvents {
  /** A link to `peer` is up (its key is proven). */
  up(peer: NodeId, publicKey: Uint8Array): void;
  /** The link to `peer` went down. */
  down(peer: NodeId): void;
  /** A message arrived from `peer` (heartbeats and results are handled here). */
  message(peer: NodeId, message: LinkMessage): void;
  /** The owner forgot `peer`: its pins go everywhere. */
  forgotten?(peer: NodeId): void;
}

/** Options of {@linkcode LinkManager}. */
export interface LinkManagerOptions {
  self: LinkSelf;
  /** Where others should dial us (sent in HELLO_I). */
  endpoint: Endpoint;
  store: NodeStore;
  clock: Clock;
  log: Logger;
  events: LinkEvents;
  /** Accept unknown nodes without approval. */
  open: boolean;
  maxMessageBytes: number;
  handshakeTimeoutMs: number;
  /**
   * Nodes waiting for approval, keyed by the address key (lib/wss/address_key.ts) they connected
   * from (and in total).
   */
  pendingBudget: Budget;
  /** The same, keyed by network key (an IPv4 /24, an IPv6 /48). Default: unlimited. */
  pendingNetworkBudget?: Budget;
  /** A node waiting for approval is forgotten after this long. */
  pendingTtlMs: number;
  /**
   * Strangers an open node linked at first contact, keyed by the address key
   * (lib/wss/address_key.ts) they connected from (and in total). Default: unlimited.
   */
  openBudget?: Budget;
  /**
   * The same strangers keyed by network (lib/wss/address_key.ts `networkKey`: an IPv4 /24, an
   * IPv6 /48). Default: unlimited. See link_policy.ts `strangerRoom` for who gives way.
   */
  openNetworkBudget?: Budget;
  /** New strangers an open node links, per address key and minute. Default: unlimited. */
  openRate?: RateBudget;
  /** New strangers an open node links, per network key and minute. Default: unlimited. */
  openNetworkRate?: RateBudget;
  /** The key this node knows for `node` from elsewhere (routing), if any. */
  knownKey?(node: NodeId): Uint8Array | undefined;
  /** The local address to dial from (default: the system's choice). */
  localAddress?: string;
  /** The jitter's randomness (tests inject one). */
  random?: () => number;
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
  dialing: boolean;
  lastReceivedMs: number;
}

const SWEEP_MS = 60_000;

/** Where an envelope's kind byte is (the byte before its ttl). */
const KIND_OFFSET = TTL_OFFSET - 1;

/**
 * Whether a message from a record the channel lends (valid only while its handler runs) may
 * go on as it is: a chunk envelope too large to share a record, which a relay seals onward at
 * once (sendParts seals a message of RECORD_MAX_BYTES or more before it returns) and whose
 * destination's spool copies it before `write()` returns. Anything else (announcements,
 * other envelopes, which are kept past the turn) is copied. The byte read here is the one the
 * envelope decoder reads for its kind, so nothing decodes these bytes as another kind.
 */
function mayStayLent(m: LinkMessage): boolean {
  return m.kind === "envelope" && m.bytes.length >= RECORD_MAX_BYTES &&
    m.bytes[KIND_OFFSET] === ENVELOPE_KINDS.chunk.code;
}

/** The link layer of one node. */
export class LinkManager {
  #o: Required<
    Omit<
      LinkManagerOptions,
      | "random"
      | "openBudget"
      | "openNetworkBudget"
      | "openRate"
      | "openNetworkRate"
      | "pendingNetworkBudget"
      | "knownKey"
      | "localAddress"
    >
  >;
  #open: Budget | undefined;
  #openNetwork: Budget | undefined;
  #openRate: RateBudget | undefined;
  #openNetworkRate: RateBudget | undefined;
  #pendingNetwork: Budget | undefined;
  #knownKey: (node: NodeId) => Uint8Array | undefined;
  #localAddress: string | undefined;
  #log: Logger;
  #peers = new Map<NodeId, Runtime>();
  #waiters = new Map<NodeId, Array<() => void>>();
  #redial: Redial;
  /** Peers cut for misbehaviour: until when a link they open is refused. */
  #bars: PenaltyBar;
  #heartbeat: number;
  #beatState: BeatState;
  #sweep: number;
  #stopped = false;
  /** Keys pinned for linked peers, kept in memory: provenance asks for them per envelope. */
  #pins = new Map<NodeId, Uint8Array>();
  #holds: ReadHolds;
  /** Callbacks waiting for a link to be writable again (or to go down): see whenWritable. */
  #drainWaiters = new Map<SecureChannel, Array<() => void>>();

  constructor(options: LinkManagerOptions) {
    this.#o = { heartbeatMs: 500, deadAfterMs: 2000, maxBackoffMs: 30_000, ...options };
    this.#log = options.log.child("links");
    this.#open = options.openBudget;
    this.#openNetwork = options.openNetworkBudget;
    this.#openRate = options.openRate;
    this.#openNetworkRate = options.openNetworkRate;
    this.#pendingNetwork = options.pendingNetworkBudget;
    this.#knownKey = options.knownKey ?? (() => undefined);
    this.#localAddress = options.localAddress;
    const strangers = new Map<string, number>();
    const networks = new Map<string, number>();
    this.#redial = new Redial({
      clock: options.clock,
      random: options.random,
      maxMs: this.#o.maxBackoffMs,
    });
    this.#bars = new PenaltyBar(options.clock);
    for (const rec of options.store.listPeers()) {
      if (rec.state === "pending" && rec.address) this.#hold("pending", rec.address, true);
      if (isStranger(rec)) {
        const k = addressKey(rec.address!);
        strangers.set(k, (strangers.get(k) ?? 0) + 1);
        const net = networkKey(rec.address!);
        networks.set(net, (networks.get(net) ?? 0) + 1);
      }
      this.#notePin(rec);
    }
    for (const [k, n] of strangers) this.#open?.set(k, n);
    for (const [k, n] of networks) this.#openNetwork?.set(k, n);
    this.#holds = new ReadHolds({
      clock: this.#o.clock,
      // Held links' heartbeats wait unread: a hold ends well before one would count as silent.
      maxHoldMs: Math.floor(this.#o.deadAfterMs / 2),
      writable: (peer) => this.writable(peer),
      pause: (peer) => this.#peers.get(peer)?.channel?.ws.pauseReading(),
      resume: (peer) => {
        const rt = this.#peers.get(peer);
        if (!rt?.channel) return;
        // Silence is counted from the release: what the peer sent meanwhile waits unread.
        rt.lastReceivedMs = this.#o.clock.nowMs();
        rt.channel.ws.resumeReading();
      },
    });
    this.#beatState = firstBeat(this.#o.clock.nowMs());
    this.#heartbeat = this.#o.clock.setTimer(() => this.#beat(), this.#o.heartbeatMs);
    this.#sweep = this.#o.clock.setTimer(() => this.#expirePending(), 0);
  }

  /**
   * Starts dialling every linked peer with a known endpoint, but strangers
   * (isStranger): they dialled this node and dial it again, and the endpoint
   * one claims could be anyone's.
   */
  start(): void {
    for (const rec of this.#o.store.listPeers()) {
      if (rec.state === "linked" && !isStranger(rec) && rec.host && rec.port) {
        this.#dialIn(rec.nodeId, 0);
      }
    }
  }

  /** Closes every link and stops dialling. */
  stop(): void {
    this.#stopped = true;
    this.#o.clock.clearTimer(this.#heartbeat);
    this.#o.clock.clearTimer(this.#sweep);
    this.#redial.stop();
    this.#holds.stop();
    for (const rt of this.#peers.values()) rt.channel?.close("node stopping");
    for (const channel of [...this.#drainWaiters.keys()]) this.#drained(channel);
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
    if (message.kind === "envelope") {
      return rt.channel.sendParts(envelopeMessageParts(message.bytes));
    }
    return rt.channel.send(encodeLinkMessage(message));
  }

  /**
   * Sends an envelope this node forwards, as `send` would, the bytes given up:
   * a file chunk that arrived in a lent record goes out from where it arrived
   * (SecureChannel.sendParts' `handOver`), masked in place when this end masks.
   * Nothing may read `bytes` once this returns.
   */
  forward(peer: NodeId, bytes: Uint8Array): boolean {
    const rt = this.#peers.get(peer);
    if (!rt?.channel || rt.state !== "up") return false;
    return rt.channel.sendParts(envelopeMessageParts(bytes), { handOver: true });
  }

  /**
   * Sends an envelope given in parts (a signed one: its unsigned bytes, then its
   * proof), as `send` would send the parts joined. Nothing here refers to the
   * parts once it returns: a message of `RECORD_MAX_BYTES` or more is sealed
   * from them before `sendParts` returns; a smaller one (which waits for the
   * turn's record) is joined into bytes of its own first.
   */
  sendEnvelopeParts(peer: NodeId, parts: readonly Uint8Array[]): boolean {
    const rt = this.#peers.get(peer);
    if (!rt?.channel || rt.state !== "up") return false;
    let n = 0;
    for (const p of parts) n += p.length;
    if (n + 2 < RECORD_MAX_BYTES) {
      return rt.channel.sendParts(envelopeMessageParts(concatBytes(...parts)));
    }
    return rt.channel.sendParts(envelopeMessageParts(parts));
  }

  /** Whether a message to `peer` would be queued below its high-water mark (the link is up). */
  writable(peer: NodeId): boolean {
    const rt = this.#peers.get(peer);
    return rt?.state === "up" && rt.channel?.writable === true;
  }

  /**
   * Calls `fn` once the link to `peer` takes more: now when it is writable (or
   * not up: nothing waits for a link that is not there), else when it drains
   * to its low-water mark or goes down, whichever comes first. The sender's
   * own backpressure for file chunks (a client's next chunk waits for it), so
   * its chunks wait in the client's window and not past the link's pause mark.
   */
  whenWritable(peer: NodeId, fn: () => void): void {
    const channel = this.#peers.get(peer)?.channel;
    if (!channel || this.#peers.get(peer)?.state !== "up" || channel.writable) return fn();
    const list = this.#drainWaiters.get(channel);
    if (list) list.push(fn);
    else this.#drainWaiters.set(channel, [fn]);
  }

  /** `channel` drained or closed: what waited for it goes on. */
  #drained(channel: SecureChannel): void {
    const list = this.#drainWaiters.get(channel);
    if (!list) return;
    this.#drainWaiters.delete(channel);
    for (const fn of list) fn();
  }

  /**
   * Relay backpressure (read_hold.ts): stops reading from `from` while the
   * link to `to`, where something from `from` was just forwarded, is not
   * writable; for at most half the heartbeat-silence limit.
   */
  holdReading(from: NodeId, to: NodeId): void {
    this.#holds.hold(from, to);
  }

  /** Links held now, holds made, holds that ran out (for `status`). */
  holdsView(): { held: number; made: number; ranOut: number } {
    return this.#holds.view();
  }

  /**
   * Records a peer to link with (from `connect` or an invite) and dials it.
   * Resolves with its link row once the attempt settles or `waitMs` passes.
   *
   * @throws {FederationError} its own id; a pinned key the invite contradicts
   */
  async connect(
    target: { nodeId: NodeId; host: string; port: number; fingerprint?: string },
    waitMs = 10_000,
  ): Promise<LinkInfo> {
    if (target.nodeId === this.#o.self.nodeId) {
      throw new FederationError("Cannot connect: that is this node's own id");
    }
    const rec = this.#o.store.getPeer(target.nodeId);
    const decision = decideConnect({
      record: rec,
      target,
      pinnedFingerprint: rec?.publicKey ? await fullFingerprint(rec.publicKey) : null,
      nowMs: this.#o.clock.nowMs(),
    });
    if (decision.kind === "refuse") throw new FederationError(decision.reason);
    this.#release(rec);
    this.#put(decision.record);
    this.#redial.reset(target.nodeId);
    const settled = this.#waitSettled(target.nodeId, waitMs);
    if (this.#runtime(target.nodeId).state !== "up") this.#dialIn(target.nodeId, 0);
    await settled;
    return this.#info(this.#o.store.getPeer(target.nodeId)!);
  }

  /** Lets a waiting node link (pinning the key it presented); dials it when it left an endpoint. */
  approve(nodeId: NodeId): LinkInfo {
    const rec = this.#o.store.getPeer(nodeId);
    const decision = decideApprove(rec);
    if (decision.kind === "refuse") throw new FederationError(decision.reason);
    this.#release(rec);
    this.#put(decision.record);
    this.#log.info("link approved", { peer: nodeId });
    this.#redial.reset(nodeId);
    if (decision.record.host && decision.record.port) this.#dialIn(nodeId, 0);
    else this.#setState(nodeId, "down");
    return this.#info(decision.record);
  }

  /** Refuses a node: its link is closed and further attempts are turned away. */
  reject(nodeId: NodeId): void {
    const rec = this.#o.store.getPeer(nodeId);
    if (!rec) throw new FederationError(`Cannot reject ${nodeId}: this node does not know it`);
    this.#release(rec);
    this.#put({ ...rec, state: "rejected", presentedKey: null, address: null });
    this.#redial.cancel(nodeId);
    this.#runtime(nodeId).channel?.close("rejected by the owner");
    this.#setState(nodeId, "refused");
    this.#log.info("link rejected", { peer: nodeId });
  }

  /**
   * Closes the link to a misbehaving peer; it is dialled again only after a
   * growing wait. The reason is logged and recorded as its last error.
   */
  disconnect(peer: NodeId, reason: string): void {
    const rt = this.#peers.get(peer);
    if (!rt?.channel) return;
    this.#log.warn("link closed: peer misbehaved", { peer, why: reason });
    this.#recordError(peer, `disconnected: ${reason}`);
    this.#redial.penalize(peer);
    this.#bars.bar(peer, this.#o.clock.nowMs() + this.#redial.penaltyOf(peer));
    rt.channel.close(reason, 1008);
  }

  /**
   * Closes the link to a node and forgets it, its pin included (the owner's
   * deliberate step before trusting another key for the id).
   *
   * @throws {FederationError} the node is not known
   */
  forget(nodeId: NodeId): void {
    const rec = this.#o.store.getPeer(nodeId);
    if (!rec) throw new FederationError(`Cannot forget ${nodeId}: this node does not know it`);
    this.#drop(rec, "link forgotten by the owner");
    this.#log.info("link forgotten", { peer: nodeId });
  }

  /** Closes the link to `rec`'s node and forgets the node, its pin included. */
  #drop(rec: PeerRecord, why: string): void {
    const nodeId = rec.nodeId;
    this.#release(rec);
    const rt = this.#peers.get(nodeId);
    this.#redial.forget(nodeId);
    this.#bars.lift(nodeId);
    this.#peers.delete(nodeId);
    rt?.channel?.close(why);
    this.#o.store.deletePeer(nodeId);
    this.#pins.delete(nodeId);
    this.#o.events.forgotten?.(nodeId);
  }

  /**
   * The budgets of strangers (linked at first contact) or of nodes waiting for
   * the owner's approval, by address key and by network key, and which
   * records they count.
   */
  #holders(kind: "stranger" | "pending") {
    return kind === "stranger"
      ? { byAddress: this.#open, byNetwork: this.#openNetwork, holds: isStranger }
      : {
        byAddress: this.#o.pendingBudget as Budget | undefined,
        byNetwork: this.#pendingNetwork,
        holds: (rec: PeerRecord) => rec.state === "pending" && rec.address !== null,
      };
  }

  /** Counts (`take`) or gives back one `kind` record from `address` in both of its budgets. */
  #hold(kind: "stranger" | "pending", address: string, take: boolean): void {
    const { byAddress, byNetwork } = this.#holders(kind);
    const key = addressKey(address);
    const net = networkKey(address);
    if (take) {
      byAddress?.take(key);
      byNetwork?.take(net);
    } else {
      byAddress?.release(key);
      byNetwork?.release(net);
    }
  }

  /** Whether `kind`'s budgets have room for one more from address key `key` in `net`. */
  #fits(kind: "stranger" | "pending", key: string, net: string): boolean {
    const { byAddress, byNetwork } = this.#holders(kind);
    return (byAddress?.fits(key) ?? true) && (byNetwork?.fits(net) ?? true);
  }

  /**
   * Makes room in `kind`'s budgets for one more from address key `key` in
   * network `net`: the one link_policy.ts `strangerRoom` names is forgotten (at
   * most one). A node waiting for approval counts as up there: only the equal
   * share at the total makes one give way.
   * @returns why the newcomer is refused, or undefined when it fits now
   */
  #makeRoom(kind: "stranger" | "pending", key: string, net: string): string | undefined {
    if (this.#fits(kind, key, net)) return undefined;
    const { byAddress, byNetwork, holds } = this.#holders(kind);
    const holding: StrangerHolding[] = [];
    const records = new Map<NodeId, PeerRecord>();
    for (const rec of this.#o.store.listPeers()) {
      if (!holds(rec)) continue;
      records.set(rec.nodeId, rec);
      holding.push({
        nodeId: rec.nodeId,
        address: addressKey(rec.address!),
        network: networkKey(rec.address!),
        createdAtMs: rec.createdAtMs,
        up: kind === "pending" || this.#peers.get(rec.nodeId)?.state === "up",
      });
    }
    const room = strangerRoom({
      strangers: holding,
      address: key,
      network: net,
      limits: {
        perAddress: byAddress?.view().limit ?? Infinity,
        perNetwork: byNetwork?.view().limit ?? Infinity,
        total: byAddress?.view().totalLimit ?? Infinity,
      },
    });
    if (room.kind === "refuse") return room.reason;
    if (room.kind === "evict") {
      const victim = records.get(room.victim)!;
      if (kind === "stranger") this.#drop(victim, "replaced by a newer stranger");
      else {
        this.#release(victim);
        this.#o.store.deletePeer(victim.nodeId);
      }
      this.#log.info(
        `${kind === "stranger" ? "stranger" : "link request"} forgotten to make room`,
        {
          peer: room.victim,
          for: room.scope === "address" ? key : net,
          scope: room.scope,
          up: room.up,
        },
      );
    }
    return this.#fits(kind, key, net) ? undefined : "too many nodes linked; this node is full";
  }

  /** Every known peer with its link state. */
  links(): LinkInfo[] {
    return this.#o.store.listPeers().map((rec) => this.#info(rec));
  }

  #info(rec: PeerRecord): LinkInfo {
    const rt = this.#peers.get(rec.nodeId);
    const key = rec.publicKey ?? rec.presentedKey;
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
      fingerprint: key ? shortFingerprint(fingerprintOf(key)) : null,
      lastError: rec.lastError,
      lastErrorAtMs: rec.lastErrorAtMs,
      records: rt?.state === "up" && rt.channel?.open
        ? rt.channel.plain ? "plain" : "sealed"
        : null,
    };
  }

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
    const { state, message } = await responderHello(this.#o.self, await nextMessage(ws, timeout), {
      binding: ws.tlsBinding,
    });
    ws.send(message);
    const { keys, peer } = await responderFinish(state, await nextMessage(ws, timeout));
    const channel = new SecureChannel(ws, keys);
    const proof: LinkProof = {
      ...peer,
      fingerprint: await fullFingerprint(peer.publicKey),
      address: ws.remoteAddress,
    };
    if (this.#bars.barred(peer.nodeId)) {
      // Cut for misbehaviour: no frame of it is read again before its penalty has run out.
      channel.send(encodeLinkMessage({ kind: "result", status: "refused", reason: "penalized" }));
      await channel.flushed();
      channel.close("penalized for misbehaviour");
      return;
    }
    const rec = this.#o.store.getPeer(peer.nodeId);
    const key = addressKey(ws.remoteAddress);
    const net = networkKey(ws.remoteAddress);
    // A new node waits for the owner only on a closed node (an open one links it: below).
    const pendingRoom = rec !== undefined || this.#o.open ||
      this.#makeRoom("pending", key, net) === undefined;
    const nowMs = this.#o.clock.nowMs();
    const knownKey = rec ? undefined : this.#knownKey(peer.nodeId);
    const decide = (openRefusal?: string) =>
      decideIncoming({
        record: rec,
        proof,
        open: this.#o.open,
        nowMs,
        pendingRoom,
        openRefusal,
        knownKey,
      });
    let verdict = decide();
    // A new stranger: within its address's and its network's rates, and in the budgets (making
    // room if it can).
    if (verdict.kind === "accept" && !rec && isStranger(verdict.record)) {
      if (this.#openRate && !this.#openRate.take(key, nowMs)) {
        verdict = decide("too many new nodes from this address; try again later");
      } else if (this.#openNetworkRate && !this.#openNetworkRate.take(net, nowMs)) {
        verdict = decide("too many new nodes from this network; try again later");
      } else {
        const why = this.#makeRoom("stranger", key, net);
        if (why !== undefined) {
          if (this.#open && !this.#open.fits(key)) this.#open.refuse(key, nowMs);
          else this.#openNetwork?.refuse(net, nowMs);
          verdict = decide(why);
        }
      }
    }
    this.#apply(verdict, proof, rec);
    const result = (status: "accepted" | "pending" | "refused", reason: string) =>
      channel.send(encodeLinkMessage({ kind: "result", status, reason }));
    if (verdict.kind !== "accept") {
      if (verdict.kind === "refuse" && !verdict.keyMismatch && !pendingRoom) {
        this.#o.pendingBudget.refuse(key, this.#o.clock.nowMs());
      }
      result(verdict.kind === "pending" ? "pending" : "refused", verdict.reason);
      await channel.flushed();
      channel.close(verdict.reason);
      return;
    }
    // Only a peer let in ends the deadline and makes its address known to the listener (a
    // stranger's as such: the owner did not vouch for it).
    authenticated({ stranger: isStranger(verdict.record) });
    result("accepted", "");
    this.#register(peer.nodeId, channel, peer.nodeId, peer.publicKey);
  }

  /** Stores what a decision returned, logs refusals, counts a new waiting node. */
  #apply(verdict: LinkVerdict, proof: LinkProof, before: PeerRecord | undefined): void {
    if (verdict.record) {
      if (verdict.kind === "pending" && !before && proof.address) {
        this.#hold("pending", proof.address, true);
      }
      if (verdict.kind === "accept" && !before && isStranger(verdict.record)) {
        this.#hold("stranger", verdict.record.address!, true);
      }
      this.#put(verdict.record);
    }
    if (verdict.kind === "refuse" && verdict.keyMismatch) {
      this.#log.warn("link refused: key mismatch", {
        peer: proof.nodeId,
        presented: shortFingerprint(proof.fingerprint),
      });
    } else if (verdict.kind === "pending" && !before) {
      this.#log.info("link request waits for approval", {
        peer: proof.nodeId,
        fp: shortFingerprint(proof.fingerprint),
      });
    }
  }

  #put(rec: PeerRecord): void {
    this.#o.store.putPeer(rec);
    this.#notePin(rec);
  }

  #notePin(rec: PeerRecord): void {
    if (rec.state === "linked" && rec.publicKey) this.#pins.set(rec.nodeId, rec.publicKey);
    else this.#pins.delete(rec.nodeId);
  }

  /** The key pinned for `peer` by a link (the owner's pin), if it is a linked peer. */
  pinnedKey(peer: NodeId): Uint8Array | undefined {
    return this.#pins.get(peer);
  }

  /** Gives back what `rec` holds of the pending or the strangers' budget. */
  #release(rec: PeerRecord | undefined): void {
    if (rec?.state === "pending" && rec.address) this.#hold("pending", rec.address, false);
    if (rec && isStranger(rec)) this.#hold("stranger", rec.address!, false);
  }

  /** Forgets nodes that waited for approval longer than the configured time. */
  #expirePending(): void {
    if (this.#stopped) return;
    const before = this.#o.clock.nowMs() - this.#o.pendingTtlMs;
    for (const rec of this.#o.store.listPeers()) {
      if (rec.state !== "pending" || rec.createdAtMs > before) continue;
      this.#release(rec);
      this.#o.store.deletePeer(rec.nodeId);
      this.#log.info("link request expired", { peer: rec.nodeId });
    }
    this.#sweep = this.#o.clock.setTimer(() => this.#expirePending(), SWEEP_MS);
  }

  #runtime(peer: NodeId): Runtime {
    let rt = this.#peers.get(peer);
    if (!rt) {
      rt = {
        channel: null,
        initiator: null,
        state: "down",
        sinceMs: this.#o.clock.nowMs(),
        dialing: false,
        lastReceivedMs: 0,
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

  #dialIn(peer: NodeId, delayMs: number): void {
    if (!this.#stopped) this.#redial.at(peer, delayMs, () => void this.#dial(peer));
  }

  async #dial(peer: NodeId): Promise<void> {
    const rt = this.#runtime(peer);
    const rec = this.#o.store.getPeer(peer);
    if (this.#stopped || rt.dialing || rt.state === "up" || !rec || rec.state !== "linked") return;
    if (!rec.host || !rec.port || isStranger(rec)) return;
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
        localAddress: this.#localAddress,
      });
      const hello = await initiatorHello(this.#o.self, {
        expected: peer,
        endpoint: this.#o.endpoint,
        binding: ws.tlsBinding,
      });
      ws.send(hello.message);
      const fin = await initiatorFinish(hello.state, await nextMessage(ws, timeout));
      const proof: LinkProof = {
        ...fin.peer,
        fingerprint: await fullFingerprint(fin.peer.publicKey),
        address: null,
      };
      const current = this.#o.store.getPeer(peer) ?? rec;
      const verdict = decideOutgoing({ record: current, proof, nowMs: this.#o.clock.nowMs() });
      this.#apply(verdict, proof, current);
      if (verdict.kind === "refuse") throw new AuthError(verdict.reason);
      if (!current.publicKey) {
        this.#log.info("pinned node key", { peer, fp: shortFingerprint(proof.fingerprint) });
      }
      ws.send(fin.message);
      const channel = new SecureChannel(ws, fin.keys);
      const first = decodeLinkMessage(
        await nextChannelMessage(channel, timeout),
        this.#o.maxMessageBytes,
      );
      if (first.kind !== "result") throw new FederationError("peer did not answer the link");
      if (first.status === "accepted") {
        rt.dialing = false;
        this.#redial.reset(peer);
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
      if (this.#stopped) return;
      const msg = (e as Error).message;
      // Both sides dialled at once and the peer kept the other link: that one is up, so this
      // attempt's failure says nothing about the peer (no "down", no error, no redial).
      if (rt.channel?.open) {
        this.#log.info("second link attempt closed: a link is up", { peer, why: msg });
        return;
      }
      this.#recordError(peer, msg);
      this.#setState(peer, e instanceof AuthError ? "refused" : "down");
      this.#log.info("link attempt failed", { peer, why: msg });
    } finally {
      rt.dialing = false;
    }
    if (!this.#stopped) this.#redial.afterFailure(peer, () => void this.#dial(peer));
  }

  #recordError(peer: NodeId, why: string): void {
    if (this.#stopped) return;
    const rec = this.#o.store.getPeer(peer);
    if (rec) {
      this.#o.store.putPeer({ ...rec, lastError: why, lastErrorAtMs: this.#o.clock.nowMs() });
    }
  }

  #register(peer: NodeId, channel: SecureChannel, initiator: NodeId, key: Uint8Array): void {
    const rt = this.#runtime(peer);
    if (!channel.open) {
      // It closed between the handshake and here (an await): its close went unheard, and
      // registered it would stay "up", dead, taking traffic until a newer link replaced it.
      this.#log.info("link closed before it was up", { peer, initiator });
      if (!this.#stopped && !rt.channel?.open) {
        this.#setState(peer, "down");
        this.#redial.afterDrop(peer, () => void this.#dial(peer));
      }
      return;
    }
    if (rt.channel?.open) {
      const keep = preferLink({
        self: this.#o.self.nodeId,
        peer,
        existing: rt.initiator!,
        incoming: initiator,
      });
      if (keep === "keep-existing") {
        channel.close("duplicate link");
        return;
      }
      const old = rt.channel;
      rt.channel = null;
      old.close("replaced by a newer link");
    }
    this.#redial.cancel(peer);
    rt.channel = channel;
    rt.initiator = initiator;
    rt.lastReceivedMs = this.#o.clock.nowMs();
    const latest = this.#o.store.getPeer(peer);
    if (latest?.lastError) {
      this.#o.store.putPeer({ ...latest, lastError: null, lastErrorAtMs: null });
    }
    this.#setState(peer, "up");
    this.#log.info("link up", { peer, initiator });
    // File chunks arrive in a buffer the channel reuses (see mayStayLent below).
    channel.lendLargeRecords();
    channel.onMessage = (bytes, lent) => {
      rt.lastReceivedMs = this.#o.clock.nowMs();
      let m: LinkMessage;
      try {
        m = decodeLinkMessage(bytes, this.#o.maxMessageBytes);
        if (lent && !mayStayLent(m)) m = decodeLinkMessage(bytes.slice(), this.#o.maxMessageBytes);
      } catch (e) {
        this.#log.warn("link closed: bad message", { peer, why: (e as Error).message });
        channel.close("protocol error", 1002);
        return;
      }
      if (m.kind === "heartbeat" || m.kind === "result") return;
      if (m.kind === "bye") return channel.close(`peer said bye: ${m.reason}`);
      this.#o.events.message(peer, m);
    };
    channel.onDrain = () => {
      this.#holds.drained(peer);
      this.#drained(channel);
    };
    channel.onClose = (reason) => {
      this.#drained(channel);
      if (rt.channel !== channel) return;
      rt.channel = null;
      this.#holds.down(peer);
      this.#setState(peer, "down");
      this.#log.info("link down", { peer, why: reason });
      this.#o.events.down(peer);
      // Redial soon after an ordinary drop; later after a disconnect for misbehaviour.
      if (!this.#stopped) this.#redial.afterDrop(peer, () => void this.#dial(peer));
    };
    this.#o.events.up(peer, key);
  }

  #beat(): void {
    if (this.#stopped) return;
    const now = this.#o.clock.nowMs();
    // A late beat means this node stalled: the peers' bytes wait unread (lib/federation/heartbeat.ts).
    const lateMs = now - this.#beatState.lastBeatMs - this.#o.heartbeatMs;
    this.#beatState = nextBeat(this.#beatState, now, this.#o.heartbeatMs);
    if (lateMs > this.#o.deadAfterMs) {
      this.#log.info("heartbeat late: this node stalled; links judged from now", { lateMs });
    }
    for (const [peer, rt] of this.#peers) {
      if (!rt.channel || rt.state !== "up") continue;
      // A held link is not read: its silence is counted from its release.
      const silent = this.#holds.isHeld(peer)
        ? 0
        : silentMs(this.#beatState, rt.lastReceivedMs, now);
      if (silent > this.#o.deadAfterMs) {
        this.#log.info("link silent: closing", { peer, silentMs: silent });
        rt.channel.close("heartbeat timeout");
        continue;
      }
      rt.channel.send(encodeLinkMessage({ kind: "heartbeat" }));
    }
    this.#heartbeat = this.#o.clock.setTimer(() => this.#beat(), this.#o.heartbeatMs);
  }
}
