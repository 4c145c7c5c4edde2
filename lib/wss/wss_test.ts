import assert from "node:assert/strict";
import { connect } from "node:net";
import tls from "node:tls";
import { createCertificate } from "../tls.ts";
import { SILENT_LOGGER } from "../log.ts";
import { dialWss, encodeFrame, FrameParser, startWssServer, type WsConnection } from "./mod.ts";
import { applyMask, encodeFrameHeadFor } from "./frame.ts";

const material = await createCertificate(["127.0.0.1"], Date.now());

async function withServer(
  opts: { handshakeTimeoutMs?: number; maxPerAddress?: number; maxMessageBytes?: number },
  fn: (port: number, accepted: WsConnection[]) => Promise<void>,
) {
  const accepted: WsConnection[] = [];
  const server = await startWssServer({
    host: "127.0.0.1",
    port: 0,
    ...material,
    maxConnections: 64,
    maxConnectionsPerAddress: opts.maxPerAddress ?? 16,
    handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 2000,
    maxMessageBytes: opts.maxMessageBytes ?? 1 << 20,
    routes: {
      "/echo": ({ ws, authenticated }) => {
        authenticated();
        accepted.push(ws);
        ws.onMessage = (d) => ws.send(d);
      },
    },
    log: SILENT_LOGGER,
  });
  try {
    await fn(server.port, accepted);
  } finally {
    await server.close();
  }
}

function nextMessage(ws: WsConnection): Promise<Uint8Array> {
  return new Promise((resolve) => (ws.onMessage = (d) => resolve(d)));
}

function closed(ws: WsConnection): Promise<number> {
  return new Promise((resolve) => (ws.onClose = (i) => resolve(i.code)));
}

const dial = (port: number, path = "/echo", maxMessageBytes = 1 << 20) =>
  dialWss({ host: "127.0.0.1", port, path, timeoutMs: 2000, maxMessageBytes });

Deno.test({
  name: "dialWss() round-trips small and large messages",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withServer({}, async (port) => {
      const ws = await dial(port);
      for (const size of [0, 1, 125, 126, 65535, 65536, 300_000]) {
        const data = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
        const big = new Uint8Array(size);
        for (let i = 0; i < size; i += data.length) big.set(data.subarray(0, size - i), i);
        const got = nextMessage(ws);
        ws.send(big);
        assert.deepEqual(await got, big);
      }
      ws.close();
    }),
});

Deno.test({
  name: "server closes a connection whose frame exceeds the cap",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withServer({ maxMessageBytes: 100_000 }, async (port) => {
      const ws = await dial(port);
      const code = closed(ws);
      ws.send(new Uint8Array(100_001));
      assert.equal(await code, 1009);
    }),
});

Deno.test({
  name: "server answers 404 to an unknown path and 400 to garbage",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withServer({}, async (port) => {
      await assert.rejects(dial(port, "/nope"), /404/);
      const answer = await new Promise<string>((resolve) => {
        const s = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false });
        let text = "";
        s.on("secureConnect", () => s.write("\x00\x01garbage\r\n\r\n"));
        s.on("data", (d: Uint8Array) => (text += new TextDecoder().decode(d)));
        s.on("close", () => resolve(text));
        s.on("error", () => {});
      });
      assert.match(answer, /^HTTP\/1\.1 400/);
    }),
});

Deno.test({
  name: "server drops a connection that never finishes TLS within the deadline",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withServer({ handshakeTimeoutMs: 300 }, async (port) => {
      const t0 = Date.now();
      await new Promise<void>((resolve) => {
        const s = connect(port, "127.0.0.1");
        s.on("connect", () => s.write("\x16\x03\x01"));
        s.on("close", () => resolve());
        s.on("error", () => {});
      });
      const ms = Date.now() - t0;
      assert.ok(ms < 3000, `closed after ${ms} ms`);
    }),
});

