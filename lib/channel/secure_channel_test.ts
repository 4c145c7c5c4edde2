import assert from "node:assert/strict";
import { SILENT_LOGGER } from "../log.ts";
import { createCertificate } from "../tls.ts";
import { ConnectionMonitor, dialWss, startWssServer, type WsConnection } from "../wss/mod.ts";
import { nextChannelMessage } from "./next_message.ts";
import {
  LEND_RECORD_MIN_BYTES,
  RECORD_MAX_BYTES,
  SecureChannel,
  SEND_ROOM_BYTES,
  splitRecord,
} from "./secure_channel.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const material = createCertificate(["127.0.0.1"], Date.now());

/** Counts the records (WebSocket messages) `end` receives from now on, in `n`. */
function countRecords(end: SecureChannel): { n: number } {
  const count = { n: 0 };
  const receive = end.ws.onMessage!;
  end.ws.onMessage = (data, isText) => {
    count.n++;
    return receive(data, isText);
  };
  return count;
}

/** Both modes of the channel: every test that is not about the cipher runs in each. */
const MODES = ["sealed", "plain"] as const;
type Mode = typeof MODES[number];

/**
 * Runs `fn` with the two ends of one channel over a real TLS connection: sealed, or plain (the
 * keys carry the connection's TLS binding, as after a handshake in which both proved it).
 */
async function withChannels(
  mode: Mode,
  fn: (
    ends: { server: SecureChannel; client: SecureChannel; monitor: ConnectionMonitor },
  ) => Promise<void>,
): Promise<void> {
  const a = crypto.getRandomValues(new Uint8Array(32));
  const b = crypto.getRandomValues(new Uint8Array(32));
  const monitor = new ConnectionMonitor({ log: SILENT_LOGGER });
  let resolve: (ws: WsConnection) => void = () => {};
  const serverWs = new Promise<WsConnection>((r) => (resolve = r));
  const listener = await startWssServer({
    host: "127.0.0.1",
    port: 0,
    ...(await material),
    maxConnections: 8,
    maxConnectionsPerAddress: 8,
    handshakeTimeoutMs: 10_000,
    maxMessageBytes: 1 << 20,
    monitor,
    routes: { "/c": ({ ws, authenticated }) => (authenticated(), resolve(ws)) },
    log: SILENT_LOGGER,
  });
  const clientWs = await dialWss({
    host: "127.0.0.1",
    port: listener.port,
    path: "/c",
    timeoutMs: 5000,
    maxMessageBytes: 1 << 20,
  });
  const binding = mode === "plain" ? clientWs.tlsBinding : null;
  const server = new SecureChannel(await serverWs, { send: a, receive: b, binding });
  const client = new SecureChannel(clientWs, { send: b, receive: a, binding });
  assert.equal(client.plain, mode === "plain");
  assert.equal(server.plain, mode === "plain");
  try {
    await fn({ server, client, monitor });
  } finally {
    client.ws.destroy();
    server.ws.destroy();
    await listener.close();
  }
}

function closed(ch: SecureChannel): Promise<string> {
  return new Promise((r) => (ch.onClose = r));
}

async function until(what: string, fn: () => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const mode of MODES) {
  Deno.test({
    name: `a channel made over a connection that already ended is closed from the start (${mode})`,
    ...opts,
    fn: async () => {
      await withChannels(mode, async ({ server }) => {
        const gone = closed(server);
        server.ws.destroy();
        await gone;
        assert.equal(server.open, false);
        // As when the peer hangs up while the handshake's last step is still being computed.
        const late = new SecureChannel(server.ws, {
          send: new Uint8Array(32),
          receive: new Uint8Array(32),
        });
        assert.equal(late.open, false);
        assert.equal(late.send(new Uint8Array(10)), false);
      });
    },
  });
}

for (const mode of MODES) {
  Deno.test({
    name:
      `a channel handler that throws closes that channel (1011), small or large message (${mode})`,
    ...opts,
    fn: async () => {
      for (const size of [10, 100_000]) {
        await withChannels(mode, async ({ server, client, monitor }) => {
          server.onMessage = () => {
            throw new RangeError("decoder bug");
          };
          const gone = closed(client);
          assert.ok(client.send(new Uint8Array(size)));
          assert.match(await gone, /internal error|1011/);
          assert.equal(monitor.counts().handlerFaults, 1, `size ${size}`);
        });
      }
    },
  });
}

