/**
 * A file whose `file-digest` was lost still completes (docs/PROTOCOL.md §13,
 * `file-digest-ask`): the receiver, with every chunk in and no digest, asks the
 * sender again (at most 3 times), and the sender answers with the digest it
 * sent before (at most 3 times per transfer). Two clients' file transfers on
 * real files in .tmp/, wired to each other in this process (a fake node that
 * answers every chunk "stored"), a fake clock.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../clock.ts";
import * as e2e from "../e2e/mod.ts";
import { SILENT_LOGGER } from "../log.ts";
import { decodeClientMessage, decodeEnvelope, envelopeIdHex } from "../protocol/mod.ts";
import { ClientStore } from "./client_store.ts";
import { apply, until } from "./_file_testing.ts";
import { FileTransfers } from "./file_transfers.ts";
import { DIGEST_ASK_AGAIN_MS, DIGEST_WAIT_MS } from "./_file_receiving.ts";
import type { NodeConnection } from "./node_connection.ts";
import type { FileInner } from "./payload.ts";

const ALICE = "alice@nodea";
const BOB = "bob@nodeb";
const CHUNK = 1024;

/** Lets the transfers' 500 ms tick run (it reads the fake clock). */
const tick = () => new Promise((r) => setTimeout(r, 600));

/**
 * alice → bob. What alice sends bob waits in `toBob` (inner messages) and `chunks` until the
 * test delivers it; what bob sends alice is delivered at once. `restartBob` makes a new bob on
 * the same store (a client restart: what bob kept in memory is gone).
 */
