import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { commandToRun } from "./command_line.ts";
import { initMulti } from "./init_multi.ts";

Deno.test("initMulti() prints start, connect and approve commands that run as printed", async () => {
  await Deno.mkdir(".tmp", { recursive: true });
  const root = await Deno.makeTempDir({ dir: ".tmp", prefix: "init-multi-" });
  try {
    const dir = resolve(root, "two nodes");
    const lines = await initMulti(["2"], { dir, "base-port": "19600" });
    const conf = (id: string) => join(dir, `${id}.conf`);
    for (
      const want of [
        commandToRun(["start", "--config", conf("alice")]),
        commandToRun(["start", "--config", conf("bob")]),
        commandToRun(["connect", "127.0.0.1", "19601", "bob", "--config", conf("alice")]),
        commandToRun(["approve", "alice", "--config", conf("bob")]),
      ]
    ) {
      assert.ok(lines.includes(`  ${want}`), `${want}\n${lines.join("\n")}`);
    }
    assert.ok(lines.every((l) => !/(^|\s)deno task/.test(l)), "no bare deno task");
    await Deno.stat(conf("alice"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
