import assert from "node:assert/strict";
import { deliver, groupOf, NOW, person, send } from "./_group_testing.ts";
import { flip } from "./_testing.ts";
import { decodeMls, encodeMls } from "./_mls.ts";
import {
  addGroupMembers,
  commitPendingProposals,
  proposeLeaveGroup,
  removeGroupMembers,
  renameGroup,
} from "./group.ts";
import { readGroupKeyPackage } from "./group_key_package.ts";
import { encryptGroupMessage, joinGroup, processGroupMessage } from "./group_message.ts";
import {
  decodeGroupState,
  encodeGroupState,
  GROUP_EPOCH_WINDOW,
  type GroupState,
  MAX_GROUP_FORWARD_STEPS,
  MAX_GROUP_SKIPPED_KEYS,
} from "./group_state.ts";
import { DecryptError, StateError, VerifyError } from "./errors.ts";
import { DeterministicRandom } from "./random.ts";
import { safetyNumber } from "./safety_number.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const NAMES = ["alice", "bob", "carol", "dave", "erin"];

/** The same message with its clear epoch field rewritten (to test keys, not the window check). */
function withEpoch(message: Uint8Array, epoch: number): Uint8Array {
  const m = decodeMls(message, 1 << 22, "test");
  if (m.wireformat !== "mls_private_message") throw new Error("not a private message");
  return encodeMls({ ...m, privateMessage: { ...m.privateMessage, epoch: BigInt(epoch) } });
}

Deno.test("a group of 5: everyone encrypts and everyone else decrypts, with the sender authenticated", async () => {
  const random = new DeterministicRandom("five");
  const { states, people } = await groupOf(NAMES, random);
  for (const n of NAMES) {
    assert.equal(states[n].epoch, 1);
    assert.deepEqual(states[n].members.map((m) => m.address), NAMES.map((x) => people[x].address));
  }
  for (const from of NAMES) {
    const message = await send(states, from, `hello from ${from}`, random);
    const others = NAMES.filter((n) => n !== from);
    for (const n of others) {
      const r = await processGroupMessage({ state: states[n], message });
      assert.equal(r.kind, "application");
      if (r.kind !== "application") continue;
      assert.equal(text(r.plaintext), `hello from ${from}`);
      assert.equal(r.sender.address, people[from].address);
      assert.deepEqual(r.sender.identity, people[from].identity.publicIdentity);
      states[n] = r.newState;
    }
  }
  // The member list carries identities, so a member's safety number is the 1:1 one.
  const bobSeenByAlice = states.alice.members.find((m) => m.address === people.bob.address)!;
  const viaGroup = safetyNumber({
    local: { address: people.alice.address, identity: people.alice.identity.publicIdentity },
    peer: { address: bobSeenByAlice.address, identity: bobSeenByAlice.identity },
  });
  const direct = safetyNumber({
    local: { address: people.alice.address, identity: people.alice.identity.publicIdentity },
    peer: { address: people.bob.address, identity: people.bob.identity.publicIdentity },
  });
  assert.equal(viaGroup.digits, direct.digits);
});

Deno.test("a removed member cannot decrypt the next message, with its new or its old state", async () => {
  const random = new DeterministicRandom("remove");
  const { states } = await groupOf(["alice", "bob", "carol"], random);
  const bobBefore = states.bob;
  const removal = await removeGroupMembers({ state: states.alice, addresses: ["bob@node-bob"] });
  assert.deepEqual(removal.removed.map((m) => m.address), ["bob@node-bob"]);
  states.alice = removal.newState;
  const seen = await processGroupMessage({ state: states.bob, message: removal.commit });
  assert.equal(seen.kind, "commit");
  if (seen.kind !== "commit") return;
  assert.equal(seen.removedSelf, true);
  assert.equal(seen.newState.active, false);
  assert.equal(seen.newState.self, null);
  states.bob = seen.newState;
  const carol = await processGroupMessage({ state: states.carol, message: removal.commit });
  states.carol = carol.newState;
  assert.equal(states.carol.members.length, 2);

  const secret = "after bob left";
  const message = await send(states, "alice", secret, random);
  assert.equal(
    text(
      (await processGroupMessage({ state: states.carol, message }) as {
        plaintext: Uint8Array;
      }).plaintext,
    ),
    secret,
  );
  // Bob's state after the removal, and his state from before it.
  await assert.rejects(processGroupMessage({ state: states.bob, message }), DecryptError);
  await assert.rejects(processGroupMessage({ state: bobBefore, message }), DecryptError);
  // Not only the epoch check: with the clear epoch rewritten to Bob's, his keys fail too.
  await assert.rejects(
    processGroupMessage({ state: states.bob, message: withEpoch(message, states.bob.epoch) }),
    DecryptError,
  );
  // The plaintext is not in the bytes.
  assert.ok(!new TextDecoder("latin1").decode(message).includes(secret));
  await assert.rejects(
    encryptGroupMessage({ state: states.bob, plaintext: new Uint8Array(1) }),
    StateError,
  );
});

