/**
 * The owner's mailbox settings: the nodes that hold this node's envelopes
 * while it is away, and the nodes it holds envelopes for. One place for the
 * rules, used by the admin commands (`fedchat mailbox ...`) and by the
 * owner's client in the same process (the federation screen).
 */
import { type NodeId, toNodeId } from "../ids.ts";
import type { Federation } from "../federation/mod.ts";
import type { NodeStore, ServedRecord } from "../store/mod.ts";
import { AdminError } from "./errors.ts";
import type { MailboxService } from "./mailbox_service.ts";

/** Most mailboxes a node names (each is announced with every link-state update). */
export const MAX_OWN_MAILBOXES = 8;

/** Smallest quota a node may serve another with. */
export const MIN_QUOTA_BYTES = 65_536;

/** What {@linkcode MailboxAdmin} needs of a node. */
export interface MailboxAdminNode {
  config: { nodeId: NodeId };
  store: Pick<NodeStore, "ownMailboxes" | "setOwnMailbox">;
  federation: { router: Pick<Federation["router"], "nextHop" | "setMailboxes"> };
  mailbox: Pick<MailboxService, "serve" | "stopServing" | "served">;
}

/** The owner's mailbox commands on one node. Errors are {@linkcode AdminError}s for people. */
export class MailboxAdmin {
  #node: MailboxAdminNode;

  constructor(node: MailboxAdminNode) {
    this.#node = node;
  }

  /** This node's mailboxes, and whether a route to each is known now. */
  own(): Array<{ node: NodeId; reachable: boolean }> {
    return this.#node.store.ownMailboxes().map((id) => ({
      node: id,
      reachable: this.#node.federation.router.nextHop(id) !== undefined,
    }));
  }

  /**
   * Names `nodeId` as a mailbox (announced to every node).
   *
   * @returns the mailboxes now
   * @throws {AdminError} for this node itself, or past {@linkcode MAX_OWN_MAILBOXES}
   */
  add(nodeId: string, nowMs: number): NodeId[] {
    const id = toNodeId(nodeId);
    if (id === this.#node.config.nodeId) {
      throw new AdminError("Cannot add: a node is not its own mailbox");
    }
    const own = this.#node.store.ownMailboxes();
    if (!own.includes(id) && own.length >= MAX_OWN_MAILBOXES) {
      throw new AdminError(`Cannot add: a node names at most ${MAX_OWN_MAILBOXES} mailboxes`);
    }
    this.#node.store.setOwnMailbox(id, true, nowMs);
    return this.#announce();
  }

  /**
   * Stops naming `nodeId` as a mailbox.
   *
   * @returns the mailboxes now
   * @throws {AdminError} when it is not one
   */
  remove(nodeId: string, nowMs: number): NodeId[] {
    const id = toNodeId(nodeId);
    if (!this.#node.store.ownMailboxes().includes(id)) {
      throw new AdminError(`Cannot remove ${id}: it is not one of this node's mailboxes`);
    }
    this.#node.store.setOwnMailbox(id, false, nowMs);
    return this.#announce();
  }

  /**
   * Agrees to hold envelopes for `nodeId`, up to `quotaBytes` (the configured
   * default when absent); serving a node again changes its quota.
   *
   * @throws {AdminError} for this node itself, or a quota below {@linkcode MIN_QUOTA_BYTES}
   */
  serve(nodeId: string, quotaBytes?: unknown): ServedRecord {
    const id = toNodeId(nodeId);
    if (id === this.#node.config.nodeId) throw new AdminError("Cannot serve: that is this node");
    if (
      quotaBytes !== undefined &&
      !(Number.isSafeInteger(quotaBytes) && (quotaBytes as number) >= MIN_QUOTA_BYTES)
    ) {
      throw new AdminError("Cannot serve: the quota must be at least 64K");
    }
    return this.#node.mailbox.serve(id, quotaBytes as number | undefined);
  }

  /** The nodes served, with what is held for each. */
  served(): Array<ServedRecord & { heldBytes: number }> {
    return this.#node.mailbox.served();
  }

  /**
   * Stops taking envelopes for `nodeId` (what is held is still handed over).
   *
   * @throws {AdminError} when this node does not serve it
   */
  stop(nodeId: string): void {
    const id = toNodeId(nodeId);
    if (!this.#node.mailbox.served().some((s) => s.node === id)) {
      throw new AdminError(`Cannot stop: this node does not serve ${id}`);
    }
    this.#node.mailbox.stopServing(id);
  }

  #announce(): NodeId[] {
    const own = this.#node.store.ownMailboxes();
    this.#node.federation.router.setMailboxes(own);
    return own;
  }
}
