/**
 * The V8 flags fedchat's processes start with: deno.json's tasks and the
 * processes tests and benchmarks start give the same ones.
 */
import assert from "node:assert/strict";
import { DEFAULT_V8_FLAGS } from "./_helpers/v8_flags.ts";

const TASKS = ["start", "cli", "dev", "compile"];

Deno.test("V8 flags: deno.json's start, cli, dev and compile tasks give the flags tests and benchmarks start nodes with", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  ) as { tasks: Record<string, string> };
  for (const task of TASKS) {
    const flags = /--v8-flags=(\S+)/.exec(config.tasks[task])?.[1];
    assert.equal(flags, DEFAULT_V8_FLAGS, task);
  }
});

Deno.test("V8 flags: dead ArrayBuffers are freed by the collection that finds them, not by a concurrent sweeper later (a file's chunk buffers held each process's peak RSS 15-20 MiB higher)", () => {
  assert.ok(
    DEFAULT_V8_FLAGS.split(",").includes("--no-concurrent-array-buffer-sweeping"),
    DEFAULT_V8_FLAGS,
  );
});