Deno.test("a removed member's message from an old epoch is refused, a current member's is read", async () => {
  const random = new DeterministicRandom("late");
  const { states } = await groupOf(["alice", "bob", "carol"], random);
  const fromBob = await send(states, "bob", "bob, late", random);
  const fromCarol = await send(states, "carol", "carol, late", random);
  const removal = await removeGroupMembers({ state: states.alice, addresses: ["bob@node-bob"] });
  states.alice = removal.newState;
  await assert.rejects(
    processGroupMessage({ state: states.alice, message: fromBob }),
    DecryptError,
  );
  const r = await processGroupMessage({ state: states.alice, message: fromCarol });
  assert.equal(r.kind === "application" && text(r.plaintext), "carol, late");
  assert.equal(r.kind === "application" && r.epoch, 1);
});

Deno.test("a member added later cannot decrypt messages from before it joined", async () => {
  const random = new DeterministicRandom("later");
  const { states, people } = await groupOf(["alice", "bob"], random);
  const early = await send(states, "alice", "before erin", random);
  const erin = await person("erin", random);
  const kp = await readGroupKeyPackage(erin.keyPackage.keyPackage, { nowMs: NOW });
  const add = await addGroupMembers({ state: states.alice, keyPackages: [kp], random });
  states.alice = add.newState;
  await deliver(states, add.commit, ["bob"]);
  const joined = await joinGroup({
    welcome: add.welcome!,
    keyPackageSecrets: [people.bob.keyPackage.secret, erin.keyPackage.secret],
  });
  assert.deepEqual(joined.keyPackageRef, erin.keyPackage.ref);
  states.erin = joined.state;
  await assert.rejects(processGroupMessage({ state: states.erin, message: early }), DecryptError);
  await assert.rejects(
    processGroupMessage({ state: states.erin, message: withEpoch(early, states.erin.epoch) }),
    DecryptError,
  );
  const after = await send(states, "alice", "welcome erin", random);
  assert.deepEqual(await deliver(states, after, ["bob", "erin"]), {
    bob: "welcome erin",
    erin: "welcome erin",
  });
});

Deno.test("forward secrecy: a state past the epoch window no longer holds the old epoch's keys", async () => {
  const random = new DeterministicRandom("fs");
  const { states } = await groupOf(["alice", "bob"], random);
  const read = await send(states, "alice", "read at epoch 1", random);
  const unread = await send(states, "alice", "never delivered at epoch 1", random);
  await deliver(states, read, ["bob"]);
  const stored: GroupState[] = [];
  for (let i = 0; i < GROUP_EPOCH_WINDOW + 1; i++) {
    const c = await renameGroup({ state: states.alice, name: `name ${i}`, random });
    states.alice = c.newState;
    await deliver(states, c.commit, ["bob"]);
    stored.push(decodeGroupState(encodeGroupState(states.bob)));
  }
  // Within the window the late message is readable; one epoch more and its keys are gone.
  const within = await processGroupMessage({
    state: stored[GROUP_EPOCH_WINDOW - 1],
    message: unread,
  });
  assert.equal(
    within.kind === "application" && text(within.plaintext),
    "never delivered at epoch 1",
  );
  await assert.rejects(
    processGroupMessage({ state: stored[GROUP_EPOCH_WINDOW], message: unread }),
    DecryptError,
  );
  // A message once read cannot be read again from a later state (its key was used up).
  await assert.rejects(processGroupMessage({ state: stored[0], message: read }), DecryptError);
});

