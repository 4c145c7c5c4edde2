import assert from "node:assert/strict";
import { SILENT_LOGGER } from "../log.ts";
import type { ClientEvent } from "./api.ts";
import { ClientStore, type MessageRow } from "./client_store.ts";
import { NodeRefusedError, NodeUnavailableError } from "./errors.ts";
import { Outbox, submitOutcome } from "./outbox.ts";
import { LATER_MS, TurnCommit } from "./turn_commit.ts";

function setup(answer: () => Promise<"sent" | "delivered">) {
  const store = new ClientStore(":memory:");
  const events: ClientEvent[] = [];
  const submitted: Uint8Array[] = [];
  const outbox = new Outbox({
    store,
    turn: new TurnCommit({ store, log: SILENT_LOGGER }),
    log: SILENT_LOGGER,
    emit: (e) => events.push(e),
    node: {
      submit: (envelope, answered) => {
        submitted.push(envelope);
        answer().then(answered, answered);
      },
    },
  });
  return { store, events, submitted, outbox };
}

const message: MessageRow = {
  id: "aa".repeat(16),
  peer: "bob@nodeb",
  direction: "out",
  seq: 1,
  text: "hi",
  sentAtMs: 1,
  receivedAtMs: null,
  state: "sending",
  reason: null,
  envelope: new Uint8Array([1, 2, 3]),
};

Deno.test("submitOutcome() decides on the error's type, never on its words", () => {
  assert.deepEqual(submitOutcome(new NodeUnavailableError("anything at all")), { kind: "retry" });
  assert.deepEqual(submitOutcome(new NodeRefusedError("Cannot send: rate limited")), {
    kind: "refused",
    reason: "Cannot send: rate limited",
  });
  // The words that once meant "retry" mean nothing: an untyped error is a bug, rethrown.
  const untyped = new Error("Cannot reach the node: not connected");
  assert.throws(() => submitOutcome(untyped), (e) => e === untyped);
});

Deno.test("a message the node cannot take now stays, with its envelope, for the next connection", async () => {
  const { store, outbox, events } = setup(() =>
    Promise.reject(new NodeUnavailableError("Cannot reach the node: no answer"))
  );
  store.putMessage(message);
  const row = await outbox.message(message);
  assert.equal(row.state, "sending");
  assert.deepEqual(store.unsent().map((m) => m.id), [message.id]);
  assert.deepEqual(events, []);
  store.close();
});

Deno.test("a message the node refuses fails, with the node's sentence, and is not kept", async () => {
  const { store, outbox, events } = setup(() =>
    Promise.reject(new NodeRefusedError("Cannot send: no route to nodeb"))
  );
  store.putMessage(message);
  const row = await outbox.message(message);
  assert.equal(row.state, "failed");
  assert.equal(row.reason, "Cannot send: no route to nodeb");
  assert.deepEqual(store.unsent(), []);
  // The state rides the next commit (here: the deadline); its event follows that commit.
  assert.deepEqual(events, []);
  await new Promise((r) => setTimeout(r, LATER_MS + 20));
  assert.equal(store.inTransaction, false);
  assert.deepEqual(events, [{
    kind: "state",
    peer: "bob@nodeb",
    id: message.id,
    state: "failed",
    reason: "Cannot send: no route to nodeb",
  }]);
  store.close();
});

Deno.test("a message the node takes is sent, and a later read state is never stepped back", async () => {
  const { store, outbox } = setup(() => Promise.resolve("sent"));
  store.putMessage(message);
  assert.equal((await outbox.message(message)).state, "sent");
  store.putMessage({ ...message, state: "read", envelope: new Uint8Array([1]) });
  assert.equal((await outbox.message({ ...message, envelope: new Uint8Array([1]) })).state, "read");
  store.close();
});

Deno.test("control envelopes leave the outgoing table only once taken or refused", async () => {
  let answer: () => Promise<"sent" | "delivered"> = () =>
    Promise.reject(new NodeUnavailableError("x"));
  const { store, outbox, submitted } = setup(() => answer());
  store.putOutgoing("c1", new Uint8Array([7]));
  assert.deepEqual(await outbox.control("c1", new Uint8Array([7])), { kind: "retry" });
  assert.equal(store.outgoing().length, 1);
  answer = () => Promise.resolve("delivered");
  outbox.resubmitAll();
  const deadline = Date.now() + 5_000;
  while (store.outgoing().length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(store.outgoing().length, 0);
  assert.equal(submitted.length, 2);
  store.putOutgoing("c2", new Uint8Array([8]));
  answer = () => Promise.reject(new NodeRefusedError("no"));
  assert.equal((await outbox.control("c2", new Uint8Array([8]))).kind, "refused");
  assert.equal(store.outgoing().length, 0);
  store.close();
});