for (const mode of MODES) {
  Deno.test({
    name: `a channel handler whose promise rejects closes that channel (${mode})`,
    ...opts,
    fn: () =>
      withChannels(mode, async ({ server, client, monitor }) => {
        server.onMessage = async () => {
          await Promise.resolve();
          throw new Error("async bug");
        };
        const gone = closed(client);
        client.send(new Uint8Array([1]));
        await gone;
        assert.equal(monitor.counts().handlerFaults, 1);
      }),
  });
}

for (const mode of MODES) {
  Deno.test({
    name: `send(): writable, onDrain and order, over small and large messages (${mode})`,
    ...opts,
    fn: () =>
      withChannels(mode, async ({ server, client }) => {
        const got: number[] = [];
        client.onMessage = (pt) => void got.push(pt[0]);
        let drained = 0;
        server.onDrain = () => void drained++;
        client.ws.pauseReading();
        let n = 0;
        // Large (sealed asynchronously) and small (at once) messages, in call order.
        for (let round = 0; round < 1000 && server.writable; round++) {
          for (const size of [100, 64 * 1024, 10]) {
            const m = new Uint8Array(size);
            m[0] = n++ & 0xff;
            assert.ok(server.send(m));
          }
          await new Promise((r) => setTimeout(r, 5));
        }
        assert.equal(server.writable, false, "held back while the peer does not read");
        assert.ok(server.bufferedBytes > 0);
        client.ws.resumeReading();
        await until("writable again", () => server.writable);
        assert.ok(drained >= 1, "onDrain was called");
        await until("everything arrives", () => got.length === n);
        assert.deepEqual(got, Array.from({ length: n }, (_, i) => i & 0xff));
      }),
  });
}

for (const mode of MODES) {
  Deno.test({
    name:
      `onDrain: a handler that sends until not writable is called again at the next drain (${mode})`,
    ...opts,
    fn: () =>
      withChannels(mode, async ({ server, client }) => {
        const chunk = new Uint8Array(256 * 1024);
        const total = 24;
        let got = 0;
        client.onMessage = () => void got++;
        let sent = 0;
        let drains = 0;
        // The sender of a file: sends while writable, and again only when told of a drain.
        const pump = () => {
          while (sent < total && server.writable) {
            assert.ok(server.send(chunk));
            sent++;
          }
        };
        server.onDrain = () => {
          drains++;
          pump();
        };
        pump();
        assert.ok(sent < total, "the first burst stops at the high-water mark");
        await until("every chunk sent and received", () => got === total);
        assert.ok(drains >= 2, `onDrain called ${drains} times`);
      }),
  });
}

for (const mode of MODES) {
  Deno.test({
    name: `send() on a closed channel returns false (${mode})`,
    ...opts,
    fn: () =>
      withChannels(mode, async ({ server }) => {
        server.close("done");
        assert.equal(server.send(new Uint8Array(1)), false);
        assert.equal(server.writable, false);
        await Promise.resolve();
      }),
  });
}

for (const mode of MODES) {
  Deno.test({
    name:
      `more than 256 KiB or 4,096 messages before a handler is set close the channel (1008) (${mode})`,
    ...opts,
    fn: async () => {
      await withChannels(mode, async ({ server, client }) => {
        const gone = closed(server);
        for (let i = 0; i < 5; i++) client.send(new Uint8Array(64 * 1024));
        assert.match(await gone, /too many messages/);
      });
      await withChannels(mode, async ({ server, client }) => {
        const gone = closed(server);
        for (let i = 0; i < 4097; i++) client.send(new Uint8Array([i & 0xff]));
        assert.match(await gone, /too many messages/);
      });
    },
  });
}

for (const mode of MODES) {
  Deno.test({
    name:
      `a burst right behind the first message (a routing table) waits for the next handler (${mode})`,
    ...opts,
    fn: () =>
      withChannels(mode, async ({ server, client }) => {
        // As a link's initiator: the peer's answer, then at once its 500 announcements.
        const first = nextChannelMessage(client, 5000);
        server.send(new Uint8Array([0]));
        for (let i = 1; i <= 500; i++) server.send(new Uint8Array(200).fill(i & 0xff));
        assert.deepEqual(await first, new Uint8Array([0]));
        await until("the burst arrived", () =>
          client.bufferedBytes === 0 && server.bufferedBytes === 0);
        await new Promise((r) =>
          setTimeout(r, 200)
        );
        assert.ok(client.open, "the channel is still open");
        const got: Uint8Array[] = [];
        client.onMessage = (m) => void got.push(m);
        await until("500 handed over", () => got.length === 500);
        assert.equal(got[499][0], 500 & 0xff);
      }),
  });
}

