// deno-lint-ignore-file no-console -- a benchmark prints its figures
/**
 * lib/e2e group benchmark (MLS, X-Wing suite) at 100 members: time to add one
 * member and to remove one (commit by the committer, processing by another
 * member, joining from the Welcome), encrypt and decrypt per 100-byte message,
 * hub info verification, and the sizes of key package, commit, Welcome,
 * application message, hub info and stored state. Prints human lines, then
 * one JSON line last. Asserts nothing about time.
 *
 *   deno run --allow-read=. bench/groups_crypto.ts
 */
import * as e2e from "../lib/e2e/mod.ts";

const MEMBERS = 100;
const MESSAGES = 200;
const NOW = Date.UTC(2026, 0, 1);

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await f();
  return [v, performance.now() - t];
}

async function newPerson(i: number) {
  const identity = await e2e.generateIdentity();
  const address = `user${i}@node${i % 7}`;
  const kp = await e2e.generateGroupKeyPackage({ identity, address, nowMs: NOW });
  return { identity, address, kp };
}

const creator = await newPerson(0);
let alice = await e2e.createGroup({
  identity: creator.identity,
  address: creator.address,
  name: "bench",
  homeNode: "node0",
  nowMs: NOW,
});
const others: Awaited<ReturnType<typeof newPerson>>[] = [];
let kpGenMs = 0, kpReadMs = 0;
for (let i = 1; i < MEMBERS; i++) {
  const [p, g] = await timed(() => newPerson(i));
  kpGenMs += g;
  others.push(p);
}
const verified: e2e.VerifiedGroupKeyPackage[] = [];
for (const p of others) {
  const [v, r] = await timed(() => e2e.readGroupKeyPackage(p.kp.keyPackage, { nowMs: NOW }));
  kpReadMs += r;
  verified.push(v);
}
const [bulk, bulkMs] = await timed(() =>
  e2e.addGroupMembers({ state: alice, keyPackages: verified })
);
alice = bulk.newState;
const [joinedBulk, joinBulkMs] = await timed(() =>
  e2e.joinGroup({ welcome: bulk.welcome!, keyPackageSecrets: [others[0].kp.secret] })
);
let bob = joinedBulk.state;

// Add one member to the 100-member group.
const newcomer = await newPerson(MEMBERS);
const newcomerKp = await e2e.readGroupKeyPackage(newcomer.kp.keyPackage, { nowMs: NOW });
const [add, addCommitMs] = await timed(() =>
  e2e.addGroupMembers({ state: alice, keyPackages: [newcomerKp] })
);
const [addSeen, addProcessMs] = await timed(() =>
  e2e.processGroupMessage({ state: bob, message: add.commit })
);
const [joined, joinMs] = await timed(() =>
  e2e.joinGroup({ welcome: add.welcome!, keyPackageSecrets: [newcomer.kp.secret] })
);
alice = add.newState;
bob = addSeen.newState;

// Remove one member from the 101-member group.
const [remove, removeCommitMs] = await timed(() =>
  e2e.removeGroupMembers({ state: alice, addresses: [others[50].address] })
);
const [removeSeen, removeProcessMs] = await timed(() =>
  e2e.processGroupMessage({ state: bob, message: remove.commit })
);
alice = remove.newState;
bob = removeSeen.newState;
// The first commit after a bulk add encrypts to every unmerged leaf; once members
// have committed, paths are filled in. A second removal shows a fuller tree.
const [remove2, remove2CommitMs] = await timed(() =>
  e2e.removeGroupMembers({ state: alice, addresses: [others[20].address] })
);
const [remove2Seen, remove2ProcessMs] = await timed(() =>
  e2e.processGroupMessage({ state: bob, message: remove2.commit })
);
alice = remove2.newState;
bob = remove2Seen.newState;

