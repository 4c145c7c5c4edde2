/**
 * The budgets of delivery: what other nodes and local users can make this
 * node keep or do, each a `[Limits]` key (lib/config.ts) with a safe default,
 * counted per key and in total, shown in `status --json` under `budgets`.
 * Keys are proven: origin nodes come out of provenance checks, users out of
 * client authentication.
 *
 * | budget                   | key                | what it bounds                               |
 * | ------------------------ | ------------------ | -------------------------------------------- |
 * | `outbox_rows`/`_bytes`   | local user         | envelopes waiting for their destination      |
 * | `inbox_bytes`            | local user, total  | envelopes kept for clients                   |
 * | `commit_bytes`           | origin node, total | envelopes in memory waiting for their commit |
 * | `pending_requests`       | local user         | chat requests not yet taken by the client    |
 * | `dedup_ids`              | origin node, total | envelope ids remembered against duplicates   |
 * | `requests_per_sender`    | sender address     | chat requests per minute                     |
 * | `requests_per_origin`    | origin node        | chat requests per minute                     |
 * | `messages_per_origin`    | origin node        | messages per minute                          |
 * | `undeliverable`          | origin node        | envelopes for nobody, per minute             |
 */
import { type Budget, type BudgetRegistry, type RateBudget, SenderShare } from "../budget.ts";
import type { Limits } from "../config.ts";
import type { NodeId, UserName } from "../ids.ts";
import type { InboxKind, MessageStore } from "../store/mod.ts";

/** The limits (config.conf `[Limits]`, lib/config.ts has the defaults). */
export type DeliveryLimits = Pick<
  Limits,
  | "outboxRowsPerUser"
  | "outboxBytesPerUser"
  | "inboxBytesPerUser"
  | "inboxBytesTotal"
  | "commitBytesPerOrigin"
  | "commitBytesTotal"
  | "pendingRequestsPerUser"
  | "dedupIdsPerOrigin"
  | "dedupIdsTotal"
  | "requestsPerSenderPerMinute"
  | "requestsPerOriginPerMinute"
  | "messagesPerOriginPerSecond"
  | "undeliverablePerOriginPerMinute"
  | "senderSharePercent"
>;

/** The delivery budgets of one node. */
export class DeliveryBudgets {
  #outboxRows: Budget;
  #outboxBytes: Budget;
  #inboxBytes: Budget;
  #commitBytes: Budget;
  #pendingRequests: Budget;
  #dedup: Budget;
  #requestsBySender: RateBudget;
  #requestsByOrigin: RateBudget;
  #messagesByOrigin: RateBudget;
  #undeliverable: RateBudget;
  /** One origin node's share of each user's inbox bytes (`sender_share_percent`). */
  readonly inboxShare: SenderShare;
  #inboxPerUser: number;

