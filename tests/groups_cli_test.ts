/**
 * The group commands of the CLI, against two real nodes: create, invite (the
 * invitation shows with `requests`), accept, send, history with delivery and
 * read states, members with safety numbers, groups, rename, remove, and
 * `listen --json` events.
 */
import assert from "node:assert/strict";
import { link } from "./_helpers/chat.ts";
import { NodeProc, runCli, tempRoot, waitUntil } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name:
    "groups CLI: create, invite, requests, accept, send, history, members, groups, rename, remove, listen",
  ...opts,
  fn: async () => {
    const root = await tempRoot("groups-cli");
    const nodes: NodeProc[] = [];
    let listen: Deno.ChildProcess | null = null;
    try {
      const [a, b] = await Promise.all(
        ["alice", "bob"].map((id) => NodeProc.create({ id, root, open: true, withClient: true })),
      );
      nodes.push(a, b);
      await link(a, b);
      const cli = async (n: NodeProc, ...args: string[]) => {
        const r = await runCli([...args, "--config", n.configPath]);
        assert.equal(r.code, 0, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
        return r.stdout;
      };
      // bob listens (JSON lines) from the start.
      listen = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net",
          "--allow-read",
          "--allow-write=.tmp",
          new URL("../main.ts", import.meta.url).pathname,
          "listen",
          "--json",
          "--config",
          b.configPath,
        ],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      let events = "";
      (async () => {
        const d = new TextDecoder();
        for await (const c of listen!.stdout) events += d.decode(c, { stream: true });
      })().catch(() => {});

      assert.match(
        await cli(a, "group", "create", "book", "club"),
        /^created [0-9a-f]{32}@alice {2}"book club" {2}1 member {2}\(admin\)/,
      );
      await waitUntil("invited", async () => {
        const r = await runCli([
          "group",
          "invite",
          "book club",
          "bob@bob",
          "--config",
          a.configPath,
        ]);
        return r.code === 0 && /invited bob@bob to "book club"/.test(r.stdout);
      }, 30_000);
      await waitUntil(
        "the invitation shows with requests",
        async () =>
          /group "book club" \(2 members\): invitation from alice@alice {2}key [a-z2-7-]+ {2}\(group accept [0-9a-f]{32}@alice/
            .test(await cli(b, "requests")),
      );
      assert.match(await cli(b, "group", "accept", "book club"), /^joined /);
      await cli(a, "group", "send", "book club", "hello", "bob");
      await waitUntil(
        "bob has it",
        async () => /alice@alice: hello bob/.test(await cli(b, "group", "history", "book club")),
      );
      // bob's listener showed it, so it counts as read; alice sees delivered and read.
      await waitUntil(
        "delivered to 1 of 1, read by 1",
        async () =>
          /> hello bob {2}\(delivered to 1 of 1, read by 1\)/.test(
            await cli(a, "group", "history", "book club"),
          ),
      );
      const members = await cli(a, "group", "members", "book club");
      assert.match(members, /alice@alice +key [a-z2-7-]+ {2}\(you, admin\)/);
      assert.match(members, /bob@bob +key [a-z2-7-]+\n {2}safety number (\d{5} ){11}\d{5}/);
      assert.match(await cli(b, "groups"), /"book club" {2}2 members/);
      await cli(a, "group", "rename", "book club", "readers");
      await waitUntil("renamed at bob", async () => /"readers"/.test(await cli(b, "groups")));
      // bob may not remove: only an admin may.
      const refused = await runCli([
        "group",
        "remove",
        "readers",
        "alice@alice",
        "--config",
        b.configPath,
      ]);
      assert.equal(refused.code, 1);
      assert.match(refused.stdout + refused.stderr, /only an admin may/);
      await cli(a, "group", "remove", "readers", "bob@bob");
      await waitUntil("bob is out", async () => /\(removed/.test(await cli(b, "groups")));
      const kinds = events.trim().split("\n").map((l) => JSON.parse(l).kind);
      for (const k of ["invitation", "group", "groupMessage"]) assert.ok(kinds.includes(k), k);
    } finally {
      try {
        listen?.kill("SIGTERM");
        await listen?.status;
      } catch { /* gone */ }
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
