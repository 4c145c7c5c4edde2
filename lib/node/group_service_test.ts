import assert from "node:assert/strict";
import { BudgetRegistry } from "../budget.ts";
import { FakeClock } from "../clock.ts";
import type { Limits } from "../config.ts";
import { decodeMls, encodeMls } from "../e2e/_mls.ts";
import type { NodeId, UserName } from "../ids.ts";
import * as e2e from "../e2e/mod.ts";
import { SILENT_LOGGER } from "../log.ts";
import {
  decodeEnvelope,
  decodeHubFanout,
  decodeKeyPackageReply,
  encodeHubFanout,
  encodeHubSubmission,
  encodeKeyPackageRequest,
  type Envelope,
  type GroupEnvelope,
  nodeEnvelope,
} from "../protocol/mod.ts";
import type { NodeStore } from "../store/mod.ts";
import { DEFAULT_LIMITS } from "../../tests/_helpers/faked_delivery.ts";
import { GroupService } from "./group_service.ts";
import { type FanoutRow, GroupStore } from "./group_store.ts";

const HOME = "hub" as NodeId;
const ORIGIN = "node0" as NodeId;
const SENDER = "m0@node0";
const GROUP_ID = new Uint8Array(16).fill(7);
const EPOCH = 3;

/** A hub whose group has a member on each of `nodes` other nodes (and the sender on node0). */
function hubWith(nodes: number, limits: Partial<Limits>, local: string[] = []) {
  const clock = new FakeClock();
  const groups = new GroupStore(":memory:");
  const key = `${GROUP_ID.toHex()}@${HOME}`;
  const members = [
    SENDER,
    ...Array.from({ length: nodes }, (_, i) => `m${i + 1}@node${i + 1}`),
    ...local.map((name) => `${name}@${HOME}`),
  ];
  groups.putHubGroup({
    key,
    epoch: EPOCH,
    name: "big",
    admins: [SENDER],
    members: members.map((address, leaf) => ({ address, leaf, key: "00" })),
    leaving: [],
    declined: [],
    lastEnvelope: null,
    createdAtMs: 0,
    updatedAtMs: 0,
  });
  // The outbox: "hold" keeps each hand-over pending (a stalled commit), "fail" rejects it (a full
  // disk), "ok" takes it. Bytes of hand-overs pending = fan-out rows the hub holds for it.
  const outbox = {
    mode: "hold" as "hold" | "fail" | "ok",
    /** This node's own users cannot take theirs (a full inbox). */
    localFails: false,
    pending: new Set<{ bytes: number; settle: (ok: boolean) => void }>(),
    pendingBytes: 0,
    maxPendingBytes: 0,
    /** Bytes handed over (every attempt). */
    offered: 0,
    /** Each fan-out id taken, and how often; rows taken per destination, in order. */
    taken: new Map<string, number>(),
    order: new Map<string, number[]>(),
  };
  const fanout = (rows: FanoutRow[]): Promise<void> => {
    const bytes = rows.reduce((n, r) => n + r.bytes.length, 0);
    outbox.offered += bytes;
    if (outbox.mode === "fail") return Promise.reject(new Error("disk full"));
    if (outbox.localFails && rows.some((r) => r.dest === HOME)) {
      return Promise.reject(new Error("inbox full"));
    }
    const take = () => {
      for (const r of rows) {
        outbox.taken.set(r.id, (outbox.taken.get(r.id) ?? 0) + 1);
        if (outbox.taken.get(r.id) === 1) {
          const seq = outbox.order.get(r.dest) ?? [];
          seq.push(submissionIndex(r));
          outbox.order.set(r.dest, seq);
        }
      }
    };
    if (outbox.mode === "ok") {
      take();
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const p = {
        bytes,
        settle: (ok: boolean) => {
          outbox.pending.delete(p);
          outbox.pendingBytes -= bytes;
          if (ok) take();
          if (ok) resolve();
          else reject(new Error("disk full"));
        },
      };
      outbox.pending.add(p);
      outbox.pendingBytes += bytes;
      outbox.maxPendingBytes = Math.max(outbox.maxPendingBytes, outbox.pendingBytes);
    });
  };
  const options = {
    self: HOME,
    store: {} as NodeStore,
    groups,
    clock,
    log: SILENT_LOGGER,
    registry: new BudgetRegistry(SILENT_LOGGER, clock),
    limits: { ...DEFAULT_LIMITS, ...limits },
    forwarder: { send: () => null, sendEncoded: () => null },
    reportMiss: () => {},
    fanout,
    lifetimeMs: 3_600_000,
  };
  const service = new GroupService(options);
  return { clock, groups, outbox, service, options };
}