Deno.test({
  name: "server caps connections per address and keeps serving",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withServer({ maxPerAddress: 3, handshakeTimeoutMs: 5000 }, async (port) => {
      const idle = await Promise.all([0, 1, 2].map(() =>
        new Promise<ReturnType<typeof connect>>((resolve) => {
          const s = connect(port, "127.0.0.1");
          s.on("connect", () => resolve(s));
          s.on("error", () => {});
        })
      ));
      // A fourth connection from the same address is cut at once.
      const cut = await new Promise<boolean>((resolve) => {
        const s = connect(port, "127.0.0.1");
        s.on("close", () =>
          resolve(true));
        s.on("error", () => {});
      });
      assert.ok(cut);
      for (const s of idle) s.destroy();
      // Once they are gone, a real client gets through.
      for (let i = 0; i < 50; i++) {
        try {
          const ws = await dial(port);
          ws.close();
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      assert.fail("could not connect after the idle connections closed");
    }),
});

Deno.test("FrameParser refuses unmasked client frames, reserved bits and bad opcodes", () => {
  const server = () => new FrameParser({ expectMasked: true, maxFrameBytes: 1000 });
  assert.throws(() => server().push(encodeFrame(2, new Uint8Array(3), false)), /unmasked/);
  const rsv = encodeFrame(2, new Uint8Array(3), true);
  rsv[0] |= 0x40;
  assert.throws(() => server().push(rsv), /reserved/);
  const op = encodeFrame(2, new Uint8Array(3), true);
  op[0] = 0x83;
  assert.throws(() => server().push(op), /opcode/);
  const huge = new Uint8Array([0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4]);
  assert.throws(() => server().push(huge), /too large/);
});

Deno.test("FrameParser reassembles frames split at every byte", () => {
  const frame = encodeFrame(2, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), true);
  const p = new FrameParser({ expectMasked: true, maxFrameBytes: 1000 });
  const out = [];
  for (const b of frame) out.push(...p.push(new Uint8Array([b])));
  assert.equal(out.length, 1);
  assert.deepEqual(out[0].payload, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
});

Deno.test("FrameParser returns a whole frame in one chunk as a view, unmasked in place", () => {
  const payload = crypto.getRandomValues(new Uint8Array(1000));
  const a = encodeFrame(2, payload, true);
  const b = encodeFrame(2, new Uint8Array(0), true);
  const chunk = new Uint8Array(a.length + b.length);
  chunk.set(a);
  chunk.set(b, a.length);
  const p = new FrameParser({ expectMasked: true, maxFrameBytes: 4096 });
  // The head arrives in two pieces; the payload lies whole in the second chunk.
  assert.deepEqual(p.push(chunk.slice(0, 3)), []);
  const rest = chunk.subarray(3);
  const [f1, f2] = p.push(rest);
  assert.deepEqual(f1.payload, payload);
  assert.equal(f1.payload.buffer, rest.buffer, "no copy");
  assert.equal(Object.getPrototypeOf(f1.payload), Uint8Array.prototype);
  assert.equal(f2.payload.length, 0);
});

Deno.test("FrameParser given a reused read buffer returns nothing that refers to it", () => {
  const small = [1, 2, 3].map((n) => crypto.getRandomValues(new Uint8Array(100 * n)));
  const large = new Uint8Array(200_000).map((_, i) => (i * 31) & 255);
  const frames = [...small, large, ...small].map((m) => encodeFrame(2, m, true));
  const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    stream.set(f, at);
    at += f.length;
  }
  for (const lend of [false, true]) {
    const p = new FrameParser({ expectMasked: true, maxFrameBytes: 1 << 20 });
    if (lend) p.lendLarge();
    const read = new Uint8Array(4096);
    const got: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i += read.length) {
      const n = Math.min(read.length, stream.length - i);
      read.set(stream.subarray(i, i + n));
      for (const f of p.push(read.subarray(0, n), true)) {
        assert.notEqual(f.payload.buffer, read.buffer);
        // A lent payload is valid until the next push: kept as a copy, as its caller must.
        got.push(lend && f.payload.length >= 65536 ? f.payload.slice() : f.payload);
      }
      read.fill(0xee); // the reader fills its buffer again
    }
    assert.deepEqual(got, [...small, large, ...small]);
  }
});

