/**
 * A node's delivery on a real store, with the network faked: the in-process
 * tests of the destination's side (lib/node/delivery_test.ts) and of the
 * sender's node (tests/_helpers/sender_node.ts) build it the same way.
 */
import { join } from "node:path";
import { BudgetRegistry, ThrottledLog } from "../../lib/budget.ts";
import type { Clock } from "../../lib/clock.ts";
import { LIMIT_KEYS, type Limits } from "../../lib/config.ts";
import type { NodeId } from "../../lib/ids.ts";
import { SILENT_LOGGER } from "../../lib/log.ts";
import type { Committer } from "../../lib/node/committer.ts";
import { Delivery, type DeliveryNetwork } from "../../lib/node/delivery.ts";
import { DeliveryBudgets } from "../../lib/node/delivery_budgets.ts";
import { FileSpool } from "../../lib/node/file_spool.ts";
import type { GroupService } from "../../lib/node/group_service.ts";
import type { NodeStore } from "../../lib/store/mod.ts";

/** Every limit at its default. */
export const DEFAULT_LIMITS = Object.fromEntries(
  LIMIT_KEYS.map((k) => [k.field, k.default]),
) as unknown as Limits;

/** What the faked delivery is built from. */
export interface FakedDeliveryOptions {
  /** Where the file spool lives (`files` under it). */
  dir: string;
  self: NodeId;
  store: NodeStore;
  committer: Committer;
  clock: Clock;
  /** The one next hop of every destination. */
  hop: NodeId;
  /** The hop an encoded envelope is reported sent to (default: `hop`). */
  sentTo?: NodeId;
  /** What sending a node envelope does (default: "forwarded", nothing kept). */
  send?: DeliveryNetwork["send"];
  /** Sees each encoded envelope sent (before it is reported sent). */
  sentEncoded?: (dest: NodeId, bytes: Uint8Array) => void;
  /** Delivery's `fastGraceMs` (default: delivery's own). */
  fastGraceMs?: number;
  /** Delivery's `earlyBytes` (default: delivery's own). */
  earlyBytes?: number;
  /** Limits other than their defaults. */
  limits?: Partial<Limits>;
  /** The spool's largest file, per-user quota and total (default 1 MiB). */
  spoolBytes?: number;
  /** Delivery's `groups` (default: none). */
  groups?: GroupService;
}

/** The delivery and its spool; the network forwards everything to `hop` and checks nothing. */
export async function fakedDelivery(o: FakedDeliveryOptions) {
  const network: DeliveryNetwork = {
    sendEncoded: (dest, bytes) => {
      o.sentEncoded?.(dest, bytes);
      return o.sentTo ?? o.hop;
    },
    send: o.send ?? (() => "forwarded"),
    reportMiss: () => {},
    reportDelivered: () => {},
    nextHop: () => o.hop,
    disconnect: () => {},
    hasRoute: () => true,
    signOwn: (b) => b,
    verify: () => null,
    mailboxesOf: () => [],
  };
  const spool = await FileSpool.open({
    dir: join(o.dir, "files"),
    maxFileBytes: o.spoolBytes ?? 1 << 20,
    quotaBytes: o.spoolBytes ?? 1 << 20,
    totalBytes: o.spoolBytes ?? 1 << 20,
    keepMs: 60_000,
    log: SILENT_LOGGER,
  });
  const registry = new BudgetRegistry(SILENT_LOGGER, o.clock);
  const budgets = new DeliveryBudgets(
    registry,
    { ...DEFAULT_LIMITS, ...o.limits },
    o.store,
  );
  const delivery = new Delivery({
    self: o.self,
    store: o.store,
    committer: o.committer,
    network,
    spool,
    budgets,
    clock: o.clock,
    log: SILENT_LOGGER,
    throttled: new ThrottledLog(SILENT_LOGGER, o.clock),
    fastGraceMs: o.fastGraceMs,
    earlyBytes: o.earlyBytes,
    groups: o.groups,
  });
  return { delivery, spool, budgets, registry };
}
