import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { SILENT_LOGGER } from "../log.ts";
import type { MessageStore } from "../store/mod.ts";
import { Committer, DEFER_MS, LAZY_SYNC_MS } from "./committer.ts";

/** A store whose commits are recorded and whose disk flushes the test resolves by hand. */
function fakeStore(o: { failCommit?: () => boolean } = {}) {
  const commits: number[] = [];
  const syncs: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  let inBatch = 0;
  const store = {
    transactionUnsynced<T>(fn: () => T): T {
      inBatch = 0;
      const out = fn();
      if (o.failCommit?.()) throw new Error("database or disk is full");
      commits.push(inBatch);
      return out;
    },
    sync(): Promise<void> {
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      syncs.push({ resolve, reject });
      return promise;
    },
  } as unknown as MessageStore;
  return { store, commits, syncs, counted: () => inBatch++ };
}

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

Deno.test("Committer acknowledges a write only after its commit is flushed to disk", async () => {
  const f = fakeStore();
  const c = new Committer(f.store, SILENT_LOGGER);
  const done: string[] = [];
  c.write(f.counted, () => done.push("a"));
  c.write(f.counted, () => done.push("b"));
  assert.equal(f.commits.length, 0);
  await nextTurn();
  assert.deepEqual(f.commits, [2]);
  assert.equal(f.syncs.length, 1);
  assert.equal(done.length, 0);
  f.syncs[0].resolve();
  await Promise.resolve();
  assert.deepEqual(done, ["a", "b"]);
});

Deno.test("Committer holds writes made during a flush and commits them as one batch after it", async () => {
  const f = fakeStore();
  const c = new Committer(f.store, SILENT_LOGGER);
  const done: string[] = [];
  c.write(f.counted, () => done.push("first"));
  await nextTurn();
  for (let i = 0; i < 5; i++) {
    c.write(f.counted, () => done.push(`next${i}`));
    await nextTurn();
  }
  // One flush in flight: nothing new committed, nothing acknowledged.
  assert.deepEqual(f.commits, [1]);
  assert.equal(c.pending, 5);
  f.syncs[0].resolve();
  await Promise.resolve();
  assert.deepEqual(done, ["first"]);
  assert.deepEqual(f.commits, [1, 5]);
  assert.equal(f.syncs.length, 2);
  f.syncs[1].resolve();
  await Promise.resolve();
  assert.deepEqual(done, ["first", "next0", "next1", "next2", "next3", "next4"]);
  assert.equal(c.pending, 0);
});

Deno.test("Committer: a failed commit acknowledges nothing and names the failure", async () => {
  let fail = true;
  const f = fakeStore({ failCommit: () => fail });
  const c = new Committer(f.store, SILENT_LOGGER);
  const done: string[] = [];
  const failed: string[] = [];
  c.write(f.counted, () => done.push("a"), (kind) => failed.push(kind));
  await nextTurn();
  assert.equal(done.length, 0);
  assert.deepEqual(failed, ["disk-full"]);
  assert.equal(f.syncs.length, 0);
  fail = false;
  c.write(f.counted, () => done.push("b"));
  await nextTurn();
  f.syncs[0].resolve();
  await Promise.resolve();
  assert.deepEqual(done, ["b"]);
});

Deno.test("Committer: a failed flush acknowledges nothing of its batch, and the next batch goes on", async () => {
  const f = fakeStore();
  const c = new Committer(f.store, SILENT_LOGGER);
  const done: string[] = [];
  const failed: string[] = [];
  c.write(f.counted, () => done.push("a"), (kind) => failed.push(kind));
  await nextTurn();
  c.write(f.counted, () => done.push("b"), (kind) => failed.push(kind));
  await nextTurn();
  f.syncs[0].reject(new Error("disk I/O error"));
  await Promise.resolve();
  assert.deepEqual(failed, ["io-error"]);
  assert.equal(done.length, 0);
  assert.equal(f.syncs.length, 2);
  f.syncs[1].resolve();
  await Promise.resolve();
  assert.deepEqual(done, ["b"]);
});

Deno.test("Committer: a batch nobody waits on is committed without a flush of its own; the next flush covers it", async () => {
  const f = fakeStore();
  const c = new Committer(f.store, SILENT_LOGGER);
  const steps: string[] = [];
  c.job({ write: f.counted, committed: () => steps.push("delete committed") });
  await nextTurn();
  assert.deepEqual(steps, ["delete committed"]);
  assert.deepEqual(f.commits, [1]);
  assert.equal(f.syncs.length, 0);
  c.job({
    write: f.counted,
    committed: () => steps.push("add committed"),
    then: () => steps.push("add durable"),
  });
  await nextTurn();
  assert.equal(f.syncs.length, 1);
  f.syncs[0].resolve();
  await Promise.resolve();
  assert.deepEqual(steps, ["delete committed", "add committed", "add durable"]);
  c.close();
});

Deno.test("Committer: a batch nobody waits on is flushed at the latest LAZY_SYNC_MS later", async () => {
  const f = fakeStore();
  const c = new Committer(f.store, SILENT_LOGGER);
  c.job({ write: f.counted });
  await nextTurn();
  assert.equal(f.syncs.length, 0);
  const deadline = Date.now() + 10 * LAZY_SYNC_MS;
  while (f.syncs.length === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, LAZY_SYNC_MS / 4));
  }
  assert.equal(f.syncs.length, 1);
  f.syncs[0].resolve();
  c.close();
});

