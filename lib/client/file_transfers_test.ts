/**
 * A hostile file offer: its size and chunk count are checked before anything is
 * allocated, and the bitmap of received chunks is made only when the user accepts.
 */
import assert from "node:assert/strict";
import { FakeClock } from "../clock.ts";
import * as e2e from "../e2e/mod.ts";
import { SILENT_LOGGER } from "../log.ts";
import { ClientStore } from "./client_store.ts";
import { apply } from "./_file_testing.ts";
import { FileTransfers, LISTED_TRANSFERS } from "./file_transfers.ts";
import {
  DEFAULT_FILE_SENDER_LIMITS,
  type FileSenderLimits,
  MAX_UNASKED_RECEIVING_PER_SENDER,
  MAX_WAITING_OFFERS_PER_SENDER,
  STALLED_RECEIVING_MS,
} from "./file_offer.ts";
import { encodeChunkBody, encodeEnvelope } from "../protocol/mod.ts";
import type { NodeConnection } from "./node_connection.ts";
import type { FileInner } from "./payload.ts";

async function setup(
  extra: {
    awayAcceptBytes?: number;
    autoAcceptBytes?: number;
    senderLimits?: FileSenderLimits;
  } = {},
) {
  await Deno.mkdir(".tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: ".tmp", prefix: "file-offer-" });
  const store = new ClientStore(":memory:");
  const sent: Array<{ peer: string; inner: FileInner }> = [];
  const clock = new FakeClock();
  const acks: string[][] = [];
  const files = new FileTransfers({
    ...extra,
    self: "bob@nodeb",
    store,
    connection: {
      send: (m: { type: string; ids?: string[] }) => {
        if (m.type === "chunkAck") acks.push(m.ids!);
        return true;
      },
      sendEncoded: () => true,
      up: true,
    } as unknown as NodeConnection,
    clock,
    log: SILENT_LOGGER,
    downloadsDir: `${dir}/downloads`,
    stagingDir: `${dir}/staging`,
    checkContact: () => {},
    sendInner: (peer, inner, write) => {
      write?.();
      sent.push({ peer, inner });
      return Promise.resolve(crypto.randomUUID());
    },
    emit: () => {},
  });
  const cleanup = async () => {
    files.stop();
    store.close();
    await Deno.remove(dir, { recursive: true });
  };
  return { store, files, sent, cleanup, clock, acks };
}

function offer(size: number, chunkBytes: number): Extract<FileInner, { t: "file-offer" }> {
  const fileId = crypto.getRandomValues(new Uint8Array(16));
  const manifest = e2e.encodeFileManifest({
    version: 2,
    fileId,
    key: new Uint8Array(32),
    chunkBytes,
    byteLength: size,
    digest: null,
  });
  return {
    t: "file-offer",
    id: fileId.toHex(),
    name: "big.bin",
    size,
    type: "application/octet-stream",
    manifest: manifest.toBase64(),
  };
}

Deno.test("receive() refuses an offer of 2^40 bytes in 1 KiB chunks before allocating its bitmap", async () => {
  const { store, files, sent, cleanup } = await setup();
  try {
    const hostile = offer(2 ** 40, 1024);
    const step = files.receive("alice@nodea", hostile);
    store.transaction(() => step.write());
    step.after();
    // Nothing kept: no row (the old code stored a 128 MiB bitmap here).
    const stored = store.transfers();
    assert.deepEqual(stored.map((t) => [t.id, t.done.length]), []);
    // The sender hears why, so its transfer fails instead of waiting forever.
    assert.equal(sent.length, 1);
    assert.equal(sent[0].inner.t, "file-cancel");
    assert.match((sent[0].inner as { reason?: string }).reason ?? "", /receiver accepts/);
  } finally {
    await cleanup();
  }
});

Deno.test("receive() stores an acceptable offer without a bitmap; accept() makes it, bounded", async () => {
  const { store, files, sent, cleanup } = await setup();
  try {
    const fine = offer(10 * 1024 * 1024, 256 * 1024);
    const step = files.receive("alice@nodea", fine);
    store.transaction(() => step.write());
    step.after();
    assert.equal(store.transfer(fine.id)?.state, "offered");
    assert.equal(store.transfer(fine.id)?.done.length, 0);
    await files.accept(fine.id);
    const row = store.transfer(fine.id)!;
    assert.equal(row.state, "receiving");
    assert.equal(row.done.length, 5, "40 chunks, 5 bytes of bitmap");
    assert.deepEqual(sent.map((s) => s.inner.t), ["file-accept"]);
  } finally {
    await cleanup();
  }
});

Deno.test("file-push: a pushed file within away_accept_bytes is taken without asking or answering", async () => {
  const { store, files, sent, cleanup } = await setup({ awayAcceptBytes: 10 * 1024 * 1024 });
  try {
    const o = offer(10 * 1024 * 1024, 256 * 1024);
    apply(store, files, "alice@nodea", o);
    apply(store, files, "alice@nodea", { t: "file-push", id: o.id });
    const row = store.transfer(o.id)!;
    assert.equal(row.state, "receiving");
    assert.equal(row.done.length, 5);
    assert.deepEqual(sent, [], "nothing to answer: the sender may be offline");
    // A push from someone else, or a second push, changes nothing.
    apply(store, files, "mallory@nodem", { t: "file-push", id: o.id });
    apply(store, files, "alice@nodea", { t: "file-push", id: o.id });
    assert.equal(store.transfer(o.id)!.state, "receiving");
  } finally {
    await cleanup();
  }
});

Deno.test("file-push: a pushed file over away_accept_bytes fails here and its sender hears why", async () => {
  const { store, files, sent, cleanup } = await setup({ awayAcceptBytes: 1024 * 1024 });
  try {
    const o = offer(2 * 1024 * 1024, 256 * 1024);
    apply(store, files, "alice@nodea", o);
    apply(store, files, "alice@nodea", { t: "file-push", id: o.id });
    await Promise.resolve();
    const row = store.transfer(o.id)!;
    assert.equal(row.state, "failed");
    assert.equal(row.done.length, 0, "no bitmap");
    assert.equal(sent.length, 1);
    assert.equal(sent[0].inner.t, "file-cancel");
    assert.match((sent[0].inner as { reason?: string }).reason ?? "", /while away/);
  } finally {
    await cleanup();
  }
});

Deno.test("a chunk before its offer is left at the node for a while, then dropped", async () => {
  const { files, cleanup, clock, acks } = await setup();
  try {
    const envelope = encodeEnvelope({
      id: crypto.getRandomValues(new Uint8Array(16)),
      kind: "chunk",
      ttl: 8,
      createdAtMs: clock.nowMs(),
      expiresAtMs: clock.nowMs() + 60_000,
      from: "alice@nodea",
      to: "bob@nodeb",
      body: encodeChunkBody({
        fileId: crypto.getRandomValues(new Uint8Array(16)),
        index: 0,
        fileBytes: 10,
        sealed: new Uint8Array(26),
      }),
    });
    files.onChunk("c1", envelope);
    assert.deepEqual(acks, [], "not taken: its offer may still come");
    clock.advance(60_000);
    files.onChunk("c1", envelope);
    assert.deepEqual(acks, []);
    clock.advance(61_000);
    files.onChunk("c1", envelope);
    assert.deepEqual(acks, [["c1"]], "no offer after two minutes: dropped");
  } finally {
    await cleanup();
  }
});

/** How many incoming transfers are in each state. */
function states(store: ClientStore): Record<string, number> {
  const n: Record<string, number> = {};
  for (const t of store.transfers()) n[t.state] = (n[t.state] ?? 0) + 1;
  return n;
}

Deno.test("one sender's offers, each pushed at once: at most 8 files taken unasked, the rest refused with a reason", async () => {
  const { store, files, sent, cleanup } = await setup();
  try {
    // 64 MiB in 1 KiB chunks: within away_accept_bytes (64M), the most chunks it allows.
    for (let i = 0; i < 200; i++) {
      const o = offer(64 * 1024 * 1024, 1024);
      apply(store, files, "mallory@nodem", o);
      apply(store, files, "mallory@nodem", { t: "file-push", id: o.id });
    }
    await Promise.resolve();
    // Main took all 200 (each kept a 2 MiB table of chunk digests from the push on).
    const n = MAX_UNASKED_RECEIVING_PER_SENDER;
    assert.deepEqual(states(store), { receiving: n, failed: 200 - n });
    assert.equal(sent.length, 200 - n, "each refused push is answered");
    assert.match((sent[0].inner as { reason?: string }).reason ?? "", /receiving 8 files from you/);
    // Another sender is not held up by mallory's.
    const o = offer(1024 * 1024, 256 * 1024);
    apply(store, files, "alice@nodea", o);
    apply(store, files, "alice@nodea", { t: "file-push", id: o.id });
    assert.equal(store.transfer(o.id)?.state, "receiving");
  } finally {
    await cleanup();
  }
});

Deno.test("offers left unanswered: at most 32 per sender and a total across senders", async () => {
  const { store, files, sent, cleanup } = await setup({
    senderLimits: { ...DEFAULT_FILE_SENDER_LIMITS, waiting: 40 },
  });
  try {
    for (let i = 0; i < 50; i++) apply(store, files, "mallory@nodem", offer(1024, 1024));
    await Promise.resolve();
    const n = MAX_WAITING_OFFERS_PER_SENDER;
    assert.deepEqual(states(store), { offered: n }, "main kept all 50");
    assert.equal(sent.length, 50 - n);
    assert.match((sent[0].inner as { reason?: string }).reason ?? "", /32 offers from you waiting/);
    for (let i = 0; i < 20; i++) apply(store, files, `m${i}@nodem`, offer(1024, 1024));
    assert.deepEqual(states(store), { offered: 40 });
    // Answering one makes room for that sender.
    const first = store.transfers().find((t) => t.peer === "mallory@nodem")!;
    await files.decline(first.id);
    const o = offer(1024, 1024);
    apply(store, files, "mallory@nodem", o);
    assert.equal(store.transfer(o.id)?.state, "offered");
  } finally {
    await cleanup();
  }
});

Deno.test("auto-accept takes at most 8 files of one sender at once; the rest wait for a place, oldest first", async () => {
  const { store, files, cleanup } = await setup({ autoAcceptBytes: 1024 * 1024 });
  try {
    const offers = Array.from({ length: 20 }, () => offer(1024 * 1024, 1024));
    for (const o of offers) apply(store, files, "mallory@nodem", o);
    // The accepts are asynchronous (a folder and a part file, then the answer): let them run.
    const settle = async (receiving: number) => {
      for (let i = 0; i < 50 && (states(store).receiving ?? 0) < receiving; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 20));
    };
    await settle(8);
    assert.deepEqual(states(store), { receiving: 8, offered: 12 });
    // A place frees (here the user cancels one): the oldest waiting offer is taken without
    // asking (main left it waiting for the user, so a burst of small files stalled at 8).
    // One the sender cancelled meanwhile is skipped.
    apply(store, files, "mallory@nodem", { t: "file-cancel", id: offers[8].id });
    await files.cancel(offers[0].id);
    await settle(8);
    assert.equal(store.transfer(offers[9].id)?.state, "receiving");
    assert.equal(store.transfer(offers[10].id)?.state, "offered");
    assert.deepEqual(states(store), { receiving: 8, offered: 10, cancelled: 2 });
  } finally {
    await cleanup();
  }
});

