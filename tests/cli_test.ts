import assert from "node:assert/strict";
import { join } from "node:path";
import { commandToRun } from "../lib/cli/command_line.ts";
import { NodeProc, runCli, tempRoot } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "cli: a bad config is a one-line error naming file, line, section and key",
  ...opts,
  fn: async () => {
    const root = await tempRoot("cli");
    const cases: Array<[string, RegExp]> = [
      [
        "[Network]\nport = 70000\nclient_id = a\n",
        /line 2, \[Network\] port: "70000" is not allowed/,
      ],
      ["[Network]\nclient_id = a\n", /\[Network\] port is missing/],
      ["[Network]\nport = 9000\n", /\[Network\] client_id is missing/],
      ["[Network]\nport = 9000\nclient_id = Bad Id\n", /line 3, \[Network\] client_id/],
      ["[Network]\nport = 9000\nclient_id = a\nfoo = 1\n", /line 4, \[Network\] foo: unknown key/],
    ];
    for (const [i, [text, want]] of cases.entries()) {
      const file = join(root, `c${i}.conf`);
      await Deno.writeTextFile(file, text);
      const r = await runCli(["server", "--config", file]);
      assert.equal(r.code, 1);
      assert.match(r.stdout, want);
      assert.match(r.stdout, new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
      assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /, "no stack trace");
    }
    const missing = await runCli(["server", "--config", join(root, "nope.conf")]);
    assert.match(missing.stdout, /no such file/);
  },
});

Deno.test({
  name: "cli: --help works on every command, and a command without a node says so",
  ...opts,
  fn: async () => {
    const top = await runCli(["--help"]);
    assert.equal(top.code, 0);
    for (
      const cmd of [
        "start",
        "server",
        "init-multi",
        "connect",
        "invite",
        "links",
        "approve",
        "reject",
        "status",
      ]
    ) {
      assert.match(top.stdout, new RegExp(`\\b${cmd}\\b`));
      const r = await runCli([cmd, "--help"]);
      assert.equal(r.code, 0, cmd);
      assert.ok(r.stdout.startsWith(`usage: ${commandToRun([])} `), cmd);
    }
    const root = await tempRoot("cli-none");
    const file = join(root, "x.conf");
    await Deno.writeTextFile(file, "[Network]\nport = 9000\nclient_id = x\n");
    const r = await runCli(["links", "--config", file]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /none is running/);
    assert.ok(r.stdout.includes(commandToRun(["start", "--config", file])), r.stdout);
  },
});

Deno.test({
  name: "cli: what the user typed wrong is one line saying what to do, never a stack trace",
  ...opts,
  fn: async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ["links", "--bogus"],
        /^Cannot run links: .*--bogus.*; see npx deno@\S+ task cli links --help$/,
      ],
      [["client", "--node", "nohost"], /^Cannot start client: --node "nohost" is not HOST:PORT/],
      [["client", "--node", "h:1", "--user", "Bad@x"], /^Cannot start client: --user "Bad@x"/],
      [
        ["frobnicate"],
        /^Cannot run "frobnicate": no such command; see npx deno@\S+ task cli --help$/,
      ],
    ];
    for (const [args, want] of cases) {
      const r = await runCli(args);
      assert.notEqual(r.code, 0, args.join(" "));
      assert.match(r.stdout.trim(), want);
      assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at |Unexpected error/, "no stack trace");
    }
  },
});

Deno.test({
  name: "cli: init-multi writes N loadable configs with distinct ids and ports",
  ...opts,
  fn: async () => {
    const root = await tempRoot("multi");
    const r = await runCli(["init-multi", "3", "--dir", root, "--base-port", "19500"]);
    assert.equal(r.code, 0, r.stdout);
    const { loadConfig } = await import("../lib/config.ts");
    const configs = await Promise.all(
      ["alice", "bob", "carol"].map((id) => loadConfig(join(root, `${id}.conf`))),
    );
    assert.deepEqual(configs.map((c) => c.port), [19500, 19501, 19502]);
    assert.equal(new Set(configs.map((c) => c.dataDir)).size, 3);
    assert.match(r.stdout, /connect 127\.0\.0\.1 19501 bob/);
    const again = await runCli(["init-multi", "3", "--dir", root]);
    assert.equal(again.code, 1);
    assert.match(again.stdout, /exists/);
  },
});

Deno.test({
  name: "node: a corrupt identity key is an error that says how to recover, never replaced",
  ...opts,
  fn: async () => {
    const root = await tempRoot("corrupt");
    const data = join(root, "d");
    await Deno.mkdir(data);
    await Deno.writeTextFile(
      join(data, "server_private_key.pem"),
      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    const file = join(root, "n.conf");
    await Deno.writeTextFile(
      file,
      `[Network]\nport = 9000\nclient_id = n\n[Storage]\ndata_dir = ${data}\n`,
    );
    const r = await runCli(["server", "--config", file]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /corrupt; restore it from a backup, or move it away/);
    assert.match(await Deno.readTextFile(join(data, "server_private_key.pem")), /AAAA/);
  },
});

Deno.test({
  name:
    "node: first start makes key (0600) and certificate, data folder and client folder 0700, admin socket 0600; deleting the certificate regenerates it",
  ...opts,
  fn: async () => {
    const root = await tempRoot("certs");
    const n = await NodeProc.create({ id: "alice", root, withClient: true });
    try {
      const fp = (await n.status()).fingerprint;
      assert.match(fp, /^[a-z2-7]{5}(-[a-z2-7]{5}){3}$/);
      assert.match(n.output, new RegExp(`fingerprint +${fp}`));
      assert.equal(
        (await Deno.stat(join(n.dataDir, "server_private_key.pem"))).mode! & 0o777,
        0o600,
      );
      assert.equal((await Deno.stat(join(n.dataDir, "server.key"))).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(n.dataDir)).mode! & 0o777, 0o700);
      assert.equal((await Deno.stat(join(n.dataDir, "admin.sock"))).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(`${n.dataDir}-client`)).mode! & 0o777, 0o700);
      const oldCert = await Deno.readTextFile(join(n.dataDir, "server.crt"));
      await n.stop();
      await Deno.remove(join(n.dataDir, "server.crt"));
      await Deno.remove(join(n.dataDir, "server.key"));
      await n.start();
      const newCert = await Deno.readTextFile(join(n.dataDir, "server.crt"));
      assert.notEqual(newCert, oldCert);
      assert.equal((await n.status()).fingerprint, fp, "the node identity is unchanged");
    } finally {
      await n.stop();
    }
  },
});
