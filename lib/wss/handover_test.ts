import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { setImmediate } from "node:timers";
import { WsConnection } from "./connection.ts";
import { encodeFrame, FrameParser, takeLentFrame } from "./frame.ts";

/** A socket that records each write and holds its callback until `written()`. */
class HoldingSocket extends EventEmitter {
  writes: Uint8Array[] = [];
  #callbacks: Array<() => void> = [];
  writableLength = 0;
  writableNeedDrain = false;
  remoteAddress = "test";
  write(bytes: Uint8Array, cb?: () => void): boolean {
    this.writes.push(bytes);
    if (cb) this.#callbacks.push(cb);
    return true;
  }
  /** The kernel took everything written so far. */
  written(): void {
    for (const cb of this.#callbacks.splice(0)) cb();
  }
  cork(): void {}
  uncork(): void {}
  end(): void {}
  destroy(): void {}
  pause(): void {}
  resume(): void {}
}

function connection(role: "server" | "client"): { ws: WsConnection; socket: HoldingSocket } {
  const socket = new HoldingSocket();
  const ws = new WsConnection(socket as unknown as Socket, { role, maxMessageBytes: 1 << 20 });
  return { ws, socket };
}

/** A record as a relay's link carries a chunk: a 6-byte head, then the message, filled with `n`. */
function record(n: number): Uint8Array {
  const r = new Uint8Array(100_000).fill(n);
  r.set([0, 1, 134, 160, 1, 2]);
  return r;
}

const nextIteration = () => new Promise<void>((r) => setImmediate(r));

/** Feeds masked frames of `records` to the socket in 64 KiB reads (each a fresh chunk). */
function feed(socket: HoldingSocket, records: Uint8Array[]): void {
  const wire = new Uint8Array(records.flatMap((r) => [...encodeFrame(2, r, true)]));
  for (let at = 0; at < wire.length; at += 65536) socket.emit("data", wire.slice(at, at + 65536));
}

/** The payloads a peer reads from `writes` (masked frames). */
function peerReads(writes: Uint8Array[]): Uint8Array[] {
  const parser = new FrameParser({ expectMasked: true, maxFrameBytes: 1 << 20 });
  return writes.flatMap((w) => parser.push(w.slice()).map((f) => f.payload));
}

Deno.test("a handed-over message leaves from the buffer it arrived in, unchanged by later reads until written", async () => {
  const from = connection("server");
  const to = connection("client");
  from.ws.lendLargeMessages();
  const arrivedIn: ArrayBufferLike[] = [];
  from.ws.onMessage = (data) => {
    arrivedIn.push(data.buffer);
    // As a relay's link manager forwards: the record's head and its message, given up.
    to.ws.sendParts([data.subarray(0, 6), data.subarray(6)], { handOver: true });
  };
  feed(from.socket, [record(1)]);
  await nextIteration();
  assert.equal(to.socket.writes.length, 1);
  const first = to.socket.writes[0];
  // No copy: the frame (head in the room before the payload, masked in place) is the lent buffer.
  assert.equal(first.buffer, arrivedIn[0], "sent from the buffer it arrived in");
  const asWritten = first.slice();

  // More arrive while the first is not yet written: read elsewhere, the first stays as it was.
  feed(from.socket, [record(2), record(3), record(4)]);
  await nextIteration();
  assert.deepEqual(first, asWritten, "not altered by later reads");
  assert.ok(!arrivedIn.slice(1).includes(arrivedIn[0]), "later reads went to other buffers");
  assert.deepEqual(peerReads(to.socket.writes), [record(1), record(2), record(3), record(4)]);

  // Once written, the buffers are read into again (no fresh buffer per chunk).
  to.socket.written();
  feed(from.socket, [record(5), record(6)]);
  await nextIteration();
  assert.ok(arrivedIn.slice(4).some((b) => arrivedIn.slice(0, 4).includes(b)), "reused");
  assert.deepEqual(peerReads(to.socket.writes).slice(4), [record(5), record(6)]);
});

Deno.test("only the parser's latest lent frame, given exactly as it arrived, is taken", () => {
  const p = new FrameParser({ expectMasked: true, maxFrameBytes: 1 << 20 });
  p.lendLarge();
  const wire = new Uint8Array([
    ...encodeFrame(2, record(1), true),
    ...encodeFrame(2, record(2), true),
  ]);
  const frames = [];
  for (let at = 0; at < wire.length; at += 65536) {
    frames.push(...p.push(wire.slice(at, at + 65536)));
  }
  const [a, b] = frames.map((f) => f.payload);
  // `a` was lent until the push that completed `b`: no longer takeable.
  assert.equal(takeLentFrame(2, [a.subarray(0, 6), a.subarray(6)], true), null);
  // Parts that differ from the bytes before the message, or start inside it: copied instead.
  assert.equal(takeLentFrame(2, [new Uint8Array(6), b.subarray(6)], true), null);
  assert.equal(takeLentFrame(2, [b.subarray(10, 16), b.subarray(16)], true), null);
  assert.equal(takeLentFrame(2, [b.subarray(0, 7), b.subarray(7)], true)?.frame.length, 100_014);
  // Once taken, not twice; a copy (not a lent buffer) is never taken.
  assert.equal(takeLentFrame(2, [b.subarray(0, 6), b.subarray(6)], false), null);
  assert.equal(takeLentFrame(2, [b.slice(0, 6), b.slice(6)], false), null);
});
