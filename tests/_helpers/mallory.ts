/**
 * A hostile node in the caller's process: a raw link layer (./raw_peer.ts) and
 * an announcement signer with the same key, no router. It sends crafted
 * announcements and envelopes, signed with its own key, to real nodes.
 */
import assert from "node:assert/strict";
import {
  type AnnouncementBody,
  Ed25519AnnouncementSigner,
  encodeAnnouncementFrame,
  signAnnouncement,
} from "../../lib/federation/routing/mod.ts";
import { DEFAULT_TTL, type EnvelopeInit } from "../../lib/protocol/mod.ts";
import type { NodeProc } from "./node_proc.ts";
import { type RawPeer, rawPeer } from "./raw_peer.ts";

const HOUR = 3_600_000;

/** An envelope from mallory@mallory to alice@alice, a chat request unless `over` says else. */
export function envelope(over: Partial<EnvelopeInit>): EnvelopeInit {
  const now = Date.now();
  return {
    id: crypto.getRandomValues(new Uint8Array(16)),
    kind: "request",
    ttl: DEFAULT_TTL,
    createdAtMs: now,
    expiresAtMs: now + HOUR,
    from: "mallory@mallory",
    to: "alice@alice",
    body: new Uint8Array([1, 2, 3]),
    ...over,
  } as EnvelopeInit;
}

/** A hostile node: a raw link layer and a signer, no router. */
export class Mallory {
  readonly peer: RawPeer;
  readonly signer: Ed25519AnnouncementSigner;

  private constructor(peer: RawPeer, signer: Ed25519AnnouncementSigner) {
    this.peer = peer;
    this.signer = signer;
  }

  /** A fresh key, node id `id`. */
  static async create(id = "mallory"): Promise<Mallory> {
    const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
      "sign",
      "verify",
    ]) as CryptoKeyPair;
    return new Mallory(
      await rawPeer(id, pair),
      await Ed25519AnnouncementSigner.fromKeyPair(pair),
    );
  }

  /** Links to `p` and asserts the link came up. */
  async dial(p: NodeProc): Promise<void> {
    assert.equal(await this.peer.connect(p.id, p.port), "up");
  }

  /** Signs `over` (origin: this node unless given) with Mallory's key; returns the frame. */
  async frame(over: Partial<AnnouncementBody>): Promise<Uint8Array> {
    const announcement = await signAnnouncement({
      origin: this.peer.id,
      publicKey: this.signer.publicKey,
      seq: 1,
      lifetimeMs: HOUR,
      listed: true,
      links: [],
      users: [],
      ...over,
    }, this.signer);
    return encodeAnnouncementFrame({ announcement, ageMs: 0 });
  }

  /** Sends an announcement frame to `to`; asserts the link took it. */
  send(to: string, bytes: Uint8Array): void {
    assert.ok(this.peer.send(to, { kind: "announce", bytes }), `${this.peer.id} → ${to}`);
  }

  stop(): void {
    this.peer.stop();
  }
}