for (const mode of MODES) {
  Deno.test({
    name:
      `the small messages of one turn travel as one record, in order, mixed with large ones (${mode})`,
    ...opts,
    fn: () =>
      withChannels(mode, async ({ server, client }) => {
        const records = countRecords(server);
        const got: number[] = [];
        server.onMessage = (pt) =>
          void got.push(new DataView(pt.buffer, pt.byteOffset).getUint32(0));
        const msg = (i: number, size: number) => {
          const m = new Uint8Array(size);
          new DataView(m.buffer).setUint32(0, i);
          return m;
        };
        for (let i = 0; i < 200; i++) assert.ok(client.send(msg(i, 40)));
        await until("200 messages", () => got.length === 200);
        assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i));
        assert.ok(records.n <= 2, `${records.n} records for 200 small messages of one turn`);
        // Small, large (sealed on its own, asynchronously), small: the order holds.
        got.length = 0;
        records.n = 0;
        client.send(msg(1, 10));
        client.send(msg(2, 100_000));
        client.send(msg(3, 10));
        client.send(msg(4, RECORD_MAX_BYTES - 10));
        await until("4 messages", () => got.length === 4);
        assert.deepEqual(got, [1, 2, 3, 4]);
        assert.equal(records.n, 4);
      }),
  });
}

Deno.test("splitRecord() reads n × (u32 length | message) and refuses anything else", () => {
  const rec = (...parts: number[][]) => Uint8Array.from(parts.flat());
  assert.deepEqual(splitRecord(rec([0, 0, 0, 2, 7, 8], [0, 0, 0, 0], [0, 0, 0, 1, 9])), [
    Uint8Array.of(7, 8),
    new Uint8Array(0),
    Uint8Array.of(9),
  ]);
  assert.equal(splitRecord(new Uint8Array(0)), null, "an empty record");
  assert.equal(splitRecord(rec([0, 0, 0])), null, "a truncated length");
  assert.equal(splitRecord(rec([0, 0, 0, 3, 1, 2])), null, "a length past the end");
  assert.equal(splitRecord(rec([0, 0, 0, 1, 1], [0])), null, "trailing bytes");
  assert.equal(splitRecord(rec([0xff, 0xff, 0xff, 0xff, 1])), null, "a huge length");
});

for (const mode of MODES) {
  Deno.test({
    name:
      `sendParts() delivers the parts joined, small or large, in order with other messages (${mode})`,
    ...opts,
    fn: async () => {
      await withChannels(mode, async ({ server, client }) => {
        const got: Uint8Array[] = [];
        server.onMessage = (m) => void got.push(m.slice());
        const head = new Uint8Array([1, 4]);
        const small = crypto.getRandomValues(new Uint8Array(100));
        const large = new Uint8Array(RECORD_MAX_BYTES + 1000).fill(9);
        assert.ok(client.sendParts([head, small]));
        assert.ok(client.send(new Uint8Array([7])));
        assert.ok(client.sendParts([head, large]));
        await until("three messages", () => got.length === 3);
        assert.deepEqual(got[0], new Uint8Array([1, 4, ...small]));
        assert.deepEqual(got[1], new Uint8Array([7]));
        assert.equal(got[2].length, 2 + large.length);
        assert.deepEqual(got[2].subarray(0, 2), head);
        assert.ok(got[2].subarray(2).every((b) => b === 9));
      });
    },
  });
}

