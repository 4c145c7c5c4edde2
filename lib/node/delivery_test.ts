import assert from "node:assert/strict";
import { join } from "node:path";
import { setImmediate } from "node:timers";
import { type Clock, FakeClock, SYSTEM_CLOCK } from "../clock.ts";
import { type NodeId, toAddress, toNodeId, type UserName } from "../ids.ts";
import type { Limits } from "../config.ts";
import { SILENT_LOGGER } from "../log.ts";
import {
  encodeChunkBody,
  encodeEnvelope,
  type Envelope,
  type NodeEnvelope,
  nodeEnvelope,
} from "../protocol/mod.ts";
import { type NodeStore, openSqliteNodeStore } from "../store/mod.ts";
import { type CommitJob, Committer } from "./committer.ts";
import type { GroupService } from "./group_service.ts";
import type { DeliveryEvent } from "./delivery.ts";
import { fakedDelivery } from "../../tests/_helpers/faked_delivery.ts";
import { decodeReceiptEntries, encodeReceiptEntries } from "./group_receipt.ts";

const SELF = toNodeId("nb");
const ORIGIN = toNodeId("na");
const BOB = "bob" as UserName;

/** A node's delivery (`nb` unless said) on a real store in `dir`, with the network faked. */
async function destination(
  dir: string,
  o: {
    self?: NodeId;
    clock?: Clock;
    fastGraceMs?: number;
    sentEncoded?: (dest: NodeId, bytes: Uint8Array) => void;
    /** The store's disk flushes never end (what is acknowledged must not wait for one). */
    hangFlush?: boolean;
    /** Deferred commit jobs (the write of what was pushed first) wait for `releaseJobs()`. */
    holdDeferred?: boolean;
    /** Delivery's `earlyBytes`. */
    earlyBytes?: number;
    /** The store's disk flushes wait until `openFlushes()` (a slow disk), then run. */
    gateFlush?: boolean;
    /** Limits other than their defaults. */
    limits?: Partial<Limits>;
    /** Judges group envelopes (none: they are refused). */
    groups?: GroupService;
    /** The file spool's quotas (default 1 MiB). */
    spoolBytes?: number;
  } = {},
) {
  const opened = openSqliteNodeStore(join(dir, "node.db"));
  let flushes = 0;
  let openGate = () => {};
  const gate = new Promise<void>((r) => openGate = r);
  const store = o.hangFlush || o.gateFlush
    ? new Proxy(opened, {
      get: (t, k) =>
        k === "sync"
          ? () => {
            flushes++;
            if (o.gateFlush) return gate.then(() => t.sync());
            return new Promise<void>(() => {});
          }
          : Reflect.get(t, k, t),
    })
    : opened;
  const real = new Committer(store, SILENT_LOGGER);
  const held: CommitJob[] = [];
  const committer = o.holdDeferred
    ? new Proxy(real, {
      get: (t, k) => {
        if (k === "job") return (j: CommitJob) => j.defer ? held.push(j) : t.job(j);
        const v = Reflect.get(t, k, t);
        return typeof v === "function" ? v.bind(t) : v;
      },
    })
    : real;
  const receipts: Array<{ to: NodeId; id: string; status: string }> = [];
  const clock = o.clock ?? SYSTEM_CLOCK;
  const { delivery, spool, budgets, registry } = await fakedDelivery({
    dir,
    self: o.self ?? SELF,
    store,
    committer,
    clock,
    hop: ORIGIN,
    sentTo: SELF,
    fastGraceMs: o.fastGraceMs,
    earlyBytes: o.earlyBytes,
    limits: o.limits,
    groups: o.groups,
    spoolBytes: o.spoolBytes,
    sentEncoded: o.sentEncoded,
    send: (e: NodeEnvelope) => {
      for (const r of decodeReceiptEntries(e.body)) {
        receipts.push({ to: e.to as NodeId, id: r.id.toHex(), status: r.status });
      }
      return "forwarded";
    },
  });
  const events: DeliveryEvent[] = [];
  delivery.onEvent((e) => events.push(e));
  return {
    store,
    delivery,
    spool,
    budgets,
    registry,
    receipts,
    events,
    openFlushes: () => openGate(),
    releaseJobs() {
      for (const j of held.splice(0)) real.job(j);
    },
    /** Deferred jobs waiting for `releaseJobs()`. */
    heldJobs: () => held.length,
    /** Disk flushes started (with `hangFlush`: the first never ends, later commits wait). */
    flushes: () => flushes,
    close() {
      delivery.stop();
      committer.close();
      store.close();
    },
  };
}

function message(id: number, from = "alice@na"): { e: Envelope; bytes: Uint8Array } {
  const now = Date.now();
  const e = {
    id: new Uint8Array(16).fill(id),
    kind: "message",
    ttl: 32,
    createdAtMs: now,
    expiresAtMs: now + 60_000,
    from: toAddress(from),
    to: toAddress("bob@nb"),
    body: new Uint8Array([1, 2, 3]),
  } as Envelope;
  return { e, bytes: encodeEnvelope(e) };
}

