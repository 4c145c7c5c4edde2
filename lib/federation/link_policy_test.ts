import assert from "node:assert/strict";
import { toNodeId } from "../ids.ts";
import type { PeerRecord } from "../store/mod.ts";
import {
  decideApprove,
  decideConnect,
  decideIncoming,
  decideOutgoing,
  isStranger,
  type LinkProof,
  preferLink,
} from "./link_policy.ts";

const bob = toNodeId("bob");
const realKey = new Uint8Array(32).fill(1);
const squatKey = new Uint8Array(32).fill(2);
const REAL_FP = "a".repeat(52);
const SQUAT_FP = "b".repeat(52);

const proof = (key = realKey, fp = REAL_FP, address = "10.0.0.9"): LinkProof => ({
  nodeId: bob,
  publicKey: key,
  fingerprint: fp,
  endpoint: { host: "h", port: 1 },
  address,
});

const linked = (over: Partial<PeerRecord> = {}): PeerRecord => ({
  nodeId: bob,
  publicKey: realKey,
  presentedKey: null,
  address: null,
  expectedFingerprint: null,
  host: "h",
  port: 1,
  state: "linked",
  createdAtMs: 1,
  lastError: null,
  lastErrorAtMs: null,
  ...over,
});

Deno.test("decideIncoming(): a stranger on a closed node waits and pins nothing", () => {
  const v = decideIncoming({
    record: undefined,
    proof: proof(squatKey),
    open: false,
    nowMs: 5,
    pendingRoom: true,
  });
  assert.equal(v.kind, "pending");
  assert.equal(v.record!.publicKey, null, "no pin");
  assert.deepEqual(v.record!.presentedKey, squatKey);
  assert.equal(v.record!.address, "10.0.0.9");
});

Deno.test("decideIncoming(): no room for another waiting node is a refusal that stores nothing", () => {
  const v = decideIncoming({
    record: undefined,
    proof: proof(),
    open: false,
    nowMs: 5,
    pendingRoom: false,
  });
  assert.equal(v.kind, "refuse");
  assert.equal(v.record, null);
});

Deno.test("decideIncoming(): an open node refuses a stranger under the id of a node known under another key", () => {
  const input = { record: undefined, open: true, nowMs: 5, pendingRoom: true, knownKey: realKey };
  const squat = decideIncoming({ ...input, proof: proof(squatKey, SQUAT_FP) });
  assert.equal(squat.kind, "refuse");
  assert.equal(squat.record, null, "nothing stored");
  assert.equal(squat.kind === "refuse" && squat.keyMismatch, true);
  // The node itself (the key known here) links as before.
  const real = decideIncoming({ ...input, proof: proof() });
  assert.equal(real.kind, "accept");
  assert.ok(isStranger(real.record!), "linked at first contact: a stranger's record");
});

Deno.test("decideIncoming(): an open node out of room or rate for strangers stores nothing", () => {
  const input = { record: undefined, proof: proof(), open: true, nowMs: 5, pendingRoom: true };
  for (const over of [{ openRoom: false }, { openWithinRate: false }]) {
    const v = decideIncoming({ ...input, ...over });
    assert.equal(v.kind, "refuse", JSON.stringify(over));
    assert.equal(v.record, null);
    assert.equal(v.kind === "refuse" && v.keyMismatch, false);
  }
  // A node already linked is no new stranger: neither limit applies to it.
  const again = decideIncoming({
    ...input,
    record: linked({ address: "10.0.0.9" }),
    openRoom: false,
    openWithinRate: false,
  });
  assert.equal(again.kind, "accept");
});

Deno.test("decideIncoming(): an open node pins at first contact; a pinned key must match", () => {
  const first = decideIncoming({
    record: undefined,
    proof: proof(),
    open: true,
    nowMs: 5,
    pendingRoom: true,
  });
  assert.equal(first.kind, "accept");
  assert.deepEqual(first.record!.publicKey, realKey);
  const wrong = decideIncoming({
    record: linked(),
    proof: proof(squatKey, SQUAT_FP),
    open: true,
    nowMs: 5,
    pendingRoom: true,
  });
  assert.equal(wrong.kind, "refuse");
  assert.match(wrong.record!.lastError!, /different key/);
  assert.equal(
    decideIncoming({
      record: linked({ state: "rejected" }),
      proof: proof(),
      open: true,
      nowMs: 5,
      pendingRoom: true,
    }).kind,
    "refuse",
  );
});

Deno.test("decideIncoming(): an invite's fingerprint decides the first key of a linked record", () => {
  const rec = linked({ publicKey: null, expectedFingerprint: REAL_FP.slice(0, 20) });
  assert.equal(
    decideIncoming({
      record: rec,
      proof: proof(squatKey, SQUAT_FP),
      open: false,
      nowMs: 1,
      pendingRoom: true,
    }).kind,
    "refuse",
  );
  assert.equal(
    decideIncoming({ record: rec, proof: proof(), open: false, nowMs: 1, pendingRoom: true }).kind,
    "accept",
  );
});

Deno.test("decideConnect(): the owner's invite replaces a squatter's pending request", () => {
  const squatted = linked({
    publicKey: null,
    presentedKey: squatKey,
    state: "pending",
    address: "10.6.6.6",
  });
  const d = decideConnect({
    record: squatted,
    target: { nodeId: bob, host: "real", port: 443, fingerprint: REAL_FP },
    pinnedFingerprint: null,
    nowMs: 9,
  });
  assert.equal(d.kind, "ok");
  if (d.kind !== "ok") return;
  assert.equal(d.record.state, "linked");
  assert.equal(d.record.publicKey, null);
  assert.equal(d.record.presentedKey, null);
  assert.equal(d.record.expectedFingerprint, REAL_FP);
  // ...and the real node then links; the squatter is refused.
  assert.equal(decideOutgoing({ record: d.record, proof: proof(), nowMs: 10 }).kind, "accept");
  assert.equal(
    decideOutgoing({ record: d.record, proof: proof(squatKey, SQUAT_FP), nowMs: 10 }).kind,
    "refuse",
  );
});

Deno.test("decideConnect(): a pinned key the invite contradicts is refused with the way out", () => {
  const d = decideConnect({
    record: linked(),
    target: { nodeId: bob, host: "h", port: 1, fingerprint: SQUAT_FP },
    pinnedFingerprint: REAL_FP,
    nowMs: 1,
  });
  assert.equal(d.kind, "refuse");
  assert.match((d as { reason: string }).reason, /links forget bob/);
});

Deno.test("decideApprove() pins the key the waiting node presented", () => {
  const d = decideApprove(
    linked({ publicKey: null, presentedKey: squatKey, state: "pending", address: "10.0.0.9" }),
  );
  assert.equal(d.kind, "ok");
  assert.deepEqual((d as { record: PeerRecord }).record.publicKey, squatKey);
  assert.equal(isStranger((d as { record: PeerRecord }).record), false, "the owner's now");
  assert.equal(decideApprove(linked()).kind, "refuse");
  assert.equal(decideApprove(undefined).kind, "refuse");
});

Deno.test("preferLink() keeps the link initiated by the smaller id on both sides", () => {
  const [a, b] = [toNodeId("a"), toNodeId("b")];
  assert.equal(preferLink({ self: a, peer: b, existing: a, incoming: b }), "keep-existing");
  assert.equal(preferLink({ self: b, peer: a, existing: a, incoming: b }), "keep-existing");
  assert.equal(preferLink({ self: a, peer: b, existing: b, incoming: a }), "replace");
  assert.equal(preferLink({ self: a, peer: b, existing: a, incoming: a }), "replace", "restart");
});