/** A proposal of `bytes` whose ciphertext starts with the submission's index. */
function submission(
  index: number,
  bytes: number,
  clock: FakeClock,
  from = SENDER,
): GroupEnvelope {
  const ciphertext = new Uint8Array(bytes);
  new DataView(ciphertext.buffer).setUint32(0, index);
  const proposal = encodeMls({
    version: "mls10",
    wireformat: "mls_private_message",
    privateMessage: {
      groupId: GROUP_ID,
      epoch: BigInt(EPOCH),
      contentType: "proposal",
      authenticatedData: new Uint8Array(0),
      encryptedSenderData: new Uint8Array(16),
      ciphertext,
    },
  });
  const now = clock.nowMs();
  return {
    id: crypto.getRandomValues(new Uint8Array(16)),
    kind: "groupHub",
    ttl: 16,
    createdAtMs: now,
    expiresAtMs: now + 3_600_000,
    from,
    to: HOME,
    body: encodeHubSubmission({
      home: HOME,
      groupId: GROUP_ID,
      epoch: EPOCH,
      op: "proposal",
      proposal,
    }),
  } as GroupEnvelope;
}

function submissionIndex(r: FanoutRow): number {
  const f = decodeHubFanout(decodeEnvelope(r.bytes).body);
  if (f.op !== "proposal") throw new Error("not a proposal");
  const m = decodeMls(f.proposal, 1 << 21, "test");
  if (m.wireformat !== "mls_private_message") throw new Error("not a private message");
  return new DataView(m.privateMessage.ciphertext.buffer, m.privateMessage.ciphertext.byteOffset)
    .getUint32(0);
}

const settle = async () => {
  for (let i = 0; i < 4; i++) await new Promise((r) => setTimeout(r, 0));
};

Deno.test("GroupService hub: while the outbox holds or refuses hand-overs, fan-out rows held in memory stay within hub_fanout_memory_bytes, the backlog on disk within its share ('busy' past it); then every accepted fan-out is handed over once, in order", async () => {
  const NODES = 16;
  const SIZE = 200 * 1024;
  const MEMORY = 2 * 1024 ** 2;
  const STAGED = 24 * 1024 ** 2;
  const { clock, groups, outbox, service } = hubWith(NODES, {
    hubFanoutMemoryBytes: MEMORY,
    hubFanoutStagedBytesPerOrigin: STAGED,
    hubFanoutStagedBytesTotal: 4 * STAGED,
  } as Partial<Limits>);
  await service.start();
  const accepted: number[] = [];
  const answers: string[] = [];
  // 1. The outbox holds every hand-over (its commit does not come).
  for (let i = 0; i < 12; i++) {
    const out = await service.judge(submission(i, SIZE, clock), ORIGIN);
    answers.push(out.status);
    if (out.status === "stored") accepted.push(i);
    await settle();
  }
  const perSubmission = NODES * SIZE;
  const heldWhileHeld = outbox.maxPendingBytes;
  // 2. It fails them (a full disk): what is retried every 5 s is what the hub keeps in memory.
  outbox.mode = "fail";
  for (const p of [...outbox.pending]) p.settle(false);
  await settle();
  outbox.offered = 0;
  clock.advance(5_000);
  await settle();
  const heldWhileFailing = outbox.offered;
  assert.ok(
    heldWhileHeld <= MEMORY + SIZE + 4096,
    `held ${heldWhileHeld} while the outbox holds (fan-out per submission ${perSubmission})`,
  );
  assert.ok(heldWhileFailing <= MEMORY + SIZE + 4096, `held ${heldWhileFailing} while it fails`);
  assert.ok(answers.includes("busy"), `past the staged share, answered busy (answers ${answers})`);
  assert.ok(accepted.length >= STAGED / perSubmission, `accepted ${accepted.length}`);
  // 3. The outbox takes them again: every accepted fan-out is handed over once, in order per node.
  outbox.mode = "ok";
  for (let i = 0; i < 100 && groups.stagedFanoutCount() > 0; i++) {
    clock.advance(5_000);
    await settle();
  }
  assert.equal(groups.stagedFanoutCount(), 0);
  assert.equal(outbox.taken.size, accepted.length * NODES);
  for (let n = 1; n <= NODES; n++) assert.deepEqual(outbox.order.get(`node${n}`), accepted);
  // And the sender's next submission is accepted again.
  assert.equal((await service.judge(submission(99, SIZE, clock), ORIGIN)).status, "stored");
  await settle();
  assert.equal(outbox.taken.size, (accepted.length + 1) * NODES);
  service.stop();
  groups.close();
});

