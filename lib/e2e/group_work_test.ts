/**
 * A group message far ahead in its sender's key ratchet costs a step per key
 * before its authentication can fail (RFC 9420 §9.1): processGroupMessage says
 * how many steps a failed message asked for, and takes a lower bound for a
 * sender a caller limits.
 */
import assert from "node:assert/strict";
import * as e2e from "./mod.ts";
import { groupOf } from "./_group_testing.ts";
import { DeterministicRandom } from "./random.ts";

async function fiftyFromAlice() {
  const random = new DeterministicRandom("group-work");
  const { states } = await groupOf(["alice", "bob"], random);
  let alice = states.alice;
  const messages: Uint8Array[] = [];
  for (let i = 0; i < 50; i++) {
    const r = await e2e.encryptGroupMessage({
      state: alice,
      plaintext: new Uint8Array([i]),
      random,
    });
    alice = r.newState;
    messages.push(r.message);
  }
  return { bob: states.bob, messages };
}

Deno.test("processGroupMessage() counts the steps a failed message asked for; none for one that reads", async () => {
  const { bob, messages } = await fiftyFromAlice();
  const forged = messages[49].slice();
  forged[forged.length - 1] ^= 1;
  const work = { forwardSteps: 0 };
  await assert.rejects(
    () => e2e.processGroupMessage({ state: bob, message: forged, work }),
    e2e.DecryptError,
  );
  assert.equal(work.forwardSteps, 49, "generation 49 against a ratchet at 0");
  const ok = { forwardSteps: 0 };
  const r = await e2e.processGroupMessage({ state: bob, message: messages[49], work: ok });
  assert.deepEqual([r.kind, ok.forwardSteps], ["application", 0]);
});

Deno.test("processGroupMessage() with a lower maxForwardSteps refuses a further message and reads a near one", async () => {
  const { bob, messages } = await fiftyFromAlice();
  const work = { forwardSteps: 0 };
  await assert.rejects(
    () => e2e.processGroupMessage({ state: bob, message: messages[49], maxForwardSteps: 16, work }),
    e2e.DecryptError,
  );
  assert.equal(work.forwardSteps, 0, "refused before any step");
  const r = await e2e.processGroupMessage({
    state: bob,
    message: messages[9],
    maxForwardSteps: 16,
  });
  assert.deepEqual(r.kind === "application" ? [...r.plaintext] : null, [9]);
});
