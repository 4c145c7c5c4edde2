import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { toNodeId } from "../ids.ts";
import { type NodeStore, openSqliteNodeStore, type PeerRecord } from "./mod.ts";

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
