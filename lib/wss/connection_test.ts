import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { setImmediate } from "node:timers";
import { WsConnection } from "./connection.ts";
import { FrameParser } from "./frame.ts";

/**
 * A socket that records each write (one entry per `write()`; a corked run counts as one), and
 * a copy of the bytes as they were when written.
 */
class RecordingSocket extends EventEmitter {
  writes: Uint8Array[][] = [];
  copies: Uint8Array[] = [];
  ended: Uint8Array | null = null;
  #corked = 0;
  #run: Uint8Array[] = [];
  writableLength = 0;
  writableNeedDrain = false;
  remoteAddress = "test";
  write(bytes: Uint8Array, cb?: () => void): boolean {
    this.copies.push(bytes.slice());
    if (this.#corked > 0) this.#run.push(bytes);
    else this.writes.push([bytes]);
    if (cb) queueMicrotask(cb);
    return true;
  }
  cork(): void {
    this.#corked++;
  }
  uncork(): void {
    if (--this.#corked === 0 && this.#run.length > 0) {
      this.writes.push(this.#run);
      this.#run = [];
    }
  }
  end(bytes: Uint8Array): void {
    this.ended = bytes;
  }
  destroy(): void {}
  pause(): void {}
  resume(): void {}
}

function connection(): { ws: WsConnection; socket: RecordingSocket } {
  const socket = new RecordingSocket();
  const ws = new WsConnection(socket as unknown as Socket, {
    role: "server",
    maxMessageBytes: 1 << 20,
  });
  return { ws, socket };
}

/** The payloads of the frames written so far, in order (the peer's view). */
function payloads(socket: RecordingSocket): number[][] {
  const parser = new FrameParser({ expectMasked: false, maxFrameBytes: 1 << 20 });
  const out: number[][] = [];
  for (const bytes of socket.copies) for (const f of parser.push(bytes)) out.push([...f.payload]);
  return out;
}

const nextIteration = () => new Promise<void>((r) => setImmediate(r));

Deno.test("frames queued across the microtasks of one iteration leave in one socket write", async () => {
  const { ws, socket } = connection();
  for (let i = 0; i < 5; i++) {
    assert.ok(ws.sendCoalesced(new Uint8Array([i])));
    await Promise.resolve();
  }
  assert.equal(socket.writes.length, 0, "nothing written before the iteration ends");
  assert.equal(ws.bufferedBytes, 5 * 3, "the waiting frames count as unsent");
  await nextIteration();
  assert.equal(socket.writes.length, 1);
  assert.deepEqual(payloads(socket), [[0], [1], [2], [3], [4]]);
  ws.destroy();
});

Deno.test("send() behind waiting frames keeps the order; drained() writes what waits", async () => {
  const { ws, socket } = connection();
  ws.sendCoalesced(new Uint8Array([1]));
  ws.send(new Uint8Array([2]));
  await ws.drained();
  assert.equal(socket.writes.length, 1, "drained() wrote at once");
  assert.deepEqual(payloads(socket), [[1], [2]]);
  ws.send(new Uint8Array([3]));
  assert.equal(socket.writes.length, 2, "with nothing waiting, send() writes at once");
  await nextIteration();
  assert.equal(socket.writes.length, 2);
  ws.destroy();
});

Deno.test("close() writes what waits before the close frame", () => {
  const { ws, socket } = connection();
  ws.sendCoalesced(new Uint8Array([9]));
  ws.close(1000, "bye");
  assert.deepEqual(payloads(socket), [[9]]);
  assert.ok(socket.ended !== null, "the close frame was sent after it");
  assert.equal(socket.ended![0] & 0x0f, 8);
});

Deno.test("sendFilled() reuses a frame buffer only after the socket's write callback", async () => {
  const { ws, socket } = connection();
  ws.reuseLargeFrames();
  const fill = (v: number) => (payload: Uint8Array) => payload.fill(v);
  assert.ok(ws.sendFilled(100_000, fill(1)));
  // Queued and not yet written: the next frame needs a buffer of its own.
  assert.ok(ws.sendFilled(100_000, fill(2)));
  await nextIteration();
  assert.equal(socket.writes.length, 1, "both frames in one (corked) write");
  const [first, second] = socket.writes[0];
  assert.notEqual(first.buffer, second.buffer);
  // The write callbacks have run (a microtask here): the buffers are free again.
  assert.ok(ws.sendFilled(100_000, fill(3)));
  await nextIteration();
  const third = socket.writes[1][0];
  assert.ok(third.buffer === first.buffer || third.buffer === second.buffer, "a buffer reused");
  assert.deepEqual(
    payloads(socket).map((p) => [p.length, p[0], p[p.length - 1]]),
    [[100_000, 1, 1], [100_000, 2, 2], [100_000, 3, 3]],
  );
  ws.destroy();
});

Deno.test("without reuseLargeFrames(), sendFilled() builds each frame in a fresh buffer", async () => {
  const { ws, socket } = connection();
  ws.sendFilled(70_000, (p) => p.fill(5));
  await nextIteration();
  ws.sendFilled(70_000, (p) => p.fill(6));
  await nextIteration();
  assert.notEqual(socket.writes[0][0].buffer, socket.writes[1][0].buffer);
  assert.deepEqual(payloads(socket).map((p) => p[69_999]), [5, 6]);
  ws.destroy();
});