Deno.test("ended transfers stay, but a list shows the newest 1,000 and an answer by address finds the one waiting", async () => {
  const { store, files, clock, cleanup } = await setup();
  try {
    const waiting = offer(1024, 1024);
    apply(store, files, "mallory@nodem", waiting);
    // Offers its sender cancels at once: each leaves an ended row (main listed every one).
    for (let i = 0; i < LISTED_TRANSFERS + 100; i++) {
      clock.advance(1);
      const o = offer(1024, 1024);
      apply(store, files, "mallory@nodem", o);
      apply(store, files, "mallory@nodem", { t: "file-cancel", id: o.id });
    }
    assert.equal(store.transfers().length, LISTED_TRANSFERS + 101);
    const listed = files.list();
    assert.equal(listed.length, LISTED_TRANSFERS);
    assert.equal(listed[0].state, "cancelled", "newest first");
    const accepted = await files.accept("mallory@nodem");
    assert.deepEqual([accepted.id, accepted.state], [waiting.id, "receiving"]);
  } finally {
    await cleanup();
  }
});

Deno.test("lifetimes: an unanswered offer fails after 7 days, a stalled file after 24 h (its sender told), ended rows go after 90 days or past the newest 1,000", async () => {
  const { store, files, sent, clock, cleanup } = await setup();
  const DAY = 86_400_000;
  try {
    // mallory fills its 32 waiting places and its 8 unasked receiving places, then goes quiet.
    for (let i = 0; i < MAX_UNASKED_RECEIVING_PER_SENDER; i++) {
      const o = offer(64 * 1024, 1024);
      apply(store, files, "mallory@nodem", o);
      apply(store, files, "mallory@nodem", { t: "file-push", id: o.id });
    }
    for (let i = 0; i < MAX_WAITING_OFFERS_PER_SENDER; i++) {
      apply(store, files, "mallory@nodem", offer(1024, 1024));
    }
    assert.deepEqual(states(store), { offered: 32, receiving: 8 });
    // A day on: the stalled files failed, mallory told (main: receiving for ever).
    clock.advance(STALLED_RECEIVING_MS);
    files.sweep();
    assert.deepEqual(states(store), { offered: 32, failed: 8 });
    assert.equal(sent.filter((m) => m.inner.t === "file-cancel").length, 8);
    assert.match((sent.at(-1)!.inner as { reason?: string }).reason ?? "", /nothing came for 24/);
    const more = offer(1024, 1024);
    apply(store, files, "mallory@nodem", more);
    assert.notEqual(store.transfer(more.id)?.state, "offered", "the 32 places are still taken");
    // Seven days after the offers: they fail, their places are free.
    clock.advance(7 * DAY - STALLED_RECEIVING_MS);
    files.sweep();
    assert.equal(states(store).offered, undefined);
    const expired = store.transfers().filter((t) =>
      /not answered within 7 days/.test(t.reason ?? "")
    );
    assert.equal(expired.length, MAX_WAITING_OFFERS_PER_SENDER);
    const later = offer(1024, 1024);
    apply(store, files, "mallory@nodem", later);
    assert.equal(store.transfer(later.id)?.state, "offered");
    // Ended rows: kept 90 days (main: for ever).
    assert.equal(store.transfers().length, 41);
    clock.advance(91 * DAY);
    files.sweep(); // `later` fails (7 days), then the ended rows older than 90 days go
    assert.deepEqual(states(store), { failed: 1 });
  } finally {
    await cleanup();
  }
});

