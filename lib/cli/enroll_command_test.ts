import assert from "node:assert/strict";
import { commandToRun } from "./command_line.ts";
import { enrollCommand } from "./enroll_command.ts";

const enrollment = { name: "erin", node: "alice", code: "k7q2", fingerprint: "abcde-fghij" };

Deno.test("enrollCommand() prints the client command with node, user, code and fingerprint", () => {
  assert.equal(
    enrollCommand({ ...enrollment, host: "192.168.0.5", port: 9001 }),
    commandToRun([
      "client",
      "--node",
      "192.168.0.5:9001",
      "--user",
      "erin@alice",
      "--code",
      "k7q2",
      "--fingerprint",
      "abcde-fghij",
    ]),
  );
});

Deno.test("enrollCommand() brackets an IPv6 host, as --node requires", () => {
  const line = enrollCommand({ ...enrollment, host: "fd00::5", port: 9001 });
  assert.match(line, / --node '\[fd00::5\]:9001' /);
});
