/**
 * Chat across real node processes on 127.0.0.1 with real TLS: the seed's
 * workflow scripted with the CLI, relayed and shared nodes, a node that is
 * offline while messages are sent, and no plaintext at any node.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { findCanaries, history, link, startChat } from "./_helpers/chat.ts";
import { freePort, NodeProc, runCli, tempRoot, waitUntil } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "messaging: the seed's workflow with the CLI; 100 messages each way, once, in order",
  ...opts,
  fn: async () => {
    const root = await tempRoot("seed");
    const nodes: NodeProc[] = [];
    try {
      const [a, b] = await Promise.all(
        ["alice", "bob"].map((id) => NodeProc.create({ id, root, withClient: true })),
      );
      nodes.push(a, b);
      const cli = async (n: NodeProc, ...args: string[]) => {
        const r = await runCli([...args, "--config", n.configPath]);
        assert.equal(r.code, 0, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
        return r.stdout;
      };
      // Link both ways; each owner approves the other.
      await runCli(["connect", "127.0.0.1", String(b.port), "bob", "--config", a.configPath]);
      await cli(b, "approve", "alice");
      await cli(b, "connect", "127.0.0.1", String(a.port), "alice");
      await waitUntil("alice–bob up", async () => (await a.link("bob"))?.state === "up");
      await waitUntil(
        "bob in alice's directory",
        async () => (await cli(a, "directory")).includes("bob@bob"),
      );

      // alice asks; bob sees the request with its intro and accepts.
      await cli(a, "request", "bob@bob", "Hi Bob, it is Alice");
      await waitUntil(
        "request at bob",
        async () => (await cli(b, "requests")).includes("alice@alice"),
      );
      assert.match(await cli(b, "requests"), /"Hi Bob, it is Alice"/);
      await cli(b, "accept", "alice@alice");
      await waitUntil(
        "accepted at alice",
        async () => /bob@bob\s+accepted/.test(await cli(a, "contacts")),
      );

      for (let i = 0; i < 100; i++) {
        await cli(a, "send", "bob@bob", `a${i}`);
        await cli(b, "send", "alice@alice", `b${i}`);
      }
      await waitUntil(
        "all 100 at bob",
        async () =>
          (await history(b, "alice@alice")).filter((m) => m.direction === "in").length >= 100,
        30_000,
      );
      await waitUntil(
        "all 100 at alice",
        async () => (await history(a, "bob@bob")).filter((m) => m.direction === "in").length >= 100,
        30_000,
      );
      await new Promise((r) => setTimeout(r, 300)); // anything extra (a duplicate) would show now
      const expect = (p: string) => Array.from({ length: 100 }, (_, i) => `${p}${i}`);
      const atBob = (await history(b, "alice@alice")).filter((m) => m.direction === "in");
      const atAlice = (await history(a, "bob@bob")).filter((m) => m.direction === "in");
      assert.deepEqual(atBob.map((m) => m.text), expect("a"));
      assert.deepEqual(atAlice.map((m) => m.text), expect("b"));
      for (const m of [...atBob, ...atAlice]) {
        assert.ok(m.sentAtMs > 1.7e12 && (m.receivedAtMs ?? 0) >= m.sentAtMs - 5000, "timestamps");
      }
      await waitUntil(
        "alice sees delivered",
        async () =>
          (await history(a, "bob@bob")).filter((m) => m.direction === "out").every((m) =>
            m.state === "delivered" || m.state === "read"
          ),
      );
      assert.match(
        await cli(a, "history", "bob@bob"),
        /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d > a0 {2}\((delivered|read)\)$/m,
      );
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name: "messaging: relayed over A–B–C–D, a second user on A, and nobody reads another's inbox",
  ...opts,
  fn: async () => {
    const root = await tempRoot("relay");
    const nodes: NodeProc[] = [];
    const children: Deno.ChildProcess[] = [];
    try {
      const a = await NodeProc.create({ id: "nodea", root, open: true, withClient: true });
      const b = await NodeProc.create({ id: "nodeb", root, open: true, withClient: true });
      const c = await NodeProc.create({ id: "nodec", root, open: true });
      const d = await NodeProc.create({ id: "noded", root, open: true, withClient: true });
      nodes.push(a, b, c, d);
      await link(a, b);
      await link(b, c);
      await link(c, d);
      await startChat(a, "nodea@nodea", d, "noded@noded", "relay please");
      for (let i = 0; i < 10; i++) {
        await a.admin("send", { address: "noded@noded", text: `relayed ${i}` });
      }
      await waitUntil("10 at dave", async () => (await history(d, "nodea@nodea")).length === 10);
      assert.deepEqual(
        (await history(d, "nodea@nodea")).map((m) => m.text),
        Array.from({ length: 10 }, (_, i) => `relayed ${i}`),
      );

      // carol: a second person on node A, with her own client process.
      const info = await a.addUser("carol");
      const carolDir = join(root, "carol-client");
      const carolProc = (user: string, dir: string, code?: string) => {
        const child = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--allow-net",
            "--allow-read",
            "--allow-write=.tmp",
            "main.ts",
            "client",
            "--node",
            `127.0.0.1:${a.port}`,
            "--user",
            user,
            "--dir",
            dir,
            ...(code ? ["--code", code] : []),
            "--fingerprint",
            info.fingerprint,
          ],
          cwd: new URL("..", import.meta.url).pathname,
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        children.push(child);
        let out = "";
        const d2 = new TextDecoder();
        (async () => {
          for await (const ch of child.stdout) out += d2.decode(ch);
        })();
        (async () => {
          for await (const ch of child.stderr) out += d2.decode(ch);
        })();
        return () => out;
      };
      const carolOut = carolProc("carol@nodea", carolDir, info.code);
      await waitUntil("carol's client ready", () => /ready/.test(carolOut()), 20_000);
      const carol = {
        admin: (cmd: string, args: Record<string, unknown> = {}) =>
          import("../lib/node/mod.ts").then((m) => m.adminCall(carolDir, cmd, args)),
      };
      await waitUntil("carol requests bob", async () => {
        try {
          await carol.admin("request", { address: "nodeb@nodeb", intro: "carol here" });
          return true;
        } catch {
          return false;
        }
      });
      await waitUntil(
        "bob sees carol",
        async () =>
          ((await b.admin("requests")) as Array<{ from: string }>).some((r) =>
            r.from === "carol@nodea"
          ),
      );
      await b.admin("accept", { address: "carol@nodea" });
      await waitUntil(
        "carol accepted",
        async () =>
          ((await carol.admin("contacts")) as Array<{ state: string }>).some((x) =>
            x.state === "accepted"
          ),
      );
      await carol.admin("send", { address: "nodeb@nodeb", text: "from carol" });
      await b.admin("send", { address: "carol@nodea", text: "to carol" });
      await waitUntil(
        "carol got bob's",
        async () =>
          ((await carol.admin("history", { address: "nodeb@nodeb" })) as Array<{ text: string }>)
            .some((m) => m.text === "to carol"),
      );
      await waitUntil(
        "bob got carol's",
        async () => (await history(b, "carol@nodea")).some((m) => m.text === "from carol"),
      );

      // carol's client cannot act as alice (the owner of node A): refused at the handshake.
      const imp = carolProc("nodea@nodea", carolDir + "-as-owner");
      await waitUntil(
        "the node refuses the impostor",
        () => /client refused/.test(a.output) || /cannot connect/.test(imp()),
        10_000,
      );
      assert.doesNotMatch(imp(), /ready/);
      // And nothing of alice's conversation is in carol's directory.
      assert.deepEqual(await findCanaries([carolDir], ["relayed 0", "relay please"]), []);
    } finally {
      for (const ch of children) {
        try {
          ch.kill("SIGTERM");
        } catch { /* gone */ }
        await ch.status;
      }
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name:
    "messaging: 200 messages to a node that is down arrive exactly once, in order; no plaintext at nodes",
  ...opts,
  fn: async () => {
    const root = await tempRoot("offline");
    const nodes: NodeProc[] = [];
    try {
      const a = await NodeProc.create({ id: "alice", root, open: true, withClient: true });
      const b = await NodeProc.create({
        id: "bob",
        root,
        open: true,
        withClient: true,
        port: freePort(),
      });
      nodes.push(a, b);
      await link(a, b);
      const intro = "CANARY-INTRO-7f3a";
      await startChat(a, "alice@alice", b, "bob@bob", intro);
      await b.stop();
      const texts = Array.from({ length: 200 }, (_, i) => `CANARY-MSG-${i}-c0ffee`);
      for (const t of texts) await a.admin("send", { address: "bob@bob", text: t });
      const out = (await history(a, "bob@bob")).filter((m) => m.direction === "out");
      assert.equal(out.length, 200);
      assert.ok(out.every((m) => m.state === "sent"), "stored at alice's node, not delivered");
      await b.start();
      await waitUntil(
        "all 200 at bob",
        async () => (await history(b, "alice@alice")).length >= 200,
        30_000,
      );
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual((await history(b, "alice@alice")).map((m) => m.text), texts);
      await waitUntil(
        "all delivered at alice",
        async () =>
          (await history(a, "bob@bob")).every((m) =>
            m.direction !== "out" || m.state === "delivered"
          ),
        20_000,
      );
      await b.admin("send", { address: "alice@alice", text: "CANARY-REPLY-99" });
      await waitUntil(
        "reply",
        async () => (await history(a, "bob@bob")).some((m) => m.text === "CANARY-REPLY-99"),
      );

      // Nodes never see plaintext: not in their data directories, not in their logs.
      await Promise.all(nodes.map((n) => n.stop()));
      const hits = await findCanaries(
        [a.dataDir, b.dataDir],
        [intro, "CANARY-MSG-0-", "CANARY-MSG-199-", "CANARY-REPLY-99", "c0ffee"],
        [a.output, b.output],
      );
      assert.deepEqual(hits, []);
      // The clients do keep the history, in their own directories.
      assert.notDeepEqual(await findCanaries([`${b.dataDir}-client`], ["CANARY-MSG-0-"]), []);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name: "messaging: both sides sending at once, many in flight, keep their ratchets in step",
  ...opts,
  fn: async () => {
    const root = await tempRoot("concurrent");
    const nodes: NodeProc[] = [];
    try {
      const a = await NodeProc.create({ id: "alice", root, open: true, withClient: true });
      const b = await NodeProc.create({ id: "bob", root, open: true, withClient: true });
      nodes.push(a, b);
      await link(a, b);
      await startChat(a, "alice@alice", b, "bob@bob");
      const n = 60;
      await Promise.all([
        ...Array.from(
          { length: n },
          (_, i) => a.admin("send", { address: "bob@bob", text: `a${i}` }),
        ),
        ...Array.from(
          { length: n },
          (_, i) => b.admin("send", { address: "alice@alice", text: `b${i}` }),
        ),
      ]);
      await waitUntil(
        "all at bob",
        async () =>
          (await history(b, "alice@alice")).filter((m) => m.direction === "in").length === n,
      );
      await waitUntil(
        "all at alice",
        async () => (await history(a, "bob@bob")).filter((m) => m.direction === "in").length === n,
      );
      const inAt = async (x: NodeProc, peer: string) =>
        new Set((await history(x, peer)).filter((m) => m.direction === "in").map((m) => m.text));
      assert.equal((await inAt(b, "alice@alice")).size, n);
      assert.equal((await inAt(a, "bob@bob")).size, n);
      assert.doesNotMatch(a.output + b.output, /dropped an incoming envelope/);
    } finally {
      await Promise.all(nodes.map((x) => x.stop()));
    }
  },
});
