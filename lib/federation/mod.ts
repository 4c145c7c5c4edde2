/**
 * Federation: node identity, authenticated links, and (in routing/) paths.
 *
 * @module
 */
export { AuthError, FederationError, ProtocolError } from "./errors.ts";
export {
  fingerprintMatches,
  fullFingerprint,
  loadOrCreateNodeKey,
  NODE_KEY_FILE,
  type NodeKey,
  shortFingerprint,
} from "./node_key.ts";
export { formatInvite, type Invite, parseInvite } from "./invite.ts";
export { LINK_PATH, type LinkInfo, LinkManager, type LinkState } from "./link_manager.ts";
export type { LinkMessage } from "./link_message.ts";
export { createFederation, type Federation, type FederationOptions } from "./federation.ts";
export type { Forwarder, ForwardResult, ProbeResult, ReceiveResult } from "./forwarder.ts";
export type { ProvenanceVerdict } from "./provenance.ts";
export type { DirectoryEntry, LocalUser, TableRow } from "./routing/mod.ts";
