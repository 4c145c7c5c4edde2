import assert from "node:assert/strict";
import {
  byNode,
  decideHub,
  type HubInfoFacts,
  type HubInput,
  judgeDelivery,
  judgeFanout,
} from "./group_rules.ts";
import type { HubGroupRow, HubMemberRow } from "./group_store.ts";
import type { HubFanout, HubSubmission } from "../protocol/mod.ts";

const gid = new Uint8Array(16).fill(9);
const GID = gid.toHex();
const KEY = `${GID}@hub`;
const member = (address: string, leaf: number): HubMemberRow => ({
  address,
  leaf,
  key: `k-${address}`,
});
const alice = member("alice@hub", 0);
const bob = member("bob@nodeb", 1);
const carol = member("carol@nodec", 2);
const dave = member("dave@nodeb", 3);

function group(over: Partial<HubGroupRow> = {}): HubGroupRow {
  return {
    key: KEY,
    epoch: 4,
    name: "friends",
    admins: ["alice@hub"],
    members: [alice, bob, carol],
    leaving: [],
    declined: [],
    lastEnvelope: "e0",
    createdAtMs: 1,
    updatedAtMs: 1,
    ...over,
  };
}

function info(members: HubMemberRow[], signer: HubMemberRow, over: Partial<HubInfoFacts> = {}) {
  return { groupIdHex: GID, epoch: 5, name: "friends", homeNode: "hub", signer, members, ...over };
}

function commit(over: Partial<Extract<HubSubmission, { op: "commit" }>> = {}): HubSubmission {
  return {
    home: "hub",
    groupId: gid,
    epoch: 4,
    op: "commit",
    commit: new Uint8Array([1]),
    hubInfo: new Uint8Array([2]),
    welcome: null,
    invitations: [],
    ...over,
  };
}

function input(over: Partial<HubInput>): HubInput {
  return {
    self: "hub",
    sender: "alice@hub",
    envelopeId: "e1",
    nowMs: 1000,
    group: group(),
    submission: commit(),
    info: info([alice, bob, carol], alice),
    message: { kind: "commit", groupIdHex: GID, epoch: 4 },
    hubGroups: 1,
    limits: { maxMembers: 256, maxHubGroups: 10 },
    ...over,
  };
}

Deno.test("hub: a group is created by its one member, who becomes its admin", () => {
  const v = decideHub(input({
    group: undefined,
    submission: { home: "hub", groupId: gid, epoch: 0, op: "create", hubInfo: new Uint8Array(1) },
    info: info([alice], alice, { epoch: 0 }),
    message: null,
  }));
  assert.equal(v.kind, "accept");
  if (v.kind !== "accept") return;
  assert.deepEqual(v.next.admins, ["alice@hub"]);
  assert.equal(v.next.epoch, 0);
  assert.deepEqual(v.fanout, []);
  const elsewhere = decideHub(input({
    group: undefined,
    self: "other",
    submission: { home: "hub", groupId: gid, epoch: 0, op: "create", hubInfo: new Uint8Array(1) },
    info: info([alice], alice, { epoch: 0 }),
  }));
  assert.equal(elsewhere.kind, "refuse");
  const full = decideHub(input({
    group: undefined,
    hubGroups: 10,
    submission: { home: "hub", groupId: gid, epoch: 0, op: "create", hubInfo: new Uint8Array(1) },
    info: info([alice], alice, { epoch: 0 }),
  }));
  assert.equal(full.kind, "refuse");
});

Deno.test("hub: the first commit of an epoch wins; the next one for that epoch is stale", () => {
  const v = decideHub(input({ info: info([alice, bob, carol], alice, { name: "renamed" }) }));
  assert.equal(v.kind, "accept");
  if (v.kind !== "accept") return;
  assert.equal(v.next.epoch, 5);
  assert.equal(v.next.lastEnvelope, "e1");
  const again = decideHub(input({ group: v.next, envelopeId: "e1" }));
  assert.deepEqual(again, { kind: "duplicate" });
  const late = decideHub(input({
    group: v.next,
    envelopeId: "e2",
    sender: "bob@nodeb",
    info: info([alice, bob, carol], bob),
  }));
  assert.deepEqual(late, { kind: "refuse", why: "stale epoch 4: the group is at 5" });
});

Deno.test("hub: one fan-out envelope per node, the committer's too; invitees get the welcome", () => {
  const erin = member("erin@nodeb", 3);
  const v = decideHub(input({
    info: info([alice, bob, carol, erin], alice),
    submission: commit({
      welcome: new Uint8Array([7]),
      invitations: [{ invitee: "erin@nodeb", invitation: new Uint8Array([8]) }],
    }),
  }));
  assert.equal(v.kind, "accept");
  if (v.kind !== "accept") return;
  const seen = v.fanout.map((t) => `${t.node}:${t.body.op}:${t.body.recipients.join(",")}`);
  assert.deepEqual(seen, [
    "hub:commit:alice",
    "nodeb:commit:bob",
    "nodec:commit:carol",
    "nodeb:invite:erin",
  ]);
  const invite = v.fanout[3].body;
  assert.equal(invite.op === "invite" && invite.invitations[0].invitee, "erin");
  assert.deepEqual(invite.members, ["alice@hub", "bob@nodeb", "carol@nodec", "erin@nodeb"]);
});