Deno.test("GroupService hub: one origin's staged fan-out at its share leaves other origins' submissions accepted; after a restart the share is counted from groups.db and the backlog handed over in bounded batches", async () => {
  const SIZE = 200 * 1024;
  const MEMORY = 1024 ** 2;
  const limits = {
    hubFanoutMemoryBytes: MEMORY,
    hubFanoutStagedBytesPerOrigin: 4 * 1024 ** 2,
    hubFanoutStagedBytesTotal: 64 * 1024 ** 2,
  } as Partial<Limits>;
  const { clock, groups, outbox, service } = hubWith(8, limits);
  outbox.mode = "fail";
  const statuses = async (from: string, origin: string, n: number) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      out.push((await service.judge(submission(i, SIZE, clock, from), origin as NodeId)).status);
    }
    return out;
  };
  assert.deepEqual(await statuses(SENDER, "node0", 4), ["stored", "stored", "stored", "busy"]);
  assert.deepEqual(await statuses("m1@node1", "node1", 1), ["stored"]);
  const staged = groups.stagedFanoutCount();
  assert.equal(staged, 4 * 8);
  service.stop();
  // A restart on the same groups.db: node0's share is still used up.
  const again = hubWith(8, limits);
  const restarted = new GroupService({
    ...again.options,
    groups,
    registry: new BudgetRegistry(SILENT_LOGGER, again.clock),
  });
  assert.equal(
    (await restarted.judge(submission(7, SIZE, clock), "node0" as NodeId)).status,
    "busy",
  );
  again.outbox.mode = "hold";
  const start = restarted.start();
  for (let i = 0; i < 50 && again.outbox.pending.size > 0; i++) {
    assert.ok(again.outbox.pendingBytes <= MEMORY, `held ${again.outbox.pendingBytes}`);
    for (const p of [...again.outbox.pending]) p.settle(true);
    await settle();
  }
  await start;
  assert.equal(groups.stagedFanoutCount(), 0);
  assert.equal(again.outbox.taken.size, staged);
  assert.ok(again.outbox.maxPendingBytes <= MEMORY);
  assert.equal(
    (await restarted.judge(submission(8, SIZE, clock), "node0" as NodeId)).status,
    "stored",
  );
  restarted.stop();
  again.service.stop();
  groups.close();
  again.groups.close();
});

Deno.test("GroupService hub: while this node's own users cannot take their fan-out, other nodes' fan-out goes on; this node's follows later, in order", async () => {
  const { clock, groups, outbox, service } = hubWith(3, {}, ["h1"]);
  outbox.mode = "ok";
  outbox.localFails = true;
  for (let i = 0; i < 3; i++) {
    assert.equal((await service.judge(submission(i, 1000, clock), ORIGIN)).status, "stored");
    await settle();
  }
  for (let n = 1; n <= 3; n++) assert.deepEqual(outbox.order.get(`node${n}`), [0, 1, 2]);
  assert.equal(outbox.order.get(HOME), undefined);
  assert.equal(groups.stagedFanoutCount(), 3);
  outbox.localFails = false;
  clock.advance(5_000);
  await settle();
  assert.deepEqual(outbox.order.get(HOME), [0, 1, 2]);
  assert.equal(groups.stagedFanoutCount(), 0);
  assert.equal(outbox.taken.size, 12);
  service.stop();
  groups.close();
});

