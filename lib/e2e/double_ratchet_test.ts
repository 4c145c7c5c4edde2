import assert from "node:assert/strict";
import { concat } from "./_bytes.ts";
import { flip, makeSessionPair, text } from "./_testing.ts";
import { gcm } from "@noble/ciphers/aes.js";
import { type SyncAead, WEBCRYPTO_AEAD } from "./aead.ts";
import {
  ratchetDecrypt,
  ratchetEncrypt,
  ratchetEncryptSync,
  type RatchetState,
} from "./double_ratchet.ts";
import { CodecError, DecryptError, StateError } from "./errors.ts";
import { decodeRatchetState, encodeRatchetState } from "./ratchet_state.ts";
import {
  decodeRatchetMessage,
  encodeRatchetHeader,
  MAX_RATCHET_MESSAGE_BYTES,
  RATCHET_HEADER_BYTES,
} from "./ratchet_message.ts";
import { X25519_LOW_ORDER_KEYS } from "./x25519.ts";

const pair = await makeSessionPair("ratchet-tests");

async function send(state: RatchetState, s: string, ad?: Uint8Array) {
  return await ratchetEncrypt({ state, plaintext: text(s), ad });
}

async function rejectsUniformly(state: RatchetState, message: Uint8Array, ad?: Uint8Array) {
  const before = encodeRatchetState(state);
  await assert.rejects(ratchetDecrypt({ state, message, ad }), (e: unknown) => {
    assert.ok(e instanceof DecryptError);
    assert.equal((e as Error).message, "Cannot decrypt message");
    return true;
  });
  assert.deepEqual(encodeRatchetState(state), before, "state unchanged");
}

Deno.test("ratchetDecrypt() rejects a tampered ciphertext, tag and header", async () => {
  const { message } = await send(pair.aliceSession, "secret");
  await rejectsUniformly(pair.bobSession, flip(message, RATCHET_HEADER_BYTES + 1));
  await rejectsUniformly(pair.bobSession, flip(message, message.length - 1));
  for (const i of [1, 20, 33, 36, 37, 40]) {
    await rejectsUniformly(pair.bobSession, flip(message, i));
  }
});

Deno.test("ratchetDecrypt() rejects the wrong key, wrong associated data and another session", async () => {
  const { message } = await send(pair.aliceSession, "secret", text("ad-1"));
  await rejectsUniformly(pair.bobSession, message, text("ad-2"));
  await rejectsUniformly(pair.bobSession, message);
  const other = await makeSessionPair("other");
  await rejectsUniformly(other.bobSession, message, text("ad-1"));
  // Same keys but different addresses: the AD binds sender and receiver.
  await rejectsUniformly(
    { ...pair.bobSession, peerAddress: "mallory@nodem" },
    message,
    text("ad-1"),
  );
  assert.deepEqual(
    (await ratchetDecrypt({ state: pair.bobSession, message, ad: text("ad-1") })).plaintext,
    text("secret"),
  );
});

Deno.test("ratchetDecrypt() refuses a replay", async () => {
  const { message } = await send(pair.aliceSession, "once");
  const { newState } = await ratchetDecrypt({ state: pair.bobSession, message });
  await rejectsUniformly(newState, message);
});

Deno.test("ratchetDecrypt() handles out-of-order messages exactly once", async () => {
  let a = pair.aliceSession;
  const msgs: Uint8Array[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await send(a, `m${i}`);
    a = r.newState;
    msgs.push(r.message);
  }
  let b = pair.bobSession;
  for (const i of [3, 0, 4, 2, 1]) {
    const r = await ratchetDecrypt({ state: b, message: msgs[i] });
    assert.deepEqual(r.plaintext, text(`m${i}`));
    b = r.newState;
    await rejectsUniformly(b, msgs[i]);
  }
  assert.equal(b.skipped.length, 0);
});

