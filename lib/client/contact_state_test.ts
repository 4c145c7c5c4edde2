/**
 * Each case a scenario: what a request, an acceptance, a key claim, a key
 * change or a block does to a contact. Inputs are frozen: no function may
 * change what it is given.
 */
import assert from "node:assert/strict";
import type { ContactRow, RequestRow } from "./client_store.ts";
import {
  acceptKeyChange,
  acceptRequest,
  blankContact,
  canSend,
  completeRequest,
  dismissKeyChange,
  pendingKeyChange,
  receiveAcceptance,
  receiveRequest,
  type RequestCheck,
  sendRequest,
  startSession,
} from "./contact_state.ts";
import { REQUEST_MAX_AGE_MS, REQUEST_MAX_AHEAD_MS } from "./request_freshness.ts";

const NOW = 1_800_000_000_000;
const BOB_KEY = new Uint8Array(129).fill(1);
const FORGED_KEY = new Uint8Array(129).fill(2);
const SESSION = new Uint8Array([9, 9, 9]);
const nothingSeen = Object.freeze({
  seen: false,
  forSender: 0,
  forNode: 0,
  total: 0,
  waitingFromNode: 0,
  waiting: 0,
});

function freeze<T>(v: T): T {
  if (v && typeof v === "object" && !(v instanceof Uint8Array)) {
    for (const x of Object.values(v)) freeze(x);
    Object.freeze(v);
  }
  return v;
}

const accepted: ContactRow = freeze({
  ...blankContact("bob@bob"),
  state: "accepted",
  identity: BOB_KEY,
  session: SESSION,
  outSeq: 4,
});

function request(identity: Uint8Array, receivedAtMs = NOW): RequestRow {
  return freeze({
    address: "bob@bob",
    intro: "hi",
    identity,
    request: new Uint8Array([1]),
    receivedAtMs,
  });
}

function verified(identity: Uint8Array, createdAtMs = NOW, hash = "h1"): RequestCheck {
  return freeze({ kind: "verified", request: request(identity), hash, createdAtMs });
}

Deno.test("a request from a stranger is shown and remembered", () => {
  const out = receiveRequest({
    contact: undefined,
    input: verified(BOB_KEY),
    memory: nothingSeen,
    nowMs: NOW,
  });
  assert.equal(out.kind, "request");
  if (out.kind !== "request") return;
  assert.equal(out.restart, false);
  assert.deepEqual(out.request, request(BOB_KEY));
  assert.deepEqual(out.remember, {
    hash: "h1",
    sender: "bob@bob",
    untilMs: NOW + REQUEST_MAX_AGE_MS,
  });
});

Deno.test("a request from an accepted contact with another key is a claim; the chat is untouched", () => {
  const out = receiveRequest({
    contact: accepted,
    input: verified(FORGED_KEY),
    memory: nothingSeen,
    nowMs: NOW,
  });
  assert.equal(out.kind, "claim");
  assert.ok(!("newContact" in out), "a claim changes no contact");
  // The chat still sends, and no key change blocks it.
  assert.equal(canSend(accepted).kind, "ok");
  const change = pendingKeyChange({ contact: accepted, claim: request(FORGED_KEY) });
  assert.equal(change.kind, "claim");
  if (change.kind !== "claim") return;
  assert.deepEqual(change.current, BOB_KEY);
  assert.deepEqual(change.claimed, FORGED_KEY);
});

Deno.test("a request from an accepted contact with the same key is a restart the user may accept", () => {
  const out = receiveRequest({
    contact: accepted,
    input: verified(BOB_KEY),
    memory: nothingSeen,
    nowMs: NOW,
  });
  assert.equal(out.kind, "request");
  assert.equal(out.kind === "request" && out.restart, true);
  assert.deepEqual(acceptRequest({ contact: accepted, request: request(BOB_KEY) }), {
    kind: "accept",
    restart: true,
  });
  // Until accepted, the chat goes on.
  assert.equal(canSend(accepted).kind, "ok");
  // Accepting starts a new session with the same, still pinned, key.
  const { newContact } = startSession({
    contact: accepted,
    address: "bob@bob",
    identity: BOB_KEY,
    session: new Uint8Array([7]),
  });
  assert.equal(newContact.state, "accepted");
  assert.deepEqual(newContact.identity, BOB_KEY);
  assert.deepEqual(newContact.session, new Uint8Array([7]));
  assert.equal(newContact.outSeq, 4, "history and counters carry on");
});

Deno.test("a replayed request is dropped, even one that really came from the contact", () => {
  for (const contact of [undefined, accepted]) {
    const out = receiveRequest({
      contact,
      input: verified(BOB_KEY),
      memory: { seen: true, forSender: 1, forNode: 1, total: 1, waitingFromNode: 0, waiting: 0 },
      nowMs: NOW,
    });
    assert.deepEqual(out, { kind: "drop", reason: "replay" });
  }
});

Deno.test("a request with a stale or far-future time is dropped", () => {
  const stale = receiveRequest({
    contact: accepted,
    input: verified(BOB_KEY, NOW - REQUEST_MAX_AGE_MS - 1),
    memory: nothingSeen,
    nowMs: NOW,
  });
  assert.deepEqual(stale, { kind: "drop", reason: "stale" });
  const ahead = receiveRequest({
    contact: undefined,
    input: verified(BOB_KEY, NOW + REQUEST_MAX_AHEAD_MS + 1),
    memory: nothingSeen,
    nowMs: NOW,
  });
  assert.deepEqual(ahead, { kind: "drop", reason: "ahead" });
});

