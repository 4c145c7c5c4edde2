import assert from "node:assert/strict";
import { ConfigError } from "../config.ts";
import { AdminReplyError, NotRunningError } from "../node/mod.ts";
import { CliError } from "./cli_error.ts";
import { describeFailure } from "./describe_failure.ts";

Deno.test("describeFailure() shows the user's mistakes as their message alone", () => {
  const cases = [
    new CliError("Cannot send: give ADDRESS and TEXT"),
    new ConfigError('Cannot load config "x.conf": no such file'),
    new NotRunningError("/data"),
    new AdminReplyError("Cannot accept: no request from bob@b"),
  ];
  for (const e of cases) assert.deepEqual(describeFailure(e), { kind: "user", text: e.message });
});

Deno.test("describeFailure() shows an error caused by the machine as its message alone", () => {
  const inUse = Object.assign(new Error("listen EADDRINUSE: address already in use"), {
    code: "EADDRINUSE",
    syscall: "listen",
  });
  const wrapped = new Error("Cannot listen on 0.0.0.0:9000: the port is in use", { cause: inUse });
  assert.deepEqual(describeFailure(wrapped), { kind: "user", text: wrapped.message });
  const missing = new Deno.errors.NotFound("No such file or directory: open '/x'");
  assert.deepEqual(describeFailure(missing), { kind: "user", text: missing.message });
});

Deno.test("describeFailure() decides on types, never on the message text", () => {
  const plain = new Error("Cannot do that: looks like a user message");
  const view = describeFailure(plain);
  assert.equal(view.kind, "bug");
  assert.match(view.text, /^Unexpected error: this is a bug in fedchat; please report it/);
  assert.match(view.text, /Cannot do that/);
  assert.match(view.text, /\n\s+at /, "with the stack, to report");
  // A code without a syscall is not a system error.
  const coded = Object.assign(new Error("x"), { code: "ENOENT" });
  assert.equal(describeFailure(coded).kind, "bug");
});

Deno.test("describeFailure() reports a bug with its causes, and copes with non-errors", () => {
  const bug = new TypeError("Cannot read properties of undefined", {
    cause: new RangeError("inner detail"),
  });
  const view = describeFailure(bug);
  assert.equal(view.kind, "bug");
  assert.match(view.text, /TypeError: Cannot read properties of undefined/);
  assert.match(view.text, /\ncaused by: RangeError: inner detail/);
  assert.deepEqual(describeFailure("thrown text").kind, "bug");
  assert.match(describeFailure("thrown text").text, /thrown text/);
});
