/**
 * Where a mailbox decides: pure functions over the facts the engines gather.
 *
 * - {@linkcode admitCustody}: may this mailbox hold an envelope a sender hands it?
 * - {@linkcode wantsCustody}: should a sender hand an envelope to a mailbox now?
 * - {@linkcode chooseMailbox}: which of the destination's mailboxes?
 */
import type { NodeId } from "../ids.ts";
import type { ReceiptStatus } from "./receipt.ts";

/** What a mailbox found out about an envelope handed to it. */
export interface CustodyFacts {
  /** The inner envelope decoded and its origin's proof verified. */
  proven: boolean;
  /** The inner envelope's origin is the node that handed it over (nobody deposits for others). */
  fromSender: boolean;
  /** The owner of this mailbox agreed to hold envelopes for the inner envelope's destination. */
  served: boolean;
  /** The id is held here already (a resend). */
  alreadyHeld: boolean;
  /** Bytes held now for the destination, from the sender, and in all. */
  heldForNode: number;
  heldFromSender: number;
  heldTotal: number;
  size: number;
  /**
   * Within the sender's share of the destination's quota (at most `sender_share_percent`
   * of the room other senders leave: lib/budget.ts SenderShare).
   */
  withinShare: boolean;
  /** The destination's quota (set by `mailbox serve`), the per-sender and total limits. */
  quotaForNode: number;
  perSender: number;
  total: number;
}

/** The mailbox's answer: `held` when it stored it, else why not (its receipt status). */
export function admitCustody(f: CustodyFacts): ReceiptStatus {
  if (!f.proven || !f.fromSender) return "refused";
  if (!f.served) return "not-served";
  if (f.alreadyHeld) return "held";
  if (
    f.heldForNode + f.size > f.quotaForNode || f.heldFromSender + f.size > f.perSender ||
    f.heldTotal + f.size > f.total || !f.withinShare
  ) return "quota-full";
  return "held";
}

/**
 * Whether an envelope for `dest` goes to a mailbox now: the destination has
 * mailboxes, and it has no route, or it has not answered several sends.
 */
export function wantsCustody(
  f: { hasMailboxes: boolean; hasRoute: boolean; attempts: number; maxDirectAttempts: number },
): boolean {
  return f.hasMailboxes && (!f.hasRoute || f.attempts >= f.maxDirectAttempts);
}

/**
 * The first of `mailboxes` (in their announced order) that this node can
 * reach and that has not refused recently; null when there is none.
 */
export function chooseMailbox(f: {
  mailboxes: readonly NodeId[];
  hasRoute(node: NodeId): boolean;
  refusedUntilMs(node: NodeId): number;
  nowMs: number;
}): NodeId | null {
  for (const m of f.mailboxes) {
    if (f.refusedUntilMs(m) <= f.nowMs && f.hasRoute(m)) return m;
  }
  return null;
}
