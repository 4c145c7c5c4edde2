/**
 * Hop-by-hop forwarding. An envelope for this node is handed up; any other is
 * sent to the next hop on the shortest path with its ttl lowered, without
 * being stored (the origin keeps it until the destination acknowledges it).
 *
 * Every envelope that arrives on a link is decoded and its provenance proven
 * (provenance.ts) before anything else happens to it, so a relay never
 * passes on what its origin did not make, and whatever fails can only have
 * come from the neighbour that handed it over. This node's own envelopes are
 * collected during one turn of the event loop and proven as one batch.
 *
 * Probes (`ping`): every relay that forwards a probe answers its origin with
 * a probeReply naming itself and its hop number, and the destination answers
 * last, so the origin learns the path without anyone changing the probe.
 */
import { concatBytes } from "@noble/hashes/utils.js";
import type { Clock } from "../clock.ts";
import type { NodeId } from "../ids.ts";
import type { Logger } from "../log.ts";
import {
  type DecodedEnvelope,
  decodeEnvelopeWithAuth,
  DEFAULT_TTL,
  destinationNode,
  encodeEnvelope,
  type Envelope,
  EnvelopeError,
  envelopeIdHex,
  type NodeEnvelope,
  nodeEnvelope,
  TTL_OFFSET,
  withoutAuth,
} from "../protocol/mod.ts";
import { FederationError } from "./errors.ts";
import { CodecError } from "../e2e/base.ts";
import { decodeProbeHop, encodeProbeHop, type ProbeHop } from "./probe_hop.ts";
import type { Provenance, ProvenanceVerdict } from "./provenance.ts";

/** What the forwarder needs from the link layer, the router and the node. */
export interface ForwarderOptions {
  self: NodeId;
  clock: Clock;
  log: Logger;
  provenance: Provenance;
  /** Sends envelope bytes to a linked peer; false when its link is not up or is congested. */
  sendToPeer(peer: NodeId, bytes: Uint8Array): boolean;
  /**
   * Sends a signed envelope of this node's given in parts (unsigned bytes, then
   * the proof), as `sendToPeer` would send them joined; nothing may refer to the
   * parts once it returns. Without it the parts are joined for `sendToPeer`.
   */
  sendPartsToPeer?(peer: NodeId, parts: readonly Uint8Array[]): boolean;
  /**
   * Sends envelope bytes received on a link on to a linked peer, as `sendToPeer`, the bytes
   * given up: nothing reads them once it returns (a file chunk then leaves from the buffer it
   * arrived in). Without it, `sendToPeer`.
   */
  forwardToPeer?(peer: NodeId, bytes: Uint8Array): boolean;
  /** Next hops towards `dest`, best first (the first is used; others after failures). */
  nextHop(dest: NodeId): NodeId | undefined;
  /** Told when a hop could not take an envelope, so it loses preference. */
  reportHopFailure?(peer: NodeId): void;
  /**
   * Told after an envelope from `fromPeer` was forwarded to `hop` (relay
   * backpressure: the link layer may stop reading from `fromPeer` while
   * `hop` is not writable).
   */
  forwarded?(fromPeer: NodeId, hop: NodeId): void;
  /**
   * Calls `fn` once the link to `peer` takes more (now when it does, or when
   * it is not up). A sent envelope's `sent` waits for it (see `sendEncoded`).
   */
  whenWritable?(peer: NodeId, fn: () => void): void;
  /**
   * An envelope addressed to this node, proven (`viaPeer` is the neighbour that
   * handed it over, null when it was made here); `bytes` are without the proof.
   */
  deliverLocal(envelope: Envelope, bytes: Uint8Array, viaPeer: NodeId | null): void;
  /**
   * Test hook: a malicious relay, which may change what it forwards for
   * others, or drop it (null). Never set in a real node.
   */
  alterForwarded?(envelope: Envelope, bytes: Uint8Array): Uint8Array | null;
}

/** Outcome of sending one envelope of this node's. */
export type ForwardResult = "forwarded" | "local" | "no-route";

/** Outcome of bytes received on a link; all but `forwarded`/`local` cost nothing to keep. */
export type ReceiveResult =
  | "forwarded"
  | "local"
  /** No route on, or the ttl ran out: dropped (the origin resends). */
  | "dropped"
  /** Not an envelope, or an unsigned one: only the neighbour can have made it. */
  | "invalid"
  /** The proof fails under the origin's key: altered or forged (or a key conflict). */
  | "forged"
  /** No trusted key for the origin yet. */
  | "unknown-origin";

