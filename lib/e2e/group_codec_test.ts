import assert from "node:assert/strict";
import { groupOf, NOW, person, send } from "./_group_testing.ts";
import { flip } from "./_testing.ts";
import { renameGroup } from "./group.ts";
import {
  checkGroupAddress,
  decodeGroupCredential,
  MAX_GROUP_CREDENTIAL_BYTES,
} from "./group_credential.ts";
import {
  createGroupHubInfo,
  MAX_GROUP_HUB_INFO_BYTES,
  readGroupHubInfo,
} from "./group_hub_info.ts";
import {
  decodeKeyPackageSecret,
  generateGroupKeyPackage,
  MAX_CLOCK_SKEW_MS,
  MAX_GROUP_KEY_PACKAGE_BYTES,
  MAX_GROUP_KEY_PACKAGE_LIFETIME_MS,
  readGroupKeyPackage,
} from "./group_key_package.ts";
import {
  MAX_GROUP_MESSAGE_BYTES,
  MAX_GROUP_WELCOME_BYTES,
  peekGroupMessage,
  processGroupMessage,
} from "./group_message.ts";
import { decodeGroupState, encodeGroupState, MAX_GROUP_STATE_BYTES } from "./group_state.ts";
import { addGroupMembers, proposeLeaveGroup } from "./group.ts";
import { CodecError, DecryptError, VerifyError } from "./errors.ts";
import { generateIdentity } from "./identity.ts";
import { DeterministicRandom } from "./random.ts";

const DAY = 24 * 3600 * 1000;

Deno.test("readGroupKeyPackage() returns the owner, identity, ref and flags", async () => {
  const random = new DeterministicRandom("kp");
  const bob = await person("bob", random);
  const kp = await readGroupKeyPackage(bob.keyPackage.keyPackage, {
    nowMs: NOW + DAY,
    address: "bob@node-bob",
  });
  assert.equal(kp.address, "bob@node-bob");
  assert.deepEqual(kp.identity, bob.identity.publicIdentity);
  assert.deepEqual(kp.ref, bob.keyPackage.ref);
  assert.equal(kp.ref.length, 64);
  assert.equal(kp.lastResort, false);
  assert.equal(kp.notBeforeMs, NOW);
  assert.equal(kp.notAfterMs, NOW + 30 * DAY);
  assert.ok(bob.keyPackage.keyPackage.length < MAX_GROUP_KEY_PACKAGE_BYTES);
  const last = await generateGroupKeyPackage({
    identity: bob.identity,
    address: bob.address,
    nowMs: NOW,
    lastResort: true,
    random,
  });
  assert.equal(last.lastResort, true);
  assert.equal((await readGroupKeyPackage(last.keyPackage, { nowMs: NOW })).lastResort, true);
  assert.equal(decodeKeyPackageSecret(last.secret).lastResort, true);
});

Deno.test("readGroupKeyPackage() refuses a package outside its lifetime or for another address", async () => {
  const random = new DeterministicRandom("kp-time");
  const bob = await person("bob", random);
  const bytes = bob.keyPackage.keyPackage;
  await assert.rejects(readGroupKeyPackage(bytes, { nowMs: NOW + 30 * DAY + 1 }), VerifyError);
  await assert.rejects(
    readGroupKeyPackage(bytes, { nowMs: NOW - MAX_CLOCK_SKEW_MS - 1 }),
    VerifyError,
  );
  await readGroupKeyPackage(bytes, { nowMs: NOW - MAX_CLOCK_SKEW_MS });
  await assert.rejects(
    readGroupKeyPackage(bytes, { nowMs: NOW, address: "carol@node-bob" }),
    VerifyError,
  );
  await assert.rejects(
    generateGroupKeyPackage({
      identity: bob.identity,
      address: bob.address,
      nowMs: NOW,
      lifetimeMs: MAX_GROUP_KEY_PACKAGE_LIFETIME_MS + 1,
    }),
    RangeError,
  );
  await assert.rejects(
    generateGroupKeyPackage({ identity: bob.identity, address: "bob", nowMs: NOW }),
    CodecError,
  );
});

