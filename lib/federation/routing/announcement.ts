/** The link-state announcement: what one node says about itself, signed by it. */
import type { NodeId, UserName } from "../../ids.ts";

/** Wire version this code writes and reads. */
export const ANNOUNCEMENT_VERSION = 2;
/** Largest encoded announcement accepted (signed part and age), in bytes. */
export const MAX_ANNOUNCEMENT_BYTES = 64 * 1024;
/** Most links one announcement may list. */
export const MAX_ANNOUNCED_LINKS = 1024;
/** Most mailboxes one announcement may name. */
export const MAX_MAILBOXES = 8;
/** Most users one announcement may list. */
export const MAX_ANNOUNCED_USERS = 4096;
/** Length of the origin's Ed25519 public key. */
export const ANNOUNCEMENT_KEY_BYTES = 32;
/** Length of the signature that ends the signed part. */
export const ANNOUNCEMENT_SIGNATURE_BYTES = 64;
/** Length of the unsigned age that follows the signature. */
export const ANNOUNCEMENT_AGE_BYTES = 4;
/** Highest seq an announcement may carry: seqs count announcements, they are not times. */
export const MAX_SEQ = 2 ** 32 - 1;
/** Domain-separation label prefixed to the body before signing. */
export const ANNOUNCEMENT_SIGNING_LABEL = "fedchat-announce-v2\0";

/** Presence of a listed user. */
export type Presence = "online" | "offline";

/** A listed user in an announcement. */
export interface AnnouncedUser {
  readonly name: UserName;
  readonly presence: Presence;
}

/** Where a node can be reached from outside. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** The signed fields of an announcement. */
export interface AnnouncementBody {
  /** The node this announcement speaks for. */
  readonly origin: NodeId;
  /** The origin's raw Ed25519 public key (32 bytes). */
  readonly publicKey: Uint8Array;
  /** Sequence number, a counter of the origin's announcements: a higher one replaces a lower one. */
  readonly seq: number;
  /** How long the announcement lives from when it was issued, by any clock (ms). */
  readonly lifetimeMs: number;
  /** False for an unlisted node, which then announces no users. */
  readonly listed: boolean;
  readonly endpoint?: Endpoint;
  /**
   * Nodes that hold envelopes for the origin while it is away (its mailboxes, at most
   * {@linkcode MAX_MAILBOXES}), sorted; absent or empty when it has none.
   */
  readonly mailboxes?: readonly NodeId[];
  /** Neighbours the origin has a live link to, sorted, without duplicates. */
  readonly links: readonly NodeId[];
  /** Listed users, sorted by name, without duplicates. */
  readonly users: readonly AnnouncedUser[];
}

/**
 * An announcement as received or issued: its fields and the exact signed bytes. The age is
 * not part of it: it travels beside it ({@linkcode AnnouncementFrame}) and changes per hop.
 */
export interface SignedAnnouncement extends AnnouncementBody {
  readonly version: typeof ANNOUNCEMENT_VERSION;
  readonly signature: Uint8Array;
  /** The signed region of {@linkcode SignedAnnouncement.bytes}. */
  readonly body: Uint8Array;
  /** Body and signature, as signed by the origin; relays forward these unchanged. */
  readonly bytes: Uint8Array;
}

/** An announcement in transit: signed bytes plus the age the sender gives it. */
export interface AnnouncementFrame {
  readonly announcement: SignedAnnouncement;
  /** Time since the origin issued it, as the sender counts (clock-free: durations only). */
  readonly ageMs: number;
}

/** Builds the exact message that is signed: label || body. */
export function announcementSigningMessage(body: Uint8Array): Uint8Array {
  const message = new Uint8Array(LABEL_BYTES.length + body.length);
  message.set(LABEL_BYTES, 0);
  message.set(body, LABEL_BYTES.length);
  return message;
}

const LABEL_BYTES = new TextEncoder().encode(ANNOUNCEMENT_SIGNING_LABEL);
