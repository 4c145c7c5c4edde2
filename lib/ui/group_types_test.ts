import assert from "node:assert/strict";
import { parseUiCommand } from "./api_types.ts";

const LIMITS = { maxMessageChars: 100 };
const G = `${"ab".repeat(16)}@nodea`;

Deno.test("parseUiCommand() takes group commands with only their known fields", () => {
  assert.deepEqual(parseUiCommand({ kind: "createGroup", name: "  team  ", x: 1 }, LIMITS), {
    kind: "createGroup",
    name: "team",
  });
  assert.deepEqual(
    parseUiCommand(
      { kind: "inviteToGroup", group: G, addresses: ["bob@nodeb", "carol@nodec", "bob@nodeb"] },
      LIMITS,
    ),
    { kind: "inviteToGroup", group: G, addresses: ["bob@nodeb", "carol@nodec"] },
  );
  assert.deepEqual(parseUiCommand({ kind: "sendToGroup", group: G, text: "hi" }, LIMITS), {
    kind: "sendToGroup",
    group: G,
    text: "hi",
  });
  assert.deepEqual(
    parseUiCommand({ kind: "removeFromGroup", group: G, address: "bob@nodeb" }, LIMITS),
    { kind: "removeFromGroup", group: G, address: "bob@nodeb" },
  );
  for (const kind of ["acceptInvitation", "declineInvitation", "leaveGroup", "markGroupRead"]) {
    assert.deepEqual(parseUiCommand({ kind, group: G }, LIMITS), { kind, group: G });
  }
});

Deno.test("parseUiCommand() rejects bad group ids, names, addresses, lists and messages", () => {
  const bad: unknown[] = [
    { kind: "createGroup", name: "   " },
    { kind: "createGroup", name: "x".repeat(65) },
    { kind: "createGroup", name: "a\u202eb" },
    { kind: "createGroup", name: "a\nb" },
    { kind: "createGroup", name: 5 },
    { kind: "renameGroup", group: G, name: "" },
    { kind: "leaveGroup", group: "team" },
    { kind: "leaveGroup", group: `${"AB".repeat(16)}@nodea` },
    { kind: "leaveGroup", group: `${"ab".repeat(15)}@nodea` },
    { kind: "leaveGroup" },
    { kind: "inviteToGroup", group: G, addresses: [] },
    { kind: "inviteToGroup", group: G, addresses: "bob@nodeb" },
    { kind: "inviteToGroup", group: G, addresses: ["bob"] },
    { kind: "inviteToGroup", group: G, addresses: [{}] },
    { kind: "inviteToGroup", group: G, addresses: Array(17).fill(0).map((_, i) => `u${i}@n`) },
    { kind: "removeFromGroup", group: G, address: "<b>@nodeb" },
    { kind: "sendToGroup", group: G, text: " " },
    { kind: "sendToGroup", group: G, text: "x".repeat(LIMITS.maxMessageChars + 1) },
    JSON.parse(`{"__proto__": {"kind": "leaveGroup"}, "group": "${G}"}`),
  ];
  for (const value of bad) {
    assert.throws(
      () => parseUiCommand(value, LIMITS),
      (e: unknown) => e instanceof TypeError || e instanceof RangeError,
      JSON.stringify(value),
    );
  }
});
