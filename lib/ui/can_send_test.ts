import assert from "node:assert/strict";
import type { Contact } from "./api_types.ts";
import { canSend } from "./can_send.ts";

const contact = (over: Partial<Contact>): Contact => ({
  address: "bob@bob",
  state: "accepted",
  fingerprint: "aaaa",
  keyChanged: false,
  unread: 0,
  lastMessageAtMs: null,
  ...over,
} as Contact);

Deno.test("canSend() allows only an accepted chat without an unaccepted key change", () => {
  assert.deepEqual(canSend(contact({})), { ok: true });
  assert.equal(canSend(undefined).ok, false);
  const pending = canSend(contact({ state: "requested" }));
  assert.equal(pending.ok === false && pending.why, "not-accepted");
  const changed = canSend(contact({ keyChanged: true }));
  assert.equal(changed.ok === false && changed.why, "key-changed");
  const both = canSend(contact({ state: "incoming", keyChanged: true }));
  assert.equal(both.ok === false && both.why, "key-changed");
});
