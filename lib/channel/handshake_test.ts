import assert from "node:assert/strict";
import { toNodeId } from "../ids.ts";
import { AuthError, ProtocolError } from "./errors.ts";
import {
  initiatorFinish,
  initiatorHello,
  type LinkSelf,
  responderFinish,
  responderHello,
} from "./handshake.ts";

async function self(id: string): Promise<LinkSelf> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { nodeId: toNodeId(id), key: { privateKey: pair.privateKey, publicKey } };
}

Deno.test("responderHello() takes a host name as endpoint and refuses anything else", async () => {
  const [alice, bob] = await Promise.all([self("alice"), self("bob")]);
  const hello = (host: string) =>
    initiatorHello(alice, { expected: bob.nodeId, endpoint: { host, port: 4443 } });
  for (const host of ["example.org", "127.0.0.1", "[::1]", "relay-1.example.org"]) {
    const { state } = await responderHello(bob, (await hello(host)).message);
    assert.deepEqual(state.peer.endpoint, { host, port: 4443 });
  }
  const none = await initiatorHello(alice, { expected: bob.nodeId, endpoint: null });
  assert.equal((await responderHello(bob, none.message)).state.peer.endpoint, null);
  // What a stranger asked to be dialled at was printed by `links` and dialled as it was.
  for (const host of ["\x1b[2J", "evil host", "a/b", "x\u202Eelgoog", "é.example"]) {
    await assert.rejects(
      async () => responderHello(bob, (await hello(host)).message),
      ProtocolError,
      JSON.stringify(host),
    );
  }
});

/** A whole handshake between alice (initiator) and bob, each with the TLS binding it sees. */
async function run(bindingI: Uint8Array | null, bindingR: Uint8Array | null) {
  const [alice, bob] = await Promise.all([self("alice"), self("bob")]);
  const hi = await initiatorHello(alice, {
    expected: bob.nodeId,
    endpoint: null,
    binding: bindingI,
  });
  const hr = await responderHello(bob, hi.message, { binding: bindingR });
  const fin = await initiatorFinish(hi.state, hr.message);
  const done = await responderFinish(hr.state, fin.message);
  return { initiator: fin.keys, responder: done.keys };
}

const B1 = new Uint8Array(32).fill(1);
const B2 = new Uint8Array(32).fill(2);

Deno.test("the handshake proves a TLS binding only when both hellos carry the same one", async () => {
  const both = await run(B1, B1.slice());
  assert.deepEqual(both.initiator.binding, B1);
  assert.deepEqual(both.responder.binding, B1);
  // Keys are derived as ever (a sealed channel needs them; a plain one ignores them).
  assert.deepEqual(both.initiator.send, both.responder.receive);
  // A proxy (or anyone terminating TLS) in between: two sessions, two bindings.
  for (const [i, r] of [[B1, B2], [B1, null], [null, B1], [null, null]]) {
    const { initiator, responder } = await run(i, r);
    assert.equal(initiator.binding, null, `initiator ${i?.[0]} ${r?.[0]}`);
    assert.equal(responder.binding, null, `responder ${i?.[0]} ${r?.[0]}`);
    assert.deepEqual(initiator.send, responder.receive);
  }
});

Deno.test("a binding rewritten in transit breaks a signature: refused, never plain", async () => {
  const [alice, bob] = await Promise.all([self("alice"), self("bob")]);
  // HELLO_I's binding made to match the responder's session: the responder signs what it saw,
  // the initiator checks against what it sent.
  const hi = await initiatorHello(alice, { expected: bob.nodeId, endpoint: null, binding: B1 });
  const forged = hi.message.slice();
  forged.set(B2, forged.length - 32);
  const hr = await responderHello(bob, forged, { binding: B2 });
  await assert.rejects(() => initiatorFinish(hi.state, hr.message), AuthError);
  // HELLO_R's binding rewritten on the way back: the initiator refuses it.
  const hr2 = await responderHello(bob, hi.message, { binding: B2 });
  const forgedR = hr2.message.slice();
  forgedR.set(B1, forgedR.length - 64 - 32);
  await assert.rejects(() => initiatorFinish(hi.state, forgedR), AuthError);
  // A binding removed (length 0) from HELLO_I: the same.
  const bare = await initiatorHello(alice, { expected: bob.nodeId, endpoint: null, binding: B1 });
  const stripped = bare.message.slice(0, bare.message.length - 33);
  const withZero = new Uint8Array(stripped.length + 1);
  withZero.set(stripped);
  const hr3 = await responderHello(bob, withZero, { binding: B1 });
  await assert.rejects(() => initiatorFinish(bare.state, hr3.message), AuthError);
  // And had the initiator gone on, the responder refuses its AUTH_I for the same reason.
  const hi4 = await initiatorHello(alice, { expected: bob.nodeId, endpoint: null, binding: B1 });
  const hr4 = await responderHello(bob, hi4.message, { binding: B1 });
  const fin4 = await initiatorFinish(hi4.state, hr4.message);
  const hr5 = await responderHello(bob, withZero, { binding: B1 });
  await assert.rejects(() => responderFinish(hr5.state, fin4.message), AuthError);
});

Deno.test("hellos refuse a binding of another length, and versions 1 to 3", async () => {
  const [alice, bob] = await Promise.all([self("alice"), self("bob")]);
  const hi = await initiatorHello(alice, { expected: bob.nodeId, endpoint: null, binding: B1 });
  const short = hi.message.slice(0, hi.message.length - 1);
  short[short.length - 32] = 31;
  await assert.rejects(() => responderHello(bob, short), ProtocolError);
  const truncated = hi.message.slice(0, hi.message.length - 1);
  await assert.rejects(() => responderHello(bob, truncated), ProtocolError);
  for (const version of [1, 2, 3, 5]) {
    const old = hi.message.slice();
    old[1] = version;
    await assert.rejects(() => responderHello(bob, old), /unknown version/);
  }
  const hr = await responderHello(bob, hi.message, { binding: B1 });
  const oldR = hr.message.slice();
  oldR[1] = 3;
  await assert.rejects(() => initiatorFinish(hi.state, oldR), /unknown version/);
  await assert.rejects(() =>
    initiatorHello(alice, {
      expected: bob.nodeId,
      endpoint: null,
      binding: new Uint8Array(31),
    }), RangeError);
});

Deno.test("a recorded handshake replayed to a new connection is refused, either side", async () => {
  const [alice, bob] = await Promise.all([self("alice"), self("bob")]);
  // One complete handshake, recorded on the wire.
  const hi = await initiatorHello(alice, { expected: bob.nodeId, endpoint: null });
  const hr = await responderHello(bob, hi.message);
  const fin = await initiatorFinish(hi.state, hr.message);
  await responderFinish(hr.state, fin.message);
  // Replayed to bob: he answers with a fresh nonce and key, and the recorded AUTH_I signs the old.
  const again = await responderHello(bob, hi.message);
  await assert.rejects(() => responderFinish(again.state, fin.message), AuthError);
  // Bob's recorded answer replayed to a new hello of alice's: it signs her old nonce.
  const hi2 = await initiatorHello(alice, { expected: bob.nodeId, endpoint: null });
  await assert.rejects(() => initiatorFinish(hi2.state, hr.message), AuthError);
  // Relayed: bob's answer to carol's hello handed to alice is refused too.
  const carol = await self("carol");
  const hc = await initiatorHello(carol, { expected: bob.nodeId, endpoint: null });
  const hrc = await responderHello(bob, hc.message);
  await assert.rejects(() => initiatorFinish(hi2.state, hrc.message), AuthError);
});