Deno.test("lifetimes: ended transfers past the newest 1,000 are forgotten at the next sweep", async () => {
  const { store, files, clock, cleanup } = await setup();
  try {
    for (let i = 0; i < 1100; i++) {
      clock.advance(1);
      const o = offer(1024, 1024);
      apply(store, files, "mallory@nodem", o);
      apply(store, files, "mallory@nodem", { t: "file-cancel", id: o.id });
    }
    const newest = files.list()[0].id;
    assert.equal(store.transfers().length, 1100);
    assert.equal(files.sweep(), 100);
    assert.equal(store.transfers().length, 1000);
    assert.equal(store.transfers()[0].id, newest);
  } finally {
    await cleanup();
  }
});

Deno.test("file-digest before the offer is taken (it overtook the push): kept, and the file taken by the push has it", async () => {
  const { store, files, cleanup } = await setup({ awayAcceptBytes: 10 * 1024 * 1024 });
  try {
    const o = offer(1024 * 1024, 256 * 1024);
    const digest = crypto.getRandomValues(new Uint8Array(32));
    apply(store, files, "alice@nodea", o);
    apply(store, files, "alice@nodea", { t: "file-digest", id: o.id, digest: digest.toHex() });
    apply(store, files, "alice@nodea", { t: "file-push", id: o.id });
    const row = store.transfer(o.id)!;
    assert.equal(row.state, "receiving");
    assert.deepEqual(e2e.decodeFileManifest(row.manifest).digest, digest);
    // Someone else's digest, or a second one, changes nothing.
    const other = crypto.getRandomValues(new Uint8Array(32)).toHex();
    apply(store, files, "mallory@nodem", { t: "file-digest", id: o.id, digest: other });
    assert.deepEqual(e2e.decodeFileManifest(store.transfer(o.id)!.manifest).digest, digest);
  } finally {
    await cleanup();
  }
});

