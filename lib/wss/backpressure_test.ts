import assert from "node:assert/strict";
import type { WsConnection } from "./connection.ts";
import { closeCode, until, withPair } from "./_testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const KIB = 1024;
const MIB = 1024 * KIB;
/** Bounds every send loop: far more than loopback's kernel buffers hold. */
const MAX_SENDS = 4096;

/**
 * Sends while `ws` is writable, letting the kernel take what it can between
 * rounds, until it stays not writable: its peer is really not reading.
 * Returns how many messages were sent.
 */
async function sendUntilHeldBack(ws: WsConnection, msg: Uint8Array): Promise<number> {
  let sent = 0;
  while (sent < MAX_SENDS) {
    while (ws.writable && sent < MAX_SENDS) {
      assert.ok(ws.send(msg));
      sent++;
    }
    await new Promise((r) => setTimeout(r, 20));
    if (!ws.writable) return sent;
  }
  throw new Error(`still writable after ${sent} messages`);
}

Deno.test({
  name: "send(): writable turns false at the high-water mark; onDrain once the peer reads again",
  ...opts,
  fn: () =>
    withPair(
      { write: { highWaterBytes: 256 * KIB, maxBufferedBytes: 256 * MIB, stallMs: 60_000 } },
      async ({ server, client }) => {
        let received = 0;
        client.onMessage = () => void received++;
        let drained = 0;
        server.onDrain = () => void drained++;
        client.pauseReading();
        const sent = await sendUntilHeldBack(server, new Uint8Array(64 * KIB));
        assert.equal(server.writable, false, "not writable while the peer does not read");
        assert.ok(server.bufferedBytes > 64 * KIB, "unsent bytes above the low-water mark");
        client.resumeReading();
        await until("writable again", () => server.writable);
        assert.ok(drained >= 1, "onDrain was called");
        await until("every message arrives", () => received === sent);
      },
    ),
});

Deno.test({
  name: "a connection whose unsent bytes pass the pause mark stops being read, then resumes",
  ...opts,
  fn: () =>
    withPair(
      {
        maxMessageBytes: 64 * KIB,
        write: { highWaterBytes: 128 * KIB, maxBufferedBytes: 256 * MIB, stallMs: 60_000 },
      },
      async ({ server, client, monitor }) => {
        let atServer = 0;
        server.onMessage = () => void atServer++;
        client.onMessage = () => {};
        client.pauseReading();
        const msg = new Uint8Array(64 * KIB);
        // A sender ignoring `writable` pushes the server past high water + one message,
        // until the client's kernel buffers (tcp_rmem: up to 32 MiB here) are full too.
        let pushed = 0;
        while (pushed < MAX_SENDS) {
          while (pushed < MAX_SENDS && monitor.counts().readPausedNow === 0) {
            server.send(msg);
            pushed++;
          }
          await new Promise((r) => setTimeout(r, 20));
          if (monitor.counts().readPausedNow === 1) break;
        }
        assert.equal(monitor.counts().readPausedNow, 1, "the server stopped reading");
        // TCP now pushes back on the client: its own sends back up.
        const clientSent = await sendUntilHeldBack(client, msg);
        assert.equal(monitor.counts().readPausedNow, 1, "the server still does not read");
        let clientDrained = false;
        client.onDrain = () => void (clientDrained = true);
        client.resumeReading();
        await until("the server reads again", () => monitor.counts().readPausedNow === 0);
        await until("the client drains", () => clientDrained);
        await until("everything the client sent arrives", () => atServer === clientSent);
        assert.ok(monitor.counts().readPauses >= 1);
      },
    ),
});

Deno.test({
  name: "a send past maxBufferedBytes is refused and the connection closed (1008)",
  ...opts,
  fn: () =>
    withPair(
      { write: { highWaterBytes: 64 * KIB, maxBufferedBytes: 2 * MIB, stallMs: 60_000 } },
      async ({ server, client, monitor }) => {
        client.pauseReading();
        const code = closeCode(server);
        const msg = new Uint8Array(64 * KIB);
        await sendUntilHeldBack(server, msg);
        // A sender ignoring `writable` goes on.
        let refused = false;
        for (let i = 0; i < MAX_SENDS && !refused; i++) refused = !server.send(msg);
        assert.ok(refused, "a send was refused");
        assert.equal(await code, 1008);
        assert.equal(server.open, false);
        assert.equal(monitor.counts().writeOverflows, 1);
        assert.equal(server.send(msg), false, "a closed connection queues nothing");
        client.resumeReading();
      },
    ),
});

Deno.test({
  name: "a connection that stays not writable for stallMs is closed",
  ...opts,
  fn: () =>
    withPair(
      { write: { highWaterBytes: 64 * KIB, maxBufferedBytes: 256 * MIB, stallMs: 300 } },
      async ({ server, client, monitor }) => {
        client.pauseReading();
        const code = closeCode(server);
        // A sender that respects `writable` keeps offering; the kernel may take more now and
        // then (its buffers grow), but not for ever: then 300 ms pass without relief.
        const msg = new Uint8Array(64 * KIB);
        for (let i = 0; i < MAX_SENDS && server.open; i++) {
          if (server.writable) server.send(msg);
          else await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(await code, 1008);
        assert.equal(monitor.counts().writeStalls, 1);
        client.resumeReading();
      },
    ),
});
