import assert from "node:assert/strict";
import { concat } from "./_bytes.ts";
import { flip, text } from "./_testing.ts";
import { ratchetDecrypt, ratchetEncrypt } from "./double_ratchet.ts";
import { CodecError, VerifyError } from "./errors.ts";
import {
  acceptChatRequest,
  checkHandshakeConfirm,
  completeChatRequest,
  createChatRequest,
  readChatRequest,
} from "./handshake.ts";
import {
  CHAT_REQUEST_VERSION,
  decodeChatRequest,
  decodePendingChatRequest,
  encodeChatRequestBody,
  encodePendingChatRequest,
  MAX_SEALED_INTRO_BYTES,
} from "./handshake_messages.ts";
import { generateIdentity } from "./identity.ts";
import { openIntro, sealIntro } from "./intro_seal.ts";
import { X25519_LOW_ORDER_KEYS } from "./x25519.ts";

const alice = await generateIdentity();
const bob = await generateIdentity();
const carol = await generateIdentity();

const NOW = 1_700_000_000_000;
const AD = text("alice@nodea|bob@nodeb");

async function start() {
  const sealedIntro = await sealIntro({ recipient: bob.publicIdentity, intro: text("hi"), ad: AD });
  const { request, pending } = await createChatRequest({
    identity: alice,
    from: "alice@nodea",
    to: "bob@nodeb",
    createdAtMs: NOW,
    sealedIntro,
  });
  const verified = await readChatRequest(request, { localAddress: "bob@nodeb" });
  const accepted = await acceptChatRequest({ identity: bob, request: verified });
  return { request, pending, verified, accepted };
}

Deno.test("handshake completes, confirms, and the ratchet works both ways", async () => {
  const { pending, accepted } = await start();
  const done = await completeChatRequest({
    identity: alice,
    pending,
    acceptance: accepted.acceptance,
  });
  checkHandshakeConfirm(done.confirm, accepted);
  assert.deepEqual(done.peerIdentity, bob.publicIdentity);
  assert.deepEqual(accepted.peerIdentity, alice.publicIdentity);
  assert.deepEqual(done.session.sessionId, accepted.session.sessionId);
  const m1 = await ratchetEncrypt({ state: done.session, plaintext: text("hello") });
  const r1 = await ratchetDecrypt({ state: accepted.session, message: m1.message });
  assert.deepEqual(r1.plaintext, text("hello"));
  const m2 = await ratchetEncrypt({ state: r1.newState, plaintext: text("hi") });
  assert.deepEqual(
    (await ratchetDecrypt({ state: m1.newState, message: m2.message })).plaintext,
    text("hi"),
  );
});

Deno.test("readChatRequest() returns the signed time, nonce and sealed intro", async () => {
  const { request, verified } = await start();
  assert.equal(request[0], CHAT_REQUEST_VERSION);
  assert.equal(verified.createdAtMs, NOW);
  assert.equal(verified.nonce.length, 16);
  assert.equal(
    new TextDecoder().decode(
      await openIntro({ identity: bob, sealed: verified.sealedIntro, ad: AD }),
    ),
    "hi",
  );
  const again = await start();
  assert.notDeepEqual(again.verified.nonce, verified.nonce);
  assert.notDeepEqual(again.verified.requestHash, verified.requestHash);
});

/** The request re-encoded with some fields changed and the original signature kept. */
function resigned(request: Uint8Array, change: Record<string, unknown>): Uint8Array {
  const d = decodeChatRequest(request);
  return concat(encodeChatRequestBody({ ...d, ...change }), d.signature);
}

Deno.test("readChatRequest() refuses a request whose sealed intro was swapped", async () => {
  const { request } = await start();
  const swapped = await sealIntro({ recipient: bob.publicIdentity, intro: text("evil"), ad: AD });
  const forged = resigned(request, { sealedIntro: swapped });
  await assert.rejects(readChatRequest(forged, { localAddress: "bob@nodeb" }), VerifyError);
  const stripped = resigned(request, { sealedIntro: new Uint8Array(0) });
  await assert.rejects(readChatRequest(stripped, { localAddress: "bob@nodeb" }), VerifyError);
});

Deno.test("readChatRequest() refuses a request whose time or nonce was changed", async () => {
  const { request } = await start();
  for (const change of [{ createdAtMs: NOW + 1 }, { nonce: new Uint8Array(16) }]) {
    await assert.rejects(
      readChatRequest(resigned(request, change), { localAddress: "bob@nodeb" }),
      VerifyError,
    );
  }
});

Deno.test("chat request encoding refuses an oversized sealed intro", async () => {
  const { request } = await start();
  assert.throws(
    () => resigned(request, { sealedIntro: new Uint8Array(MAX_SEALED_INTRO_BYTES + 1) }),
    RangeError,
  );
});

Deno.test("readChatRequest() refuses a request replayed to someone else", async () => {
  const { request } = await start();
  await assert.rejects(readChatRequest(request, { localAddress: "carol@nodec" }), VerifyError);
});

