/**
 * The client's MLS key packages: one-time ones and a last-resort one,
 * published through its node (which hands each one-time package out once).
 * The node says how many are left at every connection and after each one it
 * hands out; below {@linkcode KEY_PACKAGES_LOW} the client makes more, up to
 * {@linkcode KEY_PACKAGES_TARGET}, and a new last-resort one when it has none
 * valid for another week. Secrets are stored before the packages are
 * published, and deleted when a Welcome uses one (never the last-resort one).
 */
import * as e2e from "../e2e/mod.ts";
import { encodeKeyPackageList } from "../protocol/mod.ts";
import type { GroupContext } from "./_group_context.ts";

/** Below this many one-time packages at the node, more are made. */
export const KEY_PACKAGES_LOW = 3;
/** How many one-time packages the client keeps published. */
export const KEY_PACKAGES_TARGET = 8;

/** Keeps the node supplied with key packages. */
export class GroupKeyPackages {
  #ctx: GroupContext;
  #busy = false;

  constructor(ctx: GroupContext) {
    this.#ctx = ctx;
  }

  /** The node has `count` one-time packages of ours (and a last-resort one, or not). */
  async onCount(count: number, lastResort: boolean): Promise<void> {
    if (this.#busy) return;
    const ctx = this.#ctx;
    const now = ctx.clock.nowMs();
    ctx.store.groups.expireKeyPackages(now);
    const oneTime = count < KEY_PACKAGES_LOW ? KEY_PACKAGES_TARGET - count : 0;
    const needLastResort = !lastResort || !ctx.store.groups.hasLastResort(now);
    if (oneTime === 0 && !needLastResort) return;
    this.#busy = true;
    try {
      const made: e2e.GeneratedGroupKeyPackage[] = [];
      for (let i = 0; i < oneTime + (needLastResort ? 1 : 0); i++) {
        made.push(
          await e2e.generateGroupKeyPackage({
            identity: ctx.identity,
            address: ctx.self,
            nowMs: now,
            lastResort: i === oneTime,
          }),
        );
      }
      await ctx.turn.write(() => {
        for (const kp of made) {
          ctx.store.groups.putKeyPackage(kp.ref.toHex(), kp.secret, kp.lastResort, kp.notAfterMs);
        }
      });
      ctx.connection.send({
        type: "keyPackages",
        packages: encodeKeyPackageList(made.map((k) => k.keyPackage)),
      });
      ctx.log.debug("published key packages", { count: made.length });
    } finally {
      this.#busy = false;
    }
  }

  /** Every secret we hold (a Welcome names the one it is for). */
  secrets(): Uint8Array[] {
    return this.#ctx.store.groups.keyPackageSecrets().map((k) => k.secret);
  }

  /** A Welcome used the package `ref`: its secret goes, unless it is the last-resort one. */
  used(ref: Uint8Array, lastResort: boolean): void {
    if (!lastResort) this.#ctx.store.groups.deleteKeyPackage(ref.toHex());
  }
}