// Application messages, 100 bytes each.
const plaintext = new Uint8Array(100).fill(0x61);
let encMs = 0, decMs = 0, appBytes = 0;
for (let i = 0; i < MESSAGES; i++) {
  const [m, e] = await timed(() => e2e.encryptGroupMessage({ state: alice, plaintext }));
  alice = m.newState;
  appBytes = m.message.length;
  const [r, d] = await timed(() => e2e.processGroupMessage({ state: bob, message: m.message }));
  bob = r.newState;
  encMs += e;
  decMs += d;
}
const [, hubReadMs] = await timed(() => e2e.readGroupHubInfo(remove2.hubInfo));
const [storedState, encodeStateMs] = await timed(() => Promise.resolve(e2e.encodeGroupState(bob)));
const [, decodeStateMs] = await timed(() => Promise.resolve(e2e.decodeGroupState(storedState)));

const round = (x: number) => Math.round(x * 10) / 10;
const kib = (n: number) => `${round(n / 1024)} KiB`;
const figures = {
  members: MEMBERS,
  keyPackageGenerateMs: round(kpGenMs / others.length),
  keyPackageReadMs: round(kpReadMs / others.length),
  add99CommitMs: round(bulkMs),
  join100Ms: round(joinBulkMs),
  addOneCommitMs: round(addCommitMs),
  addOneProcessMs: round(addProcessMs),
  addOneJoinMs: round(joinMs),
  removeOneCommitMs: round(removeCommitMs),
  removeOneProcessMs: round(removeProcessMs),
  secondRemoveCommitMs: round(remove2CommitMs),
  secondRemoveProcessMs: round(remove2ProcessMs),
  encryptMs: round(encMs / MESSAGES),
  decryptMs: round(decMs / MESSAGES),
  hubInfoReadMs: round(hubReadMs),
  stateEncodeMs: round(encodeStateMs),
  stateDecodeMs: round(decodeStateMs),
  keyPackageBytes: newcomer.kp.keyPackage.length,
  addCommitBytes: add.commit.length,
  welcomeBytes: add.welcome!.length,
  removeCommitBytes: remove.commit.length,
  secondRemoveCommitBytes: remove2.commit.length,
  applicationMessageBytes: appBytes,
  hubInfoBytes: remove2.hubInfo.length,
  stateBytes: storedState.length,
  joinedEpoch: joined.state.epoch,
};
console.log(`groups (MLS, X-Wing), ${MEMBERS} members, measured under the machine's current load`);
console.log(
  `key package: generate ${figures.keyPackageGenerateMs} ms, read ${figures.keyPackageReadMs} ms, ${figures.keyPackageBytes} B`,
);
console.log(
  `add 99 in one commit: ${figures.add99CommitMs} ms; join that group of 100: ${figures.join100Ms} ms`,
);
console.log(
  `add 1 to 100: commit ${figures.addOneCommitMs} ms, process ${figures.addOneProcessMs} ms, join ${figures.addOneJoinMs} ms; commit ${
    kib(figures.addCommitBytes)
  }, Welcome ${kib(figures.welcomeBytes)}`,
);
console.log(
  `remove 1 of 101: commit ${figures.removeOneCommitMs} ms, process ${figures.removeOneProcessMs} ms; commit ${
    kib(figures.removeCommitBytes)
  }`,
);
console.log(
  `remove another: commit ${figures.secondRemoveCommitMs} ms, process ${figures.secondRemoveProcessMs} ms; commit ${
    kib(figures.secondRemoveCommitBytes)
  }`,
);
console.log(
  `application message (100 B): encrypt ${figures.encryptMs} ms, decrypt ${figures.decryptMs} ms, ${figures.applicationMessageBytes} B`,
);
console.log(`hub info: ${kib(figures.hubInfoBytes)}, verify ${figures.hubInfoReadMs} ms`);
console.log(
  `stored state: ${
    kib(figures.stateBytes)
  }, encode ${figures.stateEncodeMs} ms, decode ${figures.stateDecodeMs} ms`,
);
console.log(JSON.stringify({ bench: "groups_crypto", ...figures }));