Deno.test("replay: a message read once is refused the second time", async () => {
  const random = new DeterministicRandom("replay");
  const { states } = await groupOf(["alice", "bob"], random);
  const message = await send(states, "alice", "once", random);
  assert.deepEqual(await deliver(states, message, ["bob"]), { bob: "once" });
  await assert.rejects(processGroupMessage({ state: states.bob, message }), DecryptError);
  const commit = await renameGroup({ state: states.alice, name: "x", random });
  await deliver(states, commit.commit, ["bob"]);
  await assert.rejects(
    processGroupMessage({ state: states.bob, message: commit.commit }),
    DecryptError,
  );
});

Deno.test("out of order within a sender's chain is read, up to MAX_GROUP_FORWARD_STEPS ahead", async () => {
  const random = new DeterministicRandom("order");
  const { states } = await groupOf(["alice", "bob"], random);
  const m = [];
  for (let i = 0; i < 5; i++) m.push(await send(states, "alice", `m${i}`, random));
  assert.deepEqual(await deliver(states, m[4], ["bob"]), { bob: "m4" });
  assert.deepEqual(await deliver(states, m[0], ["bob"]), { bob: "m0" });
  assert.deepEqual(await deliver(states, m[2], ["bob"]), { bob: "m2" });
  // Generation 5 + MAX_GROUP_FORWARD_STEPS + 1 is one step too far from Bob's chain at 5.
  let far: Uint8Array = new Uint8Array();
  for (let i = 0; i <= MAX_GROUP_FORWARD_STEPS + 1; i++) {
    far = await send(states, "alice", "x", random);
  }
  await assert.rejects(processGroupMessage({ state: states.bob, message: far }), DecryptError);
});

Deno.test("tampered application messages are refused and leave the state usable", async () => {
  const random = new DeterministicRandom("tamper");
  const { states } = await groupOf(["alice", "bob"], random);
  const message = await send(states, "alice", "intact", random);
  const before = encodeGroupState(states.bob);
  for (const i of [0, 1, 4, 10, 30, message.length - 40, message.length - 1]) {
    await assert.rejects(
      processGroupMessage({ state: states.bob, message: flip(message, i) }),
      (e) => e instanceof DecryptError || e instanceof VerifyError,
      `byte ${i}`,
    );
  }
  assert.deepEqual(encodeGroupState(states.bob), before);
  assert.deepEqual(await deliver(states, message, ["bob"]), { bob: "intact" });
});

Deno.test("a tampered commit is refused; the old state then takes the real one", async () => {
  const random = new DeterministicRandom("tamper-commit");
  const { states } = await groupOf(["alice", "bob", "carol"], random);
  const c = await removeGroupMembers({ state: states.alice, addresses: ["carol@node-carol"] });
  const before = encodeGroupState(states.bob);
  for (const i of [20, 60, c.commit.length >> 1, c.commit.length - 20]) {
    await assert.rejects(
      processGroupMessage({ state: states.bob, message: flip(c.commit, i) }),
      (e) => e instanceof DecryptError || e instanceof VerifyError,
    );
  }
  assert.deepEqual(encodeGroupState(states.bob), before);
  const r = await processGroupMessage({ state: states.bob, message: c.commit });
  assert.equal(r.kind, "commit");
  assert.equal(r.newState.epoch, 2);
});

