import assert from "node:assert/strict";
import { type NodeId, toNodeId } from "../../ids.ts";
import type { AnnouncementBody, SignedAnnouncement } from "./announcement.ts";
import { FakeAnnouncementSigner } from "./fake_signature.ts";
import {
  believed,
  checkAnnouncement,
  confirmByDuplicate,
  type OriginState,
  pinByLink,
  pinFromStore,
  receive,
  UNKNOWN_ORIGIN,
} from "./origin_state.ts";
import { signAnnouncement } from "./signatures.ts";

const NOW = 1_700_000_000_000;
const MINUTE = 60_000;
const X = FakeAnnouncementSigner.forNode("x");
const Y = FakeAnnouncementSigner.forNode("y");
const NEIGHBOURS = ["p", "q", "x"].map(toNodeId);

function ann(over: Partial<AnnouncementBody> = {}, signer = X): SignedAnnouncement {
  return signAnnouncement({
    origin: toNodeId("x"),
    publicKey: signer.publicKey,
    seq: 10,
    lifetimeMs: 60 * MINUTE,
    listed: true,
    links: [],
    users: [],
    ...over,
  }, signer) as SignedAnnouncement;
}

function run(
  state: OriginState,
  a: SignedAnnouncement,
  { from = "p", valid = true, ageMs = 0, nowMs = NOW } = {},
) {
  return receive({
    state,
    input: {
      announcement: a,
      ageMs,
      nowMs,
      signatureValid: valid,
      fromPeer: from as NodeId,
      neighbours: NEIGHBOURS,
    },
  });
}

Deno.test("receive() keeps a first announcement as provisional, introduced by its sender", () => {
  const a = ann();
  const result = run(UNKNOWN_ORIGIN, a, { ageMs: 5_000 });
  assert.equal(result.kind, "accepted");
  assert.deepEqual(result.newState, {
    key: X.publicKey,
    trust: "provisional",
    introducer: "p",
    rival: undefined,
    seq: 10,
    announcement: a,
    expiresAtMs: NOW + 60 * MINUTE - 5_000,
  });
  assert.deepEqual(result.forward, ["q", "x"]);
  assert.equal(believed(result.newState), true); // earliest seen, uncontested
});

Deno.test("receive() never mutates its input state", () => {
  const state = Object.freeze({
    ...UNKNOWN_ORIGIN,
    key: X.publicKey,
    trust: "link" as const,
    seq: 5,
  });
  const copy = { ...state };
  const result = run(state, ann());
  assert.equal(result.kind, "accepted");
  assert.deepEqual(state, copy);
  assert.notEqual(result.newState, state);
  assert.equal(result.newState.trust, "link");
});

Deno.test("a second neighbour confirms a provisional origin, by a newer seq or the same bytes", () => {
  const first = run(UNKNOWN_ORIGIN, ann()).newState;
  // The introducer repeating itself confirms nothing.
  assert.equal(run(first, ann({ seq: 11 }), { from: "p" }).newState.trust, "provisional");
  const newer = run(first, ann({ seq: 11 }), { from: "q" }).newState;
  assert.equal(newer.trust, "confirmed");
  assert.equal(newer.introducer, undefined);
  assert.equal(believed(newer), true);
  const a = first.announcement!;
  assert.equal(
    confirmByDuplicate({ state: first, fromPeer: toNodeId("p"), sameBytes: true }),
    first,
  );
  assert.equal(
    confirmByDuplicate({ state: first, fromPeer: toNodeId("q"), sameBytes: false }),
    first,
  );
  const dup = confirmByDuplicate({ state: first, fromPeer: toNodeId("q"), sameBytes: true });
  assert.equal(dup.trust, "confirmed");
  assert.equal(dup.announcement, a);
});

Deno.test("receive() calls an equal seq a duplicate and a lower one stale, before any key check", () => {
  const state = pinByLink(run(UNKNOWN_ORIGIN, ann()).newState, X.publicKey);
  assert.equal(run(state, ann(), { valid: false }).kind, "duplicate");
  assert.equal(run(state, ann({ seq: 9 }), { valid: false }).kind, "stale");
  assert.equal(run(state, ann({ seq: 9 }, Y), { valid: false }).kind, "stale");
});

Deno.test("receive() rejects a forged signature, and another key for a pinned or confirmed id", () => {
  const linked = pinByLink(UNKNOWN_ORIGIN, X.publicKey);
  assert.equal(run(linked, ann({ seq: 11 }), { valid: false }).reason, "bad-signature");
  const other = run(linked, ann({ seq: 11 }, Y), { from: "q" });
  assert.equal(other.reason, "key-mismatch");
  assert.equal(other.newState, linked);
  const stored = pinFromStore(X.publicKey, "confirmed");
  assert.equal(run(stored, ann({ seq: 99 }, Y), { from: "q" }).reason, "key-mismatch");
});

