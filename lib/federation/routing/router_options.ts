/** The options, events and answers of {@linkcode Router}. */
import type { Clock } from "../../clock.ts";
import type { NodeId } from "../../ids.ts";
import type { Endpoint, SignedAnnouncement } from "./announcement.ts";
import type { HopPenaltyOptions } from "./hop_penalties.ts";
import type { AcceptanceOptions, RejectReason } from "./origin_state.ts";
import type { LocalUser } from "./own_announcer.ts";
import type { AnnouncementSigner, AnnouncementVerifier } from "./signatures.ts";

/** What became of one received announcement. */
export type ReceiveKind = "accepted" | "duplicate" | "stale" | "rejected";

/** Things a router tells its owner about; all optional. */
export interface RouterEvents {
  /** An announcement was accepted into the database. */
  onAccepted?(origin: NodeId, seq: number): void;
  /** An announcement from `fromPeer` was refused (a misbehaving or broken neighbour). */
  onRejected?(fromPeer: NodeId, reason: RejectReason, origin: string | undefined): void;
  /** This node issued a new announcement. */
  onAnnounced?(announcement: SignedAnnouncement): void;
}

/** Options of {@linkcode Router}. */
export interface RouterOptions extends AcceptanceOptions, HopPenaltyOptions {
  /** This node's id. */
  self: NodeId;
  /** Signs this node's announcements; its public key is announced. */
  signer: AnnouncementSigner;
  /** Hands bytes to the link to `peer`; must not throw (a dead link is `linkDown`'s job). */
  send(peer: NodeId, bytes: Uint8Array): void;
  /** Default: Ed25519 through WebCrypto. */
  verifier?: AnnouncementVerifier;
  /** Default: the system clock. */
  clock?: Clock;
  /** This node's users; only listed ones are announced. Default none. */
  users?: readonly LocalUser[];
  /** Whether the node announces its users at all. Default true. */
  listed?: boolean;
  endpoint?: Endpoint;
  /** At most one own announcement per this many ms; changes in between coalesce. Default 1 s. */
  minAnnounceIntervalMs?: number;
  /** Re-announce unchanged state this often (±10 %). Default 10 minutes. */
  refreshMs?: number;
  /** Lifetime of own announcements. Default 1 hour. */
  lifetimeMs?: number;
  /** How often expired announcements are dropped. Default 1 minute. */
  purgeIntervalMs?: number;
  /** Recompute routes at most this often while a penalty decays. Default 1 s. */
  penaltyRecomputeMs?: number;
  /** Randomness for refresh jitter. Default Math.random. */
  random?: () => number;
  events?: RouterEvents;
  /**
   * For simulations: decoded announcements shared by bytes identity between routers of one
   * process (relays forward the same array). Leave unset in a real node.
   */
  decodeCache?: WeakMap<Uint8Array, SignedAnnouncement>;
}

/** One row of {@linkcode Router.table}. */
export interface TableRow {
  readonly node: NodeId;
  readonly reachable: boolean;
  readonly nextHop?: NodeId;
  readonly distance?: number;
  readonly seq: number;
  readonly expiresAtMs: number;
  readonly endpoint?: Endpoint;
}
