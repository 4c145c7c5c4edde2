/**
 * Link-state routing between fedchat nodes: signed announcements flooded unchanged,
 * shortest paths over links both ends announce, a directory of listed users with
 * presence, and a simulation to run thousands of routers in one process.
 *
 * The link layer owns the {@linkcode Router}: it calls `linkUp`/`linkDown` as
 * authenticated links come and go, passes announcement frames to
 * `receiveAnnouncement`, and sends what the router hands to its `send` callback
 * (encoded with `encodeAnnouncementFrame`). Delivery reports results with
 * `reportMiss`/`reportDelivered` and resends along `nextHops(dest)`.
 *
 * @example
 * ```ts
 * import { toNodeId } from "../../ids.ts";
 * import { Ed25519AnnouncementSigner, encodeAnnouncementFrame, Router } from "./mod.ts";
 *
 * const links = new Map<string, { send(bytes: Uint8Array): void }>();
 * const router = new Router({
 *   self: toNodeId("alice"),
 *   signer: await Ed25519AnnouncementSigner.generate(),
 *   send: (peer, a, ageMs) => links.get(peer)?.send(encodeAnnouncementFrame({ announcement: a, ageMs })),
 * });
 * router.linkUp(toNodeId("bob")); // after the link handshake; pass bob's key to pin it
 * const hop = router.nextHop(toNodeId("dave")); // undefined until dave is reachable
 * router.stop();
 * ```
 *
 * @module
 */
export {
  type AnnouncedUser,
  ANNOUNCEMENT_SIGNING_LABEL,
  ANNOUNCEMENT_VERSION,
  type AnnouncementBody,
  type AnnouncementFrame,
  type Endpoint,
  MAX_ANNOUNCED_LINKS,
  MAX_ANNOUNCED_USERS,
  MAX_ANNOUNCEMENT_BYTES,
  MAX_SEQ,
  type Presence,
  type SignedAnnouncement,
} from "./announcement.ts";
export {
  decodeAnnouncement,
  decodeAnnouncementFrame,
  encodeAnnouncementBody,
  encodeAnnouncementFrame,
  joinAnnouncement,
  peekAnnouncement,
} from "./announcement_codec.ts";
export {
  type DirectoryEntry,
  type DirectoryPage,
  type DirectoryQuery,
  MAX_DIRECTORY_ENTRIES,
  MAX_DIRECTORY_PAGE,
} from "./directory.ts";
export {
  Ed25519AnnouncementSigner,
  Ed25519AnnouncementVerifier,
  type Ed25519VerifierOptions,
} from "./ed25519_signature.ts";
export { AnnouncementDecodeError, RoutingError } from "./errors.ts";
export { FakeAnnouncementSigner, FakeAnnouncementVerifier } from "./fake_signature.ts";
export { type FirstHop, rankFirstHops } from "./first_hops.ts";
export { type HopPenaltyOptions } from "./hop_penalties.ts";
export {
  type Admission,
  admitOrigin,
  DEFAULT_ORIGIN_LIMITS,
  type OriginLimits,
} from "./origin_budget.ts";
export { OriginIndex } from "./origin_index.ts";
export {
  MemoryOriginPins,
  type OriginPin,
  type OriginPins,
  type PinSource,
} from "./origin_pins.ts";
export {
  type AcceptanceOptions,
  believed,
  checkAnnouncement,
  confirmByDuplicate,
  DEFAULT_MAX_LIFETIME_MS,
  DEFAULT_MAX_SEQ_JUMP,
  type KeyClaim,
  type OriginState,
  pinByLink,
  type Precheck,
  receive,
  type ReceiveResult,
  type RejectReason,
  type Trust,
  UNKNOWN_ORIGIN,
} from "./origin_state.ts";
export { type LocalUser } from "./own_announcer.ts";
export { computeRoutes, type Route, type RouteGraph } from "./route_table.ts";
export { Router } from "./router.ts";
export type {
  BudgetFactory,
  ReceiveKind,
  RouterEvents,
  RouterOptions,
  RoutingStats,
  TableRow,
} from "./router_options.ts";
export {
  type AnnouncementSigner,
  type AnnouncementVerifier,
  signAnnouncement,
  verifyAnnouncement,
} from "./signatures.ts";
export {
  type LinkTraffic,
  type SimNodeOptions,
  type SimObserver,
  Simulation,
  type SimulationOptions,
} from "./sim.ts";
export { SimClock, type SimClockOptions } from "./sim_clock.ts";
export {
  NO_SUSPICION,
  reportDelivered,
  reportMiss,
  type Suspect,
  suspects,
  type SuspicionEntry,
  type SuspicionOptions,
  type SuspicionState,
} from "./suspicion.ts";