Deno.test("hub: refuses non-members, foreign leaf keys, wrong epochs and groups", () => {
  const cases: Array<[string, Partial<HubInput>]> = [
    ["not a member", {
      sender: "mallory@evil",
      info: info([alice, bob, carol], member("mallory@evil", 9)),
    }],
    [
      "signed by a leaf key not in the group",
      { info: info([alice, bob, carol], { ...alice, key: "stolen" }) },
    ],
    ["hub info for epoch 7, expected 5", { info: info([alice, bob, carol], alice, { epoch: 7 }) }],
    ["the message is not of this group and epoch", {
      message: { kind: "commit", groupIdHex: "00", epoch: 4 },
    }],
    ["not a commit", { message: { kind: "application", groupIdHex: GID, epoch: 4 } }],
    ["hub info of another group", { info: info([alice, bob, carol], alice, { groupIdHex: "ab" }) }],
    ["hub info signed by someone else", { info: info([alice, bob, carol], bob) }],
    ["no such group here", { group: undefined }],
  ];
  for (const [why, over] of cases) {
    assert.deepEqual(decideHub(input(over)), { kind: "refuse", why }, why);
  }
});

Deno.test("hub: adding, renaming and removing are an admin's; a leaver's removal is anyone's", () => {
  const asBob = { sender: "bob@nodeb" };
  const add = decideHub(input({
    ...asBob,
    info: info([alice, bob, carol, dave], bob),
    submission: commit({
      welcome: new Uint8Array(1),
      invitations: [{ invitee: "dave@nodeb", invitation: new Uint8Array(1) }],
    }),
  }));
  assert.deepEqual(add, { kind: "refuse", why: "only an admin may add, remove or rename" });
  const remove = decideHub(input({ ...asBob, info: info([alice, bob], bob) }));
  assert.equal(remove.kind, "refuse");
  const rename = decideHub(
    input({ ...asBob, info: info([alice, bob, carol], bob, { name: "x" }) }),
  );
  assert.equal(rename.kind, "refuse");
  const leaver = decideHub(input({
    ...asBob,
    group: group({ leaving: ["carol@nodec"] }),
    info: info([alice, bob], bob),
  }));
  assert.equal(leaver.kind, "accept");
  const decliner = decideHub(input({
    ...asBob,
    group: group({ declined: ["carol@nodec"] }),
    info: info([alice, bob], bob),
  }));
  assert.equal(decliner.kind, "accept");
  const selfUpdate = decideHub(input({ ...asBob, info: info([alice, bob, carol], bob) }));
  assert.equal(selfUpdate.kind, "accept");
});

Deno.test("hub: an added member without an invitation, or past the member limit, is refused", () => {
  const noInvite = decideHub(input({ info: info([alice, bob, carol, dave], alice) }));
  assert.equal(noInvite.kind, "refuse");
  const tooMany = decideHub(input({
    limits: { maxMembers: 3, maxHubGroups: 10 },
    info: info([alice, bob, carol, dave], alice),
    submission: commit({
      welcome: new Uint8Array(1),
      invitations: [{ invitee: "dave@nodeb", invitation: new Uint8Array(1) }],
    }),
  }));
  assert.deepEqual(tooMany, { kind: "refuse", why: "more than 3 members" });
});

Deno.test("hub: a leave proposal is recorded and fanned out; a decline too, at any epoch", () => {
  const p = decideHub(input({
    sender: "carol@nodec",
    submission: {
      home: "hub",
      groupId: gid,
      epoch: 4,
      op: "proposal",
      proposal: new Uint8Array(1),
    },
    message: { kind: "proposal", groupIdHex: GID, epoch: 4 },
    info: null,
  }));
  assert.equal(p.kind, "accept");
  if (p.kind !== "accept") return;
  assert.deepEqual(p.next.leaving, ["carol@nodec"]);
  assert.deepEqual(p.fanout.map((t) => t.node), ["hub", "nodeb"]);
  const d = decideHub(input({
    sender: "bob@nodeb",
    submission: { home: "hub", groupId: gid, epoch: 1, op: "decline" },
    message: null,
    info: null,
  }));
  assert.equal(d.kind === "accept" && d.next.declined[0], "bob@nodeb");
});

