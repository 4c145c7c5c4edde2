/**
 * Mailboxes (issue 15) with real nodes on 127.0.0.1: A (alice), M (a headless
 * node serving B as its mailbox) and B (bob), linked A–M–B. Messages reach
 * bob even when alice and bob are never online together; a mailbox holds only
 * what its owner agreed to, within its quota, and cannot read what it holds.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { canaryForms, findCanaries, history, link, startChat } from "./_helpers/chat.ts";
import { sha256File, transfer, waitTransfer } from "./_helpers/files.ts";
import type { FileTransfer } from "../lib/client/mod.ts";
import { NodeProc, runCli, tempRoot, waitUntil } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function reachable(n: NodeProc, node: string): Promise<boolean> {
  const routes = (await n.admin("routes")) as Array<{ node: string; reachable: boolean }>;
  return routes.some((r) => r.node === node && r.reachable);
}

/** A, M, B linked A–M–B; B names M as its mailbox and M serves B; alice and bob chat. */
async function setup(root: string, nodes: NodeProc[], aExtra = "") {
  const a = await NodeProc.create({ id: "a", root, open: true, withClient: true, extra: aExtra });
  const m = await NodeProc.create({ id: "m", root, open: true });
  const b = await NodeProc.create({ id: "b", root, open: true, withClient: true });
  nodes.push(a, m, b);
  await link(a, m);
  await link(b, m);
  const serve = await runCli(["mailbox", "serve", "b", "--config", m.configPath]);
  assert.equal(serve.code, 0, serve.stdout + serve.stderr);
  const add = await runCli(["mailbox", "add", "m", "--config", b.configPath]);
  assert.equal(add.code, 0, add.stdout + add.stderr);
  await startChat(a, "a@a", b, "b@b");
  await knowsMailbox(a, "b", "m");
  return { a, m, b };
}

/** Waits until `n` has heard `node` name `mailbox` in its announcements. */
async function knowsMailbox(n: NodeProc, node: string, mailbox: string): Promise<void> {
  await waitUntil(`${n.id} knows ${node}'s mailbox`, async () => {
    const routes = (await n.admin("routes")) as Array<{ node: string; mailboxes?: string[] }>;
    return routes.some((r) => r.node === node && r.mailboxes?.includes(mailbox));
  }, 20_000);
}

const texts = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

async function inbound(n: NodeProc, peer: string, prefix: string) {
  return (await history(n, peer)).filter((x) => x.direction === "in" && x.text.startsWith(prefix));
}

