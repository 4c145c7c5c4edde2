/**
 * Pushed before stored, through the client hub (lib/node/delivery.ts,
 * `#takeArrivals`; lib/node/client_hub.ts, `earlyPush`): a message for an
 * attached client goes out with seq 0 before it is stored; acknowledged in
 * time it leaves no inbox row; not acknowledged, its row is stored and not
 * pushed again to the same session, but is pushed to a session attached since.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { toAddress, type UserName } from "../lib/ids.ts";
import { encodeEnvelope, type Envelope } from "../lib/protocol/mod.ts";
import { ALICE, NB, senderNode, until } from "./_helpers/sender_node.ts";

async function tmp(): Promise<string> {
  const root = join(new URL("..", import.meta.url).pathname, ".tmp");
  await Deno.mkdir(root, { recursive: true });
  return await Deno.makeTempDir({ dir: root, prefix: "push-first-" });
}

/** Message `n` from bob@nb to alice (whose node this is). */
function fromBob(n: number): { e: Envelope; bytes: Uint8Array; id: string } {
  const now = Date.now();
  const e = {
    id: new Uint8Array(16).fill(n),
    kind: "message",
    ttl: 32,
    createdAtMs: now,
    expiresAtMs: now + 60_000,
    from: toAddress("bob@nb"),
    to: toAddress("alice@na"),
    body: new Uint8Array([1, 2, 3]),
  } as Envelope;
  return { e, bytes: encodeEnvelope(e), id: e.id.toHex() };
}

const delivers = (got: Array<{ type: string }>) =>
  got.flatMap((m) =>
    m.type === "deliver" ? [m as { type: "deliver"; seq: number; id: string }] : []
  );

Deno.test("push first: an attached client gets a message before it is stored; acknowledged in time, no inbox row is kept, only its id", async () => {
  const dir = await tmp();
  const a = await senderNode(dir);
  try {
    a.store.setContactPolicy(ALICE, "bob@nb", "allow");
    const alice = a.attach();
    const m = fromBob(1);
    a.delivery.receiveLocal(m.e, m.bytes, NB);
    await until("the push", () => delivers(alice.got).length === 1);
    assert.deepEqual(delivers(alice.got).map((d) => [d.id, d.seq]), [[m.id, 0]]);
    alice.ack([m.id]);
    await until("its id kept", () => a.store.wasDelivered(m.id));
    assert.equal(a.store.inboxCount(ALICE), 0);
    assert.equal(a.delivery.view().pushedFirstIdOnly, 1);
    // A copy later: not pushed again.
    a.delivery.receiveLocal(m.e, m.bytes, NB);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(delivers(alice.got).length, 1);
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("push first: not acknowledged in time, the row is stored and not pushed again to the same client; a client attached since gets it from the store", async () => {
  const dir = await tmp();
  const a = await senderNode(dir);
  try {
    a.store.setContactPolicy(ALICE, "bob@nb", "allow");
    const first = a.attach();
    const m = fromBob(2);
    a.delivery.receiveLocal(m.e, m.bytes, NB);
    await until("the push", () => delivers(first.got).length === 1);
    await until("its row", () => a.store.inboxCount(ALICE) === 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(delivers(first.got).length, 1, "the same client does not get it twice");
    first.ack([m.id]);
    await until("its row deleted at the acknowledgement", () => a.store.inboxCount(ALICE) === 0);

    // Pushed to a client that goes away before acknowledging it; the next one attaches before
    // the row is written, and gets it once it is.
    const m2 = fromBob(3);
    const second = a.attach();
    a.delivery.receiveLocal(m2.e, m2.bytes, NB);
    await until("the push", () => delivers(second.got).length === 1);
    second.close();
    const third = a.attach("alice" as UserName);
    assert.equal(delivers(third.got).length, 0, "not stored yet");
    await until("the stored row pushed", () => delivers(third.got).length === 1);
    assert.equal(delivers(third.got)[0].id, m2.id);
    assert.ok(delivers(third.got)[0].seq > 0);
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});
