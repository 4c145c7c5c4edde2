import assert from "node:assert/strict";
import * as e2e from "../e2e/mod.ts";
import type { HeldRow } from "./_group_tables.ts";
import { ClientStore } from "./client_store.ts";
import {
  commitAllowed,
  commitDelayMs,
  deliverySummary,
  heldOrder,
  INVITATION_LIMITS,
  type InvitationFacts,
  judgeInvitation,
} from "./group_rules.ts";

const admins = ["alice@a"];

Deno.test("commitAllowed: adding, renaming and removing others are an admin's", () => {
  const g = { admins, leaving: ["carol@c"], declined: ["dave@d"] };
  const base = { added: [], removed: [], renamed: false };
  assert.equal(commitAllowed({ ...base, committer: "alice@a", added: ["x@x"] }, g), true);
  assert.equal(commitAllowed({ ...base, committer: "bob@b", added: ["x@x"] }, g), false);
  assert.equal(commitAllowed({ ...base, committer: "bob@b", renamed: true }, g), false);
  assert.equal(commitAllowed({ ...base, committer: "bob@b", removed: ["erin@e"] }, g), false);
  assert.equal(commitAllowed({ ...base, committer: "bob@b", removed: ["carol@c"] }, g), true);
  assert.equal(commitAllowed({ ...base, committer: "bob@b", removed: ["dave@d"] }, g), true);
  assert.equal(commitAllowed({ ...base, committer: "bob@b" }, g), true);
});

Deno.test("a non-admin's removal commit is refused by a member's policy and changes nothing", async () => {
  const people = await Promise.all(["alice", "bob", "carol"].map(async (n) => {
    const identity = await e2e.generateIdentity();
    const address = `${n}@node${n}`;
    return { address, identity };
  }));
  const now = Date.now();
  const kps = await Promise.all(
    people.slice(1).map((p) =>
      e2e.generateGroupKeyPackage({ identity: p.identity, address: p.address, nowMs: now })
    ),
  );
  const created = await e2e.createGroup({
    identity: people[0].identity,
    address: people[0].address,
    name: "g",
    homeNode: "nodealice",
    nowMs: now,
  });
  const add = await e2e.addGroupMembers({
    state: created,
    keyPackages: await Promise.all(
      kps.map((k) => e2e.readGroupKeyPackage(k.keyPackage, { nowMs: now })),
    ),
  });
  const bob =
    (await e2e.joinGroup({ welcome: add.welcome!, keyPackageSecrets: [kps[0].secret] })).state;
  const group = { admins: [people[0].address], leaving: [], declined: [] };
  const policy = (state: e2e.GroupState) => (c: e2e.GroupChange) =>
    commitAllowed({
      committer: c.committer.address,
      added: c.added.map((a) => a.address),
      removed: c.removed.map((r) => r.address),
      renamed: c.name !== null && c.name !== state.name,
    }, group);
  const bobRemoves = await e2e.removeGroupMembers({ state: bob, addresses: [people[2].address] });
  const before = e2e.encodeGroupState(add.newState);
  await assert.rejects(
    e2e.processGroupMessage({
      state: add.newState,
      message: bobRemoves.commit,
      policy: policy(add.newState),
    }),
    e2e.VerifyError,
  );
  assert.deepEqual(e2e.encodeGroupState(add.newState), before);
  // The same change from the admin is followed.
  const aliceRemoves = await e2e.removeGroupMembers({
    state: add.newState,
    addresses: [people[2].address],
  });
  const r = await e2e.processGroupMessage({
    state: bob,
    message: aliceRemoves.commit,
    policy: policy(bob),
  });
  assert.equal(r.kind, "commit");
});

function facts(over: Partial<InvitationFacts> = {}): InvitationFacts {
  const now = 1_800_000_000_000;
  return {
    self: "bob@b",
    invitee: "bob@b",
    inviter: "alice@a",
    home: "a",
    groupIdHex: "ab",
    admins: ["alice@a"],
    createdAtMs: now - 1000,
    welcomeHashMatches: true,
    fanout: { home: "a", groupIdHex: "ab", actor: "alice@a" },
    nowMs: now,
    known: false,
    blocked: false,
    waiting: { total: 0, fromInviter: 0, fromNode: 0 },
    groups: { count: 0, max: 10 },
    ...over,
  };
}

Deno.test("judgeInvitation keeps a consistent invitation and drops everything else", () => {
  assert.deepEqual(judgeInvitation(facts()), { kind: "keep" });
  const cases: Array<[string, Partial<InvitationFacts>]> = [
    ["not for us", { invitee: "eve@e" }],
    ["the invitation and the home node disagree", {
      fanout: { home: "a", groupIdHex: "ab", actor: "mallory@m" },
    }],
    ["the invitation and the home node disagree", { home: "m" }],
    ["the inviter is not an admin", { admins: ["zed@z"] }],
    ["the welcome is not the one the inviter signed", { welcomeHashMatches: false }],
    ["stale", { createdAtMs: 1_800_000_000_000 - 9 * 86_400_000 }],
    ["from the future", { createdAtMs: 1_800_000_000_000 + 2 * 86_400_000 }],
    ["the inviter is blocked", { blocked: true }],
    ["already known", { known: true }],
    ["too many invitations waiting", { waiting: { total: 100, fromInviter: 0, fromNode: 0 } }],
    [
      "too many invitations from this inviter",
      { waiting: { total: 10, fromInviter: 10, fromNode: 10 } },
    ],
    [
      "too many invitations from this inviter's node",
      { waiting: { total: 25, fromInviter: 1, fromNode: 25 } },
    ],
    ["in too many groups", { groups: { count: 10, max: 10 } }],
  ];
  for (const [why, over] of cases) {
    assert.deepEqual(judgeInvitation(facts(over)), { kind: "drop", why }, why);
  }
});