Deno.test("a tampered or foreign Welcome is refused", async () => {
  const random = new DeterministicRandom("tamper-welcome");
  const { states } = await groupOf(["alice"], random);
  const bob = await person("bob", random);
  const other = await person("other", random);
  const kp = await readGroupKeyPackage(bob.keyPackage.keyPackage, { nowMs: NOW });
  const c = await addGroupMembers({ state: states.alice, keyPackages: [kp], random });
  const welcome = c.welcome!;
  for (const i of [8, 40, welcome.length >> 1, welcome.length - 1]) {
    await assert.rejects(
      joinGroup({ welcome: flip(welcome, i), keyPackageSecrets: [bob.keyPackage.secret] }),
      (e) => e instanceof DecryptError || e instanceof VerifyError,
    );
  }
  await assert.rejects(
    joinGroup({ welcome, keyPackageSecrets: [other.keyPackage.secret] }),
    DecryptError,
  );
  await assert.rejects(
    joinGroup({
      welcome: welcome.subarray(0, welcome.length - 3),
      keyPackageSecrets: [bob.keyPackage.secret],
    }),
    DecryptError,
  );
  const joined = await joinGroup({ welcome, keyPackageSecrets: [bob.keyPackage.secret] });
  assert.equal(joined.state.epoch, 1);
});

Deno.test("messages of another group or from a non-member are refused", async () => {
  const random = new DeterministicRandom("wrong-group");
  const g1 = await groupOf(["alice", "bob"], random);
  const g2 = await groupOf(["eve", "mallory"], random);
  const fromG2 = await send(g2.states, "eve", "not for you", random);
  await assert.rejects(
    processGroupMessage({ state: g1.states.bob, message: fromG2 }),
    DecryptError,
  );
  // Eve, not a member, relabels her message with group 1's id and epoch: the sender data fails.
  const m = decodeMls(fromG2, 1 << 22, "test");
  if (m.wireformat !== "mls_private_message") throw new Error("unexpected");
  const relabelled = encodeMls({
    ...m,
    privateMessage: { ...m.privateMessage, groupId: g1.states.bob.groupId },
  });
  const err = await processGroupMessage({ state: g1.states.bob, message: relabelled }).catch((e) =>
    e
  );
  assert.ok(err instanceof DecryptError);
  // A commit of another group is refused the same way.
  const c = await renameGroup({ state: g2.states.eve, name: "x", random });
  await assert.rejects(
    processGroupMessage({ state: g1.states.bob, message: c.commit }),
    DecryptError,
  );
});

Deno.test("leaving: a proposal, then another member's commit; sending waits for that commit", async () => {
  const random = new DeterministicRandom("leave");
  const { states } = await groupOf(["alice", "bob", "carol"], random);
  const leave = await proposeLeaveGroup({ state: states.bob, random });
  states.bob = leave.newState;
  const got = await deliver(states, leave.proposal, ["alice", "carol"]);
  assert.deepEqual(got, { alice: "proposal", carol: "proposal" });
  assert.equal(states.alice.pendingProposals, 1);
  await assert.rejects(
    encryptGroupMessage({ state: states.alice, plaintext: new Uint8Array(1) }),
    StateError,
  );
  const c = await commitPendingProposals({ state: states.alice, random });
  assert.deepEqual(c.removed.map((m) => m.address), ["bob@node-bob"]);
  states.alice = c.newState;
  const bob = await processGroupMessage({ state: states.bob, message: c.commit });
  assert.equal(bob.kind === "commit" && bob.removedSelf, true);
  const carol = await processGroupMessage({ state: states.carol, message: c.commit });
  assert.equal(carol.kind === "commit" && carol.removed[0].address, "bob@node-bob");
  states.carol = carol.newState;
  const m = await send(states, "carol", "bye bob", random);
  assert.deepEqual(await deliver(states, m, ["alice"]), { alice: "bye bob" });
});

Deno.test("rename is committed and seen by every member", async () => {
  const random = new DeterministicRandom("rename");
  const { states } = await groupOf(["alice", "bob"], random);
  const c = await renameGroup({ state: states.bob, name: "Book club 📚", random });
  const r = await processGroupMessage({ state: states.alice, message: c.commit });
  assert.equal(r.kind === "commit" && r.renamed, "Book club 📚");
  assert.equal(r.newState.name, "Book club 📚");
  assert.equal(c.newState.name, "Book club 📚");
});

