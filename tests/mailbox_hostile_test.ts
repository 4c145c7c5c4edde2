/**
 * A mailbox that lies (issue 15), as a hand-driven node linked to a real node B
 * on 127.0.0.1: what it hands over is believed only on its origin's proof, so
 * an altered or forged envelope stores nothing and a replay shows nothing
 * twice; and B tells what became of an envelope only to the node that made it.
 */
import assert from "node:assert/strict";
import { decodeReceipt } from "../lib/node/receipt.ts";
import {
  decodeEnvelopeWithAuth,
  DEFAULT_TTL,
  encodeEnvelope,
  encodeHeldEnvelope,
  encodeReceiptQuery,
  type EnvelopeInit,
  nodeEnvelope,
} from "../lib/protocol/mod.ts";
import { toNodeId } from "../lib/ids.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";
import { type RawPeer, rawPeer } from "./_helpers/raw_peer.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function userEnvelope(from: string): EnvelopeInit {
  const now = Date.now();
  return {
    id: crypto.getRandomValues(new Uint8Array(16)),
    kind: "request",
    ttl: DEFAULT_TTL,
    createdAtMs: now,
    expiresAtMs: now + 3_600_000,
    from,
    to: "bob@b",
    body: crypto.getRandomValues(new Uint8Array(64)),
  } as EnvelopeInit;
}

/** `peer` hands `inner` (envelope bytes with their proof) to b as a mailbox would. */
function handOver(peer: RawPeer, inner: Uint8Array): void {
  const [outer] = peer.sign([nodeEnvelope({
    kind: "mailboxDelivery",
    from: peer.id,
    to: toNodeId("b"),
    body: encodeHeldEnvelope(inner),
    nowMs: Date.now(),
    lifetimeMs: 60_000,
  })]);
  assert.ok(peer.send("b", { kind: "envelope", bytes: outer }));
}

/** Receipt entries `peer` got from b about envelope `id`. */
function answersAbout(peer: RawPeer, id: Uint8Array): string[] {
  const hex = id.toHex();
  const out: string[] = [];
  for (const { message } of peer.received) {
    if (message.kind !== "envelope") continue;
    const e = decodeEnvelopeWithAuth(message.bytes).envelope;
    if (e.kind !== "receipt" || e.from !== "b") continue;
    for (const entry of decodeReceipt(e.body)) {
      if (entry.id.toHex() === hex) out.push(entry.status);
    }
  }
  return out;
}

Deno.test({
  name: "hostile mailbox: altered, forged and replayed hand-overs store nothing extra; " +
    "receipt queries are answered only to the envelope's origin",
  ...opts,
  fn: async () => {
    const root = await tempRoot("mailbox-hostile");
    const nodes: NodeProc[] = [];
    const peers: RawPeer[] = [];
    try {
      const b = await NodeProc.create({ id: "b", root, open: true });
      nodes.push(b);
      await b.addUser("bob");
      const m = await rawPeer("m");
      const q = await rawPeer("q");
      peers.push(m, q);
      assert.equal(await m.connect("b", b.port), "up");
      assert.equal(await q.connect("b", b.port), "up");
      const inbox = async () =>
        ((await b.admin("users-list")) as Array<{ name: string; inbox: number }>)
          .find((u) => u.name === "bob")?.inbox ?? 0;

      // A genuine envelope of m's own user, handed over: stored once.
      const genuine = userEnvelope("mallory@m");
      const [genuineBytes] = m.sign([genuine]);
      handOver(m, genuineBytes);
      await waitUntil("the genuine one is stored", async () => (await inbox()) === 1);

      // Replayed, in a new hand-over and directly: nothing shown twice.
      handOver(m, genuineBytes);
      m.send("b", { kind: "envelope", bytes: genuineBytes });
      // Altered after it was proven: its body changed, its proof kept.
      const original = userEnvelope("mallory@m");
      const [signed] = m.sign([original]);
      const trailer = signed.subarray(encodeEnvelope(original).length);
      const altered = encodeEnvelope({ ...original, body: new Uint8Array(64).fill(7) });
      const alteredBytes = new Uint8Array(altered.length + trailer.length);
      alteredBytes.set(altered);
      alteredBytes.set(trailer, altered.length);
      handOver(m, alteredBytes);
      // Forged: "from alice@a", proven with m's key.
      const [forged] = m.sign([userEnvelope("alice@a")]);
      handOver(m, forged);
      // A last genuine one: when it is in, everything before it was judged.
      const [last] = m.sign([userEnvelope("mallory@m")]);
      handOver(m, last);
      await waitUntil("the last genuine one is stored", async () => (await inbox()) >= 2);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await inbox(), 2, "the replays, the altered and the forged one stored nothing");
      assert.deepEqual(answersAbout(m, original.id), ["refused"], "the altered one refused");

      // q, which did not make the genuine envelope, asks b about it first: no answer.
      const query = (peer: RawPeer) => {
        const [bytes] = peer.sign([nodeEnvelope({
          kind: "receiptQuery",
          from: peer.id,
          to: toNodeId("b"),
          body: encodeReceiptQuery([genuine.id]),
          nowMs: Date.now(),
          lifetimeMs: 60_000,
        })]);
        assert.ok(peer.send("b", { kind: "envelope", bytes }));
      };
      const before = answersAbout(m, genuine.id).length;
      query(q);
      await new Promise((r) => setTimeout(r, 300));
      query(m);
      await waitUntil(
        "its origin hears it was stored",
        () => answersAbout(m, genuine.id).length > before,
      );
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual(answersAbout(q, genuine.id), [], "a stranger learns nothing");
      assert.equal(answersAbout(m, genuine.id).at(-1), "stored");
    } finally {
      for (const p of peers) p.stop();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