Deno.test("Committer: a deferred write joins the next batch someone waits on, in one transaction", async () => {
  const f = fakeStore();
  const c = new Committer(f.store, SILENT_LOGGER);
  const steps: string[] = [];
  c.job({ write: f.counted, committed: () => steps.push("ack delete"), defer: true });
  await nextTurn();
  await nextTurn();
  // Not committed on its own in the next turn.
  assert.deepEqual(f.commits, []);
  c.job({ write: f.counted, then: () => steps.push("add durable") });
  await nextTurn();
  assert.deepEqual(f.commits, [2]);
  assert.deepEqual(steps, ["ack delete"]);
  f.syncs[0].resolve();
  await Promise.resolve();
  assert.deepEqual(steps, ["ack delete", "add durable"]);
  c.close();
});

Deno.test("Committer: a deferred write with nothing to join is committed on its own after DEFER_MS", async () => {
  const f = fakeStore();
  const c = new Committer(f.store, SILENT_LOGGER);
  const startedMs = Date.now();
  let committedMs = 0;
  c.job({ write: f.counted, committed: () => committedMs = Date.now(), defer: true });
  const deadline = Date.now() + 20 * DEFER_MS;
  while (committedMs === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, DEFER_MS / 5));
  }
  assert.deepEqual(f.commits, [1]);
  assert.ok(
    committedMs - startedMs >= DEFER_MS - 2,
    `committed after ${committedMs - startedMs} ms`,
  );
  assert.equal(f.syncs.length, 0);
  c.close();
});

Deno.test("Committer: `told` runs with the batch's acknowledgements when it is flushed, at the commit when nobody waits, never after a failed commit", async () => {
  let fail = false;
  const f = fakeStore({ failCommit: () => fail });
  const c = new Committer(f.store, SILENT_LOGGER);
  const steps: string[] = [];
  // Alone (nobody waits for the flush): told right after the commit.
  c.job({ write: f.counted, told: () => steps.push("notice alone"), defer: true });
  c.flush();
  assert.deepEqual(steps, ["notice alone"]);
  assert.equal(f.syncs.length, 0);
  // With a write someone waits for: told after the flush, after the acknowledgements.
  c.job({ write: f.counted, told: () => steps.push("notice"), defer: true });
  c.job({
    write: f.counted,
    committed: () => steps.push("add committed"),
    then: () => steps.push("add durable"),
  });
  await nextTurn();
  assert.deepEqual(steps, ["notice alone", "add committed"]);
  f.syncs[0].resolve();
  await Promise.resolve();
  assert.deepEqual(steps, ["notice alone", "add committed", "add durable", "notice"]);
  // A failed commit tells nothing.
  fail = true;
  c.job({ write: f.counted, told: () => steps.push("lost"), failed: () => steps.push("failed") });
  await nextTurn();
  assert.deepEqual(steps.slice(4), ["failed"]);
  c.close();
});

Deno.test("Committer: a `then` with flushWithinMs is committed at once and waits for another flush, or starts its own at the deadline", async () => {
  const f = fakeStore();
  const c = new Committer(f.store, SILENT_LOGGER);
  const steps: string[] = [];
  c.job({
    write: f.counted,
    committed: () => steps.push("a committed"),
    then: () => steps.push("a durable"),
    flushWithinMs: 10_000,
  });
  await nextTurn();
  // Committed (pushed, say) in the next turn; no flush of its own yet.
  assert.deepEqual(f.commits, [1]);
  assert.deepEqual(steps, ["a committed"]);
  assert.equal(f.syncs.length, 0);
  // A write that waits for the disk now: its flush covers the earlier one too, in commit order.
  c.job({ write: f.counted, then: () => steps.push("b durable") });
  await nextTurn();
  assert.equal(f.syncs.length, 1);
  f.syncs[0].resolve();
  await Promise.resolve();
  assert.deepEqual(steps, ["a committed", "a durable", "b durable"]);

  // Alone: its deadline starts the flush.
  const startedMs = Date.now();
  c.job({ write: f.counted, then: () => steps.push("c durable"), flushWithinMs: 30 });
  const deadline = Date.now() + 2_000;
  while (f.syncs.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.equal(f.syncs.length, 2);
  assert.ok(Date.now() - startedMs >= 28, `flushed after ${Date.now() - startedMs} ms`);
  assert.equal(steps.at(-1), "b durable");
  f.syncs[1].resolve();
  await Promise.resolve();
  assert.equal(steps.at(-1), "c durable");
  c.close();
});

Deno.test("Committer: a waiting `then` its caller cleared starts no flush at its deadline", async () => {
  const f = fakeStore();
  const c = new Committer(f.store, SILENT_LOGGER);
  const job = { write: f.counted, then: () => {}, flushWithinMs: 20 } as {
    write: () => void;
    then?: () => void;
    flushWithinMs: number;
  };
  c.job(job);
  await nextTurn();
  assert.deepEqual(f.commits, [1]);
  job.then = undefined;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(f.syncs.length, 0, "no flush at the deadline");
  c.close();
});
