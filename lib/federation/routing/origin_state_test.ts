import assert from "node:assert/strict";
import { type NodeId, toNodeId } from "../../ids.ts";
import type { AnnouncementBody, SignedAnnouncement } from "./announcement.ts";
import { FakeAnnouncementSigner } from "./fake_signature.ts";
import { checkAnnouncement, type OriginState, receive, UNKNOWN_ORIGIN } from "./origin_state.ts";
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
    seq: NOW,
    issuedAtMs: NOW,
    expiresAtMs: NOW + 60 * MINUTE,
    listed: true,
    links: [],
    users: [],
    ...over,
  }, signer) as SignedAnnouncement;
}

function run(state: OriginState, a: SignedAnnouncement, signatureValid = true) {
  return receive({
    state,
    input: {
      announcement: a,
      nowMs: NOW,
      signatureValid,
      fromPeer: "p" as NodeId,
      neighbours: NEIGHBOURS,
    },
  });
}

Deno.test("receive() accepts a first announcement, pins its key and forwards to all but the sender", () => {
  const a = ann();
  const result = run(UNKNOWN_ORIGIN, a);
  assert.equal(result.kind, "accepted");
  assert.deepEqual(result.newState, { key: X.publicKey, seq: NOW, announcement: a });
  assert.deepEqual(result.forward, ["q", "x"]);
});

Deno.test("receive() never mutates its input state", () => {
  const state = Object.freeze({ key: X.publicKey, seq: NOW - 5, announcement: undefined });
  const copy = { ...state };
  const result = run(state, ann());
  assert.equal(result.kind, "accepted");
  assert.deepEqual(state, copy);
  assert.notEqual(result.newState, state);
});

Deno.test("receive() calls an equal seq a duplicate and a lower one stale, before any key check", () => {
  const state = run(UNKNOWN_ORIGIN, ann()).newState;
  assert.equal(run(state, ann(), false).kind, "duplicate");
  assert.equal(run(state, ann({ seq: NOW - 1 }), false).kind, "stale");
  assert.equal(run(state, ann({ seq: NOW - 1 }, Y), false).kind, "stale");
});

Deno.test("receive() rejects a forged signature and a key other than the pinned one", () => {
  const state = run(UNKNOWN_ORIGIN, ann()).newState;
  assert.deepEqual(run(state, ann({ seq: NOW + 1 }), false).reason, "bad-signature");
  const other = run(state, ann({ seq: NOW + 1 }, Y));
  assert.equal(other.kind, "rejected");
  assert.equal(other.reason, "key-mismatch");
  assert.equal(other.newState, state);
});

Deno.test("checkAnnouncement() bounds seq, issue time and lifetime", () => {
  const check = (over: Partial<AnnouncementBody>) =>
    checkAnnouncement({ state: UNKNOWN_ORIGIN, input: { announcement: ann(over), nowMs: NOW } });
  assert.equal(check({}).kind, "verify");
  assert.equal(check({ seq: NOW + 5 * MINUTE }).kind, "verify");
  assert.deepEqual(check({ seq: NOW + 5 * MINUTE + 1 }), {
    kind: "rejected",
    reason: "from-future",
  });
  assert.equal(
    check({ issuedAtMs: NOW + 6 * MINUTE, expiresAtMs: NOW + 7 * MINUTE }).reason,
    "from-future",
  );
  assert.equal(check({ issuedAtMs: NOW - 2 * MINUTE, expiresAtMs: NOW }).reason, "expired");
  assert.equal(check({ expiresAtMs: NOW + 61 * MINUTE }).reason, "bad-lifetime");
  assert.equal(
    check({ issuedAtMs: NOW + MINUTE, expiresAtMs: NOW + MINUTE }).reason,
    "bad-lifetime",
  );
  const custom = checkAnnouncement({
    state: UNKNOWN_ORIGIN,
    input: { announcement: ann({ seq: NOW + 2 * MINUTE }), nowMs: NOW },
    options: { maxSkewMs: MINUTE },
  });
  assert.equal(custom.reason, "from-future");
});

Deno.test("checkAnnouncement() asks to verify under the pinned key", () => {
  const pinned = { key: X.publicKey, seq: 0, announcement: undefined };
  const result = checkAnnouncement({ state: pinned, input: { announcement: ann(), nowMs: NOW } });
  assert.deepEqual(result, { kind: "verify", publicKey: X.publicKey });
});
