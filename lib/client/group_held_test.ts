/**
 * Group messages ahead of our epoch are held until the commits before them
 * arrive (group_engine.ts `hold`). A hostile member can send any epoch: what
 * it can make us hold is its share (count and bytes), and messages further
 * ahead go before nearer ones, so the others' held messages stay.
 */
import assert from "node:assert/strict";
import { FakeClock } from "../clock.ts";
import type * as e2e from "../e2e/mod.ts";
import { peekGroupMessage } from "../e2e/mod.ts";
import type { Address } from "../ids.ts";
import { ClientStore } from "./client_store.ts";
import { testGroupEngine } from "./_group_engine_testing.ts";
import {
  MAX_HELD_BYTES_PER_GROUP,
  MAX_HELD_BYTES_PER_NODE,
  MAX_HELD_PER_GROUP,
  MAX_HELD_PER_NODE,
} from "./group_rules.ts";

const GROUP_ID = new Uint8Array(16).fill(7);
const KEY = `${GROUP_ID.toHex()}@node-home`;

/** An MLS PrivateMessage (RFC 9420 §6.3) of `epoch`: only its header is read before it is held. */
function applicationAt(epoch: number, size: number): Uint8Array {
  const body = size - 40;
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint16(0, 1); // mls10
  v.setUint16(2, 2); // mls_private_message
  out[4] = 16; // group_id<V>
  out.set(GROUP_ID, 5);
  v.setBigUint64(21, BigInt(epoch));
  out[29] = 1; // application
  out[30] = 0; // authenticated_data
  out[31] = 4; // encrypted_sender_data<V>, 4 bytes
  v.setUint32(36, 0x80000000 | body); // ciphertext<V>, a 4-byte length
  return out;
}

async function setup() {
  const { store, engine, cleanup } = await testGroupEngine({
    self: "bob@node-b" as Address,
    identity: {} as e2e.IdentityKeyPair,
    clock: new FakeClock(1_000_000),
    prefix: "group-held-",
  });
  let n = 0;
  const hold = (sender: string, epoch: number, size: number) => {
    const id = `in-${n++}`;
    store.transaction(() =>
      engine.hold(KEY, { id, kind: "application", sender, bytes: applicationAt(epoch, size) })
    );
    return id;
  };
  return { store, hold, cleanup };
}

/** What the group holds, per sender: messages and bytes. */
function heldBy(store: ClientStore): Record<string, { count: number; bytes: number }> {
  const out: Record<string, { count: number; bytes: number }> = {};
  for (const h of store.groups.heldHeads(KEY)) {
    const o = out[h.sender] ??= { count: 0, bytes: 0 };
    o.count++;
    o.bytes += store.groups.heldBytes(h.id)!.length;
  }
  return out;
}

Deno.test("applicationAt() makes a header peekGroupMessage reads", () => {
  const h = peekGroupMessage(applicationAt(1234, 4096));
  assert.deepEqual([h.kind, h.epoch, h.groupId?.toHex()], ["application", 1234, GROUP_ID.toHex()]);
});

Deno.test("hold(): one node's far-future messages stay within its share; the others' held messages stay", async () => {
  const { store, hold, cleanup } = await setup();
  try {
    const alice = [1, 2, 3, 4, 5].map(() => hold("alice@a", 6, 200));
    // 1,000 messages of 64 KiB from epochs far ahead, from 50 addresses of mallory's node
    // (main: all 1,000 kept, 64 MiB, and alice's five, the nearest, were the ones pushed out).
    for (let i = 0; i < 1000; i++) hold(`m${i % 50}@m`, 1000 + i, 64 * 1024);
    const by: Record<string, { count: number; bytes: number }> = {};
    for (const [sender, used] of Object.entries(heldBy(store))) {
      const o = by[sender.slice(sender.indexOf("@") + 1)] ??= { count: 0, bytes: 0 };
      o.count += used.count;
      o.bytes += used.bytes;
    }
    assert.deepEqual(
      store.groups.heldHeads(KEY).filter((h) => h.sender === "alice@a").map((h) => h.id),
      alice,
    );
    assert.ok(by.m.count <= MAX_HELD_PER_NODE, `${by.m.count} held`);
    assert.ok(by.m.bytes <= MAX_HELD_BYTES_PER_NODE, `${by.m.bytes} bytes`);
    // Those kept are the nearest: a nearer one still comes in, in place of the furthest.
    const near = hold("m7@m", 7, 64 * 1024);
    const epochs = store.groups.heldHeads(KEY).filter((h) => h.sender.endsWith("@m"))
      .map((h) => h.epoch);
    assert.ok(epochs.includes(7), "the nearer message is kept");
    assert.equal(Math.max(...epochs), 1000 + epochs.length - 2, "the furthest went");
    assert.ok(store.groups.heldHeads(KEY).some((h) => h.id === near));
  } finally {
    await cleanup();
  }
});

Deno.test("hold(): many nodes together stay within the group's count and bytes", async () => {
  const { store, hold, cleanup } = await setup();
  try {
    for (let s = 0; s < 12; s++) {
      for (let i = 0; i < 100; i++) hold(`m@m${s}`, 100 + i, s < 6 ? 200 : 40 * 1024);
    }
    const all = Object.values(heldBy(store));
    const count = all.reduce((a, b) => a + b.count, 0);
    const bytes = all.reduce((a, b) => a + b.bytes, 0);
    assert.ok(count <= MAX_HELD_PER_GROUP, `${count} held`);
    assert.ok(bytes <= MAX_HELD_BYTES_PER_GROUP, `${bytes} bytes`);
    assert.ok(count >= 600, "the small ones all fit");
  } finally {
    await cleanup();
  }
});