Deno.test("readGroupKeyPackage() refuses tampered, truncated and oversized packages", async () => {
  const random = new DeterministicRandom("kp-tamper");
  const bytes = (await person("bob", random)).keyPackage.keyPackage;
  // Every 97th byte: version, suite, keys, credential binding, capabilities, signatures.
  for (let i = 0; i < bytes.length; i += 97) {
    await assert.rejects(
      readGroupKeyPackage(flip(bytes, i), { nowMs: NOW }),
      VerifyError,
      `byte ${i}`,
    );
  }
  await assert.rejects(
    readGroupKeyPackage(flip(bytes, bytes.length - 1), { nowMs: NOW }),
    VerifyError,
  );
  await assert.rejects(
    readGroupKeyPackage(bytes.subarray(0, bytes.length - 1), { nowMs: NOW }),
    VerifyError,
  );
  const big = new Uint8Array(MAX_GROUP_KEY_PACKAGE_BYTES + 1);
  big.set(bytes);
  const err = await readGroupKeyPackage(big, { nowMs: NOW }).catch((e) => e);
  assert.ok(err instanceof VerifyError && err.cause instanceof CodecError);
});

Deno.test("a key package claiming someone else's address carries the claimer's identity", async () => {
  // The binding proves who signed, not who owns the address: callers compare the
  // identity with the one pinned for that address (and the node vouches for uploads).
  const random = new DeterministicRandom("kp-claim");
  const mallory = await generateIdentity({ random });
  const fake = await generateGroupKeyPackage({
    identity: mallory,
    address: "bob@node-bob",
    nowMs: NOW,
    random,
  });
  const kp = await readGroupKeyPackage(fake.keyPackage, { nowMs: NOW, address: "bob@node-bob" });
  assert.deepEqual(kp.identity, mallory.publicIdentity);
});

Deno.test("decodeKeyPackageSecret() refuses unknown versions and truncation", async () => {
  const random = new DeterministicRandom("kp-secret");
  const secret = (await person("bob", random)).keyPackage.secret;
  assert.throws(() => decodeKeyPackageSecret(Uint8Array.of(2, ...secret.subarray(1))), CodecError);
  assert.throws(() => decodeKeyPackageSecret(secret.subarray(0, secret.length - 1)), CodecError);
  assert.throws(() => decodeKeyPackageSecret(Uint8Array.of(...secret, 0)), CodecError);
});

Deno.test("group state: export/import round trip, then the imported state goes on", async () => {
  const random = new DeterministicRandom("state");
  const { states } = await groupOf(["alice", "bob", "carol"], random);
  const bytes = encodeGroupState(states.bob);
  const restored = decodeGroupState(bytes);
  assert.deepEqual(encodeGroupState(restored), bytes);
  assert.equal(restored.epoch, states.bob.epoch);
  assert.equal(restored.name, "friends");
  assert.equal(restored.homeNode, "node-alice");
  assert.deepEqual(restored.members, states.bob.members);
  assert.deepEqual(restored.self, states.bob.self);
  const m = await send(states, "alice", "after restore", random);
  const r = await processGroupMessage({ state: restored, message: m });
  assert.equal(r.kind === "application" && new TextDecoder().decode(r.plaintext), "after restore");
  const c = await renameGroup({ state: restored, name: "renamed", random });
  const seen = await processGroupMessage({ state: states.carol, message: c.commit });
  assert.equal(seen.newState.name, "renamed");
});

Deno.test("group state: unknown version, truncated, trailing and oversized input are refused", async () => {
  const random = new DeterministicRandom("state-bad");
  const { states } = await groupOf(["alice", "bob"], random);
  const bytes = encodeGroupState(states.bob);
  assert.throws(() => decodeGroupState(Uint8Array.of(2, ...bytes.subarray(1))), CodecError);
  assert.throws(() => decodeGroupState(new Uint8Array()), CodecError);
  for (const n of [1, 10, bytes.length >> 1, bytes.length - 1]) {
    assert.throws(() => decodeGroupState(bytes.subarray(0, n)), CodecError, `length ${n}`);
  }
  assert.throws(() => decodeGroupState(Uint8Array.of(...bytes, 0)), CodecError);
  assert.throws(() => decodeGroupState(new Uint8Array(MAX_GROUP_STATE_BYTES + 1)), CodecError);
});

