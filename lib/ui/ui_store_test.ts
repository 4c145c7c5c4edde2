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

Deno.test("UiStore keeps a newer state and its reason when a late command answer arrives", () => {
  const store = new UiStore({ snapshot: SNAPSHOT, nowMs: 0 });
  const sent = {
    id: "01",
    peer: "bob@bob",
    direction: "out" as const,
    text: "hi",
    sentAtMs: 1,
    receivedAtMs: null,
    state: "sent" as const,
  };
  store.apply({ kind: "message", message: sent });
  store.apply({ kind: "state", peer: "bob@bob", id: "01", state: "held", reason: "m" });
  store.apply({ kind: "message", message: { ...sent, state: "sending" } });
  const [m] = store.histories.value["bob@bob"];
  assert.equal(m.state, "held");
  assert.equal(m.reason, "m");
  store.apply({ kind: "state", peer: "bob@bob", id: "01", state: "delivered" });
  assert.equal(store.histories.value["bob@bob"][0].state, "delivered");
  assert.equal(store.histories.value["bob@bob"][0].reason, undefined);
});
