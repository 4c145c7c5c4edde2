import assert from "node:assert/strict";
import { closeCode, until, withPair } from "./_testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "a handler that throws closes its connection with 1011; the listener keeps serving",
  ...opts,
  fn: () =>
    withPair({
      setup: (server) => {
        server.onMessage = () => {
          throw new RangeError("decoder bug");
        };
      },
    }, async ({ client, monitor, listener }) => {
      const code = closeCode(client);
      client.send(new Uint8Array([1, 2, 3]));
      assert.equal(await code, 1011);
      assert.equal(monitor.counts().handlerFaults, 1);
      await until("the listener forgets the connection", () => listener.connections() === 0);
    }),
});

Deno.test({
  name: "a handler whose promise rejects closes its connection with 1011",
  ...opts,
  fn: () =>
    withPair({
      setup: (server) => {
        server.onMessage = async () => {
          await Promise.resolve();
          throw new TypeError("async bug");
        };
      },
    }, async ({ client, monitor }) => {
      const code = closeCode(client);
      client.send(new Uint8Array([1]));
      assert.equal(await code, 1011);
      assert.equal(monitor.counts().handlerFaults, 1);
    }),
});

Deno.test({
  name: "messages held during a handshake reach a throwing handler under the guard",
  ...opts,
  fn: () =>
    withPair({}, async ({ server, client, monitor }) => {
      // No handler yet: the message waits; setting one that throws must not throw here.
      const t0 = Date.now();
      await until("a millisecond passes", () => Date.now() > t0 + 1);
      client.send(new Uint8Array([9]));
      await until("the message arrived and waits", () => server.lastSeenMs > t0 + 1);
      const code = closeCode(client);
      server.onMessage = () => {
        throw new Error("handshake bug");
      };
      assert.equal(await code, 1011);
      assert.equal(monitor.counts().handlerFaults, 1);
    }),
});

Deno.test({
  name: "an onClose that throws is contained",
  ...opts,
  fn: () =>
    withPair({}, async ({ server, client, monitor }) => {
      server.onClose = () => {
        throw new Error("close bug");
      };
      client.close(1000, "bye");
      await until("server closed", () => !server.open);
      assert.equal(monitor.counts().handlerFaults, 1);
    }),
});

Deno.test({
  name: "a ping flood far over the pong rate is closed with 1008",
  ...opts,
  fn: () =>
    withPair({}, async ({ client, monitor }) => {
      const code = closeCode(client);
      for (let i = 0; i < 200 && client.open; i++) client.ping(new Uint8Array([i]));
      assert.equal(await code, 1008);
      assert.ok(monitor.counts().pongsDropped >= 64);
    }),
});