Deno.test("GroupService hub: two submissions judged at once are decided one after the other (neither overwrites the other's state)", async () => {
  const { clock, groups, outbox, service } = hubWith(3, {});
  outbox.mode = "ok";
  const out = await Promise.all([
    service.judge(submission(0, 1000, clock), ORIGIN),
    service.judge(submission(1, 1000, clock, "m1@node1"), "node1" as NodeId),
  ]);
  assert.deepEqual(out.map((o) => o.status), ["stored", "stored"]);
  const g = groups.hubGroup(`${GROUP_ID.toHex()}@${HOME}`)!;
  assert.deepEqual([...g.leaving].sort(), [SENDER, "m1@node1"]);
  await settle();
  service.stop();
  groups.close();
});

Deno.test("GroupService hub: past hub_submissions_per_origin_per_minute an origin hears busy; another origin is still accepted, and a minute later it is too", async () => {
  const { clock, outbox, service, groups } = hubWith(2, { hubSubmissionsPerOriginPerMinute: 3 });
  outbox.mode = "ok";
  const judge = async (i: number, from: string, origin: string) =>
    (await service.judge(submission(i, 100, clock, from), origin as NodeId)).status;
  const got = [];
  for (let i = 0; i < 4; i++) got.push(await judge(i, SENDER, "node0"));
  assert.deepEqual(got, ["stored", "stored", "stored", "busy"]);
  assert.equal(await judge(10, "m1@node1", "node1"), "stored");
  clock.advance(60_000);
  assert.equal(await judge(11, SENDER, "node0"), "stored");
  service.stop();
  groups.close();
});

Deno.test("GroupService hub: a member's submission under the id of another member's accepted one is judged on its own, and its fan-out gets ids of its own (a member that saw the id cannot make the hub answer 'stored' for a change it never took)", async () => {
  const { clock, groups, outbox, service } = hubWith(3, {});
  outbox.mode = "ok";
  // m1 (whose node relays m0's traffic) saw the id of m0's proposal and submits its own first.
  const real = submission(0, 1000, clock);
  const squat = { ...submission(1, 1000, clock, "m1@node1"), id: real.id } as GroupEnvelope;
  assert.equal((await service.judge(squat, "node1" as NodeId)).status, "stored");
  await settle();
  const before = outbox.taken.size;
  const out = await service.judge(real, ORIGIN);
  await settle();
  const g = groups.hubGroup(`${GROUP_ID.toHex()}@${HOME}`)!;
  assert.ok(
    g.leaving.includes(SENDER),
    `m0 told '${out.status}' (${out.note ?? ""}), its proposal not taken`,
  );
  assert.equal(outbox.taken.size - before, 3, "m0's fan-out: 3 new ids");
  // A resend of m0's own is a copy.
  assert.equal((await service.judge(real, ORIGIN)).status, "stored");
  await settle();
  assert.equal(outbox.taken.size - before, 3);
  service.stop();
  groups.close();
});

Deno.test("GroupService: a local user's key packages past key_packages_per_user are refused; the ones kept stay", async () => {
  const { clock, service, groups } = hubWith(0, { keyPackagesPerUser: 2 });
  const identity = await e2e.generateIdentity();
  const make = async () =>
    (await e2e.generateGroupKeyPackage({
      identity,
      address: `alice@${HOME}`,
      nowMs: clock.nowMs(),
    }))
      .keyPackage;
  const alice = "alice" as UserName;
  await service.publishKeyPackages(alice, [await make(), await make()]);
  await assert.rejects(service.publishKeyPackages(alice, [await make()]), /at most 2/);
  assert.equal(groups.keyPackageUsage().get(alice), 2);
  service.stop();
  groups.close();
});

