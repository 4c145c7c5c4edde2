import assert from "node:assert/strict";
import { join } from "node:path";
import type { UserName } from "../ids.ts";
import { SILENT_LOGGER } from "../log.ts";
import {
  FileSpool,
  type FileSpoolOptions,
  MAX_KEPT_COPIES,
  RECORD_HEADER_BYTES,
  SEGMENT_BYTES,
} from "./file_spool.ts";

const BOB = "bob" as UserName;
const FILE = "ab".repeat(16);

function chunkId(i: number): string {
  return i.toString(16).padStart(32, "0");
}

async function tmp(): Promise<string> {
  await Deno.mkdir(".tmp", { recursive: true });
  return await Deno.makeTempDir({ dir: ".tmp", prefix: "spool-" });
}

function options(dir: string, o: Partial<FileSpoolOptions> = {}): FileSpoolOptions {
  return {
    dir,
    maxFileBytes: 1 << 30,
    quotaBytes: 1 << 30,
    totalBytes: 1 << 30,
    keepMs: 60_000,
    log: SILENT_LOGGER,
    ...o,
  };
}

async function put(spool: FileSpool, i: number, bytes: Uint8Array, fileId = FILE): Promise<void> {
  const v = spool.admit(BOB, {
    id: chunkId(i),
    fileId,
    index: i,
    fileBytes: 1 << 20,
    bytes: bytes.length,
  });
  assert.equal(v, "ok");
  await spool.write(BOB, chunkId(i), bytes);
}

async function read(spool: FileSpool, i: number): Promise<Uint8Array> {
  let got: Uint8Array | undefined;
  await spool.withChunk(BOB, chunkId(i), (b) => got = b.slice());
  return got!;
}

async function filesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const f of Deno.readDir(join(dir, BOB))) names.push(f.name);
  return names;
}

