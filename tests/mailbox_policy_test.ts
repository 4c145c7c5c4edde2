/** The mailbox's pure decisions (lib/node/mailbox_policy.ts). */
import assert from "node:assert/strict";
import {
  admitCustody,
  chooseMailbox,
  type CustodyFacts,
  wantsCustody,
} from "../lib/node/mailbox_policy.ts";
import { type NodeId, toNodeId } from "../lib/ids.ts";

const fits: CustodyFacts = {
  proven: true,
  fromSender: true,
  served: true,
  alreadyHeld: false,
  heldForNode: 0,
  heldFromSender: 0,
  heldTotal: 0,
  size: 1000,
  withinShare: true,
  quotaForNode: 65_536,
  perSender: 65_536,
  total: 1 << 20,
};

Deno.test("admitCustody: holds only proven envelopes from their own origin, for served nodes", () => {
  assert.equal(admitCustody(fits), "held");
  assert.equal(admitCustody({ ...fits, proven: false }), "refused");
  assert.equal(admitCustody({ ...fits, fromSender: false }), "refused");
  assert.equal(admitCustody({ ...fits, served: false }), "not-served");
  // Unproven beats not served: a stranger learns nothing about whom M serves.
  assert.equal(admitCustody({ ...fits, proven: false, served: false }), "refused");
});

Deno.test("admitCustody: each of the three budgets refuses on its own; a resend is held again", () => {
  assert.equal(admitCustody({ ...fits, heldForNode: 65_000 }), "quota-full");
  assert.equal(admitCustody({ ...fits, heldFromSender: 65_000 }), "quota-full");
  assert.equal(admitCustody({ ...fits, heldTotal: (1 << 20) - 999 }), "quota-full");
  assert.equal(admitCustody({ ...fits, withinShare: false }), "quota-full");
  assert.equal(admitCustody({ ...fits, heldForNode: 64_536 }), "held", "exactly at the quota");
  assert.equal(admitCustody({ ...fits, heldForNode: 65_536, alreadyHeld: true }), "held");
});

Deno.test("wantsCustody: only with mailboxes, and only without a route or after failed sends", () => {
  const base = { hasMailboxes: true, hasRoute: true, attempts: 0, maxDirectAttempts: 3 };
  assert.equal(wantsCustody(base), false);
  assert.equal(wantsCustody({ ...base, hasRoute: false }), true);
  assert.equal(wantsCustody({ ...base, attempts: 3 }), true);
  assert.equal(wantsCustody({ ...base, attempts: 2 }), false);
  assert.equal(wantsCustody({ ...base, hasMailboxes: false, hasRoute: false }), false);
});

Deno.test("chooseMailbox: the first reachable one that has not refused lately", () => {
  const [m1, m2, m3] = ["m1", "m2", "m3"].map(toNodeId) as [NodeId, NodeId, NodeId];
  const pick = (reach: NodeId[], refused: Partial<Record<string, number>>) =>
    chooseMailbox({
      mailboxes: [m1, m2, m3],
      hasRoute: (n) => reach.includes(n),
      refusedUntilMs: (n) => refused[n] ?? 0,
      nowMs: 1000,
    });
  assert.equal(pick([m1, m2, m3], {}), m1);
  assert.equal(pick([m2, m3], {}), m2);
  assert.equal(pick([m1, m2, m3], { m1: 2000 }), m2);
  assert.equal(pick([m1, m2, m3], { m1: 1000 }), m1, "a pause that ended");
  assert.equal(pick([m1], { m1: 5000 }), null);
  assert.equal(pick([], {}), null);
});
