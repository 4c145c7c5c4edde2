import assert from "node:assert/strict";
import { FakeClock } from "../clock.ts";
import { AcceptWatchdog, type ProbeOutcome } from "./accept_watchdog.ts";

function rig(outcomes: ProbeOutcome[], relistenFails = 0) {
  const events: string[] = [];
  let probes = 0;
  let relistens = 0;
  const w = new AcceptWatchdog({
    clock: new FakeClock(),
    probe: () => {
      probes++;
      return Promise.resolve(outcomes.shift() ?? "accepted");
    },
    relisten: () => {
      relistens++;
      return relistenFails-- > 0 ? Promise.reject(new Error("EMFILE")) : Promise.resolve();
    },
    report: (e) => void events.push(e),
  });
  return { w, events, probes: () => probes, relistens: () => relistens };
}

Deno.test("AcceptWatchdog: a listener that accepts is not probed", async () => {
  const r = rig([]);
  r.w.accepted();
  await r.w.check();
  r.w.accepted();
  await r.w.check();
  assert.equal(r.probes(), 0);
  await r.w.check(); // nothing accepted since: probe, which is accepted
  assert.equal(r.probes(), 1);
  assert.deepEqual(r.events, []);
});

Deno.test("AcceptWatchdog: two failed probes in a row replace the listener", async () => {
  const r = rig(["not-accepted", "not-accepted"]);
  await r.w.check();
  assert.equal(r.relistens(), 0, "one failure may be a slow turn");
  await r.w.check();
  assert.equal(r.relistens(), 1);
  assert.deepEqual(r.events, ["stuck", "stuck", "relistened"]);
});

Deno.test("AcceptWatchdog: out of descriptors, it retries replacing until it works", async () => {
  const r = rig(["no-descriptors", "no-descriptors", "no-descriptors", "accepted"], 1);
  await r.w.check();
  await r.w.check(); // relisten fails (still out of descriptors)
  await r.w.check(); // relisten works
  await r.w.check();
  assert.equal(r.relistens(), 2);
  assert.deepEqual(r.events, [
    "no-descriptors",
    "no-descriptors",
    "relisten-failed",
    "no-descriptors",
    "relistened",
  ]);
});

Deno.test("AcceptWatchdog: a probe that throws counts as not accepted; an accept resets", async () => {
  let n = 0;
  const events: string[] = [];
  const w = new AcceptWatchdog({
    clock: new FakeClock(),
    probe: () => (n++ === 0 ? Promise.reject(new Error("boom")) : Promise.resolve("not-accepted")),
    relisten: () => Promise.resolve(),
    report: (e) => void events.push(e),
  });
  await w.check();
  w.accepted(); // the listener works after all: failures start again from zero
  await w.check();
  await w.check();
  assert.deepEqual(events, ["stuck", "stuck"], "not replaced: the failures were not in a row");
});

Deno.test("AcceptWatchdog: checks run on the clock every interval", async () => {
  const clock = new FakeClock();
  let probes = 0;
  const w = new AcceptWatchdog({
    clock,
    intervalMs: 1000,
    probe: () => (probes++, Promise.resolve("accepted")),
    relisten: () => Promise.resolve(),
    report: () => {},
  });
  w.start();
  for (let i = 0; i < 3; i++) {
    clock.advance(1000);
    await new Promise((r) => setTimeout(r, 0));
  }
  w.stop();
  clock.advance(5000);
  assert.equal(probes, 3);
  assert.equal(clock.pending, 0);
});