Deno.test("GroupService: past key_package_fetches_per_origin_per_minute that node's fetches are answered busy; another node's are not", () => {
  const { clock, options, groups, service: first } = hubWith(0, {
    keyPackageFetchesPerOriginPerMinute: 2,
  });
  first.stop();
  const replies: Array<{ to: string; status: string }> = [];
  const service = new GroupService({
    ...options,
    registry: new BudgetRegistry(SILENT_LOGGER, clock),
    store: { getAccount: () => null } as unknown as NodeStore,
    forwarder: {
      send: (e: Envelope) => {
        replies.push({ to: e.to, status: decodeKeyPackageReply(e.body).status });
        return null;
      },
      sendEncoded: () => null,
    },
  });
  const fetch = (from: string) =>
    service.receive(nodeEnvelope({
      kind: "keyPackageRequest",
      from: from as NodeId,
      to: HOME,
      body: encodeKeyPackageRequest("alice"),
      nowMs: clock.nowMs(),
      lifetimeMs: 10_000,
    }));
  for (let i = 0; i < 3; i++) fetch("node1");
  fetch("node2");
  assert.deepEqual(replies, [
    { to: "node1", status: "no-such-user" },
    { to: "node1", status: "no-such-user" },
    { to: "node1", status: "busy" },
    { to: "node2", status: "no-such-user" },
  ]);
  service.stop();
  groups.close();
});

Deno.test("GroupService: an invitation that would pass groups_per_user is dropped silently (its sender hears stored); a user under it is invited", async () => {
  const { clock, options, groups, service: first } = hubWith(0, { groupsPerUser: 1 });
  first.stop();
  const account = { name: "alice" };
  const service = new GroupService({
    ...options,
    registry: new BudgetRegistry(SILENT_LOGGER, clock),
    store: {
      getAccount: (name: string) => name === "alice" || name === "bob" ? account : undefined,
      contactPolicy: () => null,
    } as unknown as NodeStore,
  });
  const invite = (group: number, invitee: string) =>
    service.judge(
      nodeEnvelope({
        kind: "groupFanout",
        from: "nodea" as NodeId,
        to: HOME,
        body: encodeHubFanout({
          home: "nodea",
          groupId: new Uint8Array(16).fill(group),
          epoch: 1,
          members: ["carol@nodea"],
          recipients: [invitee],
          actor: "carol@nodea",
          op: "invite",
          welcome: new Uint8Array(1),
          invitations: [{ invitee, invitation: new Uint8Array(1) }],
        }),
        nowMs: clock.nowMs(),
        lifetimeMs: 60_000,
      }),
      "nodea" as NodeId,
    );
  const kept = async (group: number, invitee: string) => {
    const o = await invite(group, invitee);
    assert.equal(o.status, "stored");
    return o.store.map((s) => s.name);
  };
  assert.deepEqual(await kept(1, "alice"), ["alice"]);
  assert.deepEqual(await kept(2, "alice"), [], "over groups_per_user: not kept");
  assert.deepEqual(await kept(2, "bob"), ["bob"]);
  service.stop();
  groups.close();
});

Deno.test("GroupService member node: a fan-out from another node than the home under a real fan-out's id (derived, so a relay can compute it) does not decide the real one", async () => {
  const { clock, groups, options, service: hub } = hubWith(1, {});
  hub.stop();
  const service = new GroupService({
    ...options,
    registry: new BudgetRegistry(SILENT_LOGGER, clock),
    store: { getAccount: () => ({}), contactPolicy: () => null } as unknown as NodeStore,
  });
  const body = encodeHubFanout({
    home: "elsewhere" as NodeId,
    groupId: GROUP_ID,
    epoch: 1,
    members: ["a@elsewhere", "bob@hub"],
    recipients: ["bob"],
    actor: "a@elsewhere",
    op: "declined",
  });
  const now = clock.nowMs();
  const fanout = (from: string) =>
    ({
      id: new Uint8Array(16).fill(9),
      kind: "groupFanout",
      ttl: 16,
      createdAtMs: now,
      expiresAtMs: now + 3_600_000,
      from,
      to: HOME,
      body,
    }) as unknown as Envelope;
  const fake = await service.judge(fanout("relay"), "relay" as NodeId);
  assert.equal(fake.status, "refused");
  const real = await service.judge(fanout("elsewhere"), "elsewhere" as NodeId);
  assert.notEqual(
    real.note,
    fake.note,
    `the home's fan-out answered with the relay's: ${real.note}`,
  );
  service.stop();
  groups.close();
});