Deno.test({
  name:
    "a large record is sealed in slices, and after lendLargeRecords() opened into one kept buffer",
  ...opts,
  fn: async () => {
    await withChannels("sealed", async ({ server, client }) => {
      server.lendLargeRecords();
      const seen: Array<{ copy: Uint8Array; view: Uint8Array; lent: boolean }> = [];
      server.onMessage = (m, lent) => void seen.push({ copy: m.slice(), view: m, lent });
      // Distinct bytes, sizes across the 16 KiB slices, two large records back to back (one
      // socket read may complete both), a small one between.
      const bytes = (n: number, seed: number) =>
        new Uint8Array(n).map((_, i) => (i * 131 + seed * 17 + (i >> 8)) & 0xff);
      const big1 = bytes(LEND_RECORD_MIN_BYTES + 5_000, 1);
      const big2 = bytes(LEND_RECORD_MIN_BYTES + 70_001, 2);
      const small = bytes(50, 3);
      // A message just under the lending size goes as before (a buffer of its own).
      const under = bytes(LEND_RECORD_MIN_BYTES - 100, 4);
      assert.ok(client.send(big1));
      assert.ok(client.send(big2));
      assert.ok(client.send(small));
      assert.ok(client.send(under));
      assert.ok(client.sendParts([new Uint8Array([1, 4]), big1]));
      await until("five messages", () => seen.length === 5);
      // Each handler call saw that message's own bytes.
      assert.deepEqual(seen.map((s) => s.copy), [
        big1,
        big2,
        small,
        under,
        new Uint8Array([1, 4, ...big1]),
      ]);
      assert.deepEqual(seen.map((s) => s.lent), [true, true, false, false, true]);
      // The lent ones share the channel's buffer (grown for the larger record): what a handler
      // keeps past its call changes.
      assert.equal(seen[1].view.buffer, seen[4].view.buffer);
      assert.notDeepEqual(seen[1].view, big2);
      assert.deepEqual(seen[3].view, under);
      // With no handler set, lent messages are kept as copies and handed over intact later.
      server.onMessage = null;
      assert.ok(client.send(big2));
      assert.ok(client.send(big1));
      assert.ok(client.send(small));
      await new Promise((r) => setTimeout(r, 300));
      seen.length = 0;
      server.onMessage = (m, lent) => void seen.push({ copy: m.slice(), view: m, lent });
      await until("three queued messages", () => seen.length === 3);
      assert.deepEqual(seen.map((s) => s.view), [big2, big1, small]);
      assert.deepEqual(seen.map((s) => s.lent), [false, false, false]);
    });
  },
});

Deno.test({
  name: "a lent large record that fails to authenticate closes the channel and delivers nothing",
  ...opts,
  fn: async () => {
    await withChannels("sealed", async ({ server, client }) => {
      server.lendLargeRecords();
      let got = 0;
      server.onMessage = () => void got++;
      const gone = closed(server);
      // The client's tag is flipped on the wire: a record the server's key does not open.
      const send = client.ws.sendParts.bind(client.ws);
      client.ws.sendParts = (parts, o) => {
        const tag = parts.at(-1)!;
        tag[0] ^= 1;
        return send(parts, o);
      };
      client.send(new Uint8Array(LEND_RECORD_MIN_BYTES + 1));
      assert.equal(await gone, "message failed to authenticate");
      assert.equal(got, 0);
    });
  },
});

for (const mode of MODES) {
  Deno.test({
    name: `sendParts(): small messages in parts arrive joined, in order with whole ones (${mode})`,
    ...opts,
    fn: () =>
      withChannels(mode, async ({ server, client }) => {
        const got: Uint8Array[] = [];
        server.onMessage = (m) => void got.push(m.slice());
        const parts = (n: number) => [Uint8Array.of(1, 4), new Uint8Array(n).fill(n & 0xff)];
        const sent: Uint8Array[] = [];
        for (let i = 0; i < 40; i++) {
          if (i % 3 === 0) {
            const whole = new Uint8Array(i + 1).fill(0xee);
            assert.ok(client.send(whole));
            sent.push(whole);
          } else {
            const p = parts(300 + i);
            assert.ok(client.sendParts(p));
            const joined = new Uint8Array(p[0].length + p[1].length);
            joined.set(p[0]);
            joined.set(p[1], p[0].length);
            sent.push(joined);
          }
        }
        // A large one from parts is sealed at once, after what waited in this turn.
        const large = [Uint8Array.of(1, 4), new Uint8Array(RECORD_MAX_BYTES).fill(7)];
        assert.ok(client.sendParts(large));
        await until("every message", () => got.length === 41);
        for (let i = 0; i < 40; i++) assert.deepEqual(got[i], sent[i], `message ${i}`);
        assert.equal(got[40].length, 2 + RECORD_MAX_BYTES);
        assert.deepEqual(got[40].subarray(0, 3), Uint8Array.of(1, 4, 7));
      }),
  });
}

for (const mode of MODES) {
  Deno.test({
    name:
      `small messages sent across the microtasks of one iteration travel as one record (${mode})`,
    ...opts,
    fn: () =>
      withChannels(mode, async ({ server, client }) => {
        const records = countRecords(server);
        const got: number[] = [];
        server.onMessage = (pt) => void got.push(pt[0]);
        // As a node's handlers do: each send after an await of its own (a promise chain's step).
        for (let i = 0; i < 20; i++) {
          assert.ok(client.send(new Uint8Array([i, 0, 0])));
          await Promise.resolve();
        }
        await until("20 messages", () => got.length === 20);
        assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i));
        assert.equal(records.n, 1, `${records.n} records for 20 messages of one iteration`);
      }),
  });
}