Deno.test("ratchetDecrypt() refuses a skip beyond maxSkip before deriving anything", async () => {
  let a = pair.aliceSession;
  let last: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < 12; i++) {
    const r = await send(a, `m${i}`);
    a = r.newState;
    last = r.message;
  }
  await assert.rejects(
    ratchetDecrypt({ state: pair.bobSession, message: last, maxSkip: 10 }),
    DecryptError,
  );
  const ok = await ratchetDecrypt({ state: pair.bobSession, message: last, maxSkip: 11 });
  assert.equal(ok.newState.skipped.length, 11);
});

Deno.test("ratchetDecrypt() of a forged huge counter costs nothing and changes nothing", async () => {
  const { message } = await send(pair.aliceSession, "x");
  const forged = message.slice();
  new DataView(forged.buffer).setUint32(37, 0xffffffff); // n
  const t0 = performance.now();
  await rejectsUniformly(pair.bobSession, forged);
  new DataView(forged.buffer).setUint32(33, 0xffffffff); // pn
  await rejectsUniformly(pair.bobSession, forged);
  assert.ok(performance.now() - t0 < 1000);
});

Deno.test("ratchetDecrypt() rejects truncated, oversized, unknown-version and low-order-key messages", async () => {
  const { message } = await send(pair.aliceSession, "x");
  await rejectsUniformly(pair.bobSession, message.subarray(0, RATCHET_HEADER_BYTES + 15));
  await rejectsUniformly(pair.bobSession, new Uint8Array(0));
  await rejectsUniformly(pair.bobSession, concat(message, new Uint8Array((1 << 20) + 100)));
  const v2 = message.slice();
  v2[0] = 2;
  await rejectsUniformly(pair.bobSession, v2);
  const low = message.slice();
  low.set(X25519_LOW_ORDER_KEYS[3], 1);
  await rejectsUniformly(pair.bobSession, low);
});

Deno.test("ratchetEncrypt() refuses to send before the responder has a sending chain", async () => {
  await assert.rejects(send(pair.bobSession, "too early"), StateError);
  await assert.rejects(
    ratchetEncrypt({ state: pair.aliceSession, plaintext: new Uint8Array((1 << 20) + 1) }),
    RangeError,
  );
});

Deno.test("ratchetEncrypt() and ratchetDecrypt() never mutate their input state", async () => {
  const before = encodeRatchetState(pair.aliceSession);
  const r = await send(pair.aliceSession, "x");
  assert.deepEqual(encodeRatchetState(pair.aliceSession), before);
  const bBefore = encodeRatchetState(pair.bobSession);
  await ratchetDecrypt({ state: pair.bobSession, message: r.message });
  assert.deepEqual(encodeRatchetState(pair.bobSession), bBefore);
});

Deno.test("the skipped-key store drops the oldest keys beyond maxSkippedKeys", async () => {
  let a = pair.aliceSession;
  const msgs: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) {
    const r = await send(a, `m${i}`);
    a = r.newState;
    msgs.push(r.message);
  }
  const r = await ratchetDecrypt({ state: pair.bobSession, message: msgs[7], maxSkippedKeys: 3 });
  assert.equal(r.newState.skipped.length, 3);
  await rejectsUniformly(r.newState, msgs[0]);
  assert.deepEqual(
    (await ratchetDecrypt({ state: r.newState, message: msgs[6] })).plaintext,
    text("m6"),
  );
});

Deno.test("ratchet state round-trips through its encoding mid-conversation", async () => {
  let a = pair.aliceSession, b = pair.bobSession;
  const held: Uint8Array[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await send(a, `m${i}`);
    a = r.newState;
    if (i % 2 === 0) held.push(r.message);
    else b = (await ratchetDecrypt({ state: b, message: r.message })).newState;
  }
  for (const s of [a, b, pair.bobSession]) {
    assert.deepEqual(decodeRatchetState(encodeRatchetState(s)), s);
  }
  b = decodeRatchetState(encodeRatchetState(b));
  assert.equal(b.skipped.length, 3);
  for (const m of held) b = (await ratchetDecrypt({ state: b, message: m })).newState;
  assert.equal(b.skipped.length, 0);
  const reply = await send(b, "back");
  assert.deepEqual(
    (await ratchetDecrypt({
      state: decodeRatchetState(encodeRatchetState(a)),
      message: reply.message,
    })).plaintext,
    text("back"),
  );
});