Deno.test("member node: a non-member's message is refused whole, before any client sees it", () => {
  const copy = { key: KEY, epoch: 4, members: ["alice@hub", "bob@nodeb"], updatedAtMs: 0 };
  const users = { bob: { exists: true, state: "joined" as const } };
  const base = {
    self: "nodeb",
    copy,
    groupIdHex: GID,
    names: ["bob"],
    users,
    message: { kind: "application", groupIdHex: GID, epoch: 4 },
  };
  const j = judgeDelivery({ ...base, sender: "mallory@evil" });
  assert.equal(j.status, "refused");
  assert.deepEqual(j.store, []);
  assert.equal(judgeDelivery({ ...base, sender: "alice@hub" }).status, "stored");
  assert.equal(judgeDelivery({ ...base, copy: undefined, sender: "alice@hub" }).status, "refused");
  const ahead = judgeDelivery({
    ...base,
    sender: "alice@hub",
    message: { kind: "application", groupIdHex: GID, epoch: 5 },
  });
  assert.equal(ahead.status, "busy");
  const commit = judgeDelivery({
    ...base,
    sender: "alice@hub",
    message: { kind: "commit", groupIdHex: GID, epoch: 4 },
  });
  assert.equal(commit.status, "refused");
});

Deno.test("member node: per user, only members who joined get a message", () => {
  const copy = {
    key: KEY,
    epoch: 4,
    members: ["alice@hub", "bob@nodeb", "dave@nodeb", "erin@nodeb"],
    updatedAtMs: 0,
  };
  const j = judgeDelivery({
    self: "nodeb",
    copy,
    sender: "alice@hub",
    groupIdHex: GID,
    names: ["bob", "dave", "erin", "zed", "frank"],
    message: { kind: "application", groupIdHex: GID, epoch: 3 },
    users: {
      bob: { exists: true, state: "joined" },
      dave: { exists: true, state: "invited" },
      erin: { exists: true, state: null },
      frank: { exists: true, state: "joined" },
    },
  });
  assert.deepEqual(j.users.map((u) => `${u.name}:${u.status}`), [
    "bob:stored",
    "dave:refused",
    "erin:refused",
    "zed:no-such-user",
    "frank:refused",
  ]);
  assert.deepEqual(j.store, ["bob"]);
  assert.equal(j.status, "stored");
});

Deno.test("member node: only the home node fans out; invitations to strangers are budgeted silently", () => {
  const f: HubFanout = {
    home: "hub",
    groupId: gid,
    epoch: 5,
    members: ["alice@hub", "bob@nodeb"],
    recipients: ["bob", "zoe"],
    actor: "alice@hub",
    op: "invite",
    welcome: new Uint8Array(1),
    invitations: [{ invitee: "bob", invitation: new Uint8Array(1) }],
  };
  const users = {
    bob: { exists: true, state: null, blocked: false },
    zoe: { exists: true, state: null, blocked: true },
  };
  const forged = judgeFanout({
    self: "nodeb",
    origin: "evil",
    fanout: f,
    copy: undefined,
    users,
    nowMs: 1,
  });
  assert.equal(forged.status, "refused");
  assert.equal(forged.effects.copy, null);
  const j = judgeFanout({
    self: "nodeb",
    origin: "hub",
    fanout: f,
    copy: undefined,
    users,
    nowMs: 1,
  });
  assert.deepEqual(j.store, ["bob"]);
  assert.deepEqual(j.users.map((u) => u.status), ["stored", "stored"]);
  assert.deepEqual(j.effects.states, [{ owner: "bob", state: "invited" }]);
  assert.equal(j.effects.copy?.epoch, 5);
});

Deno.test("member node: a commit reaches members (the removed one too, who then stands nowhere)", () => {
  const f: HubFanout = {
    home: "hub",
    groupId: gid,
    epoch: 6,
    members: ["alice@hub", "bob@nodeb"],
    recipients: ["bob", "dave", "erin"],
    actor: "alice@hub",
    op: "commit",
    commit: new Uint8Array(1),
  };
  const copy = {
    key: KEY,
    epoch: 5,
    members: ["alice@hub", "bob@nodeb", "dave@nodeb"],
    updatedAtMs: 0,
  };
  const j = judgeFanout({
    self: "nodeb",
    origin: "hub",
    fanout: f,
    copy,
    nowMs: 1,
    users: {
      bob: { exists: true, state: "joined", blocked: false },
      dave: { exists: true, state: "joined", blocked: false },
      erin: { exists: true, state: null, blocked: false },
    },
  });
  assert.deepEqual(j.store, ["bob", "dave"]);
  assert.deepEqual(j.users.map((u) => u.status), ["stored", "stored", "refused"]);
  assert.deepEqual(j.effects.states, [{ owner: "dave", state: null }]);
  assert.deepEqual(j.effects.copy?.members, ["alice@hub", "bob@nodeb"]);
});

Deno.test("byNode groups addresses by node in a stable order", () => {
  assert.deepEqual([...byNode(["b@y", "a@x", "c@y"])], [["x", ["a"]], ["y", ["b", "c"]]]);
});