  constructor(registry: BudgetRegistry, limits: DeliveryLimits, store: MessageStore) {
    const l = limits;
    this.inboxShare = new SenderShare(l.senderSharePercent);
    this.#inboxPerUser = l.inboxBytesPerUser;
    this.#outboxRows = registry.budget("outbox_rows", { perKey: l.outboxRowsPerUser });
    this.#outboxBytes = registry.budget("outbox_bytes", { perKey: l.outboxBytesPerUser });
    this.#inboxBytes = registry.budget("inbox_bytes", {
      perKey: l.inboxBytesPerUser,
      total: l.inboxBytesTotal,
    });
    this.#commitBytes = registry.budget("commit_bytes", {
      perKey: l.commitBytesPerOrigin,
      total: l.commitBytesTotal,
    });
    this.#pendingRequests = registry.budget("pending_requests", {
      perKey: l.pendingRequestsPerUser,
    });
    this.#dedup = registry.budget("dedup_ids", {
      perKey: l.dedupIdsPerOrigin,
      total: l.dedupIdsTotal,
    });
    this.#requestsBySender = registry.rate("requests_per_sender", {
      burst: l.requestsPerSenderPerMinute,
      perMinute: l.requestsPerSenderPerMinute,
    });
    this.#requestsByOrigin = registry.rate("requests_per_origin", {
      burst: l.requestsPerOriginPerMinute,
      perMinute: l.requestsPerOriginPerMinute,
    });
    this.#messagesByOrigin = registry.rate("messages_per_origin", {
      burst: l.messagesPerOriginPerSecond * 2,
      perMinute: l.messagesPerOriginPerSecond * 60,
    });
    this.#undeliverable = registry.rate("undeliverable", {
      burst: l.undeliverablePerOriginPerMinute,
      perMinute: l.undeliverablePerOriginPerMinute,
    });
    // What the store already holds counts from the start.
    for (const [user, u] of store.outboxUsage()) {
      this.#outboxRows.set(user, u.rows);
      this.#outboxBytes.set(user, u.bytes);
    }
    for (const [user, u] of store.inboxUsage()) {
      this.#inboxBytes.set(user, u.bytes);
      this.#pendingRequests.set(user, u.requests);
    }
    for (const [origin, n] of store.deliveredUsage()) this.#dedup.set(origin, n);
    for (const r of store.inboxByOrigin()) this.inboxShare.take(r.owner, r.origin, r.bytes);
  }

  /** Room in `owner`'s outbox for one more envelope of `bytes`; taken when true. */
  outboxTake(owner: UserName, bytes: number, nowMs: number): boolean {
    if (!this.#outboxRows.fits(owner) || !this.#outboxBytes.fits(owner, bytes)) {
      this.#outboxRows.refuse(owner, nowMs);
      return false;
    }
    this.#outboxRows.take(owner);
    this.#outboxBytes.take(owner, bytes);
    return true;
  }

  outboxRelease(owner: UserName, bytes: number): void {
    this.#outboxRows.release(owner);
    this.#outboxBytes.release(owner, bytes);
  }

  /**
   * Room in memory for an envelope of `bytes` from `origin` until its commit
   * (a slow disk makes commits wait: lib/node/committer.ts); taken when true.
   */
  commitTake(origin: NodeId, bytes: number, nowMs: number): boolean {
    return this.#commitBytes.take(origin, bytes, nowMs);
  }

  /** An envelope taken by {@linkcode commitTake} was committed (or its commit failed). */
  commitRelease(origin: NodeId, bytes: number): void {
    this.#commitBytes.release(origin, bytes);
  }

  /** A chat request from `sender` (proven to come from `origin`) within both rates. */
  requestRate(sender: string, origin: NodeId, nowMs: number): boolean {
    return this.#requestsBySender.take(sender, nowMs) && this.#requestsByOrigin.take(origin, nowMs);
  }

  /** A message from proven `origin` within its rate. */
  messageRate(origin: NodeId, nowMs: number): boolean {
    return this.#messagesByOrigin.take(origin, nowMs);
  }

  /**
   * Room for an inbox row of `bytes` for `user` and for its de-duplication id
   * (counted against `origin`); taken when true.
   */
  inboxTake(
    user: UserName,
    kind: InboxKind,
    bytes: number,
    origin: NodeId,
    nowMs: number,
  ): boolean {
    const fits = this.#inboxBytes.fits(user, bytes) && this.#dedup.fits(origin) &&
      (kind !== "request" || this.#pendingRequests.fits(user));
    // Within the origin's share of the user's inbox: one node alone fills at most part of it.
    const shared = !fits || this.inboxShare.fits(
      user,
      origin,
      bytes,
      this.#inboxBytes.usedBy(user),
      this.#inboxPerUser,
    );
    if (!fits || !shared) {
      if (!shared || !this.#inboxBytes.fits(user, bytes)) this.#inboxBytes.refuse(user, nowMs);
      else if (!this.#dedup.fits(origin)) this.#dedup.refuse(origin, nowMs);
      else this.#pendingRequests.refuse(user, nowMs);
      return false;
    }
    this.#inboxBytes.take(user, bytes);
    this.inboxShare.take(user, origin, bytes);
    this.#dedup.take(origin);
    if (kind === "request") this.#pendingRequests.take(user);
    return true;
  }

  /** Room for a de-duplication id of a file chunk from `origin`; taken when true. */
  dedupTake(origin: NodeId, nowMs: number): boolean {
    return this.#dedup.take(origin, 1, nowMs);
  }

  /** An inbox row from `origin` (null: not known) went (acknowledged by the client, or expired). */
  inboxRelease(user: UserName, kind: InboxKind, bytes: number, origin: NodeId | null): void {
    if (kind === "notice") return; // notices are this node's own and not counted
    this.#inboxBytes.release(user, bytes);
    if (origin !== null) this.inboxShare.release(user, origin, bytes);
    if (kind === "request") this.#pendingRequests.release(user);
  }

  /** A de-duplication id was forgotten. */
  dedupRelease(origin: NodeId | null): void {
    if (origin !== null) this.#dedup.release(origin);
  }

  /**
   * An envelope from `origin` was for nobody (or refused); false once the
   * origin keeps doing it.
   */
  undeliverable(origin: NodeId, nowMs: number): boolean {
    return this.#undeliverable.take(origin, nowMs);
  }
}