Deno.test({
  name: "mailbox: 200 messages and a 5 MB file reach bob although alice and bob are never " +
    "online together; " +
    "alice later sees them delivered; M holds no plaintext",
  ...opts,
  fn: async () => {
    const root = await tempRoot("mailbox");
    const nodes: NodeProc[] = [];
    try {
      const { a, m, b } = await setup(root, nodes);
      await b.stop();
      await waitUntil("b unreachable from a", async () => !(await reachable(a, "b")), 30_000);
      const canary = "CANARY-7f3e9a";
      for (const t of texts(200, `${canary}-`)) await a.admin("send", { address: "b@b", text: t });
      // A 5 MB file whose name and every 64 KiB of content carry the canary.
      const src = join(root, "src.bin");
      const block = new Uint8Array(65_536);
      crypto.getRandomValues(block.subarray(0, 60_000));
      block.set(new TextEncoder().encode(canary), 60_000);
      await Deno.writeFile(src, new Uint8Array(5_000_000).map((_, i) => block[i % block.length]));
      const sent = (await a.admin("send-file", {
        address: "b@b",
        path: src,
        name: `${canary}.bin`,
      })) as FileTransfer;
      // Alice's node hands them to M, which holds them: alice sees "held", and the file sent.
      await waitUntil(
        "all 200 held at m, the file pushed there",
        async () =>
          (await history(a, "b@b")).filter((x) => x.direction === "out" && x.state === "held")
              .length === 200 && (await transfer(a, sent.id))?.state === "sent",
        60_000,
      );
      assert.match((await transfer(a, sent.id))!.reason ?? "", /held at mailbox m/);
      await a.stop();
      await b.start();
      const started = Date.now();
      await waitUntil(
        "bob has all 200",
        async () => (await inbound(b, "a@a", canary)).length >= 200,
        30_000,
      );
      const got = await inbound(b, "a@a", canary);
      assert.deepEqual(got.map((x) => x.text), texts(200, `${canary}-`), "once each, in order");
      const file = await waitTransfer(
        b,
        sent.id,
        "complete",
        Math.max(1, 30_000 - (Date.now() - started)),
      );
      assert.equal(await sha256File(file.path!), await sha256File(src));
      // Alice comes back: her node asks bob's what became of them.
      await a.start();
      await waitUntil(
        "alice sees them delivered",
        async () =>
          (await history(a, "b@b")).filter((x) =>
            x.direction === "out" && x.text.startsWith(canary)
          )
            .every((x) => x.state === "delivered" || x.state === "read"),
        60_000,
      );
      await waitTransfer(a, sent.id, "complete", 30_000);
      // M held them and read nothing.
      const hits = await findCanaries([m.dataDir], canaryForms(canary), [m.output]);
      assert.deepEqual(hits, []);
      const db = new DatabaseSync(join(m.dataDir, "node.db"), { readOnly: true });
      try {
        assert.equal(
          (db.prepare("PRAGMA integrity_check").get() as Record<string, string>)
            .integrity_check,
          "ok",
        );
        const held =
          (db.prepare("SELECT count(*) AS n FROM mailbox_held").get() as { n: number }).n;
        assert.equal(held, 0, "the mailbox dropped what bob took");
      } finally {
        db.close();
      }
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name: "mailbox: kill -9 of M twice while it holds the envelopes and once while it drains " +
    "loses nothing and shows nothing twice",
  ...opts,
  fn: async () => {
    const root = await tempRoot("mailbox-kill");
    const nodes: NodeProc[] = [];
    try {
      const { a, m, b } = await setup(root, nodes);
      await b.stop();
      await waitUntil("b unreachable from a", async () => !(await reachable(a, "b")), 30_000);
      for (const t of texts(100, "k")) await a.admin("send", { address: "b@b", text: t });
      await waitUntil(
        "some held at m",
        async () => (await history(a, "b@b")).some((x) => x.state === "held"),
        60_000,
      );
      await m.stop(true);
      await m.start();
      await waitUntil(
        "all 100 held at m",
        async () =>
          (await history(a, "b@b")).filter((x) => x.direction === "out" && /^k\d+$/.test(x.text))
            .every((x) => x.state === "held"),
        60_000,
      );
      await m.stop(true);
      await m.start();
      await b.start();
      await waitUntil(
        "bob has some",
        async () => (await inbound(b, "a@a", "k")).length > 10,
        30_000,
      );
      await m.stop(true);
      await m.start();
      await waitUntil(
        "bob has all 100",
        async () =>
          (await inbound(b, "a@a", "k")).filter((x) => /^k\d+$/.test(x.text)).length >= 100,
        60_000,
      );
      const got = (await inbound(b, "a@a", "k")).filter((x) => /^k\d+$/.test(x.text));
      assert.deepEqual(got.map((x) => x.text), texts(100, "k"));
      for (const n of [a, m, b]) {
        const db = new DatabaseSync(join(n.dataDir, "node.db"), { readOnly: true });
        try {
          assert.equal(
            (db.prepare("PRAGMA integrity_check").get() as Record<string, string>).integrity_check,
            "ok",
            n.id,
          );
        } finally {
          db.close();
        }
      }
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name: "mailbox: a node M does not serve cannot store there; over its quota the sender keeps " +
    "custody and says so",
  ...opts,
  fn: async () => {
    const root = await tempRoot("mailbox-limits");
    const nodes: NodeProc[] = [];
    try {
      const { a, m, b } = await setup(root, nodes);
      // Not served: C names M too, but M's owner never agreed.
      const c = await NodeProc.create({ id: "c", root, open: true, withClient: true });
      nodes.push(c);
      await link(c, m);
      assert.equal((await runCli(["mailbox", "add", "m", "--config", c.configPath])).code, 0);
      await startChat(a, "a@a", c, "c@c");
      await knowsMailbox(a, "c", "m");
      await c.stop();
      await waitUntil("c unreachable", async () => !(await reachable(a, "c")), 30_000);
      await a.admin("send", { address: "c@c", text: "to c" });
      await waitUntil(
        "alice keeps it and says why",
        async () =>
          (await history(a, "c@c")).some((x) =>
            x.text === "to c" && x.state === "sent" && /not-served/.test(x.reason ?? "")
          ),
        30_000,
      );
      // Over quota: M serves B with 64 KiB; a big burst keeps some at alice.
      assert.equal(
        (await runCli(["mailbox", "serve", "b", "--quota", "64K", "--config", m.configPath])).code,
        0,
      );
      await b.stop();
      await waitUntil("b unreachable", async () => !(await reachable(a, "b")), 30_000);
      const big = "x".repeat(4000);
      for (let i = 0; i < 40; i++) await a.admin("send", { address: "b@b", text: `${i}${big}` });
      await waitUntil(
        "some kept at alice: the mailbox is full",
        async () => (await history(a, "b@b")).some((x) => /quota-full/.test(x.reason ?? "")),
        30_000,
      );
      const out = (await history(a, "b@b")).filter((x) => x.text.endsWith(big));
      assert.ok(out.some((x) => x.state === "held"), "some were held");
      assert.ok(out.some((x) => x.state === "sent"), "the rest stayed with alice");
      const status = (await m.admin("status")) as {
        budgets: Record<string, { used: number; refusals: number }>;
      };
      assert.ok(status.budgets.mailbox_held_bytes.used <= 64 * 1024 + 8 * 1024);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name: "mailbox: an envelope past its lifetime is dropped at M and alice sees failed: expired",
  ...opts,
  fn: async () => {
    const root = await tempRoot("mailbox-expiry");
    const nodes: NodeProc[] = [];
    try {
      const { a, m, b } = await setup(root, nodes, "[Delivery]\nmessage_lifetime = 15s\n");
      await b.stop();
      await waitUntil("b unreachable from a", async () => !(await reachable(a, "b")), 30_000);
      await a.admin("send", { address: "b@b", text: "short-lived" });
      await waitUntil(
        "held at m",
        async () =>
          (await history(a, "b@b")).some((x) => x.text === "short-lived" && x.state === "held"),
        30_000,
      );
      await waitUntil(
        "alice sees it expired",
        async () =>
          (await history(a, "b@b")).some((x) =>
            x.text === "short-lived" && x.state === "failed" && /expired/.test(x.reason ?? "")
          ),
        60_000,
      );
      // m drops it on its own clock and sweeper (the keep-until adds the clock allowance).
      await waitUntil("m dropped it", async () => {
        const served = (await m.admin("mailbox-served")) as Array<
          { node: string; heldBytes: number }
        >;
        return (served.find((s) => s.node === "b")?.heldBytes ?? 0) === 0;
      }, 60_000);
      // Bob comes back: the expired message never appears.
      await b.start();
      await waitUntil("b reachable again", async () => await reachable(a, "b"), 30_000);
      await a.admin("send", { address: "b@b", text: "after" });
      await waitUntil(
        "bob has the later one",
        async () => (await inbound(b, "a@a", "after")).length === 1,
        30_000,
      );
      assert.equal((await inbound(b, "a@a", "short-lived")).length, 0);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
