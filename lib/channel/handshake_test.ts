import assert from "node:assert/strict";
import { toNodeId } from "../ids.ts";
import { ProtocolError } from "./errors.ts";
import { initiatorHello, type LinkSelf, responderHello } from "./handshake.ts";

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
