import assert from "node:assert/strict";
import { parseUiCommand } from "./api_types.ts";

const LIMITS = { maxMessageChars: 100 };

Deno.test("parseUiCommand() keeps only the known fields of a valid command", () => {
  assert.deepEqual(
    parseUiCommand({ kind: "send", address: "bob@bob", text: "hi", extra: 1 }, LIMITS),
    { kind: "send", address: "bob@bob", text: "hi" },
  );
  assert.deepEqual(
    parseUiCommand({ kind: "send", address: "bob@bob", text: "x".repeat(100) }, LIMITS),
    { kind: "send", address: "bob@bob", text: "x".repeat(100) },
  );
  const connect = { kind: "connect", host: "[::1]", port: 1, nodeId: "b" };
  assert.deepEqual(parseUiCommand(connect, LIMITS), {
    kind: "connect",
    host: "[::1]",
    port: 1,
    nodeId: "b",
  });
});

Deno.test("parseUiCommand() rejects wrong shapes, types, and messages over the limit it is given", () => {
  const bad: unknown[] = [
    null,
    [],
    "send",
    {},
    { kind: "__proto__" },
    { kind: "send", address: "bob@bob", text: "" },
    { kind: "send", address: "bob@bob", text: "x".repeat(LIMITS.maxMessageChars + 1) },
    { kind: "send", address: "BOB", text: "x" },
    { kind: "connect", host: "h", port: 1.5, nodeId: "b" },
    { kind: "connect", host: "h", port: 0, nodeId: "b" },
    { kind: "approveLink", nodeId: "" },
    JSON.parse('{"__proto__": {"kind": "accept"}, "address": "bob@bob"}'),
  ];
  for (const value of bad) {
    assert.throws(
      () => parseUiCommand(value, LIMITS),
      (e: unknown) => e instanceof TypeError || e instanceof RangeError,
    );
  }
});

Deno.test("parseUiCommand() reads mailbox commands and refuses bad node ids and quotas", () => {
  assert.deepEqual(parseUiCommand({ kind: "mailboxes", nodeId: "x" }, LIMITS), {
    kind: "mailboxes",
  });
  assert.deepEqual(parseUiCommand({ kind: "addMailbox", nodeId: "m" }, LIMITS), {
    kind: "addMailbox",
    nodeId: "m",
  });
  assert.deepEqual(parseUiCommand({ kind: "serveMailbox", nodeId: "b" }, LIMITS), {
    kind: "serveMailbox",
    nodeId: "b",
  });
  assert.deepEqual(
    parseUiCommand({ kind: "serveMailbox", nodeId: "b", quotaBytes: 65_536 }, LIMITS),
    { kind: "serveMailbox", nodeId: "b", quotaBytes: 65_536 },
  );
  const bad: Array<[unknown, RegExp]> = [
    [{ kind: "addMailbox", nodeId: "Bad Id!" }, /bad node id "Bad Id!"/],
    [{ kind: "removeMailbox" }, /"nodeId" must be a string/],
    [{ kind: "stopServing", nodeId: "x".repeat(33) }, /longer than 32/],
    [{ kind: "serveMailbox", nodeId: "b", quotaBytes: 65_535 }, /quota must be/],
    [{ kind: "serveMailbox", nodeId: "b", quotaBytes: 1e6 + 0.5 }, /quota must be/],
    [{ kind: "serveMailbox", nodeId: "b", quotaBytes: "10M" }, /quota must be/],
    [{ kind: "serveMailbox", nodeId: "b", quotaBytes: 2 ** 51 }, /quota must be/],
  ];
  for (const [value, message] of bad) {
    assert.throws(() => parseUiCommand(value, LIMITS), message);
  }
});
