/**
 * What a linked neighbour's traffic costs it. Every envelope a neighbour
 * hands over is judged here from what the forwarder found, keyed on the
 * neighbour's proven id: malformed bytes end the link at once (only the
 * neighbour can have made them, because every hop checks what it forwards);
 * forged or altered envelopes and envelopes over the neighbour's rate are
 * counted and, past their budget, end the link too, with a longer wait before
 * it is dialled again. The decision is a pure function of the counts; the
 * budgets hold the counts.
 */
import type { BudgetRegistry, RateBudget } from "../budget.ts";
import type { NodeId } from "../ids.ts";
import type { ReceiveResult } from "./forwarder.ts";

/** What to do with a neighbour after one envelope. */
export type ConductVerdict =
  | { kind: "ok" }
  /** Drop this envelope (over the rate) but keep the link. */
  | { kind: "drop"; reason: string }
  /** End the link with this reason. */
  | { kind: "disconnect"; reason: string };

/** Limits of {@linkcode PeerConduct}. */
export interface PeerConductOptions {
  /** Envelopes per second a neighbour may hand over (sustained), and its burst. */
  envelopesPerSecond: number;
  /** Forged, altered or unprovable envelopes per minute before the link ends. */
  forgedPerMinute: number;
  /** Envelopes over the rate, per minute, before the link ends. */
  overRatePerMinute: number;
}

/**
 * The decision: given what the forwarder found and whether the neighbour's
 * budgets still had room, what happens to the link.
 */
export function judgeEnvelope(
  input: { result: ReceiveResult; withinRate: boolean; forgedRoom: boolean; overRateRoom: boolean },
): ConductVerdict {
  const { result } = input;
  if (result === "invalid") return { kind: "disconnect", reason: "sent a malformed envelope" };
  if (result === "forged") {
    return input.forgedRoom
      ? { kind: "drop", reason: "forged or altered envelope" }
      : { kind: "disconnect", reason: "sent forged or altered envelopes" };
  }
  if (!input.withinRate) {
    return input.overRateRoom
      ? { kind: "drop", reason: "over its envelope rate" }
      : { kind: "disconnect", reason: "kept sending over its envelope rate" };
  }
  return { kind: "ok" };
}

/** The budgets behind {@linkcode judgeEnvelope}, one set per node. */
export class PeerConduct {
  #rate: RateBudget;
  #forged: RateBudget;
  #overRate: RateBudget;

  constructor(budgets: BudgetRegistry, options: PeerConductOptions) {
    const perSecond = options.envelopesPerSecond;
    this.#rate = budgets.rate("peer_envelopes", {
      burst: perSecond * 2,
      perMinute: perSecond * 60,
    });
    this.#forged = budgets.rate("peer_forged_envelopes", {
      burst: options.forgedPerMinute,
      perMinute: options.forgedPerMinute,
    });
    this.#overRate = budgets.rate("peer_over_rate", {
      burst: options.overRatePerMinute,
      perMinute: options.overRatePerMinute,
    });
  }

  /** Judges one envelope from `peer` at `nowMs`. */
  judge(peer: NodeId, result: ReceiveResult, nowMs: number): ConductVerdict {
    // Malformed bytes end the link whatever the budgets say; only the counts that apply are taken.
    if (result === "invalid") {
      return judgeEnvelope({ result, withinRate: true, forgedRoom: true, overRateRoom: true });
    }
    if (result === "forged") {
      return judgeEnvelope({
        result,
        withinRate: true,
        forgedRoom: this.#forged.take(peer, nowMs),
        overRateRoom: true,
      });
    }
    const withinRate = this.#rate.take(peer, nowMs);
    return judgeEnvelope({
      result,
      withinRate,
      forgedRoom: true,
      overRateRoom: withinRate || this.#overRate.take(peer, nowMs),
    });
  }
}
