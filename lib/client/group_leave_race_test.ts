/**
 * Leaving a group races its own answer: our leave proposal is accepted by
 * the home node, a member commits it at once, and that commit (a fan-out,
 * sent at once) can reach us before the home node's answer to the proposal
 * (a receipt, batched). The leave is done either way: the engine, given the
 * commit first, must report it done, not "out of the group".
 */
import assert from "node:assert/strict";
import { FakeClock } from "../clock.ts";
import * as e2e from "../e2e/mod.ts";
import { groupOf, NOW } from "../e2e/_group_testing.ts";
import { DeterministicRandom } from "../e2e/random.ts";
import { type Address, toAddress } from "../ids.ts";
import type { GroupRow, Intent } from "./_group_tables.ts";
import { testGroupEngine } from "./_group_engine_testing.ts";

Deno.test("group leave: the commit that carries it out, before the answer to our proposal, ends the leave as done", async () => {
  const random = new DeterministicRandom("leave-race");
  const { states, people } = await groupOf(["alice", "bob"], random);
  const alice = people.alice.address, bob = toAddress(people.bob.address) as Address;
  // bob proposes leaving; alice reads the proposal and commits it.
  const before = states.bob;
  const leave = await e2e.proposeLeaveGroup({ state: before, random });
  const read = await e2e.processGroupMessage({ state: states.alice, message: leave.proposal });
  const commit = await e2e.commitPendingProposals({ state: read.newState, random });
  assert.deepEqual(commit.removed.map((m) => m.address), [bob]);

  const { store, engine, cleanup } = await testGroupEngine({
    self: bob,
    identity: people.bob.identity,
    clock: new FakeClock(NOW),
    prefix: "group-leave-race-",
  });
  try {
    const home = "node-alice";
    const key = `${e2e.peekGroupMessage(commit.commit).groupId!.toHex()}@${home}`;
    const intent: Intent = { id: "leave-1", attempts: 0, op: "leave", proposedAt: null };
    // As stored once the proposal was handed to the home node, its answer not in yet.
    const g: GroupRow = {
      key,
      name: before.name,
      home,
      state: "active",
      mls: e2e.encodeGroupState(before),
      epoch: before.epoch,
      admins: [alice],
      joined: [alice, bob],
      leaving: [],
      declined: [],
      pending: { what: "leave", op: "proposal", envelopeId: "e1", epoch: before.epoch, intent },
      pendingState: e2e.encodeGroupState(leave.newState),
      intents: [intent],
      outSeq: 0,
      unread: 0,
      lastMessageAtMs: null,
      createdAtMs: NOW,
    };
    store.transaction(() => store.groups.put(g));
    const waiting = engine.wait(intent.id, 10_000);
    const applied = await engine.apply(g, {
      id: "in-1",
      kind: "commit",
      sender: alice,
      bytes: commit.commit,
    });
    assert.equal(applied.kind, "done");
    store.transaction(() => applied.write());
    await applied.after();
    assert.equal(await waiting, true, "the leave is done, not refused");
    assert.equal(store.groups.group(key)?.state, "left");
    // The answer to the proposal, arriving after, changes nothing.
    await engine.settle(key, "e1", true);
    assert.equal(store.groups.group(key)?.state, "left");
  } finally {
    await cleanup();
  }
});