/** A probe's answer. */
export interface ProbeResult {
  /** Nodes the probe passed, from this node to the destination. */
  path: NodeId[];
  rttMs: number;
}

const VERDICT_RESULT: Record<Exclude<ProvenanceVerdict, "ok">, ReceiveResult> = {
  unsigned: "invalid",
  "bad-proof": "forged",
  "unknown-origin": "unknown-origin",
};

interface Probe {
  hops: Map<number, NodeId>;
  sentAtMs: number;
  finish: (r: ProbeResult) => void;
}

/** Forwards envelopes for one node. */
export class Forwarder {
  #o: ForwarderOptions;
  #probes = new Map<string, Probe>();
  #batch: Array<{ dest: NodeId; bytes: Uint8Array; hop: NodeId; sent?: () => void }> = [];

  constructor(options: ForwarderOptions) {
    this.#o = options;
  }

  /**
   * Sends an envelope made by this node (or hands it up when it is for this
   * node). "forwarded" means a route exists now; the envelope is proven and
   * written at the end of this turn, with everything else sent in it.
   */
  send(envelope: Envelope, bytes = encodeEnvelope(envelope), prefer?: NodeId): ForwardResult {
    const dest = destinationNode(envelope);
    if (dest === this.#o.self) {
      queueMicrotask(() => this.#local(envelope, bytes, null));
      return "local";
    }
    return this.sendEncoded(dest, bytes, prefer) === null ? "no-route" : "forwarded";
  }

  /**
   * Sends unsigned envelope bytes of this node's to another node; returns the
   * neighbour it goes to now, or null when there is no route. It is proven and
   * written at the end of this turn. `prefer` names a neighbour to try first
   * (an answer goes back the way its question came, which is known to work).
   * `sent` is called once nothing here refers to `bytes` any more (proven and
   * written, or given up), when they are to be reused (a client's file chunk);
   * until then they must not change. Not called when there is no route. When
   * the link it went on is over its high-water mark, `sent` waits until that
   * link drains (or goes down): the caller's next chunk waits with it.
   */
  sendEncoded(
    dest: NodeId,
    bytes: Uint8Array,
    prefer?: NodeId,
    sent?: () => void,
  ): NodeId | null {
    const hop = prefer ?? this.#o.nextHop(dest);
    if (!hop) return null;
    this.#batch.push({ dest, bytes, hop, sent });
    if (this.#batch.length === 1) queueMicrotask(() => this.#flush());
    return hop;
  }

  #flush(): void {
    const batch = this.#batch;
    this.#batch = [];
    if (batch.length === 0) return;
    // Signed as parts: a large envelope (a file chunk) is sealed onto its link from its unsigned
    // bytes and its proof, not copied into a fresh buffer with the proof first.
    const signed = this.#o.provenance.signBatchParts(batch.map((b) => b.bytes));
    for (let i = 0; i < batch.length; i++) {
      const dest = batch[i].dest;
      const parts = signed[i];
      let joined: Uint8Array | undefined;
      const send = (peer: NodeId) => {
        if (this.#o.sendPartsToPeer) return this.#o.sendPartsToPeer(peer, parts);
        joined ??= concatBytes(...parts);
        return this.#o.sendToPeer(peer, joined);
      };
      let hop: NodeId | undefined = batch[i].hop;
      if (!send(hop)) {
        const other = this.#o.nextHop(dest);
        hop = other !== hop ? other : undefined;
        if (!hop || !send(hop)) {
          if (hop) this.#o.reportHopFailure?.(hop);
          hop = undefined;
          // Lost for this attempt: the outbox (or the client, for chunks) sends it again.
          this.#o.log.debug("own envelope not sent: no route at flush", { dest });
        }
      }
      const sent = batch[i].sent;
      if (sent && hop && this.#o.whenWritable) this.#o.whenWritable(hop, sent);
      else sent?.();
    }
  }

  /** Handles envelope bytes that arrived on the link from `fromPeer`. */
  receive(fromPeer: NodeId, bytes: Uint8Array): ReceiveResult {
    let decoded: DecodedEnvelope;
    try {
      decoded = decodeEnvelopeWithAuth(bytes);
    } catch (err) {
      if (!(err instanceof EnvelopeError)) throw err;
      this.#o.log.debug("malformed envelope", { peer: fromPeer, why: err.message });
      return "invalid";
    }
    const verdict = this.#o.provenance.verify(bytes, decoded);
    if (verdict !== "ok") return VERDICT_RESULT[verdict];
    const e = decoded.envelope;
    const dest = destinationNode(e);
    if (dest === this.#o.self) {
      this.#local(e, withoutAuth(bytes, decoded), fromPeer);
      return "local";
    }
    if (e.ttl <= 1) return "dropped";
    // The bytes came off our own link decryption and nothing else holds them: lower ttl in place
    // (it is outside the proof).
    bytes[TTL_OFFSET] = e.ttl - 1;
    if (this.#o.alterForwarded) {
      const altered = this.#o.alterForwarded(e, bytes);
      if (altered === null) return "dropped";
      bytes = altered;
    }
    const hop = this.#o.nextHop(dest);
    if (!hop || hop === fromPeer) return "dropped";
    // Proven above; given up here: nothing below reads the bytes (they may be masked in place).
    const sent = this.#o.forwardToPeer
      ? this.#o.forwardToPeer(hop, bytes)
      : this.#o.sendToPeer(hop, bytes);
    if (!sent) {
      this.#o.reportHopFailure?.(hop);
      return "dropped";
    }
    this.#o.forwarded?.(fromPeer, hop);
    if (e.kind === "probe") this.#answerProbe(e, false);
    return "forwarded";
  }

  #local(e: Envelope, bytes: Uint8Array, viaPeer: NodeId | null): void {
    if (e.kind === "probe") return this.#answerProbe(e, true);
    if (e.kind === "probeReply") return this.#probeReplied(e);
    this.#o.deliverLocal(e, bytes, viaPeer);
  }

  /** Sends a probe to `dest` and resolves with the path it took, or rejects after `timeoutMs`. */
  probe(dest: NodeId, timeoutMs = 5000): Promise<ProbeResult> {
    const now = this.#o.clock.nowMs();
    const id = crypto.getRandomValues(new Uint8Array(16));
    const e = nodeEnvelope({
      id,
      kind: "probe",
      from: this.#o.self,
      to: dest,
      body: new Uint8Array(0),
      nowMs: now,
      lifetimeMs: timeoutMs,
    });
    return new Promise((resolve, reject) => {
      const key = envelopeIdHex(id);
      const timer = this.#o.clock.setTimer(() => {
        this.#probes.delete(key);
        reject(new FederationError(`Cannot reach ${dest}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#probes.set(key, {
        hops: new Map(),
        sentAtMs: now,
        finish: (r) => {
          this.#o.clock.clearTimer(timer);
          resolve(r);
        },
      });
      if (this.send(e) === "no-route") {
        this.#o.clock.clearTimer(timer);
        this.#probes.delete(key);
        reject(new FederationError(`Cannot reach ${dest}: no route`));
      }
    });
  }

  #answerProbe(e: NodeEnvelope, final: boolean): void {
    // An origin sets ttl to DEFAULT_TTL; a probe claiming more is not answered.
    if (e.from === this.#o.self || e.ttl > DEFAULT_TTL) return;
    const hop = DEFAULT_TTL - e.ttl + 1;
    this.send(nodeEnvelope({
      kind: "probeReply",
      from: this.#o.self,
      to: e.from,
      body: encodeProbeHop({ probe: e.id, hop, node: this.#o.self, final }),
      nowMs: this.#o.clock.nowMs(),
      lifetimeMs: 10_000,
    }));
  }

  #probeReplied(e: Envelope): void {
    let h: ProbeHop;
    try {
      h = decodeProbeHop(e.body);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      return; // a malformed reply is ignored; the probe times out
    }
    const key = envelopeIdHex(h.probe);
    const probe = this.#probes.get(key);
    // Only the node a reply is proven to come from may name itself.
    if (!probe || h.node !== e.from) return;
    probe.hops.set(h.hop, h.node);
    if (!h.final) return;
    this.#probes.delete(key);
    const path = [this.#o.self, ...[...probe.hops].sort((a, b) => a[0] - b[0]).map(([, n]) => n)];
    probe.finish({ path, rttMs: this.#o.clock.nowMs() - probe.sentAtMs });
  }
}
