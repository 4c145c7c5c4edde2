import assert from "node:assert/strict";
import { toAddress, toNodeId, toUserName } from "../ids.ts";
import type { Envelope } from "../protocol/mod.ts";
import {
  admit,
  admitChunk,
  type AdmitFacts,
  checkSubmission,
  formatDuration,
} from "./admission.ts";

const FINE: AdmitFacts = {
  stale: false,
  recipientExists: true,
  policy: "allow",
  alreadyDelivered: false,
  withinRate: true,
  room: true,
};

Deno.test("admit() stores a message from an accepted contact, and a request from anyone", () => {
  assert.deepEqual(admit("message", FINE), { store: true, status: "stored" });
  assert.deepEqual(admit("request", { ...FINE, policy: null }), { store: true, status: "stored" });
});

Deno.test("admit() refuses a message from someone not accepted, before any budget is asked", () => {
  const a = admit("message", { ...FINE, policy: null, withinRate: false, room: false });
  assert.equal(a.store, false);
  assert.equal(a.status, "refused");
  assert.equal(admit("message", { ...FINE, policy: "block" }).status, "refused");
});

Deno.test("admit() tells a stranger nothing: blocked, over the rate or no room all read 'stored'", () => {
  for (const facts of [{ policy: "block" as const }, { withinRate: false }, { room: false }]) {
    const a = admit("request", { ...FINE, policy: null, ...facts });
    assert.deepEqual([a.store, a.status], [false, "stored"], JSON.stringify(facts));
  }
});

Deno.test("admit() answers a duplicate 'stored' again without keeping a second copy", () => {
  assert.deepEqual(admit("message", { ...FINE, alreadyDelivered: true }), {
    store: false,
    status: "stored",
  });
});

Deno.test("admit(): a full inbox or a fast origin make a message 'busy' (the sender keeps it)", () => {
  assert.equal(admit("message", { ...FINE, room: false }).status, "busy");
  assert.equal(admit("message", { ...FINE, withinRate: false }).status, "busy");
});

Deno.test("admit(): no such user, and an envelope past its expiry, are said so", () => {
  assert.equal(admit("message", { ...FINE, recipientExists: false }).status, "no-such-user");
  assert.equal(admit("request", { ...FINE, stale: true }).status, "expired");
});

Deno.test("admitChunk() sends accepted, fresh, new chunks on to the spool", () => {
  assert.equal(admitChunk(FINE), "spool");
  assert.equal((admitChunk({ ...FINE, policy: null }) as { status: string }).status, "refused");
  assert.equal(
    (admitChunk({ ...FINE, alreadyDelivered: true }) as { status: string }).status,
    "stored",
  );
});

const e = (over: Partial<Envelope> = {}) =>
  ({
    id: new Uint8Array(16),
    kind: "message",
    ttl: 32,
    createdAtMs: 0,
    expiresAtMs: 1000,
    from: toAddress("alice@a"),
    to: toAddress("bob@b"),
    body: new Uint8Array(0),
    ...over,
  }) as Envelope;

Deno.test("checkSubmission() wants the owner's own address, an allowed kind and lifetime", () => {
  const base = {
    owner: toUserName("alice"),
    self: "a",
    kinds: ["request", "message"] as const,
    nowMs: 0,
    maxLifetimeMs: 3 * 86_400_000,
  };
  assert.deepEqual(checkSubmission({ ...base, kinds: [...base.kinds], envelope: e() }), {
    ok: true,
  });
  const refusal = (over: Partial<Envelope>) =>
    checkSubmission({ ...base, kinds: [...base.kinds], envelope: e(over) });
  assert.match(
    (refusal({ from: toAddress("mallory@a") }) as { message: string }).message,
    /must say from alice@a/,
  );
  assert.match(
    (refusal({ kind: "receipt", from: toNodeId("a"), to: toNodeId("b") } as never) as {
      message: string;
    }).message,
    /may not send receipt/,
  );
  assert.match(
    (refusal({ expiresAtMs: 4 * 86_400_000 }) as { message: string }).message,
    /within 3 days/,
  );
  assert.match((refusal({ expiresAtMs: 0 }) as { message: string }).message, /in the future/);
});

Deno.test("formatDuration() says days, hours or minutes", () => {
  assert.equal(formatDuration(7 * 86_400_000), "7 days");
  assert.equal(formatDuration(3_600_000), "1 hour");
  assert.equal(formatDuration(90 * 60_000), "90 minutes");
});
