/**
 * Intro bundles: each client publishes a small signed bundle (its identity and
 * a key to encrypt chat-request intros to); a client about to send a request
 * fetches the recipient's bundle through its own node, which asks the
 * recipient's node with a bundleRequest envelope.
 */
import type { Clock } from "../clock.ts";
import type { Forwarder } from "../federation/mod.ts";
import { type Address, type NodeId, splitAddress, toUserName, type UserName } from "../ids.ts";
import { ByteReader, ByteWriter } from "../e2e/base.ts";
import { encodeEnvelope, type Envelope, envelopeIdHex, nodeEnvelope } from "../protocol/mod.ts";
import type { NodeStore } from "../store/mod.ts";

/** Options of {@linkcode BundleService}. */
export interface BundleServiceOptions {
  self: NodeId;
  store: NodeStore;
  clock: Clock;
  forwarder: Pick<Forwarder, "send" | "sendEncoded">;
  /** A request sent through `firstHop` to `dest` got no answer (paths are judged by results). */
  reportMiss(firstHop: NodeId, dest: NodeId): void;
}

/** Fetches bundles for clients and answers other nodes' requests. */
export class BundleService {
  #self: NodeId;
  #store: NodeStore;
  #forwarder: Pick<Forwarder, "send" | "sendEncoded">;
  #clock: Clock;
  #reportMiss: (firstHop: NodeId, dest: NodeId) => void;
  #waiting = new Map<string, (bundle: Uint8Array | null) => void>();

  constructor(o: BundleServiceOptions) {
    this.#self = o.self;
    this.#store = o.store;
    this.#clock = o.clock;
    this.#forwarder = o.forwarder;
    this.#reportMiss = o.reportMiss;
  }

  /**
   * The published bundle of `address`.
   *
   * @throws {Error} no such user, no bundle, unreachable
   */
  async fetch(address: Address, timeoutMs = 5000): Promise<Uint8Array> {
    const { name, node } = splitAddress(address);
    if (node === this.#self) {
      const bundle = this.#store.getAccount(name)?.bundle;
      if (!bundle) {
        throw new Error(
          `Cannot find ${address}: no such user, or their client has not started yet`,
        );
      }
      return bundle;
    }
    const e = nodeEnvelope({
      kind: "bundleRequest",
      from: this.#self,
      to: node,
      body: new ByteWriter().str16(name).finish(),
      nowMs: this.#clock.nowMs(),
      lifetimeMs: timeoutMs,
    });
    const id = e.id;
    const key = envelopeIdHex(id);
    const answer = new Promise<Uint8Array | null>((resolve) => {
      const timer = this.#clock.setTimer(() => {
        this.#waiting.delete(key);
        resolve(null);
      }, timeoutMs);
      this.#waiting.set(key, (b) => {
        this.#clock.clearTimer(timer);
        resolve(b);
      });
    });
    const hop = this.#forwarder.sendEncoded(node, encodeEnvelope(e));
    if (hop === null) {
      this.#waiting.delete(key);
      throw new Error(`Cannot reach ${node}: no route to that node`);
    }
    const bundle = await answer;
    if (bundle === null) {
      this.#reportMiss(hop, node);
      throw new Error(`Cannot reach ${node}: no answer`);
    }
    if (bundle.length === 0) throw new Error(`Cannot find ${address}: no such user on ${node}`);
    return bundle;
  }

  /** Handles bundleRequest and bundleReply envelopes addressed to this node. */
  receive(e: Envelope, viaPeer: NodeId | null = null): void {
    if (e.kind !== "bundleRequest" && e.kind !== "bundleReply") return;
    if (e.kind === "bundleRequest") {
      let name: UserName;
      try {
        const r = new ByteReader(e.body, "bundle service");
        name = toUserName(r.str16(32, "user"));
        r.end();
      } catch {
        return;
      }
      const bundle = this.#store.getAccount(name)?.bundle ?? new Uint8Array(0);
      const reply = nodeEnvelope({
        id: e.id,
        kind: "bundleReply",
        from: this.#self,
        to: e.from,
        body: bundle,
        nowMs: this.#clock.nowMs(),
        lifetimeMs: 10_000,
      });
      this.#forwarder.send(reply, undefined, viaPeer ?? undefined);
    } else if (e.kind === "bundleReply") {
      const key = envelopeIdHex(e.id);
      const resolve = this.#waiting.get(key);
      if (!resolve) return;
      this.#waiting.delete(key);
      resolve(e.body.length <= 8192 ? e.body : null);
    }
  }
}
