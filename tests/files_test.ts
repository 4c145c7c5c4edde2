/**
 * File transfer between real node processes on 127.0.0.1: sizes from 0 bytes
 * to 100 MB, hostile names, limits, a transfer broken three times (link,
 * relay restart, receiver kill -9), a relay that alters a chunk, a sender
 * restarted mid-send and a file changed while it is sent (manifest v2), and a
 * receiver whose client is a separate process, killed mid-transfer (its node
 * pushes chunks to it before spooling them).
 */
import assert from "node:assert/strict";
import { basename, dirname, join } from "node:path";
import { sanitizeFileName } from "../lib/client/file_name.ts";
import type { FileTransfer } from "../lib/client/mod.ts";
import { decodeChunkBody, decodeEnvelopeWithAuth, type Envelope } from "../lib/protocol/mod.ts";
import { link, startChat } from "./_helpers/chat.ts";
import {
  chattingAcrossRelay,
  chattingPair,
  downloadsDir,
  sendAndAccept,
  sha256File,
  transfer,
  waitTransfer,
  writeTestFile,
} from "./_helpers/files.ts";
import { ClientProc } from "./_helpers/groups.ts";
import { inProcessNode, NodeProc, runCli, tempRoot, waitUntil } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const CHUNK = 256 * 1024;

async function spoolIsEmpty(n: NodeProc): Promise<boolean> {
  const dir = join(n.dataDir, "files");
  for await (const u of Deno.readDir(dir)) {
    for await (const _ of Deno.readDir(join(dir, u.name))) return false;
  }
  return true;
}

Deno.test({
  name: "files: 0 B, 1 B, exact chunk multiples and 100 MB arrive whole; chunks leave the node",
  ...opts,
  fn: async () => {
    const root = await tempRoot("files-sizes");
    const nodes: NodeProc[] = [];
    try {
      const [a, b] = await chattingPair(root, nodes);
      for (const size of [0, 1, CHUNK, 3 * CHUNK, 100_000_000]) {
        const src = join(root, `src-${size}.bin`);
        await writeTestFile(src, size, size + 7);
        const started = performance.now();
        const id = await sendAndAccept(a, b, "bob@bob", src);
        const got = await waitTransfer(b, id, "complete", 60_000);
        const ms = performance.now() - started;
        assert.equal(got.bytesDone, size);
        assert.equal(dirname(got.path!), downloadsDir(b));
        assert.equal(await sha256File(got.path!), await sha256File(src), `digest of ${size} B`);
        await waitTransfer(a, id, "complete");
        if (size === 100_000_000) assert.ok(ms < 60_000, `100 MB took ${ms} ms`);
      }
      // Saved under the same name again: never overwritten.
      const names = [...Deno.readDirSync(downloadsDir(b))].map((e) => e.name).sort();
      assert.ok(names.includes("src-1.bin"));
      assert.ok(!names.some((n) => n.endsWith(".part")), names.join());
      await waitUntil("bob's node holds no chunk", () => spoolIsEmpty(b));
      const files = await runCli(["files", "--config", a.configPath]);
      assert.equal(files.code, 0, files.stderr);
      assert.match(files.stdout, /complete\s+to bob@bob\s+"src-100000000.bin" 100.0 MB/);
    } finally {
      for (const n of nodes) await n.stop();
    }
  },
});

