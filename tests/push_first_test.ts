/**
 * Pushed before stored, through the client hub (lib/node/delivery.ts,
 * `#takeArrivals`; lib/node/client_hub.ts, `earlyPush`): a message for an
 * attached client goes out with seq 0 before it is stored; acknowledged in
 * time it leaves no inbox row; not acknowledged, its row is stored and not
 * pushed again to the same session, but is pushed to a session attached since.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../lib/clock.ts";
import { toAddress, type UserName } from "../lib/ids.ts";
import { encodeChunkBody, encodeEnvelope, type Envelope } from "../lib/protocol/mod.ts";
import { CHUNK_FIRST_WINDOW_BYTES, PUSH_WINDOW_BYTES } from "../lib/node/client_hub.ts";
import { ALICE, NB, senderNode, until } from "./_helpers/sender_node.ts";

async function tmp(): Promise<string> {
  const root = join(new URL("..", import.meta.url).pathname, ".tmp");
  await Deno.mkdir(root, { recursive: true });
  return await Deno.makeTempDir({ dir: root, prefix: "push-first-" });
}

/** Message `n` from bob@nb to alice (whose node this is), with a body of `size` bytes. */
function fromBob(n: number, size = 3): { e: Envelope; bytes: Uint8Array; id: string } {
  const now = Date.now();
  const e = {
    id: new Uint8Array(16).fill(n),
    kind: "message",
    ttl: 32,
    createdAtMs: now,
    expiresAtMs: now + 60_000,
    from: toAddress("bob@nb"),
    to: toAddress("alice@na"),
    body: new Uint8Array(size).fill(n),
  } as Envelope;
  return { e, bytes: encodeEnvelope(e), id: e.id.toHex() };
}

const delivers = (got: Array<{ type: string }>) =>
  got.flatMap((m) =>
    m.type === "deliver" ? [m as { type: "deliver"; seq: number; id: string }] : []
  );

