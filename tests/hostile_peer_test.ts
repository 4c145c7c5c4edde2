/**
 * A linked node that lies, floods and breaks protocol (issues 10 and 11), with
 * real nodes on 127.0.0.1 and a hand-driven peer (tests/_helpers/raw_peer.ts):
 * the honest nodes keep their process, their links and their chats, refuse
 * what its origin did not make, keep within their budgets, and cut the peer
 * off with a logged reason.
 */
import assert from "node:assert/strict";
import { history, link, startChat } from "./_helpers/chat.ts";
import { NodeProc, runCli, tempRoot, waitUntil } from "./_helpers/node_proc.ts";
import { envelope } from "./_helpers/mallory.ts";
import { rawPeer } from "./_helpers/raw_peer.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const users = async (n: NodeProc) =>
  (await n.admin("users-list")) as Array<{ name: string; inbox: number }>;
const inboxOf = async (n: NodeProc, name: string) =>
  (await users(n)).find((u) => u.name === name)?.inbox ?? 0;

Deno.test({
  name: "hostile peer: bad probes crash nobody; forged senders are refused before the inbox; " +
    "a real chat keeps working",
  ...opts,
  fn: async () => {
    const root = await tempRoot("hostile-peer");
    const nodes: NodeProc[] = [];
    const peers: Array<{ stop(): void }> = [];
    try {
      const a = await NodeProc.create({ id: "alice", root, open: true, withClient: true });
      const b = await NodeProc.create({ id: "bob", root, open: true, withClient: true });
      const c = await NodeProc.create({ id: "carl", root, open: true });
      nodes.push(a, b, c);
      await link(a, b);
      await link(b, c);
      await startChat(a, "alice@alice", b, "bob@bob");
      const pids = nodes.map((n) => n.pid);

      const mallory = await rawPeer("mallory");
      peers.push(mallory);
      assert.equal(await mallory.connect("alice", a.port), "up");
      await waitUntil("carl reachable from alice", async () => {
        try {
          await a.admin("ping", { nodeId: "carl" });
          return true;
        } catch {
          return false;
        }
      });

      // Finding 10.1: probes whose body is garbage (0xC8, or a 64-id path), made by mallory and
      // sent to carl two hops away, crash nobody.
      for (const body of [Uint8Array.of(0xc8), new Uint8Array(64 * 33).fill(0x61)]) {
        const [probe] = mallory.sign([
          envelope({ kind: "probe", from: "mallory", to: "carl", body } as never),
        ]);
        assert.ok(mallory.send("alice", { kind: "envelope", bytes: probe }));
      }

      // Finding 11.1: mallory forges a chat request and a message "from bob@bob" to alice.
      const [forgedRequest, forgedMessage] = mallory.sign([
        envelope({ from: "bob@bob" }),
        envelope({ kind: "message", from: "bob@bob" }),
      ]);
      const before = await inboxOf(a, "alice");
      mallory.send("alice", { kind: "envelope", bytes: forgedRequest });
      mallory.send("alice", { kind: "envelope", bytes: forgedMessage });
      await waitUntil(
        "alice's node refuses the forgeries",
        () => /dropped a forged or altered envelope peer=mallory/.test(a.output),
      );
      assert.equal(await inboxOf(a, "alice"), before, "nothing reached alice's inbox");
      assert.deepEqual(await a.admin("requests"), [], "no request shown");

      // Everyone kept running, and the real chat works both ways.
      assert.deepEqual(nodes.map((n) => n.pid), pids);
      const path = (await a.admin("ping", { nodeId: "carl" })) as { path: string[] };
      assert.deepEqual(path.path, ["alice", "bob", "carl"]);
      await a.admin("send", { address: "bob@bob", text: "still here" });
      await b.admin("send", { address: "alice@alice", text: "me too" });
      await waitUntil(
        "bob gets it",
        async () => (await history(b, "alice@alice")).some((m) => m.text === "still here"),
      );
      await waitUntil(
        "alice gets it",
        async () => (await history(a, "bob@bob")).some((m) => m.text === "me too"),
      );
      const contacts = (await a.admin("contacts")) as Array<
        { address: string; keyChanged: boolean }
      >;
      assert.equal(contacts.find((c) => c.address === "bob@bob")?.keyChanged, false);
    } finally {
      for (const p of peers) p.stop();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name: "hostile peer: requests from its own users are rate-limited per proven origin; " +
    "a flood over its envelope rate cuts it off; the log stays short",
  ...opts,
  fn: async () => {
    const root = await tempRoot("hostile-flood");
    const nodes: NodeProc[] = [];
    const peers: Array<{ stop(): void }> = [];
    try {
      const a = await NodeProc.create({
        id: "alice",
        root,
        open: true,
        extra: "[Limits]\npeer_envelopes_per_second = 200\n",
      });
      nodes.push(a);
      const pid = a.pid;
      const mallory = await rawPeer("mallory");
      peers.push(mallory);
      assert.equal(await mallory.connect("alice", a.port), "up");

      // Finding 10.3: 300 requests of 60 KiB from 300 different users of mallory's node.
      const big = new Uint8Array(60 * 1024);
      const budgets = async () =>
        ((await a.admin("status")) as {
          budgets: Record<string, { refusals: number; lastRefusal?: { key: string } }>;
        }).budgets;
      let sent = 0;
      const startedAt = Date.now();
      for (let round = 0; sent < 300 && round < 200; round++) {
        await waitUntil("mallory linked", () => mallory.up("alice"));
        const batch = Array.from(
          { length: 20 },
          (_, j) => envelope({ from: `u${sent + j}@mallory`, body: big }),
        );
        for (const bytes of mallory.sign(batch)) {
          if (mallory.send("alice", { kind: "envelope", bytes })) sent++;
        }
        // Let heartbeats through: the test's own process is the attacker here.
        await new Promise((r) => setTimeout(r, 20));
      }
      let last = -1;
      await waitUntil("alice has judged what arrived", async () => {
        const now = (await budgets()).requests_per_origin.refusals;
        const settled = now === last && now > 0;
        last = now;
        await new Promise((r) => setTimeout(r, 300));
        return settled;
      }, 30_000);
      const kept = await inboxOf(a, "alice");
      // A burst of 30, then one every 2 s (30 a minute).
      const allowed = 30 + Math.ceil((Date.now() - startedAt) / 2000);
      assert.ok(kept <= allowed, `${kept} requests kept of ${sent}; the budget allows ${allowed}`);
      assert.equal((await budgets()).requests_per_origin.lastRefusal?.key, "mallory");
      const db = (await Deno.stat(`${a.dataDir}/node.db`)).size +
        ((await Deno.stat(`${a.dataDir}/node.db-wal`).catch(() => ({ size: 0 }))).size);
      assert.ok(db < 8 * 1024 * 1024, `node.db and WAL are ${db} bytes`);

      // Finding 10.8: envelopes for users who do not exist, far over the neighbour's rate.
      for (let i = 0; i < 3000 && mallory.up("alice"); i += 500) {
        const flood = mallory.sign(
          Array.from({ length: 500 }, () => envelope({ kind: "message", to: "ghost@alice" })),
        );
        for (const bytes of flood) mallory.send("alice", { kind: "envelope", bytes });
        await new Promise((r) => setTimeout(r, 10));
      }
      await waitUntil(
        "alice cuts mallory off",
        async () =>
          /disconnected: (kept sending over its envelope rate|kept sending undeliverable)/.test(
            (await a.link("mallory"))?.lastError ?? "",
          ),
      );
      assert.equal(a.pid, pid);
      const lines = a.output.split("\n").filter((l) => /mallory/.test(l)).length;
      assert.ok(lines < 60, `${lines} log lines about mallory for 3,300 envelopes`);
    } finally {
      for (const p of peers) p.stop();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name: "link requests: waiting nodes are budgeted per address and pin nothing; " +
    "the owner's invite wins over a squatter; links forget unpins",
  ...opts,
  fn: async () => {
    const root = await tempRoot("hostile-links");
    const nodes: NodeProc[] = [];
    const peers: Array<{ stop(): void }> = [];
    try {
      const a = await NodeProc.create({ id: "alice", root, open: false });
      const b = await NodeProc.create({ id: "bob", root, open: true });
      nodes.push(a, b);

      // Finding 11.4: a stranger links as "bob" first; its request pins nothing.
      const squatter = await rawPeer("bob");
      peers.push(squatter);
      await squatter.connect("alice", a.port, 3000);
      assert.equal((await a.link("bob"))?.state, "awaiting-owner");

      // Finding 10.3: many link requests from one address.
      for (let i = 0; i < 40; i++) {
        const p = await rawPeer(`stranger${i}`);
        peers.push(p);
        await p.connect("alice", a.port, 2000);
        p.stop();
      }
      const waiting = (await a.status()).links.filter((l) => l.state === "awaiting-owner");
      assert.ok(waiting.length <= 4, `${waiting.length} waiting; the budget is 4 per address`);

      // The owner links to the real bob with its invite: the invite wins.
      const invite = (await b.admin("invite")) as string;
      const linked = (await a.admin("connect", { invite, waitMs: 5000 })) as { state: string };
      assert.equal(linked.state, "up");
      const row = (await a.link("bob"))!;
      assert.equal(row.fingerprint, (await b.status()).fingerprint);
      // The squatter is refused from now on.
      squatter.stop();
      const again = await rawPeer("bob");
      peers.push(again);
      assert.notEqual(await again.connect("alice", a.port, 3000), "up");
      // It would keep retrying; once the pin is forgotten a retry is a new stranger waiting.
      again.stop();

      // links forget: asks first, then drops the link and the pin.
      const ask = await runCli(["links", "forget", "bob", "--config", a.configPath]);
      assert.equal(ask.code, 1);
      assert.match(ask.stdout, /--yes/);
      const forget = await runCli(["links", "forget", "bob", "--yes", "--config", a.configPath]);
      assert.equal(forget.code, 0, forget.stdout + forget.stderr);
      assert.equal(await a.link("bob"), undefined);
    } finally {
      for (const p of peers) p.stop();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