async function until(what: string, fn: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

function setUp(store: NodeStore): void {
  store.putAccount({
    name: BOB,
    publicKey: null,
    enrollHash: null,
    bundle: null,
    listed: true,
    createdAtMs: 0,
  });
  store.setContactPolicy(BOB, "alice@na", "allow");
}

Deno.test("Delivery keeps an envelope once, answers a copy 'stored', and still knows its id after a restart", async () => {
  const dir = await Deno.makeTempDir({ dir: await ensureTmp(), prefix: "delivery-" });
  try {
    const first = await destination(dir);
    setUp(first.store);
    const m = message(1);
    // Two copies in one turn: one transaction reads the id's history for both.
    first.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    first.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    await until("both answers", () => first.receipts.length === 2);
    assert.deepEqual(first.receipts.map((r) => r.status), ["stored", "stored"]);
    assert.equal(first.store.inboxFor(BOB, 0, 10).length, 1);
    assert.equal(first.events.filter((e) => e.kind === "inbox" && e.rows?.length).length, 1);
    first.close();

    // The node restarts: nothing in memory; the replayed envelope is refused a second row.
    const again = await destination(dir);
    again.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    await until("the replay's answer", () => again.receipts.length === 1);
    assert.equal(again.receipts[0].status, "stored");
    assert.equal(again.store.inboxFor(BOB, 0, 10).length, 1);
    assert.equal(again.events.filter((e) => e.kind === "inbox" && e.rows?.length).length, 0);
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Delivery answers refusals from the turn's transaction and keeps nothing for them", async () => {
  await withDestination(async (d) => {
    setUp(d.store);
    const stranger = message(2, "mallory@na");
    const nobody = { ...message(3), e: { ...message(3).e, to: toAddress("carol@nb") } } as {
      e: Envelope;
      bytes: Uint8Array;
    };
    nobody.bytes = encodeEnvelope(nobody.e);
    const fine = message(4);
    d.delivery.receiveLocal(stranger.e, stranger.bytes, ORIGIN);
    d.delivery.receiveLocal(nobody.e, nobody.bytes, ORIGIN);
    d.delivery.receiveLocal(fine.e, fine.bytes, ORIGIN);
    await until("three answers", () => d.receipts.length === 3);
    const status = new Map(d.receipts.map((r) => [r.id, r.status]));
    assert.equal(status.get(stranger.e.id.toHex()), "refused");
    assert.equal(status.get(nobody.e.id.toHex()), "no-such-user");
    assert.equal(status.get(fine.e.id.toHex()), "stored");
    assert.deepEqual(d.store.inboxFor(BOB, 0, 10).map((r) => r.id), [fine.e.id.toHex()]);
    assert.equal(d.store.wasDelivered(stranger.e.id.toHex()), false);
  });
});

Deno.test("Delivery: an envelope receipted just before its expiry is delivered, not expired, while its delete waits", async () => {
  const dir = await Deno.makeTempDir({ dir: await ensureTmp(), prefix: "delivery-" });
  const clock = new FakeClock(Date.now());
  // The durable outbox's way (no receipt waited for in memory).
  const a = await destination(dir, { self: ORIGIN, clock, fastGraceMs: 0 });
  try {
    const alice = "alice" as UserName;
    const now = clock.nowMs();
    const e = {
      id: new Uint8Array(16).fill(5),
      kind: "message",
      ttl: 32,
      createdAtMs: now,
      expiresAtMs: now + 60_000,
      from: toAddress("alice@na"),
      to: toAddress("bob@nb"),
      body: new Uint8Array([1]),
    } as Envelope;
    assert.equal((await a.delivery.submit(alice, encodeEnvelope(e))).state, "sent");
    // nb's receipt, then the sweep past the envelope's expiry before the (deferred) delete commits.
    const receipt = nodeEnvelope({
      kind: "receipt",
      from: SELF,
      to: ORIGIN,
      body: encodeReceiptEntries([{ id: e.id, status: "stored" }]),
      nowMs: now,
      lifetimeMs: 60_000,
    });
    a.delivery.receiveLocal(receipt, encodeEnvelope(receipt), SELF);
    clock.advance(61_000);
    await until(
      "the outbox row settled",
      () => a.store.outboxExpired(clock.nowMs(), 10).length === 0,
    );
    await new Promise((r) => setTimeout(r, 50));
    const states = a.events.flatMap((ev) =>
      ev.kind === "state" ? [ev.state] : ev.kind === "notices" ? ev.notices.map((n) => n.state) : []
    );
    assert.deepEqual(states, ["delivered"]);
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs `body` with a destination on a fresh store (see {@linkcode destination}), then cleans up. */
async function withDestination(
  ...args:
    | [(d: Destination) => Promise<void>]
    | [Parameters<typeof destination>[1], (d: Destination) => Promise<void>]
): Promise<void> {
  const [o, body] = args.length === 1 ? [{}, args[0]] : args;
  const dir = await Deno.makeTempDir({ dir: await ensureTmp(), prefix: "delivery-" });
  const d = await destination(dir, o);
  try {
    await body(d);
  } finally {
    d.close();
    await Deno.remove(dir, { recursive: true });
  }
}

type Destination = Awaited<ReturnType<typeof destination>>;

/** Hands message `n` to `d`'s delivery and resolves with the status of its receipt. */
async function answerTo(d: Destination, n: number): Promise<string> {
  const m = message(n);
  const before = d.receipts.length;
  d.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
  await until(`the answer to ${n}`, () => d.receipts.length === before + 1);
  return d.receipts[before].status;
}

async function ensureTmp(): Promise<string> {
  const dir = join(new URL("../..", import.meta.url).pathname, ".tmp");
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}

Deno.test("Delivery: the recipient's acknowledgement answers 'stored' without waiting for this node's flush; without one, the flush comes within RECEIPT_FLUSH_MS", async () => {
  await withDestination({ hangFlush: true }, async (d) => {
    setUp(d.store);
    const m = message(6);
    const id = m.e.id.toHex();
    d.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    await until("the push", () => d.events.some((e) => e.kind === "inbox" && e.rows?.length));
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(d.receipts, [], "not before the flush or the acknowledgement");
    d.delivery.acked("mallory" as UserName, [id]);
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(d.receipts, [], "another user's acknowledgement answers nothing");
    assert.deepEqual(d.delivery.acked(BOB, [id]), [id], "its row is deleted");
    await until("the receipt", () => d.receipts.length === 1);
    assert.deepEqual(d.receipts, [{ to: ORIGIN, id, status: "stored" }]);
  });
  // No acknowledgement: the envelope's own flush answers it.
  await withDestination(async (e) => {
    setUp(e.store);
    const m = message(7);
    e.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    await until("the receipt after the flush", () => e.receipts.length === 1);
    assert.equal(e.receipts[0].status, "stored");
  });
});

Deno.test("Delivery: a sender blocked mid-stream is refused from the next envelope on, and allowed again at once", async () => {
  await withDestination(async (d) => {
    setUp(d.store);
    const statusOf = (n: number) => answerTo(d, n);
    assert.equal(await statusOf(20), "stored");
    assert.equal(await statusOf(21), "stored");
    // The policy was read (and kept in memory) for the envelopes above; the block replaces it.
    d.store.setContactPolicy(BOB, "alice@na", "block");
    assert.equal(await statusOf(22), "refused");
    d.store.setContactPolicy(BOB, "alice@na", null);
    assert.equal(await statusOf(23), "refused");
    d.store.setContactPolicy(BOB, "alice@na", "allow");
    assert.equal(await statusOf(24), "stored");
    assert.deepEqual(
      d.store.inboxFor(BOB, 0, 10).map((r) => r.id),
      [20, 21, 24].map((n) => new Uint8Array(16).fill(n).toHex()),
    );
  });
});

Deno.test("Delivery: a removed user's envelopes are 'no-such-user' at once; a user added after a miss is found at once", async () => {
  await withDestination(async (d) => {
    setUp(d.store);
    const statusOf = (n: number) => answerTo(d, n);
    assert.equal(await statusOf(30), "stored");
    d.store.deleteAccount(BOB);
    assert.equal(await statusOf(31), "no-such-user");
    // Known not to exist (kept in memory), then added with its policy: found at once.
    setUp(d.store);
    assert.equal(await statusOf(32), "stored");
  });
});

Deno.test("Delivery: a copy is found by the table (the insert's own check), answered 'stored' and not kept again, even after a block", async () => {
  await withDestination(async (d) => {
    setUp(d.store);
    for (const n of [40, 41, 42, 43]) {
      const m = message(n);
      d.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    }
    await until("four answers", () => d.receipts.length === 4);
    const first = message(40);
    const pushed = d.events.length;
    d.delivery.receiveLocal(first.e, first.bytes, ORIGIN);
    await until("the copy's answer", () => d.receipts.length === 5);
    assert.equal(d.receipts[4].status, "stored");
    assert.equal(d.store.inboxFor(BOB, 0, 10).length, 4, "one row each");
    assert.equal(
      d.events.slice(pushed).filter((e) => e.kind === "inbox" && e.rows?.length).length,
      0,
      "the copy is not pushed again",
    );
    // A copy while the sender is blocked meanwhile: still the first answer ("stored"), from the
    // table, not "refused" (the recipient has it).
    d.store.setContactPolicy(BOB, "alice@na", "block");
    d.delivery.receiveLocal(first.e, first.bytes, ORIGIN);
    await until("the blocked copy's answer", () => d.receipts.length === 6);
    assert.equal(d.receipts[5].status, "stored");
  });
});

/** Pushes before storing to a client that can always take them; records what was pushed. */
function takeEarly(d: { delivery: { earlyPush: unknown } }, ready = () => true): string[] {
  const pushed: string[] = [];
  d.delivery.earlyPush = {
    ready,
    push: (_owner: UserName, id: string) => pushed.push(id),
    dropped: () => {},
  };
  return pushed;
}

Deno.test("Delivery pushes a message its recipient's client can take before storing it: acknowledged first, only its id is kept, 'stored' goes at the acknowledgement, and a copy is not pushed again", async () => {
  await withDestination({ hangFlush: true }, async (d) => {
    setUp(d.store);
    const pushed = takeEarly(d);
    const m = message(50);
    const id = m.e.id.toHex();
    d.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    await until("the push", () => pushed.length === 1);
    assert.deepEqual(pushed, [id]);
    assert.equal(d.store.inboxFor(BOB, 0, 10).length, 0, "pushed before it is stored");
    assert.deepEqual(d.receipts, [], "not answered before the acknowledgement");
    assert.deepEqual(d.delivery.acked(BOB, [id]), [], "no row to delete: it will not be written");
    await until("the receipt", () => d.receipts.length === 1);
    assert.deepEqual(d.receipts, [{ to: ORIGIN, id, status: "stored" }]);
    await until("its id kept", () => d.store.wasDelivered(id));
    assert.equal(d.store.inboxFor(BOB, 0, 10).length, 0, "no row: the client has it");
    assert.equal(d.delivery.view().pushedFirstIdOnly, 1);
    d.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(pushed, [id], "a copy is not pushed again");
    assert.equal(d.store.inboxFor(BOB, 0, 10).length, 0);
  });
});

Deno.test("Delivery: a message pushed before it was stored and not acknowledged before its write keeps its row, and is answered only by the flush or the acknowledgement", async () => {
  await withDestination({ hangFlush: true }, async (d) => {
    setUp(d.store);
    const pushed = takeEarly(d);
    const m = message(51);
    const id = m.e.id.toHex();
    d.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    await until("its row", () => d.store.inboxFor(BOB, 0, 10).length === 1);
    assert.deepEqual(pushed, [id]);
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(d.receipts, [], "the flush never ends: not answered");
    // Reported once stored, as any row: the session that had it pushed skips it (client_hub.ts), a
    // session attached since gets it.
    assert.deepEqual(
      d.events.flatMap((e) => e.kind === "inbox" ? (e.rows ?? []).map((r) => r.id) : []),
      [id],
    );
    assert.deepEqual(d.delivery.acked(BOB, [id]), [id], "its row is deleted");
    await until("the receipt", () => d.receipts.length === 1);
    assert.deepEqual(d.receipts, [{ to: ORIGIN, id, status: "stored" }]);
  });
  // The flush answers it when no acknowledgement comes.
  await withDestination(async (e) => {
    setUp(e.store);
    takeEarly(e);
    const m = message(52);
    e.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    await until("the receipt after the flush", () => e.receipts.length === 1);
    assert.equal(e.receipts[0].status, "stored");
    assert.equal(e.store.inboxFor(BOB, 0, 10).length, 1);
  });
});

Deno.test("Delivery: a client that cannot take a message now gets it the usual way; refusals and copies of stored ids are never pushed first", async () => {
  await withDestination(async (d) => {
    setUp(d.store);
    let ready = false;
    const pushed = takeEarly(d, () => ready);
    const m = message(53);
    d.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    await until("the usual push", () => d.events.some((e) => e.kind === "inbox" && e.rows?.length));
    await until("the receipt", () => d.receipts.length === 1);
    ready = true;
    d.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    const stranger = message(54, "mallory@na");
    d.delivery.receiveLocal(stranger.e, stranger.bytes, ORIGIN);
    await until("two more answers", () => d.receipts.length === 3);
    assert.deepEqual(pushed, []);
    assert.deepEqual(d.receipts.slice(1).map((r) => r.status).sort(), ["refused", "stored"]);
    assert.equal(d.store.inboxFor(BOB, 0, 10).length, 1);
  });
});

Deno.test("Delivery: a copy of a message pushed before it was stored is answered with it, not stored or pushed a second time", async () => {
  // The write of what was pushed first is held until the third copy is answered: on a loaded
  // machine it could otherwise come first, and that copy then waits for the (hanging) flush.
  await withDestination({ hangFlush: true, holdDeferred: true }, async (d) => {
    setUp(d.store);
    const pushed = takeEarly(d);
    const m = message(55);
    const id = m.e.id.toHex();
    d.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    await until("the push", () => pushed.length === 1);
    d.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(d.receipts.length, 0, "neither is answered before the acknowledgement");
    d.delivery.acked(BOB, [id]);
    await until("both answers", () => d.receipts.length === 2);
    assert.deepEqual(d.receipts.map((r) => r.status), ["stored", "stored"]);
    // A third copy after the acknowledgement, before the write: answered at once.
    d.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    await until("the third answer", () => d.receipts.length === 3);
    d.releaseJobs();
    await until("its id kept", () => d.store.wasDelivered(id));
    assert.deepEqual(pushed, [id]);
    assert.equal(d.store.inboxFor(BOB, 0, 10).length, 0);
  });
});

Deno.test("Delivery: a message pushed first that its client acknowledges 100 ms later (working through a full window) is written as its id only, with no row written and deleted", async () => {
  const clock = new FakeClock(Date.now());
  await withDestination({ clock, hangFlush: true, holdDeferred: true }, async (d) => {
    setUp(d.store);
    const pushed = takeEarly(d);
    const m = message(60);
    const id = m.e.id.toHex();
    d.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    await until("the push", () => pushed.length === 1);
    clock.advance(100);
    // The deferred write runs now: 100 ms is not long enough to give up on the acknowledgement,
    // so it writes nothing and queues the next one.
    d.releaseJobs();
    await until("the next deferred write", () => d.heldJobs() === 1);
    assert.equal(
      d.store.inboxFor(BOB, 0, 10).length,
      0,
      "no row written while it may be acknowledged",
    );
    assert.deepEqual(d.delivery.acked(BOB, [id]), [], "nothing to delete");
    d.releaseJobs();
    await until("its id kept", () => d.store.wasDelivered(id));
    assert.equal(d.store.inboxFor(BOB, 0, 10).length, 0);
    assert.equal(d.delivery.view().pushedFirstIdOnly, 1);
    clock.advance(20);
    await until("the receipt", () => d.receipts.length === 1);
    assert.deepEqual(d.receipts, [{ to: ORIGIN, id, status: "stored" }]);
  });
});

/** Message `n` to bob with a body of `size` bytes. */
function sized(n: number, size: number): { e: Envelope; bytes: Uint8Array; id: string } {
  const e = { ...message(n).e, body: new Uint8Array(size).fill(n) } as Envelope;
  return { e, bytes: encodeEnvelope(e), id: e.id.toHex() };
}

Deno.test("Delivery: past `earlyBytes` held by messages pushed first (for any clients), arrivals are stored first; once those are written, pushing first resumes", async () => {
  const size = sized(80, 2000).bytes.length;
  await withDestination({ holdDeferred: true, earlyBytes: 3 * size + 100 }, async (d) => {
    setUp(d.store);
    const pushed = takeEarly(d);
    const ms = [80, 81, 82, 83, 84, 85].map((n) => sized(n, 2000));
    for (const m of ms) d.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
    await until("the rest stored", () => d.store.inboxFor(BOB, 0, 10).length === 3);
    assert.deepEqual(pushed, ms.slice(0, 3).map((m) => m.id), "three fit, in arrival order");
    assert.deepEqual(
      d.store.inboxFor(BOB, 0, 10).map((r) => r.id),
      ms.slice(3).map((m) => m.id),
      "the others the usual way",
    );
    assert.equal(d.delivery.view().pushedFirstBytes, 3 * size);
    // Acknowledged and written (their ids only): nothing held, the next one is pushed first.
    assert.deepEqual(d.delivery.acked(BOB, pushed.slice()), []);
    d.releaseJobs();
    await until("their ids kept", () => pushed.every((id) => d.store.wasDelivered(id)));
    await until("nothing held", () => d.delivery.view().pushedFirstBytes === 0);
    const next = sized(86, 2000);
    d.delivery.receiveLocal(next.e, next.bytes, ORIGIN);
    await until("pushed first again", () => pushed.length === 4);
    assert.equal(pushed[3], next.id);
    assert.equal(d.store.inboxFor(BOB, 0, 10).length, 3);
  });
});

Deno.test("Delivery: while a message to a user waits for its commit the usual way, that user's next message is not pushed first (it would overtake it)", async () => {
  await withDestination({ hangFlush: true }, async (d) => {
    setUp(d.store);
    let ready = false;
    const pushed = takeEarly(d, () => ready);
    // A flush that never ends: every commit after it waits.
    const z = message(90);
    d.delivery.receiveLocal(z.e, z.bytes, ORIGIN);
    await until("a flush in flight", () => d.flushes() > 0);
    const a = message(91);
    d.delivery.receiveLocal(a.e, a.bytes, ORIGIN);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(d.store.inboxFor(BOB, 0, 10).length, 1, "the second waits for its commit");
    ready = true;
    const b = message(92);
    d.delivery.receiveLocal(b.e, b.bytes, ORIGIN);
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(pushed, [], "not pushed before the one stored ahead of it");
  });
});

/**
 * A peer that sends 400 KiB envelopes (`kind` as given, ids from `first` on) to a destination
 * whose flushes wait for `openFlushes()`; measures the bytes held for a commit (handed over, not
 * answered, not yet written: the first batch is written and its flush waits, every later arrival
 * waits for that flush), and sends again what was answered "busy", as an origin's outbox does.
 */
function slowDiskPeer(d: Destination) {
  const written = new Set<string>();
  const inboxAdd = d.store.inboxAdd.bind(d.store);
  d.store.inboxAdd = (rows) => {
    for (const r of rows) written.add(r.id.slice(0, 32));
    return inboxAdd(rows);
  };
  const all: Array<{ e: Envelope; bytes: Uint8Array; id: string }> = [];
  const sent = new Set<string>();
  const answered = () => new Set(d.receipts.map((r) => r.id));
  const held = () => {
    const done = answered();
    let n = 0;
    for (const m of all) {
      if (sent.has(m.id) && !done.has(m.id) && !written.has(m.id)) n += m.bytes.length;
    }
    return n;
  };
  let peak = 0;
  const send = async (ms: typeof all) => {
    for (const m of ms) {
      sent.add(m.id);
      d.delivery.receiveLocal(m.e, m.bytes, ORIGIN);
      // Receipts go out in batches every 10 ms or so (receipt_batcher.ts): an envelope answered
      // "busy" is held no more once its answer is queued, seen here once it is sent.
      for (let i = 0; i < 15 && !answered().has(m.id); i++) {
        await new Promise((r) => setTimeout(r, 1));
      }
      peak = Math.max(peak, held());
    }
  };
  return {
    /** `n` envelopes of 400 KiB from `from`, ids from `first` on. */
    make(n: number, from: string, first: number, kind = "message") {
      const made = Array.from({ length: n }, (_, i) => {
        const m = message(0, from);
        const e = { ...m.e, id: new Uint8Array(16), body: new Uint8Array(400 * 1024).fill(i) };
        new DataView(e.id.buffer).setUint32(0, first + i);
        // A group envelope's bytes only count here: the faked groups judge it.
        return { e: { ...e, kind } as Envelope, bytes: encodeEnvelope(e), id: e.id.toHex() };
      });
      all.push(...made);
      return made;
    },
    /** Envelopes built by the test (not kept in the inbox: `settle(…, false)`). */
    add(made: typeof all) {
      all.push(...made);
      return made;
    },
    send,
    peak: () => peak,
    /**
     * Opens the disk (`open`, default the store's flushes), sends again what was "busy" until
     * every one is stored (bounded), and checks each is in the inbox once (unless `inInbox` is
     * false).
     */
    async settle(open = () => d.openFlushes(), inInbox = true) {
      open();
      for (let round = 0; round < 50; round++) {
        await until("every answer", () => answered().size === sent.size);
        const last = new Map(d.receipts.map((r) => [r.id, r.status]));
        const again = all.filter((m) => last.get(m.id) === "busy");
        if (again.length === 0) break;
        d.receipts.splice(0, Infinity, ...d.receipts.filter((r) => r.status !== "busy"));
        await send(again);
      }
      const last = new Map(d.receipts.map((r) => [r.id, r.status]));
      assert.deepEqual(all.filter((m) => last.get(m.id) !== "stored"), [], "every one stored");
      if (!inInbox) return;
      const rows = d.store.inboxFor(BOB, 0, 1_000).map((r) => r.id.slice(0, 32));
      assert.equal(rows.length, all.length, "each kept once");
      assert.deepEqual([...rows].sort(), all.map((m) => m.id).sort());
    },
  };
}

/** A groups service that judges every group envelope "stored" for bob. */
function storingGroups(): GroupService {
  return {
    judge: () =>
      Promise.resolve({
        status: "stored",
        store: [{ name: BOB, kind: "message" }],
        users: [{ name: BOB, status: "stored" }],
      }),
    sharesGroup: () => false,
  } as unknown as GroupService;
}

const MIB = 1024 * 1024;

Deno.test("Delivery: while the disk is slow, envelopes waiting for their commit stay within their origin's share and the node's total ('busy' past it); another origin still gets in; once the disk is back every one is kept once", async () => {
  const limits = { commitBytesPerOrigin: 8 * MIB, commitBytesTotal: 12 * MIB };
  await withDestination({ gateFlush: true, limits }, async (d) => {
    setUp(d.store);
    d.store.setContactPolicy(BOB, "carol@nc", "allow");
    const peer = slowDiskPeer(d);
    const fromA = peer.make(100, "alice@na", 1_000);
    const fromC = peer.make(4, "carol@nc", 5_000);
    // Origin na floods; nc sends a few in the middle.
    await peer.send(fromA.slice(0, 50));
    await peer.send(fromC);
    await peer.send(fromA.slice(50));
    assert.ok(peer.peak() <= limits.commitBytesTotal, `${(peer.peak() / MIB).toFixed(1)} MiB held`);
    const busyC = d.receipts.filter((r) => r.status === "busy" && r.id.startsWith("00001388"));
    assert.deepEqual(busyC, [], "the other origin is not starved");
    await peer.settle();
  });
});

Deno.test("Delivery: while the disk is slow, group envelopes from another node waiting for their commit stay within their origin's share ('busy' past it); once the disk is back every one is kept once", async () => {
  const limits = { commitBytesPerOrigin: 8 * MIB };
  const groups = storingGroups();
  await withDestination({ gateFlush: true, limits, groups }, async (d) => {
    setUp(d.store);
    const peer = slowDiskPeer(d);
    await peer.send(peer.make(60, "alice@na", 1_000, "group"));
    assert.ok(
      peer.peak() <= limits.commitBytesPerOrigin,
      `${(peer.peak() / MIB).toFixed(1)} MiB held`,
    );
    await peer.settle();
  });
});

Deno.test("Delivery: while the spool's disk is slow, file chunks from another node waiting for their write stay within their origin's share ('busy' past it); once the disk is back every one is kept once", async () => {
  const limits = { commitBytesPerOrigin: 4 * MIB };
  await withDestination({ limits, spoolBytes: 64 * MIB }, async (d) => {
    setUp(d.store);
    // The spool's writes wait for the gate (a slow disk), then run.
    let openGate = () => {};
    const gate = new Promise<void>((r) => openGate = r);
    const write = d.spool.write.bind(d.spool);
    d.spool.write = (user, id, bytes) => gate.then(() => write(user, id, bytes));
    const fileId = new Uint8Array(16).fill(7);
    const chunks = Array.from({ length: 40 }, (_, i) => {
      const m = message(0);
      const body = encodeChunkBody({
        fileId,
        index: i,
        fileBytes: 40 * 256 * 1024,
        sealed: new Uint8Array(256 * 1024 + 16).fill(i),
      });
      const e = { ...m.e, kind: "chunk", id: new Uint8Array(16), body } as Envelope;
      new DataView(e.id.buffer).setUint32(0, 9_000 + i);
      return { e, bytes: encodeEnvelope(e), id: e.id.toHex() };
    });
    const peer = slowDiskPeer(d);
    await peer.send(peer.add(chunks));
    assert.ok(
      peer.peak() <= limits.commitBytesPerOrigin,
      `${(peer.peak() / MIB).toFixed(1)} MiB held`,
    );
    await peer.settle(openGate, false);
    assert.equal(d.spool.heldBytes(BOB) > 40 * 256 * 1024, true, "every chunk in the spool");
  });
});

/** Envelope `n` of `kind` from `from` to bob, handed to `d`; resolves with its receipt's status. */
async function statusOf(d: Destination, n: number, kind: "message" | "request", from = "alice@na") {
  const m = message(n, from);
  const e = { ...m.e, kind } as Envelope;
  const before = d.receipts.length;
  d.delivery.receiveLocal(e, encodeEnvelope(e), ORIGIN);
  await until(`the answer to ${n}`, () => d.receipts.length > before);
  return d.receipts[before].status;
}

Deno.test("Delivery: each budget of the table in SECURITY.md answers as it says when reached", async () => {
  // inbox_bytes_per_user: a message is `busy`, a request dropped (its sender told `stored`).
  // What the inbox counts for an envelope: its bytes as stored (what is given back when it goes).
  const size = message(1).bytes.length;
  // (One origin alone, so no share of the inbox: the next test has it.)
  const one = { inboxBytesPerUser: 2 * size, senderSharePercent: 100 };
  await withDestination({ limits: one }, async (d) => {
    setUp(d.store);
    assert.deepEqual([await statusOf(d, 1, "message"), await statusOf(d, 2, "message")], [
      "stored",
      "stored",
    ]);
    assert.equal(await statusOf(d, 3, "message"), "busy");
    assert.equal(await statusOf(d, 4, "request", "dave@na"), "stored");
    assert.equal(d.store.inboxFor(BOB, 0, 10).length, 2, "neither kept");
  });
  // pending_requests_per_user, requests_per_sender_per_minute: dropped, the sender told `stored`.
  await withDestination({ limits: { pendingRequestsPerUser: 1 } }, async (d) => {
    setUp(d.store);
    assert.equal(await statusOf(d, 1, "request", "dave@na"), "stored");
    assert.equal(await statusOf(d, 2, "request", "erin@na"), "stored");
    assert.equal(d.store.inboxFor(BOB, 0, 10).length, 1, "the second is not kept");
  });
  await withDestination({ limits: { requestsPerSenderPerMinute: 1 } }, async (d) => {
    setUp(d.store);
    assert.equal(await statusOf(d, 1, "request", "dave@na"), "stored");
    assert.equal(await statusOf(d, 2, "request", "dave@na"), "stored");
    assert.equal(await statusOf(d, 3, "request", "erin@na"), "stored");
    assert.equal(d.store.inboxFor(BOB, 0, 10).length, 2, "dave's second is not kept");
  });
  // messages_per_origin_per_second (burst twice that), dedup_ids_per_origin: `busy`.
  await withDestination({ limits: { messagesPerOriginPerSecond: 1 } }, async (d) => {
    setUp(d.store);
    const got = [];
    for (let n = 1; n <= 3; n++) got.push(await statusOf(d, n, "message"));
    assert.deepEqual(got, ["stored", "stored", "busy"]);
  });
  await withDestination({ limits: { dedupIdsPerOrigin: 2 } }, async (d) => {
    setUp(d.store);
    const got = [];
    for (let n = 1; n <= 3; n++) got.push(await statusOf(d, n, "message"));
    assert.deepEqual(got, ["stored", "stored", "busy"]);
  });
  // The totals over all users and origins (`inbox_bytes_total`, `dedup_ids_total`): the same.
  for (const limits of [{ inboxBytesTotal: 2 * size }, { dedupIdsTotal: 2 }]) {
    await withDestination({ limits }, async (d) => {
      setUp(d.store);
      const got = [];
      for (let n = 1; n <= 3; n++) got.push(await statusOf(d, n, "message"));
      assert.deepEqual(got, ["stored", "stored", "busy"], JSON.stringify(limits));
    });
  }
});

Deno.test("Delivery: one origin node holds at most its share of a user's inbox; the others find room, also after a restart", async () => {
  const size = message(1, "mallory@nm").bytes.length;
  const limits = { inboxBytesPerUser: 20 * size }; // the default share: 50 %
  const dir = await Deno.makeTempDir({ dir: await ensureTmp(), prefix: "delivery-" });
  const send = async (d: Destination, first: number, n: number, from: string) => {
    const got: string[] = [];
    for (let i = first; i < first + n; i++) {
      const m = message(i, from);
      const before = d.receipts.length;
      d.delivery.receiveLocal(m.e, m.bytes, toNodeId(from.split("@")[1]));
      await until(`the answer to ${i}`, () => d.receipts.length > before);
      got.push(d.receipts[before].status);
    }
    return got.filter((s) => s === "stored").length;
  };
  try {
    let d = await destination(dir, { limits });
    setUp(d.store);
    d.store.setContactPolicy(BOB, "mallory@nm", "allow");
    d.store.setContactPolicy(BOB, "carol@nc", "allow");
    // bob offline: mallory's node sends 30 (main: 20 kept, the inbox full, alice's refused).
    assert.equal(await send(d, 1, 30, "mallory@nm"), 10);
    assert.equal(await send(d, 100, 10, "alice@na"), 5);
    assert.equal(await send(d, 120, 10, "carol@nc"), 2);
    d.close();
    // After a restart each origin's share is read back from the store.
    d = await destination(dir, { limits });
    assert.equal(await send(d, 40, 5, "mallory@nm"), 0);
    assert.equal(d.budgets.inboxShare.heldBy(BOB, "nm"), 10 * size);
    // bob's client takes mallory's rows: room is mallory's again.
    const rows = d.store.inboxFor(BOB, 0, 100).filter((r) => r.id.startsWith("0"));
    d.delivery.released(BOB, d.store.inboxDelete(BOB, rows.map((r) => r.id)));
    assert.equal(d.budgets.inboxShare.heldBy(BOB, "nm"), 0);
    assert.ok(await send(d, 50, 5, "mallory@nm") > 0);
    // Every row taken: the inbox budget is back at 0 (what was taken is what is given back; on
    // main the take counted an estimate and the release the stored bytes: the budget drifted).
    const all = d.store.inboxFor(BOB, 0, 100).map((r) => r.id);
    d.delivery.released(BOB, d.store.inboxDelete(BOB, all));
    assert.equal(d.registry.snapshot().inbox_bytes.used, 0);
    assert.equal(d.budgets.inboxShare.entries, 0);
    d.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Delivery remembers an id for the envelope's own lifetime (at most the message lifetime) plus twice the clock allowance, on its own clock, whatever the origin's clock says", async () => {
  const DAY = 86_400_000;
  const ALLOWANCE = 12 * 3_600_000;
  await withDestination(async (d) => {
    setUp(d.store);
    /** Message `n` created `offset` from our clock, lasting `lifetime`; its id once answered. */
    const deliver = async (n: number, offset: number, lifetime: number) => {
      const m = message(n).e;
      const now = Date.now();
      const e = { ...m, createdAtMs: now + offset, expiresAtMs: now + offset + lifetime };
      const before = d.receipts.length;
      const at = Date.now();
      d.delivery.receiveLocal(e, encodeEnvelope(e), ORIGIN);
      await until(`the answer to ${n}`, () => d.receipts.length > before);
      assert.equal(d.receipts[before].status, "stored");
      return { id: e.id.toHex(), at, done: Date.now() };
    };
    const cases = [
      // An origin 1,000 days ahead, lifetime a minute: a minute, not 1,000 days.
      { ...(await deliver(1, 1000 * DAY, 60_000)), keep: 60_000 },
      // One that claims 1,000 days of lifetime: the message lifetime (7 days), not for ever.
      { ...(await deliver(2, 1000 * DAY, 1000 * DAY)), keep: 7 * DAY },
      // An origin 6 days behind, a week's lifetime: a week from now, not one day.
      { ...(await deliver(3, -6 * DAY, 7 * DAY)), keep: 7 * DAY },
    ];
    for (const c of cases) {
      d.store.purgeExpired(c.at + c.keep + 2 * ALLOWANCE - 1, 1000);
      assert.equal(d.store.wasDelivered(c.id), true, `${c.id}: kept until its time`);
    }
    for (const c of cases) {
      d.store.purgeExpired(c.done + c.keep + 2 * ALLOWANCE + 1, 1000);
      assert.equal(d.store.wasDelivered(c.id), false, `${c.id}: forgotten after it`);
    }
  });
});

/** Chunk `i` of a file of 4 KiB chunks for bob, as its origin sends it. */
function fileChunk(i: number): { e: Envelope; bytes: Uint8Array; id: string } {
  const m = message(0);
  const body = encodeChunkBody({
    fileId: new Uint8Array(16).fill(8),
    index: i,
    fileBytes: 16 * 4096,
    sealed: new Uint8Array(4096 + 16).fill(i),
  });
  const e = { ...m.e, kind: "chunk", id: new Uint8Array(16), body } as Envelope;
  new DataView(e.id.buffer).setUint32(0, 7_000 + i);
  return { e, bytes: encodeEnvelope(e), id: e.id.toHex() };
}

/** A client that can take every chunk now (unless `ready` says not): records pushes and releases. */
function takeChunksFirst(d: Destination, ready = () => true) {
  const pushed: string[] = [];
  const released: string[] = [];
  d.delivery.earlyPush = {
    ready: () => false,
    push: () => {},
    dropped: () => {},
    chunkReady: ready,
    pushChunk: (_owner, id, envelope) => {
      pushed.push(id);
      return { bytes: envelope.slice(), release: () => released.push(id) };
    },
  };
  return { pushed, released };
}

Deno.test("Delivery pushes a file chunk its recipient's client can take before spooling it: 'stored' only at the client's acknowledgement, nothing spooled; one not acknowledged in time is spooled and answered once durable there", async () => {
  await withDestination(async (d) => {
    setUp(d.store);
    const { pushed, released } = takeChunksFirst(d);
    const [a, b] = [fileChunk(0), fileChunk(1)];
    d.delivery.receiveLocal(a.e, a.bytes, ORIGIN);
    d.delivery.receiveLocal(b.e, b.bytes, ORIGIN);
    assert.deepEqual(pushed, [a.id, b.id], "pushed at once");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(d.receipts.length, 0, "not answered before the acknowledgement");
    assert.equal(d.spool.heldBytes(BOB), 0, "nothing in the spool");
    assert.equal(d.delivery.view().pushedFirstChunkBytes, a.bytes.length + b.bytes.length);
    d.delivery.chunksTaken(BOB, [a.id]);
    await until("a's receipt", () => d.receipts.length === 1);
    assert.deepEqual(d.receipts[0], { to: ORIGIN, id: a.id, status: "stored" });
    assert.deepEqual(released, [a.id], "a's copy given back");
    // b is never acknowledged: spooled after CHUNK_ACK_WAIT_MS, answered once durable there.
    await until("b's receipt", () => d.receipts.length === 2);
    assert.deepEqual(d.receipts[1], { to: ORIGIN, id: b.id, status: "stored" });
    assert.ok(d.spool.isDurable(BOB, b.id), "b is in the spool");
    assert.ok(d.events.some((e) => e.kind === "chunks"), "and reported, to be pushed from there");
    assert.deepEqual(released, [a.id, b.id]);
    assert.equal(d.delivery.view().pushedFirstChunkBytes, 0, "nothing held");
    // A copy of a, once its id is remembered, is answered "stored" and not pushed again.
    await until("a's id remembered", () => d.store.wasDelivered(a.id));
    d.delivery.receiveLocal(a.e, a.bytes, ORIGIN);
    await until("the copy's answer", () => d.receipts.length === 3);
    assert.equal(d.receipts[2].status, "stored");
    assert.deepEqual(pushed, [a.id, b.id]);
  });
});

Deno.test("Delivery: a copy of a chunk pushed first is answered with it; a client that cannot take a chunk now, or past `earlyBytes` held, gets it from the spool", async () => {
  const size = fileChunk(0).bytes.length;
  await withDestination({ earlyBytes: size + size / 2 }, async (d) => {
    setUp(d.store);
    let ready = true;
    const { pushed } = takeChunksFirst(d, () => ready);
    const [a, b, c] = [fileChunk(0), fileChunk(1), fileChunk(2)];
    d.delivery.receiveLocal(a.e, a.bytes, ORIGIN);
    d.delivery.receiveLocal(a.e, a.bytes, ORIGIN);
    d.delivery.receiveLocal(b.e, b.bytes, ORIGIN);
    assert.deepEqual(pushed, [a.id], "a pushed once; b past `earlyBytes`");
    await until("b spooled and answered", () => d.receipts.length === 1);
    assert.deepEqual(d.receipts[0], { to: ORIGIN, id: b.id, status: "stored" });
    ready = false;
    d.delivery.receiveLocal(c.e, c.bytes, ORIGIN);
    await until("c spooled and answered", () => d.receipts.length === 2);
    assert.equal(d.receipts[1].id, c.id);
    assert.deepEqual(pushed, [a.id]);
    d.delivery.chunksTaken(BOB, [a.id]);
    await until("a and its copy answered", () => d.receipts.length === 4);
    assert.deepEqual(d.receipts.slice(2), [
      { to: ORIGIN, id: a.id, status: "stored" },
      { to: ORIGIN, id: a.id, status: "stored" },
    ]);
    assert.ok(!d.spool.holds(BOB, a.id), "a never spooled");
  });
});

Deno.test("Delivery: another origin's envelope under an id already taken is not answered 'stored' (a relay that saw the id cannot make the destination acknowledge what it never kept)", async () => {
  await withDestination(async (d) => {
    setUp(d.store);
    // A relay on alice's path saw her envelope's id and sends its own request (proven, from its
    // own node) under that id first.
    const squat = message(50, "mallory@nm");
    squat.e.kind = "request";
    squat.bytes = encodeEnvelope(squat.e);
    d.delivery.receiveLocal(squat.e, squat.bytes, toNodeId("nm"));
    await until("the squat's answer", () => d.receipts.length === 1);
    assert.equal(d.receipts[0].status, "stored");
    // Alice's real message under that id.
    const real = message(50);
    d.delivery.receiveLocal(real.e, real.bytes, ORIGIN);
    await until("alice's answer", () => d.receipts.length === 2);
    const answer = d.receipts[1];
    assert.equal(answer.to, "na");
    const kept = d.store.inboxFor(BOB, 0, 10).filter((r) => r.id === answer.id).length;
    assert.notEqual(
      answer.status,
      "stored",
      `alice told 'stored'; rows under the id: ${kept} (mallory's)`,
    );
    // A copy from the same origin is still a copy.
    d.delivery.receiveLocal(squat.e, squat.bytes, toNodeId("nm"));
    await until("the squat copy's answer", () => d.receipts.length === 3);
    assert.equal(d.receipts[2].status, "stored");
    // A file chunk of alice's under that id: refused too, not "stored".
    const body = encodeChunkBody({
      fileId: new Uint8Array(16).fill(3),
      index: 0,
      fileBytes: 1024,
      sealed: new Uint8Array(1024 + 16),
    });
    const chunk = { ...real.e, kind: "chunk", body } as Envelope;
    d.delivery.receiveLocal(chunk, encodeEnvelope(chunk), ORIGIN);
    await until("the chunk's answer", () => d.receipts.length === 4);
    assert.notEqual(d.receipts[3].status, "stored", "alice's chunk told 'stored'");
  });
});

Deno.test("Delivery: another origin's envelope stored under the id of a message pushed first, before that message's write, makes it 'refused', not 'stored'", async () => {
  await withDestination(async (d) => {
    setUp(d.store);
    const pushed = takeEarly(d);
    const real = message(53);
    d.delivery.receiveLocal(real.e, real.bytes, ORIGIN);
    await until("pushed first", () => pushed.length === 1);
    // Before the deferred write of alice's message (EARLY_WAIT_MS), a relay's request under its id.
    const squat = message(53, "mallory@nm");
    squat.e.kind = "request";
    squat.bytes = encodeEnvelope(squat.e);
    d.delivery.receiveLocal(squat.e, squat.bytes, toNodeId("nm"));
    await until("both answers", () => d.receipts.length === 2);
    const toAlice = d.receipts.find((r) => r.to === ORIGIN);
    assert.equal(d.receipts.find((r) => r.to === "nm")?.status, "stored");
    assert.equal(toAlice?.status, "refused", "alice told 'stored' for a row never kept");
  });
});

Deno.test("Delivery: another node's chunk under the id of one spooled or pushed first, before the id reaches the de-duplication table, is 'refused', not answered with it", async () => {
  // carol@nm is a contact of bob's whose node relays alice's chunks: it saw their ids.
  const carol = (c: ReturnType<typeof fileChunk>) => {
    const e = { ...c.e, from: "carol@nm" } as Envelope;
    return { e, bytes: encodeEnvelope(e) };
  };
  const NM = toNodeId("nm");
  for (const way of ["spool", "pushed first"]) {
    await withDestination(async (d) => {
      setUp(d.store);
      d.store.setContactPolicy(BOB, "carol@nm", "allow");
      if (way === "pushed first") takeChunksFirst(d);
      const real = fileChunk(3);
      d.delivery.receiveLocal(real.e, real.bytes, ORIGIN);
      if (way === "spool") {
        await until("alice's chunk durable", () => d.spool.isDurable(BOB, real.id));
      }
      assert.equal(d.store.wasDelivered(real.id), false, `${way}: the id is not in the table yet`);
      const squat = carol(real);
      d.delivery.receiveLocal(squat.e, squat.bytes, NM);
      await until(`${way}: carol's answer`, () => d.receipts.some((r) => r.to === "nm"));
      assert.equal(d.receipts.find((r) => r.to === "nm")?.status, "refused", way);
      // Alice's own copy is still a copy of hers.
      if (way === "pushed first") d.delivery.chunksTaken(BOB, [real.id]);
      d.delivery.receiveLocal(real.e, real.bytes, ORIGIN);
      await until(
        `${way}: alice's answers`,
        () => d.receipts.filter((r) => r.to === ORIGIN).length === 2,
      );
      assert.deepEqual(d.receipts.filter((r) => r.to === ORIGIN).map((r) => r.status), [
        "stored",
        "stored",
      ]);
    });
  }
});

Deno.test("Delivery: a group envelope's inbox row is reported once committed, with its seq, before the flush (as a 1:1 row is), so a client session's push mark cannot pass it", async () => {
  const groups = storingGroups();
  await withDestination({ gateFlush: true, groups }, async (d) => {
    setUp(d.store);
    const g = message(70);
    const ge = { ...g.e, kind: "group" } as Envelope;
    d.delivery.receiveLocal(ge, encodeEnvelope(ge), ORIGIN);
    const row = `${ge.id.toHex()}.${BOB}`;
    await until("the group row committed", () => d.store.inboxFor(BOB, 0, 10).length === 1);
    // Past the commit, the flush waits for the gate: the report must not wait for it.
    await new Promise((r) => setTimeout(r, 50));
    const seq = d.store.inboxFor(BOB, 0, 10)[0].seq;
    const reported = d.events.flatMap((e) => e.kind === "inbox" ? e.rows ?? [] : []);
    assert.deepEqual(reported.map((r) => [r.id, r.seq]), [[row, seq]]);
    assert.equal(d.receipts.length, 0, "answered only after the flush");
    d.openFlushes();
    await until("the receipt", () => d.receipts.length === 1);
    assert.equal(d.receipts[0].status, "stored");
  });
});
