/**
 * What a node keeps for mailboxes: the mailboxes it names for itself, the
 * nodes it serves as a mailbox (with their quotas), the sealed envelopes it
 * holds for them, the envelopes it handed to a mailbox and waits to hear
 * about (custody), and the mailboxes other nodes named.
 */
import type { NodeId, UserName } from "../ids.ts";

/** A node this node holds envelopes for, agreed by this node's owner. */
export interface ServedRecord {
  node: NodeId;
  /** Bytes this node holds for it at most. */
  quotaBytes: number;
  addedAtMs: number;
}

/** An envelope held for a served node, proven by its origin, until the node takes it. */
export interface HeldRecord {
  seq: number;
  /** The envelope's id (hex). */
  id: string;
  forNode: NodeId;
  origin: NodeId;
  /** The envelope with its origin's proof, exactly as it was handed over. */
  bytes: Uint8Array;
  /** This node's clock. */
  keepUntilMs: number;
}

/** An envelope this node handed to a mailbox, waiting for its destination's receipt. */
export interface CustodyRecord {
  id: string;
  owner: UserName;
  dest: NodeId;
  mailbox: NodeId;
  /** This node's clock: when its sender is told it failed. */
  expiresAtMs: number;
}

/** Mailbox state in the node's store. */
export interface MailboxStore {
  /** The mailboxes this node names for itself. */
  ownMailboxes(): NodeId[];
  setOwnMailbox(node: NodeId, on: boolean, nowMs: number): void;

  servedNodes(): ServedRecord[];
  putServed(record: ServedRecord): void;
  deleteServed(node: NodeId): void;

  /** Holds envelopes (an id already held is ignored); returns the ids that were new. */
  holdAdd(rows: Array<Omit<HeldRecord, "seq">>): Set<string>;
  /** Up to `limit` held envelopes for `node` after `afterSeq`, oldest first. */
  heldFor(node: NodeId, afterSeq: number, limit: number): HeldRecord[];
  /** Deletes held envelopes; returns how many bytes went, per served node and per origin. */
  heldDelete(ids: string[]): Array<{ forNode: NodeId; origin: NodeId; bytes: number }>;
  /** Bytes held per served node, per origin, and per both (for budgets at start). */
  heldUsage(): {
    byNode: Map<NodeId, number>;
    byOrigin: Map<NodeId, number>;
    byPair: Array<{ forNode: NodeId; origin: NodeId; bytes: number }>;
  };
  /** The origin of the envelope held under `id`, if one is. */
  heldOrigin(id: string): NodeId | undefined;
  /** Served nodes that have something held. */
  heldNodes(): NodeId[];
  /** Up to `limit` held envelopes past their keep-until. */
  heldExpired(nowMs: number, limit: number): HeldRecord[];

  custodyAdd(rows: CustodyRecord[]): void;
  custodyGet(id: string): CustodyRecord | undefined;
  custodyDelete(ids: string[]): void;
  /** Up to `limit` ids in custody for `dest`. */
  custodyFor(dest: NodeId, limit: number): CustodyRecord[];
  /** Destinations with something in custody. */
  custodyDestinations(): NodeId[];
  custodyExpired(nowMs: number, limit: number): CustodyRecord[];

  /** The mailboxes each node named last (learnt from announcements, kept across restarts). */
  knownMailboxes(): Map<NodeId, NodeId[]>;
  setKnownMailboxes(node: NodeId, mailboxes: NodeId[], nowMs: number): void;
}