Deno.test({
  name:
    "files: hostile names are saved sanitised inside downloads; limits give the sender clear errors",
  ...opts,
  fn: async () => {
    const root = await tempRoot("files-names");
    const nodes: NodeProc[] = [];
    try {
      const [a, b] = await Promise.all([
        NodeProc.create({ id: "alice", root, withClient: true }),
        NodeProc.create({
          id: "bob",
          root,
          withClient: true,
          open: true,
          extra: "[Limits]\nmax_file_bytes = 1M\n[Files]\nauto_accept_bytes = 1K\n",
        }),
      ]);
      nodes.push(a, b);
      await link(a, b);
      await startChat(a, "alice@alice", b, "bob@bob");
      const src = join(root, "small.txt");
      await Deno.writeTextFile(src, "hostile name test\n");
      const hostile = [
        "../../x",
        "/abs",
        "..\\x",
        "C:\\x",
        "%2e%2e%2f",
        "evil\u202Etxt.exe",
        "a\uFF0Fb",
        "nul\u0000byte",
        "CON",
        "n".repeat(300),
        "same.txt",
        "same.txt",
        "",
        ".",
        "..",
      ];
      const ids: string[] = [];
      for (const name of hostile) {
        // Small offers are accepted by bob's client without asking (auto_accept_bytes).
        const t =
          (await a.admin("send-file", { address: "bob@bob", path: src, name })) as FileTransfer;
        ids.push(t.id);
      }
      const dl = downloadsDir(b);
      const saved: string[] = [];
      for (const [i, id] of ids.entries()) {
        const got = await waitTransfer(b, id, "complete");
        assert.equal(dirname(got.path!), dl, `${JSON.stringify(hostile[i])} stays in downloads`);
        assert.equal(basename(got.path!), got.name);
        const want = sanitizeFileName(hostile[i]);
        assert.ok(
          got.name === want || got.name.startsWith(want.replace(/\.txt$/, "") + " ("),
          `${JSON.stringify(hostile[i])} → ${got.name}`,
        );
        assert.equal(await Deno.readTextFile(got.path!), "hostile name test\n");
        saved.push(got.name);
      }
      assert.ok(saved.includes("same.txt") && saved.includes("same (1).txt"), saved.join(" | "));
      assert.equal(new Set(saved).size, saved.length, "no file overwritten");
      for (const e of Deno.readDirSync(dirname(dl))) {
        assert.ok(
          ["downloads", "client.db", "client.db-wal", "client.db-shm", "ui.token"].includes(
            e.name,
          ) || e.name.startsWith("client.db"),
          `stray ${e.name}`,
        );
      }

      // Over bob's node's limit: alice is told why, bob's transfer does not complete.
      const big = join(root, "big.bin");
      await writeTestFile(big, 2 * 1024 * 1024);
      const id = await sendAndAccept(a, b, "bob@bob", big);
      const failed = await waitTransfer(a, id, "failed");
      assert.match(failed.reason!, /larger than the recipient's node accepts/);
      const atBob = await waitTransfer(b, id, "failed");
      assert.match(atBob.reason!, /larger/);

      // Declined offers never move a byte.
      const t = (await a.admin("send-file", { address: "bob@bob", path: big })) as FileTransfer;
      await waitUntil("offer at bob", async () => (await transfer(b, t.id))?.state === "offered");
      const r = await runCli(["decline-file", "alice@alice", "--config", b.configPath]);
      assert.equal(r.code, 0, r.stderr);
      await waitTransfer(a, t.id, "declined");
    } finally {
      for (const n of nodes) await n.stop();
    }
  },
});

/** A TCP forwarder on loopback whose connections the test can cut. */
function cuttableProxy(targetPort: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    try {
      await from.readable.pipeTo(to.writable);
    } catch { /* cut */ }
  };
  (async () => {
    for await (const c of listener) {
      try {
        const up = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
        conns.add(c).add(up);
        void pipe(c, up);
        void pipe(up, c);
      } catch {
        c.close();
      }
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    cut() {
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      conns.clear();
    },
    close() {
      this.cut();
      listener.close();
    },
  };
}

Deno.test({
  name:
    "files: a transfer broken three times (link cut, relay restart, receiver kill -9) completes whole",
  ...opts,
  fn: async () => {
    const root = await tempRoot("files-resume");
    const nodes: NodeProc[] = [];
    const relay = await NodeProc.create({ id: "relay", root, open: true });
    nodes.push(relay);
    const proxy = cuttableProxy(relay.port);
    try {
      // bob reaches the relay through the proxy, so the test can cut that link.
      const [a, b] = await chattingAcrossRelay(root, relay, proxy.port, nodes);
      const size = 150_000_000;
      const src = join(root, "big.bin");
      await writeTestFile(src, size, 99);
      const id = await sendAndAccept(a, b, "bob@bob", src);
      const reach = (fraction: number) =>
        waitUntil(`bob past ${fraction * 100}%`, async () => {
          const t = await transfer(b, id);
          if (t?.state === "complete") throw new Error("finished before the break");
          return (t?.bytesDone ?? 0) >= size * fraction;
        }, 60_000);

      await reach(0.1);
      proxy.cut();
      await reach(0.35);
      await relay.stop();
      await relay.start();
      await reach(0.6);
      await b.stop(true);
      await b.start();

      const got = await waitTransfer(b, id, "complete", 90_000);
      assert.equal(await sha256File(got.path!), await sha256File(src));
      await waitTransfer(a, id, "complete");
      await waitUntil("bob's node holds no chunk", () => spoolIsEmpty(b));
    } finally {
      proxy.close();
      for (const n of nodes) await n.stop();
    }
  },
});

Deno.test({
  name:
    "files: a chunk altered at a relay is refused by the next node and sent again; a relay that keeps altering is cut off",
  ...opts,
  fn: async () => {
    const root = await tempRoot("files-tamper");
    let mode: "once" | "always" = "once";
    let altered = 0;
    // The malicious relay flips a bit of chunk 1's ciphertext (its last byte is the GCM tag's).
    const relay = await inProcessNode({
      root,
      id: "relay",
      alterForwarded: (e: Envelope, bytes: Uint8Array) => {
        if (e.kind !== "chunk" || decodeChunkBody(e.body).index !== 1) return bytes;
        if (mode === "once" && altered > 0) return bytes;
        altered++;
        const { signedLength } = decodeEnvelopeWithAuth(bytes);
        bytes[signedLength - 1] ^= 1;
        return bytes;
      },
    });
    const port = relay.port;
    const nodes: NodeProc[] = [];
    try {
      const [a, b] = await Promise.all([
        NodeProc.create({ id: "alice", root, withClient: true }),
        NodeProc.create({
          id: "bob",
          root,
          withClient: true,
          extra: "[Limits]\npeer_forged_per_minute = 2\n",
        }),
      ]);
      nodes.push(a, b);
      for (const n of [a, b]) {
        await n.admin("connect", { host: "127.0.0.1", port, nodeId: "relay", waitMs: 5000 });
        await waitUntil(`${n.id}–relay up`, async () => (await n.link("relay"))?.state === "up");
      }
      await startChat(a, "alice@alice", b, "bob@bob");
      const src = join(root, "doc.bin");
      await writeTestFile(src, 3 * CHUNK + 5, 5);

      // Altered once: bob's node refuses the altered copy (its origin's proof fails), alice's
      // client sends the chunk again, and the file arrives whole.
      const id = await sendAndAccept(a, b, "bob@bob", src);
      const got = await waitTransfer(b, id, "complete");
      assert.equal(altered, 1);
      assert.equal(await sha256File(got.path!), await sha256File(src));
      assert.match(b.output, /forged or altered envelope/);
      assert.doesNotMatch(
        b.output,
        /a file chunk failed to authenticate/,
        "never reached the client",
      );

      // Altered every time: bob's node cuts the relay off once it passes its budget of forgeries.
      mode = "always";
      const id2 = await sendAndAccept(a, b, "bob@bob", src);
      await waitUntil(
        "bob disconnects the relay",
        async () => /forged or altered/.test((await b.link("relay"))?.lastError ?? ""),
        60_000,
      );
      assert.notEqual(
        (await b.admin("files") as Array<{ id: string; state: string }>)
          .find((t) => t.id === id2)?.state,
        "complete",
      );
      const names = [...Deno.readDirSync(downloadsDir(b))].map((e) => e.name);
      assert.equal(names.filter((n) => n.startsWith("doc")).length, 1, names.join());
    } finally {
      for (const n of nodes) await n.stop();
      await relay.stop();
    }
  },
});

Deno.test({
  name:
    "files: a sender restarted mid-send completes whole; a file changed while it is sent is saved nowhere",
  ...opts,
  fn: async () => {
    const root = await tempRoot("files-one-pass");
    const nodes: NodeProc[] = [];
    try {
      const [a, b] = await chattingPair(root, nodes);
      const size = 100_000_000;
      const reach = (id: string, fraction: number) =>
        waitUntil(`bob past ${fraction * 100}%`, async () => {
          const t = await transfer(b, id);
          if (t?.state === "complete") throw new Error("finished before the break");
          return (t?.bytesDone ?? 0) >= size * fraction;
        }, 60_000);

      // The chunks sent before the restart are hashed again from the file; the rest as sent.
      const src = join(root, "restarted.bin");
      await writeTestFile(src, size, 5);
      const id = await sendAndAccept(a, b, "bob@bob", src);
      await reach(id, 0.2);
      await a.stop();
      await a.start();
      const got = await waitTransfer(b, id, "complete", 90_000);
      assert.equal(await sha256File(got.path!), await sha256File(src));
      await waitTransfer(a, id, "complete");

      // Changed in place (same size) while the first chunks are on their way.
      const changing = join(root, "changing.bin");
      await writeTestFile(changing, size, 6);
      const id2 = await sendAndAccept(a, b, "bob@bob", changing);
      await reach(id2, 0.05);
      {
        using f = await Deno.open(changing, { write: true });
        await f.seek(size - 1000, Deno.SeekMode.Start);
        await f.write(new Uint8Array(10).fill(0xee));
      }
      await Deno.utime(changing, new Date(), new Date(Date.now() + 5000));
      const failed = await waitTransfer(b, id2, "failed", 90_000);
      assert.match(failed.reason ?? "", /changed while it was being sent/);
      assert.equal((await waitTransfer(a, id2, "failed")).state, "failed");
      const names = [...Deno.readDirSync(downloadsDir(b))].map((e) => e.name);
      assert.ok(!names.some((n) => n.startsWith("changing")), names.join());
      await waitUntil(
        "no .part left",
        () => ![...Deno.readDirSync(downloadsDir(b))].some((e) => e.name.endsWith(".part")),
      );
    } finally {
      for (const n of nodes) await n.stop();
    }
  },
});

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
