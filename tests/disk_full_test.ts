/**
 * A full disk at the receiving node (issue 10, finding 9): the data directory
 * lives on a small tmpfs that the test fills while messages and a file are on
 * their way. Nothing acknowledged is lost, the owner sees "disk-full" by name,
 * and delivery resumes by itself when space returns. Needs permission to
 * mount a tmpfs (root, as in CI); elsewhere it says so and passes nothing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { history, link, startChat } from "./_helpers/chat.ts";
import { sendAndAccept, sha256File, waitTransfer, writeTestFile } from "./_helpers/files.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";

async function run(cmd: string, ...args: string[]): Promise<boolean> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
  return out.success;
}

/** Fills the file system holding `dir` until it refuses more; returns the filler's path. */
async function fill(dir: string): Promise<string> {
  const path = join(dir, "filler");
  const file = await Deno.open(path, { write: true, create: true });
  const block = new Uint8Array(256 * 1024);
  try {
    for (let i = 0; i < 100_000; i++) await file.write(block);
  } catch {
    // ENOSPC: full.
  } finally {
    file.close();
  }
  return path;
}

const canMount = Deno.uid() === 0;

Deno.test({
  name: "disk full: nothing acknowledged is lost, the owner sees it, delivery resumes by itself",
  ignore: !canMount,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await tempRoot("disk-full");
    const disk = join(root, "bdisk");
    await Deno.mkdir(disk);
    assert.ok(await run("mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", disk), "mount tmpfs");
    const nodes: NodeProc[] = [];
    try {
      const a = await NodeProc.create({ id: "alice", root, open: true, withClient: true });
      const b = await NodeProc.create({
        id: "bob",
        root,
        open: true,
        withClient: true,
        dataDir: join(disk, "data"),
      });
      nodes.push(a, b);
      await link(a, b);
      await startChat(a, "alice@alice", b, "bob@bob");
      const src = join(root, "doc.bin");
      await writeTestFile(src, 16 * 1024 * 1024, 3);

      // The transfer starts, then the disk fills under it, then messages come.
      const id = await sendAndAccept(a, b, "bob@bob", src);
      const filler = await fill(disk);
      for (let i = 0; i < 40; i++) await a.admin("send", { address: "bob@bob", text: `m${i}` });
      // The owner sees the condition by name.
      await waitUntil("bob's node says its disk is full", async () => {
        const s = (await b.admin("status")) as { resources: Record<string, { state: string }> };
        return s.resources.store.state === "disk-full";
      }, 30_000);
      assert.match(b.output, /disk is full/);
      // ...and so does bob's client (what the UI and `listen` show).
      await waitUntil("bob's client hears it", async () => {
        const c = (await b.admin("conditions")) as Record<string, { state: string }>;
        return c.store?.state === "disk-full";
      });
      // Nothing acknowledged is lost: a message is "delivered" at alice once bob's node stored it
      // (a write can still fit in pages the store holds after the disk filled), and the checks
      // below, once space is back, find every one of them at bob, once and in order; a receipt
      // for a write that failed would show there as a gap (alice does not send it again).

      await Deno.remove(filler);
      // Space is back: everything arrives, once, in order; the file has the right digest.
      await waitUntil(
        "all 40 messages at bob",
        async () =>
          (await history(b, "alice@alice")).filter((m) => /^m\d+$/.test(m.text)).length >= 40,
        90_000,
      );
      const got = (await history(b, "alice@alice")).filter((m) => /^m\d+$/.test(m.text));
      assert.deepEqual(got.map((m) => m.text), Array.from({ length: 40 }, (_, i) => `m${i}`));
      await waitUntil(
        "alice sees them delivered",
        async () =>
          (await history(a, "bob@bob")).filter((m) =>
            m.direction === "out" && /^m\d+$/.test(m.text)
          )
            .every((m) => m.state === "delivered" || m.state === "read"),
        60_000,
      );
      const file = await waitTransfer(b, id, "complete", 120_000);
      assert.equal(await sha256File(file.path!), await sha256File(src));
      const s = (await b.admin("status")) as { resources: Record<string, { state: string }> };
      assert.equal(s.resources.store.state, "ok");
      const c = (await b.admin("conditions")) as Record<string, { state: string }>;
      assert.equal(c.store.state, "ok");
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
      await run("umount", "-l", disk);
    }
  },
});
