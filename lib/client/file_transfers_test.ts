/**
 * A hostile file offer: its size and chunk count are checked before anything is
 * allocated, and the bitmap of received chunks is made only when the user accepts.
 */
import assert from "node:assert/strict";
import { FakeClock } from "../clock.ts";
import * as e2e from "../e2e/mod.ts";
import { SILENT_LOGGER } from "../log.ts";
import { ClientStore } from "./client_store.ts";
import { FileTransfers } from "./file_transfers.ts";
import type { NodeConnection } from "./node_connection.ts";
import type { FileInner } from "./payload.ts";

async function setup() {
  await Deno.mkdir(".tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: ".tmp", prefix: "file-offer-" });
  const store = new ClientStore(":memory:");
  const sent: Array<{ peer: string; inner: FileInner }> = [];
  const files = new FileTransfers({
    self: "bob@nodeb",
    store,
    connection: { send: () => true, up: true } as unknown as NodeConnection,
    clock: new FakeClock(),
    log: SILENT_LOGGER,
    downloadsDir: `${dir}/downloads`,
    stagingDir: `${dir}/staging`,
    checkContact: () => {},
    sendInner: (peer, inner, write) => {
      write?.();
      sent.push({ peer, inner });
      return Promise.resolve();
    },
    emit: () => {},
  });
  const cleanup = async () => {
    files.stop();
    store.close();
    await Deno.remove(dir, { recursive: true });
  };
  return { store, files, sent, cleanup };
}

function offer(size: number, chunkBytes: number): Extract<FileInner, { t: "file-offer" }> {
  const fileId = crypto.getRandomValues(new Uint8Array(16));
  const manifest = e2e.encodeFileManifest({
    fileId,
    key: new Uint8Array(32),
    chunkBytes,
    byteLength: size,
    digest: new Uint8Array(32),
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
