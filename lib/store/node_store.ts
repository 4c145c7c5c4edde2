/** What the node keeps durably, as an interface with swappable backends. */
import type { NodeId } from "../ids.ts";
import type { MailboxStore } from "./mailbox_store.ts";
import type { MessageStore } from "./message_store.ts";
import type { OriginPinStore } from "./sqlite_origin_pins.ts";

/**
 * A peer's standing: `linked` (we keep a link to it), `pending` (it asked to
 * link and waits for the owner), `rejected` (the owner said no).
 */
export type PeerState = "linked" | "pending" | "rejected";

/** One known node. */
export interface PeerRecord {
  nodeId: NodeId;
  /** Pinned raw Ed25519 key; null until a link the owner asked for (or approved) proves one. */
  publicKey: Uint8Array | null;
  /**
   * The key a node waiting for approval presented: shown to the owner, pinned
   * only if they approve it (never a pin by itself).
   */
  presentedKey: Uint8Array | null;
  /** The IP address a waiting node connected from (pending requests are budgeted per address). */
  address: string | null;
  /** Expected fingerprint from an invite, checked at first contact. */
  expectedFingerprint: string | null;
  /** Where to dial it; null when only it dials us. */
  host: string | null;
  port: number | null;
  state: PeerState;
  createdAtMs: number;
  /** Last refusal or failure, for `links` and `status`. */
  lastError: string | null;
  lastErrorAtMs: number | null;
}

/** The node's durable state. */
export interface NodeStore extends MessageStore, MailboxStore {
  getPeer(nodeId: NodeId): PeerRecord | undefined;
  listPeers(): PeerRecord[];
  putPeer(peer: PeerRecord): void;
  deletePeer(nodeId: NodeId): void;
  /** Routing pins that survive restarts (origin keys, own-seq reservation). */
  readonly originPins: OriginPinStore;
  /** Runs SQLite's integrity check (or the backend's equivalent); "ok" when sound. */
  integrityCheck(): string;
  close(): void;
}
