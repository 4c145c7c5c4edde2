/**
 * Link-state routing between fedchat nodes: signed announcements flooded unchanged,
 * shortest paths over links both ends announce, a directory of listed users with
 * presence, and a simulation to run thousands of routers in one process.
 *
 * The link layer owns the {@linkcode Router}: it calls `linkUp`/`linkDown` as
 * authenticated links come and go, passes announcement frames to
 * `receiveAnnouncement`, and sends what the router hands to its `send` callback.
 *
 * @example
 * ```ts
 * import { toNodeId } from "../../ids.ts";
 * import { Ed25519AnnouncementSigner, Router } from "./mod.ts";
 *
 * const links = new Map<string, { send(bytes: Uint8Array): void }>();
 * const router = new Router({
 *   self: toNodeId("alice"),
 *   signer: await Ed25519AnnouncementSigner.generate(),
 *   send: (peer, bytes) => links.get(peer)?.send(bytes),
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
  type Endpoint,
  MAX_ANNOUNCED_LINKS,
  MAX_ANNOUNCED_USERS,
  MAX_ANNOUNCEMENT_BYTES,
  type Presence,
  type SignedAnnouncement,
} from "./announcement.ts";
export {
  decodeAnnouncement,
  encodeAnnouncementBody,
  joinAnnouncement,
  peekAnnouncement,
} from "./announcement_codec.ts";
export { type DirectoryEntry } from "./directory.ts";
export {
  Ed25519AnnouncementSigner,
  Ed25519AnnouncementVerifier,
  type Ed25519VerifierOptions,
} from "./ed25519_signature.ts";
export { AnnouncementDecodeError, RoutingError } from "./errors.ts";
export { FakeAnnouncementSigner, FakeAnnouncementVerifier } from "./fake_signature.ts";
export { type HopPenaltyOptions } from "./hop_penalties.ts";
export {
  type AcceptanceOptions,
  checkAnnouncement,
  DEFAULT_MAX_LIFETIME_MS,
  DEFAULT_MAX_SKEW_MS,
  type OriginState,
  type Precheck,
  receive,
  type ReceiveResult,
  type RejectReason,
  UNKNOWN_ORIGIN,
} from "./origin_state.ts";
export { type LocalUser } from "./own_announcer.ts";
export { computeRoutes, type Route, type RouteGraph } from "./route_table.ts";
export { Router } from "./router.ts";
export type { ReceiveKind, RouterEvents, RouterOptions, TableRow } from "./router_options.ts";
export {
  type AnnouncementSigner,
  type AnnouncementVerifier,
  signAnnouncement,
  verifyAnnouncement,
} from "./signatures.ts";
export { type SimObserver, Simulation, type SimulationOptions } from "./sim.ts";
export { SimClock, type SimClockOptions } from "./sim_clock.ts";
