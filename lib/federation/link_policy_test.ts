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
  type StrangerHolding,
  strangerRoom,
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
  // Asked again from elsewhere: the key shown is the latest, the address (budgets' key) the first.
  const again = decideIncoming({
    record: v.record!,
    proof: proof(realKey, REAL_FP, "10.7.7.7"),
    open: false,
    nowMs: 6,
    pendingRoom: false,
  });
  assert.equal(again.kind, "pending");
  assert.deepEqual(again.record!.presentedKey, realKey);
  assert.equal(again.record!.address, "10.0.0.9");
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
  for (const over of [{ openRefusal: "too many nodes linked from this network" }]) {
    const v = decideIncoming({ ...input, ...over });
    assert.equal(v.kind, "refuse", JSON.stringify(over));
    assert.equal(v.record, null);
    assert.equal(v.kind === "refuse" && v.keyMismatch, false);
  }
  // A node already linked is no new stranger: neither limit applies to it.
  const again = decideIncoming({
    ...input,
    record: linked({ address: "10.0.0.9" }),
    openRefusal: "too many new nodes from this address; try again later",
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

/** `n` strangers from `net`.0/24, `perAddress` per address, created from `at` on. */
function held(net: string, n: number, o: { up?: boolean; perAddress?: number; at?: number } = {}) {
  const { up = true, perAddress = 4, at = 0 } = o;
  return Array.from({ length: n }, (_, i): StrangerHolding => ({
    nodeId: toNodeId(`s${net.replaceAll(".", "-")}-${i}`),
    address: `${net}.${1 + Math.floor(i / perAddress)}`,
    network: `${net}.0/24`,
    createdAtMs: at + i,
    up,
  }));
}

const SMALL = { perAddress: 4, perNetwork: 8, total: 32 };
const room = (strangers: StrangerHolding[], address: string, limits = SMALL) =>
  strangerRoom({
    strangers,
    address,
    network: address.replace(/\.\d+$/, ".0/24"),
    limits,
  });

Deno.test("strangerRoom(): an address or a network at its budget competes only with itself", () => {
  const net = held("10.5.5", 8);
  assert.deepEqual(room(net.slice(0, 4), "10.5.5.1"), {
    kind: "refuse",
    reason: "too many nodes linked from this address",
  });
  assert.deepEqual(room(net, "10.5.5.9"), {
    kind: "refuse",
    reason: "too many nodes linked from this network",
  });
  assert.deepEqual(room(net, "10.5.6.1"), { kind: "fits" }, "another network");
  // One of the network's links is down: the oldest such gives way, whoever holds most.
  const someDown = net.map((s, i) => (i === 5 || i === 6 ? { ...s, up: false } : s));
  assert.deepEqual(room(someDown, "10.5.5.9"), {
    kind: "evict",
    victim: net[5].nodeId,
    scope: "network",
    up: false,
  });
});

Deno.test("strangerRoom(): at the total, a network below its equal share takes the place of the fullest network's oldest", () => {
  // Four /24s hold 8 each, all up: the total of 32 is full.
  const full = [
    ...held("10.5.5", 8, { at: 100 }),
    ...held("10.5.6", 8, { at: 0 }),
    ...held("10.5.7", 8, { at: 200 }),
    ...held("10.5.8", 8, { at: 300 }),
  ];
  // A newcomer's network holds 0 < ⌊32 / 5⌋: the oldest network of the four gives way, link up.
  assert.deepEqual(room(full, "10.9.9.9"), {
    kind: "evict",
    victim: full[8].nodeId,
    scope: "total",
    up: true,
  });
  // A network at its equal share (⌊32 / 4⌋ = 8) is refused: no churn among equals.
  const limits = { ...SMALL, perNetwork: 32 };
  assert.deepEqual(room(full, "10.5.5.9", limits), {
    kind: "refuse",
    reason: "too many nodes linked; this node is full",
  });
  // One network holding most (29 of 32): a network holding 3 < ⌊32 / 2⌋ gets in.
  const most = [...held("10.5.5", 29, { perAddress: 4 }), ...held("10.9.9", 3, { at: 50 })];
  const v = room(most, "10.9.9.200", limits);
  assert.deepEqual(v, { kind: "evict", victim: most[0].nodeId, scope: "total", up: true });
  // The fullest network's links down first, whatever their age.
  const down = most.map((s, i) => (i === 20 ? { ...s, up: false } : s));
  assert.deepEqual(room(down, "10.5.5.200", limits), {
    kind: "evict",
    victim: most[20].nodeId,
    scope: "total",
    up: false,
  });
  // The fullest network itself, all up: refused (it holds more than its share).
  assert.equal(room(most, "10.5.5.200", limits).kind, "refuse");
});