Deno.test("decodeRatchetState() rejects truncated, oversized, unknown-version and bad-count input", () => {
  const bytes = encodeRatchetState(pair.aliceSession);
  assert.throws(() => decodeRatchetState(bytes.subarray(0, bytes.length - 1)), CodecError);
  assert.throws(() => decodeRatchetState(concat(bytes, new Uint8Array(1))), CodecError);
  assert.throws(() => decodeRatchetState(flip(bytes, 0)), CodecError);
  const badCount = bytes.slice();
  badCount[badCount.length - 1] = 5;
  assert.throws(() => decodeRatchetState(badCount), CodecError);
  assert.throws(() => decodeRatchetState(new Uint8Array(8_000_000)), CodecError);
});

Deno.test("a window overrun at the start of an unseen chain fails cleanly; the other direction still works", async () => {
  let a = pair.aliceSession;
  let b = pair.bobSession;
  const first = await send(a, "first");
  a = first.newState;
  b = (await ratchetDecrypt({ state: b, message: first.message })).newState;
  const reply = await send(b, "reply");
  b = reply.newState;
  a = (await ratchetDecrypt({ state: a, message: reply.message })).newState; // Alice ratchets
  for (let i = 0; i < 12; i++) a = (await send(a, "lost")).newState; // never delivered
  const late = await send(a, "late");
  await assert.rejects(
    ratchetDecrypt({ state: b, message: late.message, maxSkip: 10 }),
    DecryptError,
  );
  // Bob's state is untouched and he can still talk to Alice; recovering Alice's
  // direction needs her to ratchet, which needs a new key from Bob: a new handshake.
  const more = await send(b, "still here");
  assert.deepEqual(
    (await ratchetDecrypt({ state: late.newState, message: more.message })).plaintext,
    text("still here"),
  );
});

/** A synchronous AES-256-GCM for the test only (the client's is node:crypto's). */
const SYNC_AEAD: SyncAead = {
  ...WEBCRYPTO_AEAD,
  sealSync: (key, nonce, plaintext, ad) => gcm(key, nonce, ad).encrypt(plaintext),
};

Deno.test("ratchetEncryptSync() makes the same message and state as ratchetEncrypt()", async () => {
  let sync = pair.aliceSession;
  let async = pair.aliceSession;
  let bob = pair.bobSession;
  for (const [i, size] of [0, 1, 100, 5000].entries()) {
    const plaintext = crypto.getRandomValues(new Uint8Array(size));
    const ad = text(`ad-${i}`);
    const a = ratchetEncryptSync({ state: sync, plaintext, ad, aead: SYNC_AEAD });
    const b = await ratchetEncrypt({ state: async, plaintext, ad });
    assert.deepEqual(a.message, b.message);
    assert.deepEqual(encodeRatchetState(a.newState), encodeRatchetState(b.newState));
    const opened = await ratchetDecrypt({ state: bob, message: a.message, ad });
    assert.deepEqual(opened.plaintext, plaintext);
    [sync, async, bob] = [a.newState, b.newState, opened.newState];
  }
  assert.equal(sync.sendCount, pair.aliceSession.sendCount + 4);
  // The responder cannot send before the initiator's first message: thrown at once.
  assert.throws(
    () => ratchetEncryptSync({ state: pair.bobSession, plaintext: text("x"), aead: SYNC_AEAD }),
    StateError,
  );
  assert.throws(
    () =>
      ratchetEncryptSync({
        state: sync,
        plaintext: new Uint8Array((1 << 20) + 1),
        aead: SYNC_AEAD,
      }),
    RangeError,
  );
});