Deno.test("group messages: truncated, trailing, oversized and unknown-version input is refused", async () => {
  const random = new DeterministicRandom("msg-bad");
  const { states } = await groupOf(["alice", "bob"], random);
  const m = await send(states, "alice", "x", random);
  for (
    const bad of [
      new Uint8Array(),
      m.subarray(0, 5),
      m.subarray(0, m.length - 1),
      Uint8Array.of(...m, 0),
      Uint8Array.of(0, 2, ...m.subarray(2)), // MLS version 2
      new Uint8Array(MAX_GROUP_MESSAGE_BYTES + 1),
    ]
  ) {
    await assert.rejects(processGroupMessage({ state: states.bob, message: bad }), DecryptError);
  }
  assert.throws(() => peekGroupMessage(new Uint8Array(MAX_GROUP_WELCOME_BYTES + 1)), CodecError);
  assert.throws(() => peekGroupMessage(m.subarray(0, m.length - 1)), CodecError);
});

Deno.test("peekGroupMessage() shows what a hub sees: kind, group id and epoch only", async () => {
  const random = new DeterministicRandom("peek");
  const { states, people } = await groupOf(["alice", "bob", "carol"], random);
  const app = await send(states, "alice", "x", random);
  assert.deepEqual(peekGroupMessage(app), {
    kind: "application",
    groupId: states.alice.groupId,
    epoch: 1,
  });
  const c = await renameGroup({ state: states.alice, name: "y", random });
  assert.deepEqual(peekGroupMessage(c.commit), {
    kind: "commit",
    groupId: states.alice.groupId,
    epoch: 1,
  });
  const leave = await proposeLeaveGroup({ state: states.bob, random });
  assert.equal(peekGroupMessage(leave.proposal).kind, "proposal");
  assert.equal(peekGroupMessage(people.carol.keyPackage.keyPackage).kind, "key-package");
  const dave = await person("dave", random);
  const add = await addGroupMembers({
    state: states.alice,
    keyPackages: [await readGroupKeyPackage(dave.keyPackage.keyPackage, { nowMs: NOW })],
    random,
  });
  assert.deepEqual(peekGroupMessage(add.welcome!), { kind: "welcome", groupId: null, epoch: null });
});

Deno.test("hub info: verified member list of the epoch, signed by the committer", async () => {
  const random = new DeterministicRandom("hub");
  const { states, people } = await groupOf(["alice", "bob", "carol"], random);
  const c = await renameGroup({ state: states.bob, name: "hub test", random });
  const info = await readGroupHubInfo(c.hubInfo);
  assert.equal(info.epoch, 2);
  assert.equal(info.name, "hub test");
  assert.equal(info.homeNode, "node-alice");
  assert.deepEqual(info.groupId, states.alice.groupId);
  assert.equal(info.signer.address, "bob@node-bob");
  assert.deepEqual(info.members.map((m) => m.address), [
    "alice@node-alice",
    "bob@node-bob",
    "carol@node-carol",
  ]);
  assert.deepEqual(info.members[2].identity, people.carol.identity.publicIdentity);
  assert.ok(c.hubInfo.length < MAX_GROUP_HUB_INFO_BYTES);
  const atCreation = await readGroupHubInfo(await createGroupHubInfo(states.alice));
  assert.equal(atCreation.signer.address, "alice@node-alice");
  for (let i = 0; i < c.hubInfo.length; i += 53) {
    await assert.rejects(readGroupHubInfo(flip(c.hubInfo, i)), VerifyError, `byte ${i}`);
  }
  await assert.rejects(readGroupHubInfo(Uint8Array.of(2, ...c.hubInfo.subarray(1))), VerifyError);
  await assert.rejects(readGroupHubInfo(c.hubInfo.subarray(0, c.hubInfo.length - 1)), VerifyError);
  await assert.rejects(readGroupHubInfo(new Uint8Array(MAX_GROUP_HUB_INFO_BYTES + 1)), VerifyError);
});

Deno.test("credential binding: addresses are name@node, versions are checked", () => {
  assert.equal(checkGroupAddress("a@b"), "a@b");
  for (const bad of ["ab", "a@", "@b", "a@b@c", "a b@c", 7, "x@" + "y".repeat(400)]) {
    assert.throws(() => checkGroupAddress(bad), CodecError);
  }
  assert.throws(() => decodeGroupCredential(Uint8Array.of(2)), CodecError);
  assert.throws(
    () => decodeGroupCredential(new Uint8Array(MAX_GROUP_CREDENTIAL_BYTES + 1)),
    CodecError,
  );
});