Deno.test("file-digest before its offer (it overtook it): kept for the offer from its sender, bounded", async () => {
  const { store, files, cleanup } = await setup({ awayAcceptBytes: 10 * 1024 * 1024 });
  try {
    const o = offer(1024 * 1024, 256 * 1024);
    const digest = crypto.getRandomValues(new Uint8Array(32));
    // Someone else's digest under that id first: not the sender's, not used.
    const other = crypto.getRandomValues(new Uint8Array(32)).toHex();
    apply(store, files, "mallory@nodem", { t: "file-digest", id: o.id, digest: other });
    const o2 = offer(1024 * 1024, 256 * 1024);
    apply(store, files, "alice@nodea", { t: "file-digest", id: o2.id, digest: digest.toHex() });
    apply(store, files, "alice@nodea", o2);
    apply(store, files, "alice@nodea", { t: "file-push", id: o2.id });
    const row = store.transfer(o2.id)!;
    assert.equal(row.state, "receiving");
    assert.deepEqual(e2e.decodeFileManifest(row.manifest).digest, digest);
    apply(store, files, "alice@nodea", o);
    assert.equal(e2e.decodeFileManifest(store.transfer(o.id)!.manifest).digest, null);
    // At most 64 kept: the 65th is not.
    const many = Array.from({ length: 70 }, () => offer(1024, 1024));
    for (const x of many) {
      apply(store, files, "alice@nodea", { t: "file-digest", id: x.id, digest: digest.toHex() });
    }
    // Offers waiting per sender are bounded too (32): offer the first 20 and the last 6.
    const some = [...many.slice(0, 20), ...many.slice(64)];
    for (const x of some) apply(store, files, "alice@nodea", x);
    const kept = some.map((x) =>
      e2e.decodeFileManifest(store.transfer(x.id)!.manifest).digest !== null
    );
    assert.deepEqual(kept, [...new Array(20).fill(true), ...new Array(6).fill(false)]);
  } finally {
    await cleanup();
  }
});