for (const mode of MODES) {
  Deno.test({
    name: `close() sends what waits for the iteration's record before the close (${mode})`,
    ...opts,
    fn: () =>
      withChannels(mode, async ({ server, client }) => {
        const got: number[] = [];
        server.onMessage = (pt) => void got.push(pt[0]);
        const gone = closed(server);
        client.send(new Uint8Array([7]));
        client.send(new Uint8Array([8]));
        client.close("done");
        await gone;
        assert.deepEqual(got, [7, 8]);
      }),
  });
}

Deno.test({
  name: "plain: a record on the wire is n × (u32 length | message), no cipher and no tag",
  ...opts,
  fn: () =>
    withChannels("plain", async ({ server, client }) => {
      const wire: Uint8Array[] = [];
      const receive = server.ws.onMessage!;
      server.ws.onMessage = (data, isText) => {
        wire.push(data.slice());
        return receive(data, isText);
      };
      const got: Uint8Array[] = [];
      server.onMessage = (m) => void got.push(m.slice());
      client.send(Uint8Array.of(1, 2, 3));
      client.send(Uint8Array.of(4));
      await until("two messages", () => got.length === 2);
      assert.deepEqual(wire, [Uint8Array.of(0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 1, 4)]);
    }),
});

Deno.test({
  name: "plain: a malformed record (empty, truncated, a length past the end) closes the channel",
  ...opts,
  fn: async () => {
    for (const bad of [new Uint8Array(0), Uint8Array.of(0, 0, 0), Uint8Array.of(0, 0, 0, 9, 1)]) {
      await withChannels("plain", async ({ server, client }) => {
        let got = 0;
        server.onMessage = () => void got++;
        const gone = closed(server);
        const before = client.ws.onClose;
        const code = new Promise<number>((r) => {
          client.ws.onClose = (info) => (r(info.code), before(info));
        });
        // What a peer's garbage looks like: a WebSocket message that is no record.
        client.ws.send(bad);
        assert.equal(await gone, "malformed record");
        assert.equal(await code, 1002, "the peer is told: protocol error");
        assert.equal(got, 0);
      });
    }
  },
});

Deno.test({
  name: "plain: a large message's bytes may be reused once send() returns (either end)",
  ...opts,
  fn: () =>
    withChannels("plain", async ({ server, client }) => {
      // The client masks its frames, the server does not: both copy the caller's bytes.
      for (const [from, to] of [[client, server], [server, client]]) {
        const got: Uint8Array[] = [];
        to.onMessage = (m) => void got.push(m.slice());
        const chunk = new Uint8Array(256 * 1024).fill(5);
        const head = Uint8Array.of(1, 4);
        for (let i = 0; i < 4; i++) {
          assert.ok(from.sendParts([head, chunk]));
          // A relay's lent buffer, or a sender's read buffer, is overwritten at once.
          chunk.fill(6 + i);
        }
        await until("four chunks", () => got.length === 4);
        assert.deepEqual(head, Uint8Array.of(1, 4), "the shared header is untouched");
        for (let i = 0; i < 4; i++) {
          assert.ok(got[i].subarray(2).every((b) => b === (i === 0 ? 5 : 5 + i)), `chunk ${i}`);
        }
      }
    }),
});

