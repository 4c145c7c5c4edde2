/**
 * A member's forged group messages, each far ahead in its key ratchet, cost a
 * step per key before they fail (lib/e2e/group_work_test.ts). The engine counts
 * those steps per group and sender; past FAILED_GROUP_STEPS_PER_MINUTE in a
 * minute, that sender's messages may move its ratchet only a few steps.
 */
import assert from "node:assert/strict";
import { FakeClock } from "../clock.ts";
import * as e2e from "../e2e/mod.ts";
import { groupOf, NOW } from "../e2e/_group_testing.ts";
import { DeterministicRandom } from "../e2e/random.ts";
import { type Address, toAddress } from "../ids.ts";
import type { GroupRow } from "./_group_tables.ts";
import { testGroupEngine } from "./_group_engine_testing.ts";
import { FAILED_GROUP_STEPS_PER_MINUTE } from "./group_rules.ts";

Deno.test("group engine: a member's forged far-ahead messages cost their steps until its budget, then few", async () => {
  const random = new DeterministicRandom("group-work-engine");
  const { states, people } = await groupOf(["alice", "bob"], random);
  const alice = people.alice.address, bob = toAddress(people.bob.address) as Address;
  let a = states.alice;
  const messages: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) {
    const r = await e2e.encryptGroupMessage({ state: a, plaintext: new Uint8Array([i]), random });
    a = r.newState;
    messages.push(r.message);
  }
  const forged = messages[199].slice();
  forged[forged.length - 1] ^= 1;

  const clock = new FakeClock(NOW);
  const { store, engine, cleanup } = await testGroupEngine({
    self: bob,
    identity: people.bob.identity,
    clock,
    prefix: "group-work-",
  });
  try {
    const home = "node-alice";
    const key = `${e2e.peekGroupMessage(forged).groupId!.toHex()}@${home}`;
    const g: GroupRow = {
      key,
      name: states.bob.name,
      home,
      state: "active",
      mls: e2e.encodeGroupState(states.bob),
      epoch: states.bob.epoch,
      admins: [alice],
      joined: [alice, bob],
      leaving: [],
      declined: [],
      pending: null,
      pendingState: null,
      intents: [],
      outSeq: 0,
      unread: 0,
      lastMessageAtMs: null,
      createdAtMs: NOW,
    };
    store.transaction(() => store.groups.put(g));
    const apply = async (bytes: Uint8Array, id: string) =>
      (await engine.apply(g, { id, kind: "application", sender: alice, bytes })).kind;
    for (let i = 0; i < 30; i++) assert.equal(await apply(forged, `f${i}`), "drop");
    // Main had no budget: 30 × 199 = 5,970 steps. Here the budget, then nothing.
    const steps = engine.failedWork().forwardSteps;
    assert.equal(steps, 199 * Math.ceil(FAILED_GROUP_STEPS_PER_MINUTE / 199));
    assert.equal(
      engine.failedWork().limitedMessages,
      30 - Math.ceil(FAILED_GROUP_STEPS_PER_MINUTE / 199),
    );
    // While limited, a real message a few steps ahead still reads; after the minute, any.
    assert.equal(await apply(messages[5], "r5"), "done");
    clock.advance(60_000);
    assert.equal(await apply(messages[199], "r199"), "done");
  } finally {
    await cleanup();
  }
});