Deno.test("heldOrder: by epoch, then application, proposal, commit, then arrival", () => {
  const h = (id: string, epoch: number, kind: HeldRow["kind"], at: number): HeldRow => ({
    id,
    key: "k",
    epoch,
    kind,
    sender: "s",
    bytes: new Uint8Array(),
    attempts: 0,
    receivedAtMs: at,
  });
  const rows = [
    h("c2", 2, "commit", 1),
    h("a3", 3, "application", 2),
    h("p2", 2, "proposal", 3),
    h("a2b", 2, "application", 5),
    h("a2a", 2, "application", 4),
  ];
  assert.deepEqual(heldOrder(rows).map((r) => r.id), ["a2a", "a2b", "p2", "c2", "a3"]);
});

Deno.test("commitDelayMs: admins first, then members by place; the leaver and the 17th on never", () => {
  const members = ["alice@a", "bob@b", "carol@c", "dave@d"];
  assert.equal(commitDelayMs("alice@a", members, admins, ["carol@c"]), 0);
  assert.equal(commitDelayMs("bob@b", members, admins, ["carol@c"]), 2000);
  assert.equal(commitDelayMs("dave@d", members, admins, ["carol@c"]), 4000);
  assert.equal(commitDelayMs("carol@c", members, admins, ["carol@c"]), null);
  const many = Array.from({ length: 20 }, (_, i) => `u${i}@n`);
  assert.equal(commitDelayMs("u16@n", many, [], []), null);
});

Deno.test("deliverySummary counts delivered, read (a read implies delivered) and failed", () => {
  const s = deliverySummary(
    { "a@a": "delivered", "b@b": "sent", "c@c": "failed: refused", "d@d": "sent" },
    3,
    { "b@b": 3, "d@d": 2 },
  );
  assert.deepEqual(s, { recipients: 4, delivered: 2, read: 1, failed: 1 });
});

Deno.test("judgeInvitation over the store: one node's made-up inviters keep at most its share; another node's invitation is kept", () => {
  const store = new ClientStore(":memory:");
  try {
    const arrive = (inviter: string) => {
      const key = `${crypto.randomUUID().replaceAll("-", "")}@home`;
      const verdict = judgeInvitation(
        facts({
          inviter,
          admins: [inviter],
          fanout: { home: "a", groupIdHex: "ab", actor: inviter },
          waiting: store.groups.invitationCounts(inviter),
        }),
      );
      if (verdict.kind === "keep") {
        store.groups.putInvitation({
          key,
          inviter,
          name: "g",
          invitation: new Uint8Array(1),
          welcome: new Uint8Array(1),
          members: 2,
          receivedAtMs: 0,
        });
      }
      return verdict.kind;
    };
    // 10 addresses of one node, 10 invitations each: main kept all 100, and then no other.
    let kept = 0;
    for (let a = 0; a < 10; a++) {
      for (let i = 0; i < 10; i++) if (arrive(`m${a}@evil`) === "keep") kept++;
    }
    assert.equal(kept, INVITATION_LIMITS.perNode);
    assert.equal(arrive("alice@a"), "keep");
  } finally {
    store.close();
  }
});

Deno.test("Invitations left unanswered expire after INVITATION_LIMITS.waitMs (our clock): their places are free, the rows go", () => {
  const store = new ClientStore(":memory:");
  const DAY = 24 * 3600_000;
  try {
    const since = (now: number) => now - INVITATION_LIMITS.waitMs;
    // What lib/client/groups.ts does on each arrival: judge on the unexpired counts; on keep,
    // forget the expired ones and store the new one.
    const arrive = (inviter: string, now: number) => {
      const verdict = judgeInvitation(
        facts({
          inviter,
          admins: [inviter],
          fanout: { home: "a", groupIdHex: "ab", actor: inviter },
          createdAtMs: now,
          nowMs: now,
          waiting: store.groups.invitationCounts(inviter, since(now)),
        }),
      );
      if (verdict.kind === "keep") {
        store.groups.expireInvitations(since(now));
        store.groups.putInvitation({
          key: `${crypto.randomUUID().replaceAll("-", "")}@home`,
          inviter,
          name: "g",
          invitation: new Uint8Array(1),
          welcome: new Uint8Array(1),
          members: 2,
          receivedAtMs: now,
        });
      }
      return verdict.kind;
    };
    // mallory's 10 invitations on day 0, never answered: the 11th refused (main: for ever).
    for (let i = 0; i < 10; i++) assert.equal(arrive("mallory@evil", 0), "keep");
    assert.equal(arrive("mallory@evil", DAY), "drop");
    assert.equal(store.groups.invitations(since(DAY)).length, 10);
    // Past the wait they are no longer listed nor counted; the next arrival forgets them.
    const later = INVITATION_LIMITS.waitMs + 1;
    assert.equal(store.groups.invitations(since(later)).length, 0);
    assert.equal(arrive("mallory@evil", later), "keep");
    assert.equal(store.groups.invitations().length, 1, "the expired rows are gone");
  } finally {
    store.close();
  }
});