Deno.test("applyMask() matches the byte-wise XOR at every alignment", () => {
  const mask = new Uint8Array([0x12, 0x34, 0x56, 0x78]);
  const data = crypto.getRandomValues(new Uint8Array(301));
  for (let offset = 0; offset < 8; offset++) {
    for (const len of [0, 3, 17, 64, 293]) {
      const buf = new Uint8Array(400);
      buf.set(data.subarray(0, len), offset);
      const view = buf.subarray(offset, offset + len);
      applyMask(view, mask);
      const expected = data.subarray(0, len).map((x, i) => x ^ mask[i & 3]);
      assert.deepEqual(view, expected, `offset ${offset}, length ${len}`);
    }
  }
});

Deno.test("applyMask() of large payloads (64 KiB blocks, SIMD) matches the byte-wise XOR", () => {
  const mask = new Uint8Array([0x9a, 0x01, 0xfe, 0x77]);
  const data = new Uint8Array(270_000).map((_, i) => (i * 7919 + (i >> 8)) & 0xff);
  for (const offset of [0, 1, 3, 6]) {
    for (const len of [65_535, 65_536, 65_551, 131_087, 262_150]) {
      const buf = new Uint8Array(offset + len);
      buf.set(data.subarray(0, len), offset);
      const view = buf.subarray(offset, offset + len);
      applyMask(view, mask);
      const expected = data.subarray(0, len).map((x, i) => x ^ mask[i & 3]);
      assert.deepEqual(view, expected, `offset ${offset}, length ${len}`);
    }
  }
});

Deno.test("a frame split across chunks at every point parses to the same payload", () => {
  const payload = new Uint8Array(70_000);
  crypto.getRandomValues(payload.subarray(0, 65_536));
  crypto.getRandomValues(payload.subarray(65_536));
  const frame = encodeFrame(2, payload, true);
  for (const cut of [1, 2, 5, 13, 14, 100, 65_000, frame.length - 1]) {
    const p = new FrameParser({ expectMasked: true, maxFrameBytes: 100_000 });
    const out = [...p.push(frame.slice(0, cut)), ...p.push(frame.slice(cut))];
    assert.equal(out.length, 1, `cut ${cut}`);
    assert.deepEqual(out[0].payload, payload);
  }
});

Deno.test("a frame head for given-up parts masks them in place to the same frame", () => {
  for (const masked of [true, false]) {
    // Odd part lengths: the mask must line up at every part's offset.
    const sizes = [4, 70_001, 3, 66_000, 16];
    const parts = sizes.map((n, i) => new Uint8Array(n).map((_, k) => (k * 7 + i) & 0xff));
    const payload = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) payload.set(p, (at += p.length) - p.length);
    const head = encodeFrameHeadFor(2, parts, masked);
    const wire = new Uint8Array(head.length + payload.length);
    wire.set(head);
    at = head.length;
    for (const p of parts) wire.set(p, (at += p.length) - p.length);
    if (masked) assert.notDeepEqual(wire.subarray(head.length), payload);
    const p = new FrameParser({ expectMasked: masked, maxFrameBytes: 1 << 20 });
    const frames = p.push(wire);
    assert.equal(frames.length, 1);
    assert.deepEqual(frames[0].payload, payload);
  }
});

Deno.test("a lending parser reuses two buffers in turn and keeps each payload until the next push", () => {
  const a = new Uint8Array(100_000).fill(1);
  const b = new Uint8Array(100_000).fill(2);
  const c = new Uint8Array(100_000).fill(3);
  const wire = new Uint8Array([
    ...encodeFrame(2, a, true),
    ...encodeFrame(2, b, true),
    ...encodeFrame(2, c, true),
  ]);
  const p = new FrameParser({ expectMasked: true, maxFrameBytes: 1 << 20 });
  p.lendLarge();
  const got: Uint8Array[] = [];
  const buffers = new Set<ArrayBufferLike>();
  // 64 KiB reads: each push completes at most one frame and starts the next.
  for (let at = 0; at < wire.length; at += 65536) {
    for (const f of p.push(wire.slice(at, at + 65536))) {
      got.push(f.payload.slice());
      buffers.add(f.payload.buffer);
      assert.ok(f.payload.every((x) => x === got.length), "intact when handed out");
    }
  }
  assert.deepEqual(got, [a, b, c]);
  assert.equal(buffers.size, 2);
});