Deno.test("push first: an attached client gets a message before it is stored; acknowledged in time, no inbox row is kept, only its id", async () => {
  const dir = await tmp();
  const a = await senderNode(dir);
  try {
    a.store.setContactPolicy(ALICE, "bob@nb", "allow");
    const alice = a.attach();
    const m = fromBob(1);
    a.delivery.receiveLocal(m.e, m.bytes, NB);
    await until("the push", () => delivers(alice.got).length === 1);
    assert.deepEqual(delivers(alice.got).map((d) => [d.id, d.seq]), [[m.id, 0]]);
    alice.ack([m.id]);
    await until("its id kept", () => a.store.wasDelivered(m.id));
    assert.equal(a.store.inboxCount(ALICE), 0);
    assert.equal(a.delivery.view().pushedFirstIdOnly, 1);
    // A copy later: not pushed again.
    a.delivery.receiveLocal(m.e, m.bytes, NB);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(delivers(alice.got).length, 1);
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("push first: not acknowledged in time, the row is stored and not pushed again to the same client; a client attached since gets it from the store", async () => {
  const dir = await tmp();
  const a = await senderNode(dir);
  try {
    a.store.setContactPolicy(ALICE, "bob@nb", "allow");
    const first = a.attach();
    const m = fromBob(2);
    a.delivery.receiveLocal(m.e, m.bytes, NB);
    await until("the push", () => delivers(first.got).length === 1);
    await until("its row", () => a.store.inboxCount(ALICE) === 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(delivers(first.got).length, 1, "the same client does not get it twice");
    first.ack([m.id]);
    await until("its row deleted at the acknowledgement", () => a.store.inboxCount(ALICE) === 0);

    // Pushed to a client that goes away before acknowledging it; the next one attaches before
    // the row is written, and gets it once it is.
    const m2 = fromBob(3);
    const second = a.attach();
    a.delivery.receiveLocal(m2.e, m2.bytes, NB);
    await until("the push", () => delivers(second.got).length === 1);
    second.close();
    const third = a.attach("alice" as UserName);
    assert.equal(delivers(third.got).length, 0, "not stored yet");
    await until("the stored row pushed", () => delivers(third.got).length === 1);
    assert.equal(delivers(third.got)[0].id, m2.id);
    assert.ok(delivers(third.got)[0].seq > 0);
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Chunk `index` of a small file from bob@nb to alice. */
function chunkFromBob(
  index: number,
  sealedBytes = 1024,
  fileBytes = 4096,
): { e: Envelope; bytes: Uint8Array } {
  const now = Date.now();
  const e = {
    id: new Uint8Array(16).fill(0x80 + index),
    kind: "chunk",
    ttl: 32,
    createdAtMs: now,
    expiresAtMs: now + 60_000,
    from: toAddress("bob@nb"),
    to: toAddress("alice@na"),
    body: encodeChunkBody({
      fileId: new Uint8Array(16).fill(9),
      index,
      fileBytes,
      sealed: new Uint8Array(sealedBytes),
    }),
  } as Envelope;
  return { e, bytes: encodeEnvelope(e) };
}

Deno.test("push first: a message pushed first whose write fails (a full disk) and that the client did not acknowledge holds no place in its window: a file chunk behind it is pushed", async () => {
  const dir = await tmp();
  const a = await senderNode(dir);
  // The disk fills: every commit fails as SQLite reports it (its writes rolled back), until
  // `full` is false again. `rowLost`: a failed commit had written alice's inbox row.
  let full = false;
  let rowLost = false;
  const commit = a.store.transactionUnsynced.bind(a.store);
  a.store.transactionUnsynced = (fn) =>
    commit(() => {
      const out = fn();
      if (!full) return out;
      if (a.store.inboxCount(ALICE) > 0) rowLost = true;
      throw new Error("database or disk is full");
    });
  try {
    a.store.setContactPolicy(ALICE, "bob@nb", "allow");
    const alice = a.attach();
    full = true;
    const m = fromBob(4);
    a.delivery.receiveLocal(m.e, m.bytes, NB);
    await until("the push", () => delivers(alice.got).length === 1);
    // The client could not store it either (the same full disk): it acknowledges nothing.
    await until("its write failed", () => rowLost);
    full = false;
    // Room again: a chunk comes for the same client; nothing it was pushed is in the store.
    const c = chunkFromBob(0);
    a.delivery.receiveLocal(c.e, c.bytes, NB);
    await until(
      "the chunk pushed",
      () => alice.got.some((x) => x.type === "chunkDeliver"),
      20_000,
    );
    // The message's origin sends it again (no receipt went): pushed again, acknowledged once,
    // and the window is empty after it (a second chunk goes too).
    a.delivery.receiveLocal(m.e, m.bytes, NB);
    await until("the push again", () => delivers(alice.got).length === 2);
    alice.ack([m.id]);
    const chunks = () => alice.got.filter((x) => x.type === "chunkDeliver").length;
    const c2 = chunkFromBob(1);
    a.delivery.receiveLocal(c2.e, c2.bytes, NB);
    await until("the second chunk pushed", () => chunks() === 2, 20_000);
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("push first: a message pushed first, not acknowledged when the client's items are pushed again, and stored after that is pushed again from the store", async () => {
  const dir = await tmp();
  const clock = new FakeClock(Date.now());
  const a = await senderNode(dir, clock);
  try {
    a.store.setContactPolicy(ALICE, "bob@nb", "allow");
    const alice = a.attach();
    const m = fromBob(5);
    a.delivery.receiveLocal(m.e, m.bytes, NB);
    await until("the push", () => delivers(alice.got).length === 1);
    // The client acknowledges nothing (it could not store it) and its write waits (on this
    // node's clock, it was pushed just now); the repush after 15 s without progress comes first.
    clock.advance(20_000);
    await until("its row", () => a.store.inboxCount(ALICE) === 1);
    await until("pushed again, from the store", () => delivers(alice.got).length === 2);
    assert.equal(delivers(alice.got)[1].id, m.id);
    assert.ok(delivers(alice.got)[1].seq > 0);
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("push first: large messages to a client that does not acknowledge stop being pushed first once its window's bytes are out; the rest are stored and pushed as it acknowledges, each once, in order", async () => {
  const dir = await tmp();
  const a = await senderNode(dir);
  try {
    a.store.setContactPolicy(ALICE, "bob@nb", "allow");
    const alice = a.attach();
    // 300 KiB each: 13 make the window's 4 MiB; 40 (12 MiB) are far under its count.
    const ms = Array.from({ length: 40 }, (_, i) => fromBob(0x20 + i, 300 * 1024));
    const size = ms[0].bytes.length;
    for (const [i, m] of ms.entries()) {
      a.delivery.receiveLocal(m.e, m.bytes, NB);
      if (i % 8 === 7) await new Promise((r) => setTimeout(r, 5));
    }
    // Every one is stored: those pushed first once their wait for an acknowledgement is over.
    await until("all stored", () => a.store.inboxCount(ALICE) === ms.length, 20_000);
    const first = delivers(alice.got);
    assert.ok(first.length > 0 && first.length < ms.length, `pushed first: ${first.length}`);
    assert.ok(first.every((d) => d.seq === 0), "the first ones were pushed before stored");
    assert.ok(first.length * size <= PUSH_WINDOW_BYTES, "within the window's bytes");
    assert.equal(a.delivery.view().pushedFirstBytes, 0, "nothing held once written");
    // The client acknowledges what it has, one push at a time: the rest comes from the store.
    let acked = 0;
    for (let round = 0; round < ms.length && acked < ms.length; round++) {
      const got = delivers(alice.got);
      const out = got.slice(acked);
      assert.ok(out.length * size <= PUSH_WINDOW_BYTES, `round ${round}: within the window`);
      alice.ack(out.map((d) => d.id));
      acked = got.length;
      if (acked === ms.length) break;
      await until(`round ${round}: more pushed`, () => delivers(alice.got).length > acked);
    }
    const ids = delivers(alice.got).map((d) => d.id);
    assert.deepEqual(ids, ms.map((m) => m.id), "each once, in order");
    await until("every row deleted", () => a.store.inboxCount(ALICE) === 0);
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("push first: file chunks to a client that does not acknowledge are held in memory up to 6 MiB (23 of 256 KiB), not a sender's 8 MiB window; the rest go to the spool", async () => {
  const dir = await tmp();
  // The node's clock stands still: no chunk's wait for its acknowledgement ends.
  const a = await senderNode(dir, new FakeClock(Date.now()));
  try {
    a.store.setContactPolicy(ALICE, "bob@nb", "allow");
    const alice = a.attach();
    // 28 of 256 KiB (7 MiB): under the 8 MiB the window was, over the 6 MiB it is. The test
    // spool takes files of 1 MiB at most (the chunks' sizes are not checked against it).
    const n = 28;
    for (let i = 0; i < n; i++) {
      const c = chunkFromBob(i, 256 * 1024, 1 << 20);
      a.delivery.receiveLocal(c.e, c.bytes, NB);
    }
    const chunks = () => alice.got.filter((x) => x.type === "chunkDeliver").length;
    // 23 pushed first; none from the spool (over the 4 MiB those stop at). The old window
    // pushed all 28 first.
    await until("a window's worth pushed", () => chunks() >= 23, 20_000);
    const v = a.delivery.view();
    assert.ok(v.pushedFirstChunkBytes <= CHUNK_FIRST_WINDOW_BYTES, `${v.pushedFirstChunkBytes}`);
    assert.equal(v.pushedFirstChunks, 23, "pushed first: what fits in 6 MiB");
    assert.equal(CHUNK_FIRST_WINDOW_BYTES, 6 * 1024 * 1024);
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("push window: windowView() counts the bytes pushed to a session and not acknowledged, and gives them back on its acknowledgement", async () => {
  const dir = await tmp();
  const a = await senderNode(dir);
  try {
    a.store.setContactPolicy(ALICE, "bob@nb", "allow");
    assert.deepEqual(a.hub.windowView(), {
      limit: PUSH_WINDOW_BYTES,
      used: 0,
      keys: 0,
      refusals: 0,
    });
    const alice = a.attach();
    const ms = [fromBob(0x70, 10_000), fromBob(0x71, 20_000)];
    for (const m of ms) a.delivery.receiveLocal(m.e, m.bytes, NB);
    await until("both pushed", () => delivers(alice.got).length === 2);
    const out = ms[0].bytes.length + ms[1].bytes.length;
    assert.deepEqual(a.hub.windowView(), {
      limit: PUSH_WINDOW_BYTES,
      used: out,
      keys: 1,
      top: { key: ALICE, used: out },
      refusals: 0,
    });
    alice.ack([ms[0].id]);
    await until("one given back", () => a.hub.windowView().used === ms[1].bytes.length);
    alice.ack([ms[1].id]);
    await until("none out", () => a.hub.windowView().used === 0);
    assert.equal(a.hub.windowView().keys, 0);
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});
