/**
 * The core's group commit end to end, with two cores on real stores and a
 * fake node: what one turn writes is one transaction, nothing is shown, sent
 * or acknowledged before it commits, and a crash before the commit leaves
 * the store as it was.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { FakeClock } from "../clock.ts";
import * as e2e from "../e2e/mod.ts";
import { type Address, toAddress } from "../ids.ts";
import { createLogger } from "../log.ts";
import type { ClientMessage } from "../protocol/mod.ts";
import type { ClientEvent } from "./api.ts";
import { ClientCore } from "./client_core.ts";
import { ClientStore } from "./client_store.ts";
import type { NodeConnection } from "./node_connection.ts";
import { acceptedChat, contactRow } from "../../tests/_helpers/accepted_chat.ts";
import { newEnvelope } from "./new_envelope.ts";
import { NODE_AEAD } from "./node_aead.ts";
import { encodeInner, encodePayload } from "./payload.ts";

const ALICE = toAddress("alice@nodea");
const BOB = toAddress("bob@nodeb");

/** One client core on a store file, with a node that records what it is given. */
class Side {
  store: ClientStore;
  core!: ClientCore;
  events: ClientEvent[] = [];
  submitted: Uint8Array[] = [];
  sent: ClientMessage[] = [];
  /** What the core logged (warnings and errors). */
  logged: string[] = [];
  /** Contents of the messages table at each commit (the same connection sees them). */
  commits: number[] = [];
  #flushes: Array<() => void> = [];
  #lateFlushes: Array<() => void> = [];

  constructor(
    readonly path: string,
    readonly address: Address,
    readonly identity: e2e.IdentityKeyPair,
    readonly peer: Address,
  ) {
    this.store = new ClientStore(path);
    this.#open();
  }

  #open(): void {
    const dir = join(this.path, "..");
    const store = this.store;
    store.onBeforeCommit(() => this.commits.push(store.history(this.peer, 1000).length));
    const connection = {
      up: true,
      send: (m: ClientMessage) => (this.sent.push(m), true),
      ack: (ids: string[]) => void this.sent.push({ type: "ack", ids: [...ids] }),
      submit: (envelope: Uint8Array, answered: (r: "sent") => void) => {
        this.submitted.push(envelope);
        queueMicrotask(() => answered("sent"));
      },
    } as unknown as NodeConnection;
    this.core = new ClientCore({
      address: this.address,
      identity: this.identity,
      store: this.store,
      connection,
      clock: new FakeClock(),
      log: createLogger({ level: "warn", sink: (line) => this.logged.push(line) }),
      files: { downloadsDir: join(dir, "downloads"), stagingDir: join(dir, "staging") },
      schedule: (flush) => this.#flushes.push(flush),
      scheduleLater: (flush) => {
        this.#lateFlushes.push(flush);
        return () => (this.#lateFlushes = this.#lateFlushes.filter((f) => f !== flush));
      },
    });
    this.core.subscribe((e) => this.events.push(e));
  }

  /** The turn is over: commit. */
  endTurn(): void {
    const f = this.#flushes;
    this.#flushes = [];
    for (const fn of f) fn();
  }

  /** The deadline of writes that ride a later commit passes: commit them. */
  lateDeadline(): void {
    const f = this.#lateFlushes;
    this.#lateFlushes = [];
    for (const fn of f) fn();
  }

  /** Lets promise chains run (no turn ends meanwhile: flushes wait for endTurn). */
  async settle(): Promise<void> {
    for (let i = 0; i < 50; i++) await new Promise((r) => setTimeout(r, 0));
  }

  acks(): string[] {
    return this.sent.flatMap((m) => m.type === "ack" ? m.ids : []);
  }

  /** The process dies: the store's connection goes away, nothing after it runs. */
  crash(): void {
    this.store.close();
    this.core.stop();
  }

  /** Starts again on the same store file. */
  restart(): void {
    this.store = new ClientStore(this.path);
    this.#flushes = [];
    this.#lateFlushes = [];
    this.#open();
  }