Deno.test("a request whose signature fails (a swapped intro) is dropped before anything else", () => {
  const out = receiveRequest({
    contact: accepted,
    input: { kind: "refused", why: "bad signature" },
    memory: nothingSeen,
    nowMs: NOW,
  });
  assert.deepEqual(out, { kind: "drop", reason: "refused", why: "bad signature" });
});

Deno.test("requests from rejected or blocked addresses are dropped, and a full memory refuses", () => {
  for (const state of ["rejected", "blocked"] as const) {
    const out = receiveRequest({
      contact: { ...accepted, state },
      input: verified(BOB_KEY),
      memory: nothingSeen,
      nowMs: NOW,
    });
    assert.deepEqual(out, { kind: "drop", reason: "blocked" });
  }
  const full = receiveRequest({
    contact: undefined,
    input: verified(BOB_KEY),
    memory: {
      seen: false,
      forSender: 1_000,
      forNode: 1_000,
      total: 1_000,
      waitingFromNode: 0,
      waiting: 0,
    },
    nowMs: NOW,
  });
  assert.deepEqual(full, { kind: "drop", reason: "memory-full" });
});

Deno.test("accepting needs a request, and never takes another key over an accepted chat", () => {
  assert.equal(acceptRequest({ contact: undefined, request: undefined }).kind, "refuse");
  assert.deepEqual(acceptRequest({ contact: undefined, request: request(BOB_KEY) }), {
    kind: "accept",
    restart: false,
  });
  assert.equal(acceptRequest({ contact: accepted, request: request(FORGED_KEY) }).kind, "refuse");
});

Deno.test("a claim changes the key only when the user names the claimed key", () => {
  const claim = request(FORGED_KEY);
  assert.equal(acceptKeyChange({ contact: accepted, claim, confirmed: false }).kind, "refuse");
  assert.deepEqual(acceptKeyChange({ contact: accepted, claim, confirmed: true }), {
    kind: "accept-claim",
    claim,
  });
  assert.equal(
    acceptKeyChange({ contact: accepted, claim: undefined, confirmed: true }).kind,
    "refuse",
  );
  assert.deepEqual(dismissKeyChange({ contact: accepted, claim }), { kind: "dismiss" });
  assert.equal(dismissKeyChange({ contact: accepted, claim: undefined }).kind, "refuse");
});

Deno.test("our request, answered by the key we sealed the intro to, is accepted", () => {
  const asked = freeze({
    ...blankContact("bob@bob"),
    expectedIdentity: BOB_KEY,
    pending: new Uint8Array([5]),
  });
  assert.deepEqual(receiveAcceptance({ contact: asked }), {
    kind: "complete",
    pending: new Uint8Array([5]),
  });
  const done = completeRequest({ contact: asked, identity: BOB_KEY, session: SESSION });
  assert.equal(done.keyChanged, false);
  assert.equal(done.newContact.state, "accepted");
  assert.equal(done.newContact.pending, null);
  assert.equal(canSend(done.newContact).kind, "ok");
});

Deno.test("our request, answered by another key, waits for the key-change step before sending", () => {
  const asked = freeze({
    ...blankContact("bob@bob"),
    expectedIdentity: BOB_KEY,
    pending: new Uint8Array([5]),
  });
  const done = completeRequest({ contact: asked, identity: FORGED_KEY, session: SESSION });
  assert.equal(done.keyChanged, true);
  assert.equal(canSend(done.newContact).kind, "refuse");
  const change = pendingKeyChange({ contact: done.newContact, claim: undefined });
  assert.deepEqual(change, { kind: "answer", current: BOB_KEY, claimed: FORGED_KEY });
  assert.equal(dismissKeyChange({ contact: done.newContact, claim: undefined }).kind, "refuse");
  const confirmed = acceptKeyChange({
    contact: done.newContact,
    claim: undefined,
    confirmed: true,
  });
  assert.equal(confirmed.kind, "confirm");
  if (confirmed.kind !== "confirm") return;
  assert.equal(canSend(confirmed.newContact).kind, "ok");
  assert.deepEqual(confirmed.newContact.identity, FORGED_KEY);
});

Deno.test("acceptances nobody asked for are dropped", () => {
  assert.equal(receiveAcceptance({ contact: undefined }).kind, "drop");
  assert.equal(receiveAcceptance({ contact: accepted }).kind, "drop");
});

Deno.test("sending a request: refused while a chat is accepted, allowed otherwise", () => {
  const opts = { address: "bob@bob", expectedIdentity: BOB_KEY, pending: new Uint8Array([1]) };
  assert.equal(sendRequest({ contact: accepted, ...opts }).kind, "refuse");
  const fresh = sendRequest({ contact: undefined, ...opts });
  assert.equal(fresh.kind, "send");
  assert.equal(fresh.kind === "send" && fresh.newContact.state, "requested");
  const blocked = freeze({ ...accepted, state: "blocked" as const });
  assert.equal(sendRequest({ contact: blocked, ...opts }).kind, "send");
});