Deno.test("a commit refused by policy throws VerifyError and changes nothing", async () => {
  const random = new DeterministicRandom("policy");
  const { states } = await groupOf(["alice", "bob", "carol"], random);
  const c = await removeGroupMembers({ state: states.bob, addresses: ["carol@node-carol"] });
  const before = encodeGroupState(states.alice);
  const seen: string[] = [];
  await assert.rejects(
    processGroupMessage({
      state: states.alice,
      message: c.commit,
      policy: (change) => {
        seen.push(`${change.committer.address} removes ${change.removed[0].address}`);
        return false;
      },
    }),
    VerifyError,
  );
  assert.deepEqual(seen, ["bob@node-bob removes carol@node-carol"]);
  assert.deepEqual(encodeGroupState(states.alice), before);
});

Deno.test("adding refuses an address already in the group", async () => {
  const random = new DeterministicRandom("dup");
  const { states, people } = await groupOf(["alice", "bob"], random);
  const again = await readGroupKeyPackage(
    (await person("bob", random)).keyPackage.keyPackage,
    { nowMs: NOW },
  );
  assert.equal(again.address, people.bob.address);
  await assert.rejects(addGroupMembers({ state: states.alice, keyPackages: [again] }), StateError);
});

Deno.test("transitions never change their input state", async () => {
  const random = new DeterministicRandom("immutable");
  const { states } = await groupOf(["alice", "bob"], random);
  const alice = encodeGroupState(states.alice);
  const bob = encodeGroupState(states.bob);
  const m = await encryptGroupMessage({
    state: states.alice,
    plaintext: new Uint8Array(3),
    random,
  });
  await processGroupMessage({ state: states.bob, message: m.message });
  await renameGroup({ state: states.alice, name: "y", random });
  assert.deepEqual(encodeGroupState(states.alice), alice);
  assert.deepEqual(encodeGroupState(states.bob), bob);
  // So the untouched state can read the same message again.
  const again = await processGroupMessage({ state: states.bob, message: m.message });
  assert.equal(again.kind, "application");
});

Deno.test("an empty commit (a self-update) advances the epoch for everyone", async () => {
  const random = new DeterministicRandom("self-update");
  const { states } = await groupOf(["alice", "bob", "carol"], random);
  const c = await commitPendingProposals({ state: states.bob, random });
  assert.equal(c.added.length + c.removed.length, 0);
  assert.ok(c.commit.length > 1000, "carries an update path");
  states.bob = c.newState;
  assert.deepEqual(await deliver(states, c.commit, ["alice", "carol"]), {
    alice: "commit",
    carol: "commit",
  });
  assert.equal(states.alice.epoch, 2);
  const m = await send(states, "carol", "after update", random);
  assert.deepEqual(await deliver(states, m, ["alice", "bob"]), {
    alice: "after update",
    bob: "after update",
  });
});

Deno.test("a commit echoed back to its committer is refused: the pending state is the one to keep", async () => {
  const random = new DeterministicRandom("echo");
  const { states } = await groupOf(["alice", "bob"], random);
  const c = await renameGroup({ state: states.alice, name: "x", random });
  await assert.rejects(
    processGroupMessage({ state: states.alice, message: c.commit }),
    VerifyError,
  );
  await assert.rejects(processGroupMessage({ state: c.newState, message: c.commit }), DecryptError);
});

Deno.test("skipped keys: at most MAX_GROUP_SKIPPED_KEYS of a sender's chain are kept for late messages", async () => {
  const random = new DeterministicRandom("skipped");
  const { states } = await groupOf(["alice", "bob"], random);
  const m = [];
  for (let i = 0; i < MAX_GROUP_SKIPPED_KEYS + 2; i++) {
    m.push(await send(states, "alice", `m${i}`, random));
  }
  // Bob reads the last first: the keys of the 101 before it are skipped over.
  const last = m.length - 1;
  assert.deepEqual(await deliver(states, m[last], ["bob"]), { bob: `m${last}` });
  const read = [];
  for (let i = 0; i < last; i++) {
    try {
      await deliver(states, m[i], ["bob"]);
      read.push(i);
    } catch (e) {
      assert.ok(e instanceof DecryptError, String(e));
    }
  }
  assert.equal(read.length, MAX_GROUP_SKIPPED_KEYS, `read late: ${read.join(",")}`);
  assert.deepEqual(
    read,
    Array.from({ length: MAX_GROUP_SKIPPED_KEYS }, (_, i) => last - MAX_GROUP_SKIPPED_KEYS + i),
  );
});