Deno.test("FileSpool keeps chunks of a file in one segment and reads each back", async () => {
  const dir = await tmp();
  try {
    const spool = await FileSpool.open(options(dir));
    const chunks = [0, 1, 2, 3].map((i) => new Uint8Array(1000 + i).fill(i + 1));
    // Written in the same turn: one batch.
    await Promise.all(chunks.map((c, i) => put(spool, i, c)));
    assert.deepEqual([...spool.pending(BOB)].map((c) => c.id), [0, 1, 2, 3].map(chunkId));
    for (let i = 0; i < 4; i++) assert.deepEqual(await read(spool, i), chunks[i]);
    assert.equal((await filesIn(dir)).length, 1);
    assert.equal(spool.heldBytes(BOB), 4 * RECORD_HEADER_BYTES + 4006);
    await spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileSpool deletes a segment's file once every chunk in it was taken", async () => {
  const dir = await tmp();
  try {
    const spool = await FileSpool.open(options(dir));
    await put(spool, 0, new Uint8Array(10));
    await put(spool, 1, new Uint8Array(10));
    await spool.remove(BOB, [chunkId(0)]);
    // Taken but still on disk: counted until the file goes.
    assert.equal(spool.heldBytes(BOB), 2 * (RECORD_HEADER_BYTES + 10));
    assert.equal((await filesIn(dir)).length, 1);
    await spool.remove(BOB, [chunkId(1)]);
    assert.deepEqual(await filesIn(dir), []);
    assert.equal(spool.heldBytes(BOB), 0);
    assert.equal(spool.totalBytes, 0);
    await spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileSpool refuses a chunk over the user's quota and a duplicate, and frees room", async () => {
  const dir = await tmp();
  try {
    const spool = await FileSpool.open(
      options(dir, { quotaBytes: 2 * (RECORD_HEADER_BYTES + 100) }),
    );
    await put(spool, 0, new Uint8Array(100));
    await put(spool, 1, new Uint8Array(100));
    const next = { id: chunkId(2), fileId: FILE, index: 2, fileBytes: 1000, bytes: 100 };
    assert.equal(spool.admit(BOB, next), "quota-full");
    assert.equal(spool.admit(BOB, { ...next, id: chunkId(1) }), "duplicate");
    assert.ok(spool.isDurable(BOB, chunkId(1)));
    assert.ok(!spool.isDurable(BOB, chunkId(2)));
    assert.equal(spool.admit(BOB, { ...next, fileBytes: 2 ** 31 }), "too-large");
    await spool.remove(BOB, [chunkId(0), chunkId(1)]);
    assert.equal(spool.admit(BOB, next), "ok");
    await spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileSpool: one small chunk per new file id makes at most the configured segment files", async () => {
  const dir = await tmp();
  const ALICE = "alice" as UserName;
  const chunk = (i: number) => ({
    id: chunkId(i),
    fileId: i.toString(16).padStart(32, "f"),
    index: 0,
    fileBytes: 10,
    bytes: 200,
  });
  try {
    // The segment counts alone (no sender's share: the next test has it).
    const o = { segmentsPerUser: 16, segmentsTotal: 24, senderSharePercent: 100 };
    let spool = await FileSpool.open(options(dir, o));
    // A hostile contact of bob's: 40 files of one 200-byte chunk each (main: 40 files on disk,
    // a disk block and an inode each, for 9 KiB charged to the quota).
    const verdicts: string[] = [];
    for (let i = 0; i < 40; i++) {
      const v = spool.admit(BOB, chunk(i), "mallory");
      verdicts.push(v);
      if (v === "ok") await spool.write(BOB, chunkId(i), new Uint8Array(200));
    }
    assert.equal(verdicts.filter((v) => v === "ok").length, 16);
    assert.equal(verdicts.filter((v) => v === "quota-full").length, 24);
    assert.equal((await filesIn(dir)).length, 16);
    // More chunks of a file already here still go into its segment.
    assert.equal(spool.admit(BOB, { ...chunk(0), id: chunkId(100), index: 1 }, "mallory"), "ok");
    // Another user has room of their own, up to the total.
    let alice = 0;
    for (let i = 200; i < 220; i++) if (spool.admit(ALICE, chunk(i), "mallory") === "ok") alice++;
    assert.equal(alice, 8);
    assert.equal(spool.segments, 24);
    // A segment gone gives its place back.
    await spool.remove(BOB, [chunkId(1)]);
    assert.equal(spool.admit(BOB, chunk(300), "mallory"), "ok");
    await spool.write(BOB, chunkId(300), new Uint8Array(200));
    await spool.close();
    // After a restart the segments found on disk count.
    spool = await FileSpool.open(options(dir, o));
    assert.equal(spool.segments, 16);
    assert.equal(spool.admit(BOB, chunk(400), "mallory"), "quota-full");
    await spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileSpool: one sending node holds at most its share of a user's quota, the others find room", async () => {
  const dir = await tmp();
  const charge = RECORD_HEADER_BYTES + 1000;
  const chunk = (i: number, fileId = FILE) => ({
    id: chunkId(i),
    fileId,
    index: i,
    fileBytes: 1 << 20,
    bytes: 1000,
  });
  const send = async (from: string, first: number, n: number, fileOf?: (i: number) => string) => {
    let ok = 0;
    for (let i = first; i < first + n; i++) {
      if (spool.admit(BOB, chunk(i, fileOf?.(i)), from) !== "ok") continue;
      await spool.write(BOB, chunkId(i), new Uint8Array(1000));
      ok++;
    }
    return ok;
  };
  // Default share (50 %): bob offline, quota 100 chunks, 16 segments.
  const spool = await FileSpool.open(
    options(dir, { quotaBytes: 100 * charge, segmentsPerUser: 16 }),
  );
  try {
    // mallory's node sends 200 chunks of one file while bob is away (main: 100 taken, the quota
    // full, every other contact's chunk refused until bob's client takes them).
    const mallory = await send("mallory-node", 0, 200);
    assert.equal(mallory, 50);
    assert.equal(spool.heldBytes(BOB), 50 * charge);
    // alice's node finds room: half of what mallory left; carol's node half of the rest.
    assert.equal(await send("alice-node", 1000, 100, () => "cd".repeat(16)), 25);
    assert.equal(await send("carol-node", 2000, 100, () => "ef".repeat(16)), 12);
    // mallory is over its share of what the others leave now: refused, asked again later.
    assert.equal(await send("mallory-node", 200, 10), 0);
    assert.ok(spool.byteShare.refusals > 0);
    // Segment files too: a node's new file ids get at most its share of the 16.
    const segs = await send("sybil-node", 3000, 16, (i) => i.toString(16).padStart(32, "a"));
    assert.ok(segs <= 8, `${segs} segments`);
    // bob's client takes mallory's chunks: room is mallory's again.
    await spool.remove(BOB, Array.from({ length: 50 }, (_, i) => chunkId(i)));
    assert.equal(spool.byteShare.heldBy(BOB, "mallory-node"), 0);
    assert.ok(await send("mallory-node", 300, 10) > 0);
  } finally {
    await spool.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileSpool after a crash holds exactly the whole records and cuts a torn one", async () => {
  const dir = await tmp();
  try {
    const spool = await FileSpool.open(options(dir));
    const a = new Uint8Array(300).fill(7);
    const b = new Uint8Array(400).fill(8);
    await put(spool, 0, a);
    await put(spool, 1, b);
    await spool.remove(BOB, [chunkId(0)]);
    // Not closed: as after kill -9. A record cut off mid-write follows the two whole ones.
    const [name] = await filesIn(dir);
    const path = join(dir, BOB, name);
    const whole = (await Deno.stat(path)).size;
    const torn = new Uint8Array(RECORD_HEADER_BYTES + 10);
    new DataView(torn.buffer).setUint32(0, 0x46435331);
    new DataView(torn.buffer).setUint32(20, 5000);
    await Deno.writeFile(path, torn, { append: true });

    const again = await FileSpool.open(options(dir));
    // Chunk 0 was taken but its record is still there: offered again (the client keeps what it has).
    assert.deepEqual([...again.pending(BOB)].map((c) => c.id), [chunkId(0), chunkId(1)]);
    assert.deepEqual(await read(again, 1), b);
    assert.equal((await Deno.stat(path)).size, whole);
    // New chunks of the same file go to a new segment; the old one goes once both are taken.
    await put(again, 2, new Uint8Array(5).fill(9));
    assert.equal((await filesIn(dir)).length, 2);
    await again.remove(BOB, [chunkId(0), chunkId(1)]);
    assert.equal((await filesIn(dir)).length, 1);
    assert.deepEqual(await read(again, 2), new Uint8Array(5).fill(9));
    await again.close();
    await spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileSpool drops a segment that holds nothing whole after a crash", async () => {
  const dir = await tmp();
  try {
    await Deno.mkdir(join(dir, BOB), { recursive: true });
    const path = join(dir, BOB, `${FILE}-00000000.seg`);
    await Deno.writeFile(path, new Uint8Array([1, 2, 3, 4, 5]));
    const spool = await FileSpool.open(options(dir));
    assert.deepEqual([...spool.pending(BOB)], []);
    assert.deepEqual(await filesIn(dir), []);
    assert.equal(spool.totalBytes, 0);
    await spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileSpool starts a new segment once one is full", async () => {
  const dir = await tmp();
  try {
    const spool = await FileSpool.open(options(dir));
    const big = new Uint8Array(SEGMENT_BYTES / 2);
    for (let i = 0; i < 3; i++) await put(spool, i, big);
    assert.equal((await filesIn(dir)).length, 2);
    await spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileSpool reads chunks kept in the earlier one-file-per-chunk layout", async () => {
  const dir = await tmp();
  try {
    await Deno.mkdir(join(dir, BOB), { recursive: true });
    const id = chunkId(5);
    const path = join(dir, BOB, `${FILE}-00000005-${id}.chunk`);
    await Deno.writeFile(path, new Uint8Array([4, 5, 6]));
    await Deno.writeFile(`${path}.part`, new Uint8Array([1]));
    const spool = await FileSpool.open(options(dir));
    assert.deepEqual([...spool.pending(BOB)], [{ id, bytes: 3 }]);
    assert.deepEqual(await read(spool, 5), new Uint8Array([4, 5, 6]));
    await spool.remove(BOB, [id]);
    assert.deepEqual(await filesIn(dir), []);
    await spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileSpool refuses a chunk the disk does not take, gives its room back, and goes on in a new segment", async () => {
  const dir = await tmp();
  try {
    const spool = await FileSpool.open(options(dir));
    // The segment's path is taken by a folder: opening it for writing fails.
    await Deno.mkdir(join(dir, BOB, `${FILE}-00000000.seg`), { recursive: true });
    const id = chunkId(0);
    assert.equal(spool.admit(BOB, { id, fileId: FILE, index: 0, fileBytes: 100, bytes: 10 }), "ok");
    await assert.rejects(spool.write(BOB, id, new Uint8Array(10)));
    assert.equal(spool.heldBytes(BOB), 0);
    assert.deepEqual([...spool.pending(BOB)], []);
    await put(spool, 1, new Uint8Array(10).fill(3));
    assert.deepEqual(await read(spool, 1), new Uint8Array(10).fill(3));
    await spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileSpool calls a chunk durable only once its write and sync are done", async () => {
  const dir = await tmp();
  try {
    const spool = await FileSpool.open(options(dir));
    const id = chunkId(0);
    assert.equal(spool.admit(BOB, { id, fileId: FILE, index: 0, fileBytes: 100, bytes: 10 }), "ok");
    const written = spool.write(BOB, id, new Uint8Array(10));
    assert.ok(!spool.isDurable(BOB, id));
    assert.deepEqual([...spool.pending(BOB)], [], "not handed over before it is durable");
    await written;
    assert.ok(spool.isDurable(BOB, id));
    await spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileSpool.write() copies the chunk before it returns: a caller's reused buffer stays its own", async () => {
  const dir = await tmp();
  try {
    const spool = await FileSpool.open(options(dir));
    // One buffer reused for every chunk, as a link's lent record buffer is, rewritten right
    // after each write() returns and before any write is durable.
    const shared = new Uint8Array(70_000);
    const want: Uint8Array[] = [];
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      shared.fill(i + 1);
      want.push(shared.slice());
      const v = spool.admit(BOB, {
        id: chunkId(i),
        fileId: FILE,
        index: i,
        fileBytes: 1 << 22,
        bytes: shared.length,
      });
      assert.equal(v, "ok");
      writes.push(spool.write(BOB, chunkId(i), shared));
    }
    shared.fill(0xee);
    await Promise.all(writes);
    for (let i = 0; i < 20; i++) assert.deepEqual(await read(spool, i), want[i], `chunk ${i}`);
    await spool.close();
    // What a restart reads back is the same.
    const again = await FileSpool.open(options(dir));
    for (let i = 0; i < 20; i++) assert.deepEqual(await read(again, i), want[i], `chunk ${i}`);
    await again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Overwrites every chunk's bytes in `user`'s segments with 0xee (the record headers stay). */
async function scribble(dir: string, sizes: number[]): Promise<void> {
  const [name] = await filesIn(dir);
  using f = await Deno.open(join(dir, BOB, name), { write: true });
  let at = 0;
  for (const n of sizes) {
    await f.seek(at + RECORD_HEADER_BYTES, Deno.SeekMode.Start);
    await f.write(new Uint8Array(n).fill(0xee));
    at += RECORD_HEADER_BYTES + n;
  }
}

Deno.test("FileSpool hands over the bytes a chunk was written from, once, and reads back the rest", async () => {
  const dir = await tmp();
  try {
    const spool = await FileSpool.open(options(dir));
    const n = MAX_KEPT_COPIES + 3;
    const chunks = Array.from({ length: n }, (_, i) => new Uint8Array(5000 + i).fill(i + 1));
    for (let i = 0; i < n; i++) await put(spool, i, chunks[i]);
    // What is on disk changes under the spool: whatever comes from disk now shows it.
    await scribble(dir, chunks.map((c) => c.length));
    for (let i = 0; i < n; i++) {
      const got = await read(spool, i);
      const fromDisk = got.every((b) => b === 0xee);
      assert.equal(fromDisk, i >= MAX_KEPT_COPIES, `chunk ${i} from disk`);
      if (!fromDisk) assert.deepEqual(got, chunks[i]);
    }
    // Handed over once: a second push (the client reconnected) reads it back.
    assert.ok((await read(spool, 0)).every((b) => b === 0xee));
    await spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileSpool frees a kept copy when its chunk is removed, for the chunks after it", async () => {
  const dir = await tmp();
  try {
    const spool = await FileSpool.open(options(dir));
    const n = MAX_KEPT_COPIES;
    const bytes = (i: number) => new Uint8Array(3000).fill(i + 1);
    for (let i = 0; i < n; i++) await put(spool, i, bytes(i));
    // Kept until taken; one more segment's worth must still be kept once these are gone.
    await put(spool, n, bytes(n));
    await spool.remove(BOB, Array.from({ length: n + 1 }, (_, i) => chunkId(i)));
    const more = Array.from({ length: n }, (_, i) => n + 1 + i);
    for (const i of more) await put(spool, i, bytes(i));
    await scribble(dir, more.map(() => 3000));
    for (const i of more) assert.deepEqual(await read(spool, i), bytes(i), `chunk ${i}`);
    await spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
