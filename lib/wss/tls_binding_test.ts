import assert from "node:assert/strict";
import { withPair } from "./_testing.ts";
import { type FinishedSource, TLS_BINDING_BYTES, tlsBinding } from "./tls_binding.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function source(
  protocol: string | null,
  mine: Uint8Array | undefined,
  peers: Uint8Array | undefined,
): FinishedSource {
  return {
    getProtocol: () => protocol,
    getFinished: () => mine,
    getPeerFinished: () => peers,
  };
}

const C = new Uint8Array(32).fill(0xc1);
const S = new Uint8Array(32).fill(0x5e);

Deno.test("tlsBinding() is the same at both ends of one session and differs when one value does", () => {
  const client = tlsBinding(source("TLSv1.3", C, S), "client");
  const server = tlsBinding(source("TLSv1.3", S, C), "server");
  assert.equal(client?.length, TLS_BINDING_BYTES);
  assert.deepEqual(client, server);
  // The order is part of it: the same two values with the roles swapped are another session.
  assert.notDeepEqual(tlsBinding(source("TLSv1.3", S, C), "client"), client);
  const other = C.slice();
  other[31] ^= 1;
  assert.notDeepEqual(tlsBinding(source("TLSv1.3", other, S), "client"), client);
});

Deno.test("tlsBinding() gives none unless TLS 1.3 with both Finished values of one length", () => {
  assert.equal(tlsBinding(source("TLSv1.2", C, S), "client"), null);
  assert.equal(tlsBinding(source(null, C, S), "client"), null);
  assert.equal(tlsBinding(source("TLSv1.3", undefined, S), "client"), null);
  assert.equal(tlsBinding(source("TLSv1.3", C, undefined), "client"), null);
  assert.equal(tlsBinding(source("TLSv1.3", C.subarray(0, 12), S.subarray(0, 12)), "client"), null);
  assert.equal(tlsBinding(source("TLSv1.3", C, new Uint8Array(48)), "client"), null);
  const gone: FinishedSource = {
    getProtocol: () => {
      throw new Error("socket closed");
    },
    getFinished: () => C,
    getPeerFinished: () => S,
  };
  assert.equal(tlsBinding(gone, "server"), null);
});

Deno.test({
  name: "both ends of a real lib/wss connection (TLS 1.3) see the same binding",
  ...opts,
  fn: () =>
    withPair({}, async ({ server, client }) => {
      assert.ok(client.tlsBinding !== null);
      assert.equal(client.tlsBinding.length, TLS_BINDING_BYTES);
      assert.deepEqual(server.tlsBinding, client.tlsBinding);
      await Promise.resolve();
    }),
});