Deno.test("readChatRequest() refuses any altered byte", async () => {
  const { request } = await start();
  for (let i = 0; i < request.length; i += 37) {
    await assert.rejects(readChatRequest(flip(request, i), { localAddress: "bob@nodeb" }));
  }
  await assert.rejects(
    readChatRequest(flip(request, request.length - 1), { localAddress: "bob@nodeb" }),
    VerifyError,
  );
});

Deno.test("readChatRequest() rejects truncated, oversized and unknown-version requests", async () => {
  const { request } = await start();
  await assert.rejects(
    readChatRequest(request.subarray(0, request.length - 1), { localAddress: "bob@nodeb" }),
    CodecError,
  );
  await assert.rejects(
    readChatRequest(concat(request, new Uint8Array(1)), { localAddress: "bob@nodeb" }),
    CodecError,
  );
  await assert.rejects(
    readChatRequest(flip(request, 0), { localAddress: "bob@nodeb" }),
    CodecError,
  );
  await assert.rejects(
    readChatRequest(new Uint8Array(5000), { localAddress: "bob@nodeb" }),
    CodecError,
  );
  // Version 1 (no signed time, nonce or intro) is no longer read.
  const v1 = request.slice();
  v1[0] = 1;
  await assert.rejects(readChatRequest(v1, { localAddress: "bob@nodeb" }), CodecError);
});

Deno.test("completeChatRequest() refuses an acceptance replayed to another request", async () => {
  const first = await start();
  const second = await createChatRequest({
    identity: alice,
    from: "alice@nodea",
    to: "bob@nodeb",
    createdAtMs: NOW,
  });
  await assert.rejects(
    completeChatRequest({
      identity: alice,
      pending: second.pending,
      acceptance: first.accepted.acceptance,
    }),
    VerifyError,
  );
});

Deno.test("completeChatRequest() refuses any altered acceptance byte", async () => {
  const { pending, accepted } = await start();
  const a = accepted.acceptance;
  for (let i = 0; i < a.length; i += 41) {
    await assert.rejects(
      completeChatRequest({ identity: alice, pending, acceptance: flip(a, i) }),
      VerifyError,
    );
  }
  // The ML-KEM ciphertext alone (implicit rejection) and the confirmation alone.
  for (const i of [a.length - 64 - 32 - 500, a.length - 64 - 1]) {
    await assert.rejects(
      completeChatRequest({ identity: alice, pending, acceptance: flip(a, i) }),
      VerifyError,
    );
  }
  await assert.rejects(
    completeChatRequest({ identity: alice, pending, acceptance: a.subarray(1) }),
    VerifyError,
  );
});

Deno.test("completeChatRequest() refuses an acceptance from a different identity (wrong key)", async () => {
  const { verified, pending } = await start();
  const other = await acceptChatRequest({ identity: carol, request: verified });
  // Carol's acceptance is valid in itself: the caller's pinning must catch the identity.
  const done = await completeChatRequest({
    identity: alice,
    pending,
    acceptance: other.acceptance,
  });
  assert.deepEqual(done.peerIdentity, carol.publicIdentity);
  // Completing with the wrong own identity fails key confirmation.
  const { pending: p2, accepted: a2 } = await start();
  await assert.rejects(
    completeChatRequest({ identity: carol, pending: p2, acceptance: a2.acceptance }),
    VerifyError,
  );
});

Deno.test("readChatRequest() refuses a low-order ephemeral key", async () => {
  const { request } = await start();
  // Ephemeral key sits after version, kind, two addresses, time, nonce and the identity.
  const offset = 2 + 2 + "alice@nodea".length + 2 + "bob@nodeb".length + 8 + 16 + 129;
  const forged = request.slice();
  forged.set(X25519_LOW_ORDER_KEYS[0], offset);
  await assert.rejects(readChatRequest(forged, { localAddress: "bob@nodeb" }), VerifyError);
});

Deno.test("checkHandshakeConfirm() rejects tampered and foreign confirmations", async () => {
  const { pending, accepted } = await start();
  const done = await completeChatRequest({
    identity: alice,
    pending,
    acceptance: accepted.acceptance,
  });
  assert.throws(() => checkHandshakeConfirm(flip(done.confirm, 40), accepted), VerifyError);
  assert.throws(() => checkHandshakeConfirm(flip(done.confirm, 5), accepted), VerifyError);
  assert.throws(() => checkHandshakeConfirm(flip(done.confirm, 0), accepted), VerifyError);
  assert.throws(() => checkHandshakeConfirm(done.confirm.subarray(1), accepted), VerifyError);
  const other = await start();
  assert.throws(() => checkHandshakeConfirm(done.confirm, other.accepted), VerifyError);
});

Deno.test("pending chat request round-trips and rejects bad input", async () => {
  const { pending, accepted } = await start();
  const decoded = decodePendingChatRequest(encodePendingChatRequest(pending));
  assert.deepEqual(decoded, pending);
  await completeChatRequest({ identity: alice, pending: decoded, acceptance: accepted.acceptance });
  const bytes = encodePendingChatRequest(pending);
  assert.throws(() => decodePendingChatRequest(flip(bytes, 0)), CodecError);
  assert.throws(() => decodePendingChatRequest(bytes.subarray(0, bytes.length - 1)), CodecError);
});
