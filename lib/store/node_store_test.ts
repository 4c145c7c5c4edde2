import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { toNodeId, type UserName } from "../ids.ts";
import { type InboxAdd, type NodeStore, openSqliteNodeStore, type PeerRecord } from "./mod.ts";

// One shared suite; every backend runs it.
const BACKENDS: Array<[string, () => NodeStore]> = [
  ["sqlite :memory:", () => openSqliteNodeStore(":memory:")],
];

const peer = (id: string, over: Partial<PeerRecord> = {}): PeerRecord => ({
  nodeId: toNodeId(id),
  publicKey: new Uint8Array(32).fill(7),
  presentedKey: null,
  address: null,
  expectedFingerprint: null,
  host: "127.0.0.1",
  port: 9000,
  state: "linked",
  createdAtMs: 1,
  lastError: null,
  lastErrorAtMs: null,
  ...over,
});

for (const [name, open] of BACKENDS) {
  Deno.test(`${name}: putPeer() then getPeer() returns the same record`, () => {
    const s = open();
    try {
      s.putPeer(peer("bob"));
      assert.deepEqual(s.getPeer(toNodeId("bob")), peer("bob"));
      assert.equal(s.getPeer(toNodeId("nobody")), undefined);
    } finally {
      s.close();
    }
  });

  Deno.test(`${name}: putPeer() updates in place`, () => {
    const s = open();
    try {
      s.putPeer(peer("bob"));
      s.putPeer(peer("bob", { state: "rejected", lastError: "x", createdAtMs: 99 }));
      const got = s.getPeer(toNodeId("bob"))!;
      assert.equal(got.state, "rejected");
      assert.equal(got.lastError, "x");
      assert.equal(got.createdAtMs, 99);
      assert.equal(s.listPeers().length, 1);
      s.deletePeer(toNodeId("bob"));
      assert.equal(s.listPeers().length, 0);
      assert.equal(s.integrityCheck(), "ok");
    } finally {
      s.close();
    }
  });
}