Deno.test("decodeRatchetMessage() reads the header it was given and refuses bad lengths and versions", () => {
  const dh = crypto.getRandomValues(new Uint8Array(32));
  for (const [pn, n] of [[0, 0], [1, 2], [0xffff_ffff, 0x8000_0001]]) {
    const header = encodeRatchetHeader({ dh, pn, n });
    const sealed = crypto.getRandomValues(new Uint8Array(20));
    const m = decodeRatchetMessage(concat(header, sealed));
    assert.deepEqual(m.header, { dh, pn, n });
    assert.deepEqual(m.headerBytes, header);
    assert.deepEqual(m.sealed, sealed);
  }
  assert.throws(() => encodeRatchetHeader({ dh, pn: 2 ** 32, n: 0 }), RangeError);
  assert.throws(() => encodeRatchetHeader({ dh, pn: 0, n: -1 }), RangeError);
  assert.throws(() => encodeRatchetHeader({ dh: dh.subarray(1), pn: 0, n: 0 }), CodecError);
  const ok = concat(encodeRatchetHeader({ dh, pn: 0, n: 0 }), new Uint8Array(16));
  decodeRatchetMessage(ok);
  assert.throws(() => decodeRatchetMessage(ok.subarray(0, ok.length - 1)), CodecError);
  assert.throws(() => decodeRatchetMessage(flip(ok, 0)), CodecError);
  assert.throws(
    () => decodeRatchetMessage(new Uint8Array(MAX_RATCHET_MESSAGE_BYTES + 1)),
    CodecError,
  );
  assert.throws(() => decodeRatchetMessage([1, 2, 3] as unknown as Uint8Array), CodecError);
});

Deno.test("post-compromise security: a copy of Bob's state reads Alice's messages until a DH round trip after the theft, then nothing", async () => {
  let a = pair.aliceSession;
  let b = pair.bobSession;
  const m1 = await send(a, "m1");
  a = m1.newState;
  b = (await ratchetDecrypt({ state: b, message: m1.message })).newState;
  // The attacker copies Bob's whole state (private ratchet keys included) here, and from then
  // on decrypts every message Alice sends with its copy.
  let stolen = b;
  const follow = async (message: Uint8Array, expect: string) => {
    const r = await ratchetDecrypt({ state: stolen, message });
    assert.deepEqual(r.plaintext, text(expect), `the copy reads ${expect}`);
    stolen = r.newState;
  };
  const m2 = await send(a, "m2");
  a = m2.newState;
  await follow(m2.message, "m2");
  b = (await ratchetDecrypt({ state: b, message: m2.message })).newState;
  // Bob answers with the ratchet key he made when m1 came (the copy holds it); Alice steps to it.
  const r1 = await send(b, "r1");
  b = r1.newState;
  a = (await ratchetDecrypt({ state: a, message: r1.message })).newState;
  const m3 = await send(a, "m3");
  a = m3.newState;
  await follow(m3.message, "m3");
  // Bob takes Alice's new key and makes one the copy never saw; his answer carries it.
  b = (await ratchetDecrypt({ state: b, message: m3.message })).newState;
  const afterStep = b;
  const r2 = await send(b, "r2");
  b = r2.newState;
  a = (await ratchetDecrypt({ state: a, message: r2.message })).newState;
  const m4 = await send(a, "m4");
  // A copy taken after Bob's step reads m4; the copy taken before it, followed along, does not.
  assert.deepEqual(
    (await ratchetDecrypt({ state: afterStep, message: m4.message })).plaintext,
    text("m4"),
  );
  await rejectsUniformly(stolen, m4.message);
  assert.deepEqual((await ratchetDecrypt({ state: b, message: m4.message })).plaintext, text("m4"));
});
