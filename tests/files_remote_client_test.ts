/**
 * A file to a user whose client is a separate process (`main.ts client`):
 * its node pushes the chunks to that client before spooling them (the link
 * seals each message at once, so the node keeps its own copy until the
 * client's acknowledgement), and a kill -9 of that client mid-transfer loses
 * nothing (what it had not acknowledged goes to the spool, or is sent again).
 */
import assert from "node:assert/strict";
import type { FileTransfer } from "../lib/client/mod.ts";
import { link, startChat } from "./_helpers/chat.ts";
import { sha256File, writeTestFile } from "./_helpers/files.ts";
import { ClientProc } from "./_helpers/groups.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";
import { join } from "node:path";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name:
    "files: a remote receiving client gets the chunks pushed before they are spooled; killed mid-transfer, it completes whole",
  ...opts,
  fn: async () => {
    const root = await tempRoot("files-remote");
    const nodes: NodeProc[] = [];
    let dave: ClientProc | null = null;
    try {
      const [a, b] = await Promise.all([
        NodeProc.create({ id: "alice", root, withClient: true }),
        NodeProc.create({ id: "bob", root, withClient: true, open: true }),
      ]);
      nodes.push(a, b);
      await link(a, b);
      dave = await ClientProc.create(b, "dave", root);
      // startChat needs only `admin` of each side.
      await startChat(a, "alice@alice", dave as unknown as NodeProc, "dave@bob");
      const size = 40_000_000;
      const src = join(root, "for-dave.bin");
      await writeTestFile(src, size, 7);
      const t = (await a.admin("send-file", { address: "dave@bob", path: src })) as FileTransfer;
      const at = async () =>
        ((await dave!.admin("files")) as FileTransfer[]).find((x) => x.id === t.id);
      await waitUntil("the offer at dave", async () => (await at()) !== undefined, 30_000);
      await dave.admin("accept-file", { target: t.id });
      await waitUntil("dave past 30%", async () => {
        const x = await at();
        if (x?.state === "complete") throw new Error("finished before the break");
        return (x?.bytesDone ?? 0) >= size * 0.3;
      }, 60_000);
      await dave.stop(true);
      await new Promise((r) => setTimeout(r, 1_500));
      await dave.start();
      let got: FileTransfer | undefined;
      await waitUntil("saved at dave", async () => {
        got = await at();
        if (got?.state === "failed") throw new Error(got.reason);
        return got?.state === "complete";
      }, 90_000);
      assert.equal(await sha256File(got!.path!), await sha256File(src));
      const status = (await b.admin("status")) as { delivery: Record<string, number> };
      assert.ok(status.delivery.pushedFirstChunks > 0, "chunks were pushed first");
      await waitUntil("nothing held", async () => {
        const s = (await b.admin("status")) as { delivery: Record<string, number> };
        return s.delivery.pushedFirstChunkBytes === 0;
      }, 10_000);
    } finally {
      await dave?.stop();
      for (const n of nodes) await n.stop();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
