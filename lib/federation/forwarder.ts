/**
 * Hop-by-hop forwarding: an envelope for this node is handed up; any other is
 * sent to the next hop on the shortest path with its ttl lowered, without
 * being stored (the origin keeps it until the destination acknowledges).
 * Probes record the path they take, for `ping` and for tests.
 */
import { ByteReader, ByteWriter } from "../e2e/mod.ts";
import type { Clock } from "../clock.ts";
import { type NodeId, toNodeId } from "../ids.ts";
import type { Logger } from "../log.ts";
import {
  decodeEnvelope,
  DEFAULT_TTL,
  destinationNode,
  encodeEnvelope,
  type Envelope,
  envelopeIdHex,
  TTL_OFFSET,
} from "../protocol/mod.ts";
import { FederationError } from "./errors.ts";

/** What the forwarder needs from the link layer and the router. */
export interface ForwarderOptions {
  self: NodeId;
  clock: Clock;
  log: Logger;
  /** Sends envelope bytes to a linked peer; false when its link is not up. */
  sendToPeer(peer: NodeId, bytes: Uint8Array): boolean;
  nextHop(dest: NodeId): NodeId | undefined;
  /** Told when a hop could not take an envelope, so it loses preference. */
  reportHopFailure?(peer: NodeId): void;
  /** An envelope addressed to this node (user or node kind). */
  deliverLocal(envelope: Envelope, bytes: Uint8Array): void;
  /**
   * Test hook: a malicious relay, which may change what it forwards for
   * others. Never set in a real node.
   */
  alterForwarded?(envelope: Envelope, bytes: Uint8Array): Uint8Array;
}

/** Outcome of sending one envelope. */
export type ForwardResult = "forwarded" | "local" | "no-route" | "expired";

/** A probe's answer. */
export interface ProbeResult {
  /** Nodes the probe passed, from this node to the destination. */
  path: NodeId[];
  rttMs: number;
}

function encodePath(path: NodeId[]): Uint8Array {
  const w = new ByteWriter().u8(path.length);
  for (const p of path) w.str16(p);
  return w.finish();
}

function decodePath(bytes: Uint8Array): NodeId[] {
  const r = new ByteReader(bytes, "forwarder");
  const n = r.u8("path length");
  if (n > 64) throw new RangeError("path too long");
  const out: NodeId[] = [];
  for (let i = 0; i < n; i++) out.push(toNodeId(r.str16(32, "hop")));
  r.end();
  return out;
}

/** Forwards envelopes for one node. */
export class Forwarder {
  #o: ForwarderOptions;
  #probes = new Map<string, { resolve: (r: ProbeResult) => void; sentAtMs: number }>();

  constructor(options: ForwarderOptions) {
    this.#o = options;
  }

  /** Sends an envelope from this node (or hands it up when it is for this node). */
  send(envelope: Envelope, bytes = encodeEnvelope(envelope)): ForwardResult {
    return this.#route(envelope, bytes, null);
  }

  /** Handles envelope bytes that arrived on the link from `fromPeer`. */
  receive(fromPeer: NodeId, bytes: Uint8Array): ForwardResult | "invalid" {
    let e: Envelope;
    try {
      e = decodeEnvelope(bytes);
    } catch (err) {
      this.#o.log.warn("dropped a malformed envelope", {
        peer: fromPeer,
        why: (err as Error).message,
      });
      return "invalid";
    }
    return this.#route(e, bytes, fromPeer);
  }

  #route(e: Envelope, bytes: Uint8Array, fromPeer: NodeId | null): ForwardResult {
    const { self, log } = this.#o;
    const dest = destinationNode(e);
    if (e.expiresAtMs < this.#o.clock.nowMs()) {
      log.debug("dropped an expired envelope", { id: envelopeIdHex(e.id) });
      return "expired";
    }
    if (e.kind === "probe" && dest !== self && fromPeer !== null) {
      // Probes record each hop they pass.
      const path = [...decodePath(e.body), self];
      e = { ...e, body: encodePath(path) };
      bytes = encodeEnvelope(e);
    }
    if (dest === self) {
      if (e.kind === "probe") this.#answerProbe(e);
      else if (e.kind === "probeReply") this.#probeReplied(e);
      else this.#o.deliverLocal(e, bytes);
      return "local";
    }
    if (fromPeer !== null) {
      if (e.ttl <= 1) {
        log.info("dropped an envelope whose ttl ran out", {
          id: envelopeIdHex(e.id),
          from: fromPeer,
        });
        return "no-route";
      }
      // The bytes came off our own link decryption and nothing else holds them: lower ttl in place.
      bytes[TTL_OFFSET] = e.ttl - 1;
      if (this.#o.alterForwarded) bytes = this.#o.alterForwarded(e, bytes);
    }
    const hop = this.#o.nextHop(dest);
    if (!hop || hop === fromPeer) return "no-route";
    if (!this.#o.sendToPeer(hop, bytes)) {
      this.#o.reportHopFailure?.(hop);
      return "no-route";
    }
    return "forwarded";
  }

  /** Sends a probe to `dest` and resolves with the path it took, or rejects after `timeoutMs`. */
  probe(dest: NodeId, timeoutMs = 5000): Promise<ProbeResult> {
    const now = this.#o.clock.nowMs();
    const id = crypto.getRandomValues(new Uint8Array(16));
    const e: Envelope = {
      id,
      kind: "probe",
      ttl: DEFAULT_TTL,
      createdAtMs: now,
      expiresAtMs: now + timeoutMs,
      from: this.#o.self,
      to: dest,
      body: encodePath([this.#o.self]),
    };
    return new Promise((resolve, reject) => {
      const key = envelopeIdHex(id);
      const timer = this.#o.clock.setTimer(() => {
        this.#probes.delete(key);
        reject(new FederationError(`Cannot reach ${dest}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#probes.set(key, {
        sentAtMs: now,
        resolve: (r) => {
          this.#o.clock.clearTimer(timer);
          resolve(r);
        },
      });
      const result = this.send(e);
      if (result === "no-route") {
        this.#o.clock.clearTimer(timer);
        this.#probes.delete(key);
        reject(new FederationError(`Cannot reach ${dest}: no route`));
      }
    });
  }

  #answerProbe(e: Envelope): void {
    const now = this.#o.clock.nowMs();
    let path: NodeId[];
    try {
      path = [...decodePath(e.body), this.#o.self];
    } catch {
      return;
    }
    this.send({
      id: e.id,
      kind: "probeReply",
      ttl: DEFAULT_TTL,
      createdAtMs: now,
      expiresAtMs: now + 10_000,
      from: this.#o.self,
      to: e.from,
      body: encodePath(path),
    });
  }

  #probeReplied(e: Envelope): void {
    const pending = this.#probes.get(envelopeIdHex(e.id));
    if (!pending) return;
    this.#probes.delete(envelopeIdHex(e.id));
    try {
      pending.resolve({
        path: decodePath(e.body),
        rttMs: this.#o.clock.nowMs() - pending.sentAtMs,
      });
    } catch { /* a malformed reply is ignored; the probe times out */ }
  }
}
