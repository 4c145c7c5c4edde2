import assert from "node:assert/strict";
import { decodeGroupInner, encodeGroupInner, type GroupInner } from "./group_payload.ts";

Deno.test("group contents round-trip", () => {
  const all: GroupInner[] = [
    { t: "text", id: "ab".repeat(16), seq: 3, at: 1_800_000_000_000, text: "hi" },
    { t: "read", upTo: { "alice@a": 4 } },
    { t: "joined" },
    { t: "file-accept", id: "cd".repeat(16), to: "alice@a" },
  ];
  for (const x of all) assert.deepEqual(decodeGroupInner(encodeGroupInner(x)), x);
});

Deno.test("group contents: anything else is refused", () => {
  const bad = [
    { t: "text", id: "x", seq: 1, at: 1, text: "hi" },
    { t: "text", id: "ab".repeat(16), seq: 0, at: 1, text: "hi" },
    { t: "text", id: "ab".repeat(16), seq: 1, at: 1, text: "" },
    { t: "read", upTo: [1] },
    { t: "file-accept", id: "cd".repeat(16), to: 5 },
    { t: "nope" },
  ];
  for (const b of bad) {
    assert.throws(() => decodeGroupInner(new TextEncoder().encode(JSON.stringify(b))), TypeError);
  }
  assert.throws(() => decodeGroupInner(new Uint8Array([0xff])));
});
