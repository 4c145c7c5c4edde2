import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { setImmediate } from "node:timers";
import { WsConnection } from "./connection.ts";
import { FrameParser } from "./frame.ts";

/** A socket that records each write (one entry per `write()`; a corked run counts as one). */
class RecordingSocket extends EventEmitter {
  writes: Uint8Array[][] = [];
  ended: Uint8Array | null = null;
  #corked = 0;
  #run: Uint8Array[] = [];
  writableLength = 0;
  writableNeedDrain = false;
  remoteAddress = "test";
  write(bytes: Uint8Array, cb?: () => void): boolean {
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
  for (const run of socket.writes) {
    for (const bytes of run) for (const f of parser.push(bytes)) out.push([...f.payload]);
  }
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

Deno.test("sendParts() with `now` writes what waits at once, in one write, not in the next iteration", async () => {
  const { ws, socket } = connection();
  ws.sendCoalesced(new Uint8Array([1]));
  // A caller at the end of an iteration (a channel sealing its record in its setImmediate).
  await nextIteration();
  assert.equal(socket.writes.length, 1, "the frame queued first left at the iteration's end");
  ws.sendCoalesced(new Uint8Array([2]));
  assert.ok(ws.sendParts([new Uint8Array([3])], { now: true }));
  assert.equal(socket.writes.length, 2, "written within the call");
  assert.deepEqual(payloads(socket), [[1], [2], [3]]);
  await nextIteration();
  assert.equal(socket.writes.length, 2, "nothing left for the next iteration");
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
