import assert from "node:assert/strict";
import { parseSlash, SLASH_COMMANDS } from "./slash_commands.ts";

Deno.test("parseSlash() reads each command and mirrors the buttons", () => {
  assert.deepEqual(parseSlash("hello", "bob@bob"), { kind: "text", text: "hello" });
  assert.deepEqual(parseSlash("//not a command", null), { kind: "text", text: "/not a command" });
  assert.deepEqual(parseSlash("/help", null), { kind: "help" });
  assert.deepEqual(parseSlash("/request bob@bob hi there", null), {
    kind: "command",
    command: { kind: "request", address: "bob@bob", intro: "hi there" },
  });
  assert.deepEqual(parseSlash("/accept", "bob@bob"), {
    kind: "command",
    command: { kind: "accept", address: "bob@bob" },
  });
  assert.deepEqual(parseSlash("/connect 10.0.0.2 8443 bob", null), {
    kind: "command",
    command: { kind: "connect", host: "10.0.0.2", port: 8443, nodeId: "bob" },
  });
  assert.deepEqual(parseSlash("/verify", "bob@bob"), { kind: "verify", address: "bob@bob" });
  assert.deepEqual(parseSlash("/users", null), { kind: "users" });
  assert.deepEqual(parseSlash("/invite", null), { kind: "showInvite" });
  for (const c of SLASH_COMMANDS) {
    const name = c.usage.split(" ")[0];
    assert.notEqual(parseSlash(`${name} `, "bob@bob").kind, "text", name);
  }
});

Deno.test("parseSlash() refuses bad input with a message", () => {
  assert.equal(parseSlash("/frobnicate", null).kind, "error");
  assert.equal(parseSlash("/connect host 99999 bob", null).kind, "error");
  assert.equal(parseSlash("/request Not-An-Address!", null).kind, "error");
  assert.equal(parseSlash("/block", null).kind, "error");
});
