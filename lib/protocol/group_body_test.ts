import assert from "node:assert/strict";
import { CodecError } from "../e2e/mod.ts";
import {
  decodeGroupDelivery,
  decodeHubFanout,
  decodeHubSubmission,
  decodeKeyPackageList,
  decodeKeyPackageReply,
  decodeKeyPackageRequest,
  encodeGroupDelivery,
  encodeHubFanout,
  encodeHubSubmission,
  encodeKeyPackageList,
  encodeKeyPackageReply,
  encodeKeyPackageRequest,
  groupKey,
  type HubFanout,
  type HubSubmission,
  parseGroupKey,
} from "./group_body.ts";
import { MAX_ENVELOPE_BODY } from "./envelope.ts";

const ref = { home: "nodea", groupId: new Uint8Array(16).fill(7) };
const bytes = (n: number, v = 1) => new Uint8Array(n).fill(v);

Deno.test("group delivery: round trip, and every truncation and a bad version are refused", () => {
  const d = { ...ref, names: ["bob", "carol"], message: bytes(300) };
  const enc = encodeGroupDelivery(d);
  assert.deepEqual(decodeGroupDelivery(enc), d);
  for (let i = 0; i < enc.length; i++) {
    assert.throws(() => decodeGroupDelivery(enc.subarray(0, i)), CodecError, `cut at ${i}`);
  }
  const v2 = enc.slice();
  v2[0] = 2;
  assert.throws(() => decodeGroupDelivery(v2), CodecError);
  assert.throws(() => decodeGroupDelivery(new Uint8Array([...enc, 0])), CodecError);
});

Deno.test("group delivery: no names, a name twice, a bad name or an oversized body are refused", () => {
  for (const names of [[], ["bob", "bob"], ["Bob"], ["a@b"]]) {
    assert.throws(
      () => decodeGroupDelivery(encodeGroupDelivery({ ...ref, names, message: bytes(3) })),
      CodecError,
      JSON.stringify(names),
    );
  }
  assert.throws(() => decodeGroupDelivery(new Uint8Array(MAX_ENVELOPE_BODY + 1)), CodecError);
});

Deno.test("hub submissions: every op round-trips", () => {
  const all: HubSubmission[] = [
    { ...ref, epoch: 0, op: "create", hubInfo: bytes(40) },
    {
      ...ref,
      epoch: 3,
      op: "commit",
      commit: bytes(20),
      hubInfo: bytes(30),
      welcome: bytes(50),
      invitations: [{ invitee: "erin@nodec", invitation: bytes(90) }],
    },
    {
      ...ref,
      epoch: 4,
      op: "commit",
      commit: bytes(20),
      hubInfo: bytes(30),
      welcome: null,
      invitations: [],
    },
    { ...ref, epoch: 5, op: "proposal", proposal: bytes(10) },
    { ...ref, epoch: 6, op: "decline" },
  ];
  for (const s of all) assert.deepEqual(decodeHubSubmission(encodeHubSubmission(s)), s);
  const enc = encodeHubSubmission(all[1]);
  for (let i = 0; i < enc.length; i += 7) {
    assert.throws(() => decodeHubSubmission(enc.subarray(0, i)), CodecError);
  }
});

Deno.test("hub submissions: a welcome without invitations (or the reverse) and unknown ops are refused", () => {
  const bad = encodeHubSubmission({
    ...ref,
    epoch: 1,
    op: "commit",
    commit: bytes(2),
    hubInfo: bytes(2),
    welcome: bytes(2),
    invitations: [],
  });
  assert.throws(() => decodeHubSubmission(bad), CodecError);
  const op = encodeHubSubmission({ ...ref, epoch: 1, op: "decline" });
  op[1 + 2 + 5 + 16] = 9;
  assert.throws(() => decodeHubSubmission(op), CodecError);
});

Deno.test("hub fan-out: every op round-trips; members and recipients are checked", () => {
  const head = {
    ...ref,
    epoch: 2,
    members: ["alice@nodea", "bob@nodeb"],
    recipients: ["bob"],
    actor: "alice@nodea",
  };
  const all: HubFanout[] = [
    { ...head, op: "commit", commit: bytes(12) },
    { ...head, op: "proposal", proposal: bytes(12) },
    {
      ...head,
      op: "invite",
      welcome: bytes(40),
      invitations: [{ invitee: "bob", invitation: bytes(5) }],
    },
    { ...head, op: "declined" },
  ];
  for (const f of all) assert.deepEqual(decodeHubFanout(encodeHubFanout(f)), f);
  const noRecipient = encodeHubFanout({ ...head, recipients: [], op: "declined" });
  assert.throws(() => decodeHubFanout(noRecipient), CodecError);
  const badMember = encodeHubFanout({ ...head, members: ["not an address"], op: "declined" });
  assert.throws(() => decodeHubFanout(badMember), CodecError);
});

Deno.test("key package request, reply and list round-trip; a reply's status must match its package", () => {
  assert.equal(decodeKeyPackageRequest(encodeKeyPackageRequest("bob")), "bob");
  assert.throws(() => decodeKeyPackageRequest(encodeKeyPackageRequest("B ob")), CodecError);
  const ok = { status: "ok" as const, keyPackage: bytes(100) };
  assert.deepEqual(decodeKeyPackageReply(encodeKeyPackageReply(ok)), ok);
  assert.deepEqual(decodeKeyPackageReply(encodeKeyPackageReply({ status: "none" })), {
    status: "none",
    keyPackage: null,
  });
  assert.throws(
    () => decodeKeyPackageReply(encodeKeyPackageReply({ status: "none", keyPackage: bytes(3) })),
    CodecError,
  );
  assert.throws(() => decodeKeyPackageReply(encodeKeyPackageReply({ status: "ok" })), CodecError);
  const list = [bytes(10), bytes(20, 2)];
  assert.deepEqual(decodeKeyPackageList(encodeKeyPackageList(list)), list);
  assert.throws(() => decodeKeyPackageList(encodeKeyPackageList(list), 1), CodecError);
  assert.throws(() => decodeKeyPackageList(encodeKeyPackageList([bytes(9000)])), CodecError);
});

Deno.test("group keys: hex@home, parsed back", () => {
  const k = groupKey(ref);
  assert.equal(k, `${"07".repeat(16)}@nodea`);
  assert.deepEqual(parseGroupKey(k), ref);
  assert.throws(() => parseGroupKey("zz@nodea"), RangeError);
});
