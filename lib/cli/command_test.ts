import assert from "node:assert/strict";
import { join } from "node:path";
import { NotRunningError } from "../node/mod.ts";
import { CliError } from "./cli_error.ts";
import { call, stream } from "./command.ts";
import { commandToRun } from "./command_line.ts";

async function tempDir(): Promise<string> {
  await Deno.mkdir(".tmp", { recursive: true });
  return await Deno.makeTempDir({ dir: ".tmp", prefix: "cli-command-" });
}

Deno.test("call() with no node running says so and prints the command that starts it", async () => {
  const dir = await tempDir();
  try {
    const config = join(dir, "a.conf");
    await Deno.writeTextFile(config, "[Network]\nport = 9000\nclient_id = a\n");
    const err = await call({ config }, "links").then(() => null, (e) => e);
    assert.ok(err instanceof CliError, String(err));
    assert.ok(err.cause instanceof NotRunningError);
    assert.match(err.message, /^Cannot reach the node: none is running/);
    assert.ok(
      err.message.endsWith(`: ${commandToRun(["start", "--config", config])}`),
      err.message,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stream() with no client running prints the command that starts the client", async () => {
  const dir = await tempDir();
  try {
    const err = await stream({ client: dir }, "listen").next().then(() => null, (e) => e);
    assert.ok(err instanceof CliError, String(err));
    assert.ok(err.message.endsWith(`: ${commandToRun(["client", "--dir", dir])}`), err.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