async function pair() {
  await Deno.mkdir(".tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: ".tmp", prefix: "file-digest-ask-" });
  const clock = new FakeClock();
  const aliceStore = new ClientStore(":memory:");
  const bobStore = new ClientStore(":memory:");
  const toBob: FileInner[] = [];
  const toAlice: FileInner[] = [];
  const chunks: Array<{ id: string; envelope: Uint8Array }> = [];
  const common = { clock, log: SILENT_LOGGER, chunkBytes: CHUNK, checkContact: () => {} };
  /** `deferSeal`: the sealing transaction (`write`) runs a turn later, as behind a busy queue. */
  const makeAlice = (deferSeal = false): FileTransfers =>
    new FileTransfers({
      ...common,
      self: ALICE,
      store: aliceStore,
      connection: {
        send: () => true,
        sendEncoded: (bytes: Uint8Array) => {
          const m = decodeClientMessage(bytes);
          if (m.type !== "chunkSubmit") return true;
          const id = envelopeIdHex(decodeEnvelope(m.envelope).id);
          chunks.push({ id, envelope: m.envelope.slice() });
          queueMicrotask(() => alice.onChunkResults([{ id, state: "stored" }]));
          return true;
        },
        up: true,
      } as unknown as NodeConnection,
      downloadsDir: join(dir, "alice-downloads"),
      stagingDir: join(dir, "alice-staging"),
      sendInner: (_peer, inner, write) => {
        const seal = () => {
          write?.();
          toBob.push(inner);
          return crypto.randomUUID();
        };
        return deferSeal
          ? new Promise((r) => setTimeout(() => r(seal()), 0))
          : Promise.resolve(seal());
      },
      emit: () => {},
    });
  let alice = makeAlice();
  const makeBob = () =>
    new FileTransfers({
      ...common,
      self: BOB,
      store: bobStore,
      awayAcceptBytes: 1024 * 1024,
      connection: {
        send: () => true,
        sendEncoded: () => true,
        up: true,
      } as unknown as NodeConnection,
      downloadsDir: join(dir, "bob-downloads"),
      stagingDir: join(dir, "bob-staging"),
      sendInner: (_peer, inner, write) => {
        write?.();
        toAlice.push(inner);
        queueMicrotask(() => apply(aliceStore, alice, BOB, inner));
        return Promise.resolve(crypto.randomUUID());
      },
      emit: () => {},
    });
  let bob = makeBob();
  const t = {
    dir,
    clock,
    get alice() {
      return alice;
    },
    restartAlice(deferSeal: boolean) {
      alice.stop();
      alice = makeAlice(deferSeal);
      alice.onConnected();
    },
    aliceStore,
    bobStore,
    toBob,
    toAlice,
    chunks,
    get bob() {
      return bob;
    },
    restartBob() {
      bob.stop();
      bob = makeBob();
      bob.onConnected();
    },
    /** Delivers alice's next inner message of type `t` to bob (or drops it). */
    deliver(type: FileInner["t"], drop = false): FileInner {
      const i = toBob.findIndex((m) => m.t === type);
      assert.ok(i >= 0, `alice sent no ${type}`);
      const [m] = toBob.splice(i, 1);
      if (!drop) apply(bobStore, bob, ALICE, m);
      return m;
    },
    deliverChunks() {
      for (const c of chunks.splice(0)) bob.onChunk(c.id, c.envelope);
    },
    bobState: (id: string) => bobStore.transfer(id)?.state,
    async cleanup() {
      alice.stop();
      bob.stop();
      aliceStore.close();
      bobStore.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
  return t;
}

function data(n: number, seed: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 7 + seed + (i >> 9)) & 0xff);
}

/** Offers `plain` from alice; returns the transfer id. */
async function offered(t: Awaited<ReturnType<typeof pair>>, plain: Uint8Array): Promise<string> {
  const path = join(t.dir, "src.bin");
  await Deno.writeFile(path, plain);
  return (await t.alice.offer(BOB, { path })).id;
}

/** Offers `plain` from alice, bob accepts, alice reads it all and sends its digest (held). */
async function accepted(t: Awaited<ReturnType<typeof pair>>, plain: Uint8Array): Promise<string> {
  const id = await offered(t, plain);
  t.deliver("file-offer");
  await t.bob.accept(id);
  await until("alice sent the digest", () => t.toBob.some((m) => m.t === "file-digest"));
  return id;
}

/** Advances the fake clock past each ask's wait and lets the tick see it. */
async function waitAndTick(t: Awaited<ReturnType<typeof pair>>, ms: number): Promise<void> {
  await tick(); // the tick notes that every chunk is in
  t.clock.advance(ms);
  await tick();
}

Deno.test("a file-digest lost on the way: the receiver asks for it, the sender sends it again, the file is saved whole", async () => {
  const t = await pair();
  try {
    const plain = data(5 * CHUNK + 300, 1);
    const id = await accepted(t, plain);
    const first = t.deliver("file-digest", true) as { digest: string };
    t.deliverChunks();
    const bytesDone = () => t.bob.list().find((x) => x.id === id)?.bytesDone;
    await until("every chunk written", () => bytesDone() === plain.length);
    await tick();
    assert.equal(t.bobState(id), "receiving", "every chunk in, no digest: not saved yet");
    assert.equal(t.toAlice.filter((m) => m.t === "file-digest-ask").length, 0, "not asked at once");
    await waitAndTick(t, DIGEST_WAIT_MS);
    // Main: nothing asks; the file stays "receiving" until the 24 h stall fails it.
    await until("bob asked", () => t.toAlice.some((m) => m.t === "file-digest-ask"));
    await until("alice sent it again", () => t.toBob.some((m) => m.t === "file-digest"));
    const again = t.deliver("file-digest") as { digest: string };
    assert.equal(again.digest, first.digest, "the same digest");
    await until("saved", () => t.bobState(id) === "complete");
    assert.deepEqual(await Deno.readFile(t.bobStore.transfer(id)!.path!), plain);
    await until("alice complete", () => t.aliceStore.transfer(id)?.state === "complete");
  } finally {
    await t.cleanup();
  }
});

Deno.test("a pushed file's digest overtakes its offer and the receiver restarts before the offer: it asks, and the file is saved whole", async () => {
  const t = await pair();
  try {
    const plain = data(4 * CHUNK + 1, 2);
    const id = await offered(t, plain);
    t.alice.held("a mailbox holds the offer", BOB); // bob away: alice pushes
    await until("alice sent the digest", () => t.toBob.some((m) => m.t === "file-digest"));
    t.deliver("file-digest"); // before its offer: kept in memory
    t.restartBob(); // ...and gone
    t.deliver("file-offer");
    t.deliver("file-push");
    assert.equal(t.bobState(id), "receiving");
    assert.equal(e2e.decodeFileManifest(t.bobStore.transfer(id)!.manifest).digest, null);
    t.deliverChunks();
    const bytesDone = () => t.bob.list().find((x) => x.id === id)?.bytesDone;
    await until("every chunk written", () => bytesDone() === plain.length);
    await waitAndTick(t, DIGEST_WAIT_MS);
    await until("bob asked", () => t.toAlice.some((m) => m.t === "file-digest-ask"));
    await until("alice sent it again", () => t.toBob.some((m) => m.t === "file-digest"));
    t.deliver("file-digest");
    await until("saved", () => t.bobState(id) === "complete");
    assert.deepEqual(await Deno.readFile(t.bobStore.transfer(id)!.path!), plain);
  } finally {
    await t.cleanup();
  }
});

Deno.test("digest asks are bounded: the receiver asks at most 3 times (across a restart), the sender answers at most 3 times; a forged answer still fails", async () => {
  const t = await pair();
  try {
    const plain = data(3 * CHUNK, 3);
    const id = await accepted(t, plain);
    t.deliver("file-digest", true);
    t.deliverChunks();
    await until("every chunk written", () => t.bob.list()[0]?.bytesDone === plain.length);
    const asks = () => t.toAlice.filter((m) => m.t === "file-digest-ask");
    const answers = () => t.toBob.filter((m) => m.t === "file-digest");
    await waitAndTick(t, DIGEST_WAIT_MS);
    await until("ask 1", () => asks().length === 1);
    t.restartBob(); // the count is in the store
    await waitAndTick(t, DIGEST_ASK_AGAIN_MS);
    await until("ask 2", () => asks().length === 2);
    for (let i = 0; i < 4; i++) await waitAndTick(t, DIGEST_ASK_AGAIN_MS);
    assert.deepEqual(asks().map((m) => (m as { attempt: number }).attempt), [1, 2, 3]);
    await until("three answers", () => answers().length === 3);
    // A hostile receiver names attempts again and past 3: alice answers none of them.
    for (const attempt of [1, 3, 4, 99]) {
      apply(t.aliceStore, t.alice, BOB, { t: "file-digest-ask", id, attempt });
    }
    // Nor someone else, for alice's transfer.
    apply(t.aliceStore, t.alice, "mallory@nodem", { t: "file-digest-ask", id, attempt: 1 });
    await tick();
    assert.equal(answers().length, 3);
    const digests = new Set(answers().map((m) => (m as { digest: string }).digest));
    assert.equal(digests.size, 1, "always the same digest");
    // A forged digest (not alice's) still fails the transfer.
    const forged = Uint8Array.fromHex([...digests][0]);
    forged[0] ^= 1;
    t.toBob.splice(0);
    apply(t.bobStore, t.bob, ALICE, { t: "file-digest", id, digest: forged.toHex() });
    await until("failed", () => t.bobState(id) === "failed");
    assert.match(t.bobStore.transfer(id)!.reason ?? "", /does not match the sender's digest/);
  } finally {
    await t.cleanup();
  }
});

Deno.test("a burst of digest asks while the answers wait to be sealed: each attempt answered once", async () => {
  const t = await pair();
  try {
    const plain = data(2 * CHUNK, 4);
    const id = await accepted(t, plain);
    await until("alice sent", () => t.aliceStore.transfer(id)?.state === "sent");
    t.toBob.splice(0);
    // alice restarted (no sending runtime for a file already sent); her seals wait a turn.
    t.restartAlice(true);
    for (let i = 0; i < 10; i++) {
      apply(t.aliceStore, t.alice, BOB, { t: "file-digest-ask", id, attempt: 1 + (i % 2) });
    }
    await tick();
    // Counted when the answer was sealed (a turn later), 10 went.
    assert.equal(t.toBob.filter((m) => m.t === "file-digest").length, 2);
  } finally {
    await t.cleanup();
  }
});