Deno.test({
  name: "plain: a large message given up until release() is framed where it lies, not copied",
  ...opts,
  fn: () =>
    withChannels("plain", async ({ server, client }) => {
      const got: Uint8Array[] = [];
      server.onMessage = (m) => void got.push(m.slice());
      const sent = new Uint8Array(256 * 1024).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
      const chunk = sent.slice();
      let released = 0;
      // The client masks its frames: the bytes it gave up are masked where they lie.
      assert.ok(client.send(chunk, () => released++));
      assert.equal(released, 0, "not handed back before the socket has written it");
      assert.notDeepEqual(chunk, sent, "masked in place, so not copied into a fresh frame");
      await until("the message", () => got.length === 1);
      await until("the release", () => released === 1);
      assert.deepEqual(got[0], sent);
      // Handed back: reused at once for the next message, which arrives intact too.
      chunk.set(sent.toReversed());
      assert.ok(client.send(chunk, () => released++));
      await until("the second message", () => got.length === 2);
      assert.deepEqual(got[1], sent.toReversed());
      await until("the second release", () => released === 2);
      // A smaller message is batched into the turn's record: never handed back.
      const small = new Uint8Array(1000).fill(3);
      assert.ok(client.send(small, () => released++));
      await until("the small message", () => got.length === 3);
      assert.deepEqual(got[2], small);
      assert.equal(released, 2);
      // With room kept before it, the record's length and the frame's head go there: one frame
      // in one buffer (a client's pooled chunk message), not a head and a payload joined later.
      const buf = new Uint8Array(SEND_ROOM_BYTES + sent.length);
      const inRoom = buf.subarray(SEND_ROOM_BYTES);
      inRoom.set(sent);
      assert.ok(client.send(inRoom, () => released++));
      assert.equal(buf[0], 0x82, "a final binary frame's head, written into the room");
      assert.equal(buf[1], 0x80 | 127, "masked, with a 64-bit length");
      await until("the message sent from its room", () => got.length === 4);
      assert.deepEqual(got[3], sent);
      await until("its release", () => released === 3);
    }),
});

Deno.test({
  name: "sealed: a large message given up until release() is handed back once sealed",
  ...opts,
  fn: () =>
    withChannels("sealed", async ({ server, client }) => {
      const got: Uint8Array[] = [];
      server.onMessage = (m) => void got.push(m.slice());
      const chunk = new Uint8Array(256 * 1024).fill(9);
      let released = 0;
      assert.ok(client.send(chunk, () => released++));
      assert.equal(released, 1, "sealed before send() returns");
      assert.ok(chunk.every((b) => b === 9), "the plaintext is left as it was");
      await until("the message", () => got.length === 1);
      assert.deepEqual(got[0], chunk);
    }),
});

Deno.test({
  name: "plain: after lendLargeRecords() large records are lent, and copied while queued",
  ...opts,
  fn: () =>
    withChannels("plain", async ({ server, client }) => {
      const bytes = (n: number, seed: number) =>
        new Uint8Array(n).map((_, i) => (i * 131 + seed * 17 + (i >> 8)) & 0xff);
      const big = bytes(LEND_RECORD_MIN_BYTES + 70_001, 1);
      const under = bytes(LEND_RECORD_MIN_BYTES - 100, 2);
      const seen: Array<{ copy: Uint8Array; view: Uint8Array; lent: boolean }> = [];
      // Before lendLargeRecords(): a large record is the handler's own.
      server.onMessage = (m, lent) => void seen.push({ copy: m.slice(), view: m, lent });
      assert.ok(client.send(big));
      await until("one message", () => seen.length === 1);
      assert.equal(seen[0].lent, false);
      server.lendLargeRecords();
      seen.length = 0;
      assert.ok(client.send(big));
      assert.ok(client.send(under));
      assert.ok(client.send(big));
      await until("three messages", () => seen.length === 3);
      assert.deepEqual(seen.map((s) => s.copy), [big, under, big]);
      assert.deepEqual(seen.map((s) => s.lent), [true, false, true]);
      // With no handler set, lent messages are kept as copies and handed over intact later.
      server.onMessage = null;
      assert.ok(client.send(big));
      assert.ok(client.send(bytes(LEND_RECORD_MIN_BYTES + 9, 3)));
      await new Promise((r) => setTimeout(r, 300));
      seen.length = 0;
      server.onMessage = (m, lent) => void seen.push({ copy: m.slice(), view: m, lent });
      await until("two queued messages", () => seen.length === 2);
      assert.deepEqual(seen.map((s) => s.view), [big, bytes(LEND_RECORD_MIN_BYTES + 9, 3)]);
      assert.deepEqual(seen.map((s) => s.lent), [false, false]);
    }),
});

Deno.test({
  name: "a channel refuses keys whose proven binding is not its connection's",
  ...opts,
  fn: () =>
    withChannels("sealed", async ({ server }) => {
      const keys = { send: new Uint8Array(32), receive: new Uint8Array(32) };
      assert.ok(server.ws.tlsBinding !== null, "a TLS 1.3 connection has a binding");
      const other = server.ws.tlsBinding!.slice();
      other[0] ^= 1;
      assert.throws(() => new SecureChannel(server.ws, { ...keys, binding: other }), TypeError);
      await Promise.resolve();
    }),
});