Deno.test("a provisional key does not take over an id, and loses it to a key two neighbours deliver", () => {
  // m spoke first for x with its own key (Y); the real x (key X) arrives through q, then r.
  const squatted = run(UNKNOWN_ORIGIN, ann({ seq: 900_000 }, Y), { from: "m" }).newState;
  assert.equal(squatted.trust, "provisional");
  // m repeating itself with yet another key changes nothing.
  assert.equal(run(squatted, ann({ seq: 900_001 }, X), { from: "m" }).reason, "key-mismatch");
  // The real key through q: recorded as a rival (its seq is judged in its own space).
  const contested = run(squatted, ann({ seq: 3 }), { from: "q" });
  assert.equal(contested.kind, "rejected");
  assert.equal(contested.reason, "key-conflict");
  assert.deepEqual(contested.newState.rival, { key: X.publicKey, via: "q" });
  assert.equal(believed(contested.newState), false); // contested: neither key verifies receipts
  assert.deepEqual(contested.newState.key, Y.publicKey);
  // q again is not a second neighbour; a forged copy through r is not proof either.
  assert.equal(run(contested.newState, ann({ seq: 4 }), { from: "q" }).reason, "key-conflict");
  assert.equal(
    run(contested.newState, ann({ seq: 4 }), { from: "r", valid: false }).reason,
    "bad-signature",
  );
  const taken = run(contested.newState, ann({ seq: 4 }), { from: "r" });
  assert.equal(taken.kind, "accepted");
  assert.deepEqual(taken.newState.key, X.publicKey);
  assert.equal(taken.newState.trust, "confirmed");
  assert.equal(taken.newState.seq, 4);
});

Deno.test("checkAnnouncement() judges freshness by age and lifetime, never by the clock's value", () => {
  const check = (over: Partial<AnnouncementBody>, ageMs = 0, nowMs = NOW) =>
    checkAnnouncement({
      state: UNKNOWN_ORIGIN,
      input: { announcement: ann(over), ageMs, nowMs, fromPeer: toNodeId("p") },
    });
  assert.equal(check({}).kind, "verify");
  // Any clock, two hours either way: the same answer.
  assert.equal(check({}, 0, NOW - 2 * 60 * MINUTE).kind, "verify");
  assert.equal(check({}, 0, NOW + 2 * 60 * MINUTE).kind, "verify");
  assert.equal(check({}, 60 * MINUTE - 1).kind, "verify");
  assert.equal(check({}, 60 * MINUTE).reason, "expired");
  assert.equal(check({ lifetimeMs: 61 * MINUTE }).reason, "bad-lifetime");
  const custom = checkAnnouncement({
    state: UNKNOWN_ORIGIN,
    input: {
      announcement: ann({ lifetimeMs: 2 * MINUTE }),
      ageMs: 0,
      nowMs: NOW,
      fromPeer: toNodeId("p"),
    },
    options: { maxLifetimeMs: MINUTE },
  });
  assert.equal(custom.reason, "bad-lifetime");
});

Deno.test("checkAnnouncement() refuses a seq far past the last one, allowing one a second since", () => {
  const state = run(pinByLink(UNKNOWN_ORIGIN, X.publicKey), ann({ seq: 100 })).newState;
  const check = (seq: number, nowMs = NOW) =>
    checkAnnouncement({
      state,
      input: { announcement: ann({ seq }), ageMs: 0, nowMs, fromPeer: toNodeId("p") },
    });
  assert.equal(check(100 + 4096).kind, "verify");
  assert.equal(check(100 + 4097).reason, "from-future");
  assert.equal(check(2 ** 32 - 1).reason, "from-future");
  // A day later the origin may have issued up to one a second.
  assert.equal(check(100 + 4096 + 86_400, NOW + 86_400_000).kind, "verify");
  assert.equal(check(100 + 4096 + 86_400 + 3_601, NOW + 86_400_000).reason, "from-future");
});

Deno.test("checkAnnouncement() asks to verify under the key the announcement carries", () => {
  const pinned = pinByLink(UNKNOWN_ORIGIN, X.publicKey);
  const a = ann();
  const result = checkAnnouncement({
    state: pinned,
    input: { announcement: a, ageMs: 0, nowMs: NOW, fromPeer: toNodeId("p") },
  });
  assert.deepEqual(result, { kind: "verify", publicKey: X.publicKey, claim: "same" });
});

Deno.test("pinByLink() overrides a flooded key and forgets what came with it", () => {
  const flooded = run(UNKNOWN_ORIGIN, ann({ seq: 50 }, Y), { from: "m" }).newState;
  const pinned = pinByLink(flooded, X.publicKey);
  assert.deepEqual(pinned, { ...UNKNOWN_ORIGIN, key: X.publicKey, trust: "link" });
  const same = run(UNKNOWN_ORIGIN, ann({ seq: 50 }), { from: "m" }).newState;
  const kept = pinByLink(same, X.publicKey);
  assert.equal(kept.seq, 50);
  assert.equal(kept.trust, "link");
  assert.equal(pinByLink(kept, X.publicKey), kept);
});