  close(): void {
    this.core.stop();
    this.store.close();
  }
}

async function sides() {
  await Deno.mkdir(".tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: ".tmp", prefix: "client-core-" });
  const c = await acceptedChat(ALICE, BOB);
  const alice = new Side(join(dir, "alice.db"), ALICE, c.alice, BOB);
  alice.store.putContact(contactRow(BOB, c.bob, c.aliceSession));
  const bob = new Side(join(dir, "bob.db"), BOB, c.bob, ALICE);
  bob.store.putContact(contactRow(ALICE, c.alice, c.bobSession));
  return {
    alice,
    bob,
    cleanup: async () => {
      for (const s of [alice, bob]) {
        try {
          s.close();
        } catch { /* closed by the test (a crash) */ }
      }
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("two sends in one turn are one transaction, and neither leaves before it commits", async () => {
  const { alice, cleanup } = await sides();
  try {
    const sends = [alice.core.send(BOB, "one"), alice.core.send(BOB, "two")];
    await alice.settle();
    assert.equal(alice.store.history(BOB, 10).length, 2, "both written");
    assert.deepEqual(alice.commits, [], "not committed");
    assert.equal(alice.submitted.length, 0, "nothing went to the node");
    assert.equal(alice.events.length, 0, "nothing shown");
    alice.endTurn();
    assert.deepEqual(alice.commits, [2], "one commit with both messages");
    await alice.settle();
    assert.equal(alice.submitted.length, 2);
    // "sent" has no commit of its own: it rides the next one, and only its event waits for it.
    alice.endTurn();
    const [one, two] = await Promise.all(sends);
    assert.equal(alice.commits.length, 1);
    assert.deepEqual([one.state, two.state], ["sent", "sent"]);
    assert.deepEqual(alice.events.map((e) => e.kind), ["message", "message"]);
    alice.lateDeadline();
    assert.equal(alice.commits.length, 2);
    assert.deepEqual(alice.events.map((e) => e.kind), ["message", "message", "state", "state"]);
  } finally {
    await cleanup();
  }
});

Deno.test("a crash between a send's write and its commit: nothing sent or shown, the session as before", async () => {
  const { alice, bob, cleanup } = await sides();
  try {
    const before = alice.store.contact(BOB)!;
    alice.core.send(BOB, "lost").catch(() => {});
    await alice.settle();
    assert.equal(alice.store.history(BOB, 10).length, 1);
    alice.crash();
    assert.equal(alice.submitted.length, 0);
    assert.equal(alice.events.length, 0);
    alice.restart();
    const after = alice.store.contact(BOB)!;
    assert.deepEqual(alice.store.history(BOB, 10), []);
    assert.equal(after.outSeq, before.outSeq);
    assert.deepEqual(after.session, before.session);
    // The chat goes on from the stored state: bob reads what alice sends now.
    const sent = alice.core.send(BOB, "after the crash");
    await alice.settle();
    alice.endTurn();
    await alice.settle();
    alice.endTurn();
    await sent;
    bob.core.onPush({ type: "deliver", id: "in-1", envelope: alice.submitted[0] });
    await bob.settle();
    bob.endTurn();
    await bob.settle();
    assert.deepEqual((await historyOf(bob)).map((m) => m.text), ["after the crash"]);
  } finally {
    await cleanup();
  }
});

/** `texts` sent in one turn and committed: their ids and the envelopes the node was given. */
async function sent(s: Side, texts: string[]) {
  const sends = texts.map((t) => s.core.send(s.peer, t));
  await s.settle();
  s.endTurn();
  await s.settle();
  s.endTurn();
  const ids = (await Promise.all(sends)).map((m) => m.id);
  return { ids, envelopes: s.submitted.slice(-texts.length) };
}

async function historyOf(s: Side) {
  const h = s.core.history(s.peer);
  s.endTurn();
  return await h;
}

Deno.test("pushed messages: one commit for a burst, shown and acknowledged only after it, never twice", async () => {
  const { alice, bob, cleanup } = await sides();
  try {
    const sends = ["m1", "m2", "m3"].map((t) => alice.core.send(BOB, t));
    await alice.settle();
    alice.endTurn();
    await alice.settle();
    alice.endTurn();
    await Promise.all(sends);
    const [e1, e2, e3] = alice.submitted;

    // A crash before bob's commit: nothing shown, nothing acknowledged, nothing kept.
    bob.core.onPush({ type: "deliver", id: "i1", envelope: e1 });
    await bob.settle();
    assert.equal(bob.store.wasProcessed("i1"), true, "written");
    bob.crash();
    assert.equal(bob.events.length, 0);
    assert.deepEqual(bob.acks(), []);
    bob.restart();
    assert.equal(bob.store.wasProcessed("i1"), false);

    // The node pushes them again (not acknowledged), and the next one.
    for (const [id, envelope] of [["i1", e1], ["i2", e2], ["i3", e3]] as const) {
      bob.core.onPush({ type: "deliver", id, envelope });
    }
    await bob.settle();
    assert.equal(bob.events.length, 0);
    assert.deepEqual(bob.acks(), []);
    bob.endTurn();
    await bob.settle();
    assert.deepEqual(bob.commits, [3], "one commit for the three");
    assert.deepEqual(
      bob.events.flatMap((e) => e.kind === "message" ? [e.message.text] : []),
      ["m1", "m2", "m3"],
    );
    assert.deepEqual(bob.acks(), ["i1", "i2", "i3"]);

    // Pushed again after it was handled (our ack was lost): acknowledged, not shown again.
    bob.core.onPush({ type: "deliver", id: "i2", envelope: e2 });
    await bob.settle();
    bob.endTurn();
    await bob.settle();
    assert.deepEqual(bob.acks(), ["i1", "i2", "i3", "i2"]);
    assert.equal(bob.events.filter((e) => e.kind === "message").length, 3);
    assert.deepEqual((await historyOf(bob)).map((m) => m.text), ["m1", "m2", "m3"]);
    assert.equal(bob.store.contact(ALICE)?.unread, 3);
  } finally {
    await cleanup();
  }
});

Deno.test("a ratchet message is decrypted before any lookup; a copy of one read already is acknowledged again, quietly", async () => {
  const { alice, bob, cleanup } = await sides();
  try {
    const { ids, envelopes: [e1, e2] } = await sent(alice, ["m1", "m2"]);
    const lookedUp: string[] = [];
    const wasProcessed = bob.store.wasProcessed.bind(bob.store);
    bob.store.wasProcessed = (id) => (lookedUp.push(id), wasProcessed(id));

    bob.core.onPush({ type: "deliver", id: ids[0], envelope: e1 });
    bob.core.onPush({ type: "deliver", id: ids[1], envelope: e2 });
    await bob.settle();
    bob.endTurn();
    await bob.settle();
    assert.deepEqual(lookedUp, [], "no lookup for a message that decrypts");
    assert.deepEqual(bob.acks(), ids);

    // Pushed again (our ack was lost), in the same burst as a copy of itself too.
    bob.core.onPush({ type: "deliver", id: ids[1], envelope: e2 });
    bob.core.onPush({ type: "deliver", id: ids[1], envelope: e2 });
    await bob.settle();
    bob.endTurn();
    await bob.settle();
    assert.deepEqual(lookedUp, [ids[1], ids[1]], "looked up once it failed");
    assert.deepEqual(bob.acks(), [...ids, ids[1], ids[1]]);
    assert.deepEqual(
      bob.events.flatMap((e) => e.kind === "message" ? [e.message.text] : []),
      ["m1", "m2"],
    );
    assert.deepEqual(bob.logged, [], "a copy is not a failure");

    // A message that does not decrypt and was never handled is still dropped, and said so.
    const forged = e2.slice();
    forged[forged.length - 1] ^= 1;
    bob.core.onPush({ type: "deliver", id: "forged", envelope: forged });
    await bob.settle();
    bob.endTurn();
    await bob.settle();
    assert.equal(bob.logged.length, 1);
    assert.match(bob.logged[0], /dropped an incoming envelope/);
    assert.deepEqual(bob.acks().at(-1), "forged");
    assert.equal(bob.store.wasProcessed("forged"), true);
    assert.equal(bob.events.filter((e) => e.kind === "message").length, 2);
  } finally {
    await cleanup();
  }
});

Deno.test("a text pushed under its envelope id is recorded by its row: no processed row, never shown twice", async () => {
  const { alice, bob, cleanup } = await sides();
  try {
    const { ids, envelopes: [e1, e2] } = await sent(alice, ["m1", "m2"]);
    // The node's inbox ids are envelope ids; a third item comes under an id of its own.
    bob.core.onPush({ type: "deliver", id: ids[0], envelope: e1 });
    bob.core.onPush({ type: "deliver", id: "other", envelope: e2 });
    await bob.settle();
    bob.endTurn();
    await bob.settle();
    assert.deepEqual(bob.acks(), [ids[0], "other"]);
    const db = new DatabaseSync(bob.path, { readOnly: true });
    try {
      const rows = db.prepare("SELECT id FROM processed ORDER BY id").all().map((r) => r.id);
      assert.deepEqual(rows, ["other"], "only the item whose id is not its row's");
    } finally {
      db.close();
    }
    assert.equal(bob.store.wasProcessed(ids[0]), true);
    assert.equal(bob.store.wasProcessed(ids[1]), true, "its envelope, handled under another id");
    assert.equal(bob.store.wasProcessed("other"), true);
    // Pushed again (our ack was lost), after a restart too: acknowledged, not shown again.
    bob.crash();
    bob.restart();
    bob.core.onPush({ type: "deliver", id: ids[0], envelope: e1 });
    await bob.settle();
    bob.endTurn();
    await bob.settle();
    assert.deepEqual(bob.acks(), [ids[0], "other", ids[0]]);
    assert.deepEqual(
      bob.events.flatMap((e) => e.kind === "message" ? [e.message.text] : []),
      ["m1", "m2"],
    );
    assert.deepEqual((await historyOf(bob)).map((m) => m.text), ["m1", "m2"]);
  } finally {
    await cleanup();
  }
});

Deno.test("delivery notices and the node's answer ride the next commit; acknowledged only after it", async () => {
  const { alice, cleanup } = await sides();
  try {
    const sending = alice.core.send(BOB, "x");
    await alice.settle();
    alice.endTurn();
    await alice.settle();
    assert.deepEqual(alice.commits, [1], "the message row, on its own commit");
    const m = await sending;
    assert.equal(m.state, "sent", "send() has the node's answer; its row was durable before");
    alice.endTurn();
    assert.deepEqual(alice.commits, [1], "the answer has no commit of its own");
    alice.core.onPush({ type: "notice", id: "n1", ref: m.id, state: "delivered" });
    await alice.settle();
    alice.endTurn();
    await alice.settle();
    assert.deepEqual(alice.acks(), [], "not acknowledged before its state is committed");
    assert.deepEqual(alice.commits, [1]);
    assert.equal(alice.events.filter((e) => e.kind === "state").length, 0, "nothing shown yet");
    // The next send's commit carries both states.
    const next = alice.core.send(BOB, "y");
    await alice.settle();
    alice.endTurn();
    await alice.settle();
    assert.deepEqual(alice.commits, [1, 2], "one commit: the new row, with both states");
    assert.deepEqual(alice.acks(), ["n1"]);
    assert.deepEqual(
      alice.events.filter((e) => e.kind === "state").map((e) => e.kind === "state" && e.state),
      ["sent", "delivered"],
      "in order, after the commit",
    );
    const stored = new ClientStore(alice.path);
    try {
      assert.equal(stored.message(m.id)?.state, "delivered", "durable");
    } finally {
      stored.close();
    }
    // With nothing else to commit, the deadline commits them.
    const n = await next;
    alice.core.onPush({ type: "notice", id: "n2", ref: n.id, state: "delivered" });
    await alice.settle();
    alice.endTurn();
    assert.deepEqual(alice.acks(), ["n1"]);
    alice.lateDeadline();
    await alice.settle();
    assert.deepEqual(alice.acks(), ["n1", "n2"]);
    assert.deepEqual((await historyOf(alice)).map((r) => r.state), ["delivered", "delivered"]);
  } finally {
    await cleanup();
  }
});

Deno.test("a crash before the answer's commit keeps the envelope, which is submitted again", async () => {
  const { alice, cleanup } = await sides();
  try {
    const sending = alice.core.send(BOB, "x");
    await alice.settle();
    alice.endTurn();
    const m = await sending;
    assert.equal(m.state, "sent");
    assert.equal(alice.submitted.length, 1);
    alice.crash();
    alice.restart();
    assert.equal(alice.store.message(m.id)?.state, "sending");
    alice.core.onConnected();
    await alice.settle();
    assert.equal(alice.submitted.length, 2, "the same envelope again");
    assert.deepEqual(alice.submitted[1], alice.submitted[0]);
    alice.lateDeadline();
    assert.equal(alice.store.message(m.id)?.state, "sent");
    assert.deepEqual(alice.store.unsent(), []);
  } finally {
    await cleanup();
  }
});

Deno.test("a peer's message under the id of one of ours changes nothing of ours: not shown, ours still sent again", async () => {
  const { alice, bob, cleanup } = await sides();
  try {
    // Alice's message is submitted, and she crashes before the node's answer is committed.
    const sending = alice.core.send(BOB, "mine");
    await alice.settle();
    alice.endTurn();
    const m = await sending;
    alice.crash();
    alice.restart();
    assert.equal(alice.store.message(m.id)?.state, "sending");
    // Bob has it (its id is no secret: every relay sees it) and seals a real message bound to it.
    bob.core.onPush({ type: "deliver", id: m.id, envelope: alice.submitted[0] });
    await bob.settle();
    bob.endTurn();
    await bob.settle();
    assert.deepEqual(bob.acks(), [m.id]);
    const id = Uint8Array.fromHex(m.id);
    const sealed = e2e.ratchetEncryptSync({
      aead: NODE_AEAD,
      state: e2e.decodeRatchetState(bob.store.contact(ALICE)!.session!),
      plaintext: encodeInner({ t: "text", seq: 1, at: Date.now(), text: "forged" }),
      ad: id,
    });
    const forged = newEnvelope({
      id,
      from: BOB,
      to: ALICE,
      kind: "message",
      body: encodePayload({ kind: "ratchet", message: sealed.message }),
      nowMs: Date.now(),
      lifetimeMs: 60_000,
    });
    alice.core.onPush({ type: "deliver", id: m.id, envelope: forged.bytes });
    await alice.settle();
    alice.endTurn();
    await alice.settle();
    assert.deepEqual(alice.acks(), [m.id], "acknowledged: it cannot wedge the inbox");
    const row = alice.store.message(m.id)!;
    assert.equal(row.direction, "out");
    assert.equal(row.text, "mine");
    assert.equal(row.state, "sending", "not marked delivered by the peer");
    assert.ok(row.envelope, "its envelope is kept");
    assert.deepEqual(
      alice.events.filter((e) => e.kind === "message" && e.message.direction === "in"),
      [],
      "nothing shown",
    );
    assert.equal(alice.store.contact(BOB)?.unread, 0);
    // The store's own upsert changes no row of another direction either.
    alice.store.transaction(() =>
      alice.store.putMessage({ ...row, direction: "in", state: "delivered", envelope: null })
    );
    assert.deepEqual(alice.store.message(m.id), row);
    // Ours is still sent again.
    alice.core.onConnected();
    await alice.settle();
    assert.equal(alice.submitted.length, 2, "the same envelope again");
    assert.deepEqual(alice.submitted[1], alice.submitted[0]);
  } finally {
    await cleanup();
  }
});
