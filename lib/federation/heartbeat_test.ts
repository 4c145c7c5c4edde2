import assert from "node:assert/strict";
import { firstBeat, nextBeat, silentMs } from "./heartbeat.ts";

const HEARTBEAT = 500;
const DEAD = 2000;

Deno.test("silentMs() counts a peer's silence while beats come on time", () => {
  let s = firstBeat(0);
  for (let t = 500; t <= 2500; t += 500) s = nextBeat(s, t, HEARTBEAT);
  assert.equal(silentMs(s, 400, 2500), 2100);
  assert.ok(silentMs(s, 400, 2500) > DEAD);
  assert.equal(silentMs(s, 2400, 2500), 100);
});

Deno.test("silentMs() does not count this node's own stall against the peer", () => {
  let s = firstBeat(0);
  s = nextBeat(s, 500, HEARTBEAT);
  // The event loop stalls for 3 s: the next beat fires at 3,500 instead of 1,000.
  s = nextBeat(s, 3500, HEARTBEAT);
  assert.equal(silentMs(s, 400, 3500), 0, "the peer's bytes are still unread");
  // A peer that really is silent is still found out, deadAfterMs after the stall.
  for (let t = 4000; t <= 5500; t += 500) s = nextBeat(s, t, HEARTBEAT);
  assert.equal(silentMs(s, 400, 5500), 2000);
  s = nextBeat(s, 6000, HEARTBEAT);
  assert.ok(silentMs(s, 400, 6000) > DEAD);
});

Deno.test("nextBeat() takes a beat up to one interval late as on time", () => {
  const s = nextBeat(nextBeat(firstBeat(0), 500, HEARTBEAT), 1500, HEARTBEAT);
  assert.equal(s.listeningSinceMs, 0);
  assert.equal(nextBeat(s, 2501, HEARTBEAT).listeningSinceMs, 2501);
});
