import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DatabaseSync,
  type SQLInputValue,
  type StatementResultingChanges,
  StatementSync,
} from "node:sqlite";
import { SILENT_LOGGER } from "../log.ts";
import { ClientStore, type ContactRow, type MessageRow } from "./client_store.ts";
import { TurnCommit } from "./turn_commit.ts";

/** A store on a file (so a second connection sees only what is committed) and a stepped turn. */
async function setup() {
  await Deno.mkdir(".tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: ".tmp", prefix: "turn-commit-" });
  const path = join(dir, "client.db");
  const store = new ClientStore(path);
  let flushes: Array<() => void> = [];
  let laters: Array<() => void> = [];
  const turn = new TurnCommit({
    store,
    log: SILENT_LOGGER,
    schedule: (flush) => flushes.push(flush),
    scheduleLater: (flush) => {
      laters.push(flush);
      return () => (laters = laters.filter((f) => f !== flush));
    },
  });
  let commits = 0;
  store.onBeforeCommit(() => commits++);
  const other = new DatabaseSync(path);
  return {
    store,
    turn,
    path,
    commits: () => commits,
    /** Flushes scheduled by `later` writes (cancelled ones are gone). */
    laters: () => laters.length,
    /** The `later` deadline passes: runs those flushes. */
    lateDeadline: () => {
      const f = laters;
      laters = [];
      for (const fn of f) fn();
    },
    /** Ends the turn: runs the scheduled flushes. */
    endTurn: () => {
      const f = flushes;
      flushes = [];
      for (const fn of f) fn();
    },
    /** Opens the store again (as the next process would), runs `check` on it and closes it. */
    reopened: <T>(check: (again: ClientStore) => T): T => {
      const again = new ClientStore(path);
      try {
        return check(again);
      } finally {
        again.close();
      }
    },
    /** What another connection (another process after a crash) sees. */
    committedIds: () =>
      (other.prepare("SELECT id FROM messages ORDER BY id").all() as Array<{ id: string }>).map((
        r,
      ) => r.id),
    /** Removes it all; `storeClosed` when the test closed the store itself. */
    cleanup: async (storeClosed = false) => {
      other.close();
      if (!storeClosed) store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function message(id: string, state: MessageRow["state"] = "sending"): MessageRow {
  return {
    id,
    peer: "bob@nodeb",
    direction: "out",
    seq: 1,
    text: "hi",
    sentAtMs: 1,
    receivedAtMs: null,
    state,
    reason: null,
    envelope: new Uint8Array([1]),
  };
}

const contact: ContactRow = {
  address: "bob@nodeb",
  state: "accepted",
  identity: new Uint8Array([1]),
  expectedIdentity: null,
  keyChanged: false,
  session: new Uint8Array([1, 1]),
  pending: null,
  outSeq: 0,
  unread: 0,
  lastMessageAtMs: null,
};

Deno.test("writes of one turn are one transaction; what follows them waits for its commit", async () => {
  const t = await setup();
  try {
    const followed: string[] = [];
    const a = t.turn.write(() => (t.store.putMessage(message("a")), "A"), (v) => followed.push(v));
    const b = t.turn.write(() => (t.store.putMessage(message("b")), "B"), (v) => followed.push(v));
    // Written: the same connection reads it; nobody else does, and nothing followed yet.
    assert.equal(t.store.message("a")?.id, "a");
    assert.deepEqual(t.committedIds(), []);
    assert.deepEqual(followed, []);
    assert.equal(t.turn.pending, 2);
    t.endTurn();
    assert.equal(t.commits(), 1, "one commit for both");
    assert.deepEqual(t.committedIds(), ["a", "b"]);
    assert.deepEqual(followed, ["A", "B"], "in the order of the writes");
    assert.deepEqual(await Promise.all([a, b]), ["A", "B"]);
  } finally {
    await t.cleanup();
  }
});

Deno.test("a crash between write and commit leaves nothing stored and nothing followed", async () => {
  const t = await setup();
  const followed: string[] = [];
  void t.turn.write(() => t.store.putMessage(message("lost")), () => followed.push("shown"));
  // The process dies before the turn ends: its connection goes away uncommitted.
  t.store.close();
  const again = new ClientStore(t.path);
  try {
    assert.equal(again.message("lost"), undefined);
    assert.deepEqual(t.committedIds(), []);
    assert.deepEqual(followed, []);
  } finally {
    again.close();
    await t.cleanup(true);
  }
});

Deno.test("a write that throws rolls the whole turn back; nothing of it follows", async () => {
  const t = await setup();
  try {
    const followed: string[] = [];
    t.store.putContact(contact);
    const first = t.turn.write(() => {
      t.store.putMessage(message("first"));
      t.store.putContact({ ...t.store.contact("bob@nodeb")!, outSeq: 1 });
    }, () => followed.push("first"));
    const boom = new Error("boom");
    const second = t.turn.write(() => {
      t.store.putMessage(message("second"));
      throw boom;
    });
    await assert.rejects(first, (e) => e === boom);
    await assert.rejects(second, (e) => e === boom);
    t.endTurn();
    assert.deepEqual(followed, []);
    assert.equal(t.store.inTransaction, false);
    assert.equal(t.store.message("first"), undefined);
    assert.equal(t.store.contact("bob@nodeb")?.outSeq, 0, "the kept contact is read again");
    // The next turn works.
    await Promise.all([t.turn.write(() => t.store.putMessage(message("next"))), t.endTurn()]);
    assert.deepEqual(t.committedIds(), ["next"]);
  } finally {
    await t.cleanup();
  }
});

Deno.test("a write outside the turn has the turn committed first, then commits itself", async () => {
  const t = await setup();
  try {
    const followed: string[] = [];
    const a = t.turn.write(() => t.store.putMessage(message("a")), () => followed.push("a"));
    t.store.putOutgoing("o1", new Uint8Array([2])); // e.g. a file transfer's progress
    assert.deepEqual(t.committedIds(), ["a"]);
    assert.equal(t.store.inTransaction, false);
    await a;
    assert.deepEqual(followed, ["a"]);
    t.endTurn(); // the scheduled flush finds nothing left
    assert.equal(t.commits(), 1);
    // store.transaction() is durable when it returns, whatever a turn holds.
    void t.turn.write(() => t.store.putMessage(message("b")));
    t.store.transaction(() => t.store.putMessage(message("c")));
    assert.deepEqual(t.committedIds(), ["a", "b", "c"]);
  } finally {
    await t.cleanup();
  }
});

Deno.test("committed() waits for the open turn; at once when none is open", async () => {
  const t = await setup();
  try {
    let done = false;
    const idle = t.turn.committed().then(() => (done = true));
    await idle;
    assert.ok(done);
    void t.turn.write(() => t.store.putMessage(message("a")));
    let after = false;
    const waiting = t.turn.committed().then(() => (after = true));
    await Promise.resolve();
    assert.equal(after, false);
    t.endTurn();
    await waiting;
    assert.ok(after);
  } finally {
    await t.cleanup();
  }
});

Deno.test("contacts are kept in memory, written once per commit; only setSession changes a session", async () => {
  const t = await setup();
  try {
    t.store.putContact(contact);
    void t.turn.write(() => {
      for (let i = 1; i <= 3; i++) {
        t.store.putContact({ ...t.store.contact(contact.address)!, outSeq: i });
      }
    });
    assert.equal(t.store.contact(contact.address)?.outSeq, 3);
    t.endTurn();
    const stale = t.store.contact(contact.address)!;
    t.store.setSession(contact.address, new Uint8Array([2, 2]));
    t.store.putContact({ ...stale, unread: 4 }); // read before the session moved on
    t.reopened((fresh) => {
      const row = fresh.contact(contact.address)!;
      assert.equal(row.outSeq, 3);
      assert.equal(row.unread, 4);
      assert.deepEqual(row.session, new Uint8Array([2, 2]), "never put back by an older row");
    });
  } finally {
    await t.cleanup();
  }
});

Deno.test("outgoing messages are answered from memory until delivered", async () => {
  const t = await setup();
  try {
    t.store.putMessage(message("m1"));
    t.store.setMessageState("m1", "sent", null);
    assert.equal(t.store.message("m1")?.state, "sent");
    assert.equal(t.store.message("m1")?.envelope, null);
    t.store.setMessageState("m1", "delivered", null);
    assert.equal(t.store.message("m1")?.state, "delivered", "read from the table");
    t.store.putMessage({ ...message("m2"), seq: 2, state: "sent" });
    assert.deepEqual(t.store.markOutRead("bob@nodeb", 5), ["m1", "m2"]);
    assert.equal(t.store.message("m2")?.state, "read");
  } finally {
    await t.cleanup();
  }
});

Deno.test("a later write rides the next turn's commit; what follows it waits for that commit", async () => {
  const t = await setup();
  try {
    const followed: string[] = [];
    t.store.putMessage(message("m1"));
    const sent = t.turn.later(
      () => (t.store.setMessageState("m1", "sent", null), "sent"),
      (v) => followed.push(v),
    );
    t.endTurn(); // this turn ends with nothing scheduled: the state waits
    assert.equal(t.commits(), 0);
    assert.equal(t.store.message("m1")?.state, "sent", "the same connection reads it");
    assert.equal(followed.length, 0);
    assert.equal(t.laters(), 1, "a deadline is set");
    // The next turn's own write commits both, once; the deadline is cancelled.
    const next = t.turn.write(() => t.store.putMessage(message("m2")), () => followed.push("m2"));
    t.endTurn();
    assert.equal(t.commits(), 1);
    assert.equal(t.laters(), 0);
    assert.deepEqual(followed, ["sent", "m2"], "in the order of the writes");
    assert.equal(await sent, "sent");
    await next;
    t.reopened((other) => {
      assert.equal(other.message("m1")?.state, "sent");
      assert.equal(other.message("m1")?.envelope, null);
    });
  } finally {
    await t.cleanup();
  }
});

Deno.test("a later write with nothing after it is committed at its deadline", async () => {
  const t = await setup();
  try {
    t.store.putMessage(message("m1"));
    let followed = false;
    const done = t.turn.later(() => t.store.setMessageState("m1", "delivered", null), () => {
      followed = true;
    });
    void t.turn.later(() => t.store.setMessageState("m1", "delivered", null));
    assert.equal(t.laters(), 1, "one deadline for the writes waiting");
    t.lateDeadline();
    assert.equal(t.commits(), 1);
    assert.ok(followed);
    await done;
    assert.equal(t.store.inTransaction, false);
    // committed() does not wait for a deadline: views read only what is committed, at once.
    void t.turn.later(() => t.store.setMessageState("m1", "read", null));
    const viewed = t.turn.committed();
    t.endTurn();
    await viewed;
    assert.equal(t.commits(), 2);
    assert.equal(t.laters(), 0);
  } finally {
    await t.cleanup();
  }
});

Deno.test("a crash before a later write's commit loses only that write; nothing of it followed", async () => {
  const t = await setup();
  try {
    const followed: string[] = [];
    t.store.putMessage(message("m1"));
    void t.turn.later(() => t.store.setMessageState("m1", "sent", null), () => followed.push("x"));
    t.endTurn();
    // The process dies before the deadline and before any other write.
    t.store.close();
    t.reopened((again) => {
      const row = again.message("m1")!;
      assert.equal(row.state, "sending");
      assert.deepEqual(row.envelope, new Uint8Array([1]), "kept, so it is submitted again");
      assert.deepEqual(again.unsent().map((m) => m.id), ["m1"]);
      assert.equal(followed.length, 0);
    });
  } finally {
    await t.cleanup(true);
  }
});

Deno.test("a later write is rolled back with the turn a failing write rolls back", async () => {
  const t = await setup();
  try {
    t.store.putMessage(message("m1"));
    const followed: string[] = [];
    const sent = t.turn.later(
      () => t.store.setMessageState("m1", "sent", null),
      () => followed.push("sent"),
    );
    t.endTurn();
    const boom = new Error("boom");
    const bad = t.turn.write(() => {
      throw boom;
    });
    await assert.rejects(bad, (e) => e === boom);
    await assert.rejects(sent, (e) => e === boom);
    assert.equal(followed.length, 0);
    assert.equal(t.laters(), 0, "its deadline is cancelled");
    assert.equal(t.store.message("m1")?.state, "sending");
  } finally {
    await t.cleanup();
  }
});

Deno.test("laterNow() returns the write's result at once, rides the next commit, and throws what the write throws", async () => {
  const t = await setup();
  try {
    const followed: string[] = [];
    t.store.putMessage(message("m1"));
    const value = t.turn.laterNow(
      () => (t.store.setMessageState("m1", "sent", null), "sent"),
      (v) => followed.push(v),
    );
    assert.equal(value, "sent", "no promise: the write is made");
    t.endTurn();
    assert.equal(t.commits(), 0, "it ends no turn");
    assert.equal(t.laters(), 1);
    assert.deepEqual(t.committedIds(), ["m1"]);
    assert.equal(followed.length, 0, "nothing follows before the commit");
    t.lateDeadline();
    assert.equal(t.commits(), 1);
    assert.deepEqual(followed, ["sent"]);
    t.reopened((other) => assert.equal(other.message("m1")?.state, "sent"));
    // A write that throws: thrown here, the turn rolled back, nothing of it followed.
    const later = t.turn.laterNow(() => t.store.setMessageState("m1", "delivered", null), () => {
      followed.push("delivered");
    });
    assert.equal(later, undefined);
    const boom = new Error("boom");
    assert.throws(() =>
      t.turn.laterNow(() => {
        throw boom;
      }, () => followed.push("never")), (e) => e === boom);
    assert.equal(t.store.inTransaction, false);
    assert.equal(t.laters(), 0, "its deadline is cancelled");
    assert.equal(t.store.message("m1")?.state, "sent", "the earlier write of the turn is gone too");
    assert.deepEqual(followed, ["sent"]);
  } finally {
    await t.cleanup();
  }
});

/** Runs `fn`, counting the statements run that start with `prefix`. */
function statementsRun(prefix: string, fn: () => void): number {
  const proto = StatementSync.prototype;
  const run = proto.run;
  let n = 0;
  proto.run = function (this: StatementSync, ...args: SQLInputValue[]) {
    if (this.sourceSQL.trimStart().startsWith(prefix)) n++;
    return (run as (...a: SQLInputValue[]) => StatementResultingChanges).apply(this, args);
  } as typeof run;
  try {
    fn();
  } finally {
    proto.run = run;
  }
  return n;
}

Deno.test("the states changed in one turn are written together at its commit: one UPDATE per state, one row change per message", async () => {
  const t = await setup();
  try {
    const ids = Array.from({ length: 40 }, (_, i) => `m${String(i).padStart(2, "0")}`);
    t.store.transaction(() =>
      ids.forEach((id, i) => t.store.putMessage({ ...message(id), seq: i }))
    );
    const updates = statementsRun("UPDATE messages", () => {
      void t.turn.later(() => {
        // The node's answers, then the notices, of 39 messages; one refused with a reason.
        for (const id of ids.slice(1)) t.store.setMessageState(id, "sent", null);
        for (const id of ids.slice(1)) t.store.setMessageState(id, "delivered", null);
        t.store.setMessageState(ids[0], "failed", "refused: too big");
      });
      assert.deepEqual(t.committedIds(), ids, "nothing of the turn is committed yet");
      t.lateDeadline();
    });
    assert.equal(updates, 3, "39 delivered in two UPDATEs (32 ids each at most), the failed one");
    t.reopened((again) => {
      assert.deepEqual(again.unsent(), [], "every envelope dropped");
      const failed = again.message(ids[0])!;
      assert.equal(failed.state, "failed");
      assert.equal(failed.reason, "refused: too big");
      for (const id of ids.slice(1)) {
        const m = again.message(id)!;
        assert.deepEqual([m.state, m.reason, m.envelope], ["delivered", null, null]);
      }
    });
  } finally {
    await t.cleanup();
  }
});

Deno.test("a state kept for the commit is written before any other read or write of the messages: never stepped back, never read stale", async () => {
  const t = await setup();
  try {
    t.store.transaction(() => {
      t.store.putMessage(message("a"));
      t.store.putMessage({ ...message("b"), seq: 2 });
    });
    void t.turn.write(() => {
      t.store.setMessageState("a", "delivered", null);
      // Settled: no longer kept in memory, read from the table.
      assert.equal(t.store.message("a")?.state, "delivered");
      assert.deepEqual(t.store.unsent().map((m) => m.id), ["b"], "its envelope is gone");
      t.store.setMessageState("b", "sent", null);
      // The read receipt after it in the same turn wins: a later UPDATE, not the kept state.
      assert.deepEqual(t.store.markOutRead("bob@nodeb", 2), ["a", "b"]);
      assert.deepEqual(t.store.history("bob@nodeb", 10).map((m) => m.state), ["read", "read"]);
    });
    t.endTurn();
    t.reopened((again) => {
      assert.deepEqual(again.history("bob@nodeb", 10).map((m) => m.state), ["read", "read"]);
    });
    // A turn rolled back forgets the states it kept.
    t.store.transaction(() => t.store.putMessage({ ...message("c"), seq: 3 }));
    const boom = new Error("boom");
    const failed = t.turn.write(() => {
      t.store.setMessageState("c", "delivered", null);
      throw boom;
    });
    await assert.rejects(failed, (e) => e === boom);
    t.endTurn();
    assert.equal(t.store.message("c")?.state, "sending");
    assert.deepEqual(t.store.unsent().map((m) => m.id), ["c"], "kept for the next connection");
  } finally {
    await t.cleanup();
  }
});
