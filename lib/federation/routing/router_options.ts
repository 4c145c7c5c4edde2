/** The options, events and answers of {@linkcode Router}. */
import type { Budget, BudgetOptions } from "../../budget.ts";
import type { Clock } from "../../clock.ts";
import type { NodeId } from "../../ids.ts";
import type { Endpoint, SignedAnnouncement } from "./announcement.ts";
import type { HopPenaltyOptions } from "./hop_penalties.ts";
import type { OriginLimits } from "./origin_budget.ts";
import type { OriginIndex } from "./origin_index.ts";
import type { OriginPins } from "./origin_pins.ts";
import type { AcceptanceOptions, RejectReason, Trust } from "./origin_state.ts";
import type { LocalUser } from "./own_announcer.ts";
import type { AnnouncementSigner, AnnouncementVerifier } from "./signatures.ts";
import type { SuspicionOptions } from "./suspicion.ts";

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

/** Makes a named budget; `BudgetRegistry` is one (its budgets then show in `status --json`). */
export interface BudgetFactory {
  budget(name: string, options: BudgetOptions): Budget;
}

/** Options of {@linkcode Router}. */
export interface RouterOptions extends AcceptanceOptions, HopPenaltyOptions, SuspicionOptions {
  /** This node's id. */
  self: NodeId;
  /** Signs this node's announcements; its public key is announced. */
  signer: AnnouncementSigner;
  /**
   * Hands an announcement to the link to `peer`, with the age to give it (encode it with
   * `encodeAnnouncementFrame`); must not throw (a dead link is `linkDown`'s job).
   */
  send(peer: NodeId, announcement: SignedAnnouncement, ageMs: number): void;
  /** Default: Ed25519 through WebCrypto. */
  verifier?: AnnouncementVerifier;
  /** Default: the system clock. Only durations and this node's own expiries are read from it. */
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
  /** Age added at every hop, for time on the wire (OSPF's InfTransDelay). Default 1 s. */
  hopAgeMs?: number;
  /** How often expired announcements are dropped. Default 1 minute. */
  purgeIntervalMs?: number;
  /** Recompute routes at most this often while a penalty decays. Default 1 s. */
  penaltyRecomputeMs?: number;
  /** Routing-origin budgets; missing ones take {@linkcode DEFAULT_ORIGIN_LIMITS}. */
  limits?: Partial<OriginLimits>;
  /** Where the budgets are registered (the node's registry). Default: budgets of its own. */
  budgets?: BudgetFactory;
  /** Durable pins and own-seq reservation. Default none (pins live only in memory). */
  pins?: OriginPins;
  /** Node-id indexes; a simulation shares one between its routers. Default: its own. */
  index?: OriginIndex;
  /** Randomness for refresh jitter. Default Math.random. */
  random?: () => number;
  events?: RouterEvents;
}

/** One row of {@linkcode Router.table}. */
export interface TableRow {
  readonly node: NodeId;
  readonly reachable: boolean;
  readonly nextHop?: NodeId;
  readonly distance?: number;
  readonly seq: number;
  /** When the announcement expires, by this node's clock. */
  readonly expiresAtMs: number;
  readonly endpoint?: Endpoint;
  /** How far the node's key is believed. */
  readonly trust: Trust;
  /** For a provisional node: the neighbour that introduced it. */
  readonly introducedBy?: NodeId;
  /** Extra cost of `nextHop` for this node (refused hand-offs, missing receipts), when any. */
  readonly suspicion?: number;
  /** The mailboxes the node names, when any. */
  readonly mailboxes?: readonly NodeId[];
}

/** What the router holds, for `status --json`. */
export interface RoutingStats {
  readonly origins: number;
  readonly provisional: number;
  readonly provisionalBytes: number;
  readonly live: number;
  readonly neighbours: number;
}