Deno.test("openSqliteNodeStore() refuses a store of another schema version", () => {
  const dir = Deno.makeTempDirSync({ dir: ".tmp" });
  try {
    const path = `${dir}/s.db`;
    openSqliteNodeStore(path).close();
    // Bump the version behind the store's back.
    const raw = new DatabaseSync(path);
    raw.exec("UPDATE meta SET value = '99' WHERE key = 'schema'");
    raw.close();
    assert.throws(() => openSqliteNodeStore(path), /schema version 99/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("originPins: pins and the seq reservation survive reopening the store", () => {
  const dir = Deno.makeTempDirSync({ dir: ".tmp" });
  try {
    const path = `${dir}/s.db`;
    const first = openSqliteNodeStore(path);
    assert.deepEqual(first.originPins.load(), []);
    assert.equal(first.originPins.loadSeq(), 0);
    first.originPins.save(toNodeId("dave"), new Uint8Array(32).fill(1), "confirmed");
    first.originPins.save(toNodeId("bob"), new Uint8Array(32).fill(2), "link");
    first.originPins.save(toNodeId("dave"), new Uint8Array(32).fill(3), "link");
    first.originPins.saveSeq(128);
    assert.throws(
      () => first.originPins.save(toNodeId("x"), new Uint8Array(31), "link"),
      RangeError,
    );
    first.close();
    const again = openSqliteNodeStore(path);
    const pins = again.originPins.load().sort((a, b) => (a.node < b.node ? -1 : 1));
    assert.deepEqual(pins, [
      { node: "bob", key: new Uint8Array(32).fill(2), source: "link" },
      { node: "dave", key: new Uint8Array(32).fill(3), source: "link" },
    ]);
    assert.equal(again.originPins.loadSeq(), 128);
    again.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("openSqliteNodeStore() migrates a version 2 store: peers kept, pins table added", () => {
  const dir = Deno.makeTempDirSync({ dir: ".tmp" });
  try {
    const path = `${dir}/s.db`;
    const old = openSqliteNodeStore(path);
    old.putPeer(peer("bob"));
    old.close();
    // Make it look like a store written before version 3.
    const raw = new DatabaseSync(path);
    raw.exec("DROP TABLE origin_pins; UPDATE meta SET value = '2' WHERE key = 'schema'");
    raw.close();
    const s = openSqliteNodeStore(path);
    assert.deepEqual(s.getPeer(toNodeId("bob")), peer("bob"));
    s.originPins.save(toNodeId("dave"), new Uint8Array(32).fill(1), "confirmed");
    assert.equal(s.originPins.load().length, 1);
    s.close();
    const check = new DatabaseSync(path);
    const row = check.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as {
      value: string;
    };
    check.close();
    assert.equal(row.value, "6");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("openSqliteNodeStore() migrates a version 3 store: outbox rows kept, settled rows keep notices", () => {
  const dir = Deno.makeTempDirSync({ dir: ".tmp" });
  try {
    const path = `${dir}/s.db`;
    const old = openSqliteNodeStore(path);
    const row = (id: string) => ({
      id,
      owner: "alice" as UserName,
      dest: toNodeId("bob"),
      bytes: new Uint8Array([1, 2]),
      expiresAtMs: 5_000,
    });
    old.outboxAdd([row("e1"), row("e2")]);
    old.close();
    // Make it look like a store written by version 3 (no notice column, full indexes).
    const raw = new DatabaseSync(path);
    raw.exec(
      `DROP INDEX outbox_waiting; DROP INDEX outbox_waiting_expiry; DROP INDEX outbox_notices;
      ALTER TABLE outbox DROP COLUMN notice;
      CREATE INDEX outbox_dest ON outbox (dest, seq); CREATE INDEX outbox_expiry ON outbox (expires_at_ms);
      UPDATE meta SET value = '3' WHERE key = 'schema'`,
    );
    raw.close();
    const s = openSqliteNodeStore(path);
    assert.deepEqual(s.outboxPage(toNodeId("bob"), 0, 10).map((r) => r.id), ["e1", "e2"]);
    s.outboxSettle([{ id: "e1", notice: "delivered", keepUntilMs: 9_000 }]);
    assert.deepEqual(s.outboxPage(toNodeId("bob"), 0, 10).map((r) => r.id), ["e2"]);
    assert.deepEqual(s.outboxExpired(6_000, 10).map((r) => r.id), ["e2"]);
    assert.deepEqual(
      s.noticesFor("alice" as UserName, 10).map((r) => [r.id, r.notice]),
      [["e1", "delivered"]],
    );
    // Settled once: a second settle leaves the notice as it was.
    s.outboxSettle([{ id: "e1", notice: "{}", keepUntilMs: 1 }]);
    assert.equal(s.noticesFor("alice" as UserName, 10)[0].notice, "delivered");
    // Kept until its keep-until, then purged; the unsettled row is the sweep's to expire.
    s.purgeExpired(8_999, 10);
    assert.equal(s.noticesFor("alice" as UserName, 10).length, 1);
    s.purgeExpired(9_001, 10);
    assert.equal(s.noticesFor("alice" as UserName, 10).length, 0);
    assert.deepEqual(s.outboxPage(toNodeId("bob"), 0, 10).map((r) => r.id), ["e2"]);
    assert.equal(s.noticesDelete("alice" as UserName, ["e2"]), 0, "an unsettled row stays");
    s.close();
    const check = new DatabaseSync(path);
    const v = check.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as {
      value: string;
    };
    check.close();
    assert.equal(v.value, "6");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("openSqliteNodeStore() migrates a version 4 store: its links are the owner's, not strangers'", () => {
  const dir = Deno.makeTempDirSync({ dir: ".tmp" });
  try {
    const path = `${dir}/s.db`;
    const old = openSqliteNodeStore(path);
    // Version 4 kept the address an approved peer had connected from.
    old.putPeer(peer("bob", { address: "192.0.2.7" }));
    old.putPeer(peer("carol", { state: "pending", publicKey: null, address: "192.0.2.8" }));
    old.close();
    const raw = new DatabaseSync(path);
    raw.exec("UPDATE meta SET value = '4' WHERE key = 'schema'");
    raw.close();
    const s = openSqliteNodeStore(path);
    assert.deepEqual(s.getPeer(toNodeId("bob")), peer("bob"), "a link made before is the owner's");
    assert.equal(s.getPeer(toNodeId("carol"))?.address, "192.0.2.8", "a pending request keeps it");
    // Written by this version, a stranger's address stays.
    s.putPeer(peer("dave", { address: "192.0.2.9" }));
    s.close();
    const again = openSqliteNodeStore(path);
    assert.equal(again.getPeer(toNodeId("dave"))?.address, "192.0.2.9");
    again.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("openSqliteNodeStore() migrates a version 5 store: inbox rows keep their origin, read from the de-duplication table for rows of before", () => {
  const dir = Deno.makeTempDirSync({ dir: ".tmp" });
  const bob = "bob" as UserName;
  const row = (id: string, origin: string): InboxAdd => ({
    id,
    owner: bob,
    bytes: new Uint8Array(10),
    kind: "message",
    receivedAtMs: 0,
    keepUntilMs: 1e15,
    origin: toNodeId(origin),
  });
  try {
    const path = `${dir}/s.db`;
    const old = openSqliteNodeStore(path);
    old.inboxAdd([row("m1", "na")]);
    old.close();
    // Version 5 had no origin column in the inbox.
    const raw = new DatabaseSync(path);
    raw.exec(
      "ALTER TABLE inbox DROP COLUMN origin; UPDATE meta SET value = '5' WHERE key = 'schema'",
    );
    raw.close();
    const s = openSqliteNodeStore(path);
    s.inboxAdd([row("m2", "nc")]);
    assert.deepEqual(
      s.inboxByOrigin().sort((x, y) => (x.origin < y.origin ? -1 : 1)),
      [{ owner: bob, origin: "na", bytes: 10 }, { owner: bob, origin: "nc", bytes: 10 }],
    );
    assert.deepEqual(s.inboxDelete(bob, ["m1", "m2"]).map((g) => g.origin).sort(), ["na", "nc"]);
    s.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("transactionUnsynced() commits with other connections seeing it, then sync() flushes the log; a closed store's sync() rejects", async () => {
  const dir = Deno.makeTempDirSync({ dir: ".tmp" });
  try {
    const path = `${dir}/s.db`;
    const s = openSqliteNodeStore(path);
    s.transactionUnsynced(() => s.putPeer(peer("bob")));
    await s.sync();
    // Another connection reads it from the log: committed, not only in this connection's cache.
    const other = new DatabaseSync(path);
    assert.equal(
      (other.prepare("SELECT count(*) AS n FROM peers").get() as { n: number }).n,
      1,
    );
    other.close();
    assert.throws(() =>
      s.transactionUnsynced(() => {
        s.putPeer(peer("carol"));
        throw new RangeError("no");
      }), RangeError);
    assert.equal(s.getPeer(toNodeId("carol")), undefined);
    s.close();
    await assert.rejects(() => s.sync(), /closed/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("inboxAdd(): an envelope id is stored once (again later, or twice in one batch); notices are not de-duplicated", () => {
  const s = openSqliteNodeStore(":memory:");
  try {
    const owner = "bob" as UserName;
    const row = (id: string, kind: InboxAdd["kind"] = "message"): InboxAdd => ({
      id,
      owner,
      bytes: new Uint8Array([1, 2, 3]),
      kind,
      receivedAtMs: 1,
      keepUntilMs: 10_000,
      origin: kind === "notice" ? null : toNodeId("alice"),
    });
    const first = s.inboxAdd([row("a"), row("b"), row("a")]);
    assert.deepEqual([...first.keys()], ["a", "b"]);
    const second = s.inboxAdd([row("a"), row("c")]);
    assert.deepEqual([...second.keys()], ["c"]);
    // The seqs returned are the rows' own.
    assert.deepEqual(
      s.inboxFor(owner, 0, 10).map((r) => [r.id, r.seq]),
      [["a", first.get("a")], ["b", first.get("b")], ["c", second.get("c")]],
    );
    assert.equal(s.wasDelivered("a"), true);
    assert.equal(s.inboxCount(owner), 3);
    assert.equal(s.inboxAdd([row("n1", "notice")]).size, 1);
    assert.equal(s.wasDelivered("n1"), false);
    assert.equal(s.inboxCount(owner), 4);
    // A notice already waiting under its id is kept once, and its batch goes on.
    assert.deepEqual([...s.inboxAdd([row("n1", "notice"), row("d")]).keys()], ["d"]);
    assert.equal(s.inboxCount(owner), 5);
  } finally {
    s.close();
  }
});

Deno.test("inboxFor(): reads at most `limit` rows, and none past the one that brings their bytes to `maxBytes`", () => {
  const s = openSqliteNodeStore(":memory:");
  try {
    const owner = "bob" as UserName;
    s.inboxAdd(["a", "b", "c"].map((id) => ({
      id,
      owner,
      bytes: new Uint8Array(100),
      kind: "message" as const,
      receivedAtMs: 1,
      keepUntilMs: 10_000,
      origin: toNodeId("alice"),
    })));
    const ids = (limit: number, maxBytes?: number) =>
      s.inboxFor(owner, 0, limit, maxBytes).map((r) => r.id);
    assert.deepEqual(ids(10), ["a", "b", "c"]);
    assert.deepEqual(ids(2), ["a", "b"]);
    assert.deepEqual(ids(10, 150), ["a", "b"]);
    assert.deepEqual(ids(10, 200), ["a", "b"]);
    assert.deepEqual(ids(10, 1), ["a"]);
    assert.deepEqual(ids(10, 301), ["a", "b", "c"]);
    // A read stopped early leaves nothing open: the next one sees everything.
    assert.deepEqual(ids(10), ["a", "b", "c"]);
  } finally {
    s.close();
  }
});

Deno.test("deliveredAmong() and inboxDelete() answer for many ids at once, past one statement's worth", () => {
  const s = openSqliteNodeStore(":memory:");
  try {
    const bob = "bob" as UserName;
    const carol = "carol" as UserName;
    const row = (id: string, owner: UserName, bytes = 3): InboxAdd => ({
      id,
      owner,
      bytes: new Uint8Array(bytes),
      kind: id.startsWith("r") ? "request" : "message",
      receivedAtMs: 1,
      keepUntilMs: 10_000,
      origin: toNodeId("alice"),
    });
    const ids = Array.from({ length: 75 }, (_, i) => `m${i}`);
    s.inboxAdd([...ids.map((id, i) => row(id, bob, i + 1)), row("c1", carol), row("r1", bob, 9)]);
    s.markDelivered([{ id: "chunk", keepUntilMs: 10_000, origin: null }]);
    const asked = [...ids, "c1", "chunk", "new1", "new2", "m3", "n-notice"];
    assert.deepEqual(
      [...s.deliveredAmong(asked)].sort(),
      [...ids, "c1", "chunk"].sort(),
    );
    assert.equal(s.deliveredAmong([]).size, 0);
    assert.deepEqual([...s.deliveredAmong(["new1", "m70"])], ["m70"]);
    // Carol's row is not bob's to delete; an id twice, or unknown, deletes one row or none.
    const gone = s.inboxDelete(bob, [...ids.slice(0, 40), "c1", "m0", "nope", "r1"]);
    assert.equal(gone.length, 41);
    assert.deepEqual(
      gone.map((g) => g.bytes).sort((x, y) => x - y),
      [...Array.from({ length: 40 }, (_, i) => i + 1), 9].sort((x, y) => x - y),
    );
    assert.equal(gone.filter((g) => g.kind === "request").length, 1);
    assert.equal(s.inboxCount(bob), 35);
    assert.equal(s.inboxCount(carol), 1);
    assert.equal(s.inboxDelete(bob, ids).length, 35);
    assert.equal(s.inboxCount(bob), 0);
    // The ids stay remembered after their rows are gone.
    assert.equal(s.deliveredAmong(ids).size, 75);
  } finally {
    s.close();
  }
});

Deno.test("getAccount(): a name that was no account becomes one at once when added, and a deleted account is gone at once", () => {
  const s = openSqliteNodeStore(":memory:");
  try {
    const carol = "carol" as UserName;
    assert.equal(s.getAccount(carol), undefined);
    const account = {
      name: carol,
      publicKey: null,
      enrollHash: null,
      bundle: null,
      listed: true,
      createdAtMs: 1,
    };
    s.putAccount(account);
    assert.equal(s.getAccount(carol)?.name, carol);
    s.putAccount({ ...account, bundle: new Uint8Array([1]) });
    assert.deepEqual(s.getAccount(carol)?.bundle, new Uint8Array([1]));
    s.setContactPolicy(carol, "alice@na", "allow");
    assert.equal(s.contactPolicy(carol, "alice@na"), "allow");
    s.deleteAccount(carol);
    assert.equal(s.getAccount(carol), undefined);
    assert.equal(s.contactPolicy(carol, "alice@na"), null);
  } finally {
    s.close();
  }
});

Deno.test("deleteAccount() deletes that user's inbox and outbox rows and no one else's", () => {
  const s = openSqliteNodeStore(":memory:");
  try {
    const [carol, dave] = ["carol" as UserName, "dave" as UserName];
    for (const name of [carol, dave]) {
      s.putAccount({
        name,
        publicKey: null,
        enrollHash: null,
        bundle: null,
        listed: true,
        createdAtMs: 1,
      });
      s.inboxAdd([{
        id: `in-${name}`,
        owner: name,
        bytes: new Uint8Array(3),
        kind: "message",
        receivedAtMs: 1,
        keepUntilMs: 10_000,
        origin: toNodeId("alice"),
      }]);
      s.outboxAdd([{
        id: `out-${name}`,
        owner: name,
        dest: toNodeId("bob"),
        bytes: new Uint8Array([1, 2]),
        expiresAtMs: 5_000,
      }]);
    }
    s.deleteAccount(carol);
    assert.equal(s.inboxCount(carol), 0);
    assert.equal(s.inboxCount(dave), 1);
    assert.deepEqual([...s.outboxUsage().keys()], [dave]);
  } finally {
    s.close();
  }
});
