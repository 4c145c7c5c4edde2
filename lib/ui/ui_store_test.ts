import assert from "node:assert/strict";
import type { UiSnapshot } from "./api_types.ts";
import { UiStore } from "./ui_store.ts";

const SNAPSHOT = {
  self: { address: "alice@alice" },
  links: [],
  directory: [],
  contacts: [],
  requests: [],
  files: [],
  limits: { maxMessageChars: 16_000 },
} as unknown as UiSnapshot;

Deno.test("UiStore.apply() tells the user when the node reports a resource in trouble", () => {
  const store = new UiStore({ snapshot: SNAPSHOT, nowMs: 0 });
  store.apply({ kind: "node", conditions: { store: { state: "ok" } } });
  assert.equal(store.notice.value, null);
  store.apply({
    kind: "node",
    conditions: { store: { state: "full", message: "The node's disk is full" } },
  });
  assert.deepEqual(store.notice.value, { kind: "error", text: "The node's disk is full" });
});
