import assert from "node:assert/strict";
import { FakeClock } from "../clock.ts";
import { type NodeId, toNodeId } from "../ids.ts";
import type { NodeEnvelope } from "../protocol/mod.ts";
import { decodeReceiptEntries } from "./group_receipt.ts";
import { MAX_RECEIPT_ENTRIES } from "./receipt.ts";
import { RECEIPT_WAIT_MS, ReceiptBatcher } from "./receipt_batcher.ts";

const A = toNodeId("na");
const R = toNodeId("relay");

function batcher() {
  const clock = new FakeClock();
  const sent: Array<{ e: NodeEnvelope; prefer?: NodeId }> = [];
  const b = new ReceiptBatcher(toNodeId("nb"), {
    clock,
    send: (e, prefer) => sent.push({ e, prefer }),
  });
  return { clock, sent, b };
}

const id = (n: number) => new Uint8Array(16).fill(n);

Deno.test("ReceiptBatcher sends what RECEIPT_WAIT_MS gathered as one receipt per origin, the way it came", () => {
  const { clock, sent, b } = batcher();
  b.add(A, id(1), "stored", R);
  clock.advance(RECEIPT_WAIT_MS - 1);
  b.add(A, id(2), "refused", R);
  assert.equal(sent.length, 0);
  clock.advance(1);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].e.kind, "receipt");
  assert.equal(sent[0].e.to, A);
  assert.equal(sent[0].prefer, R);
  const entries = decodeReceiptEntries(sent[0].e.body);
  assert.deepEqual(entries.map((e) => [e.id[0], e.status]), [[1, "stored"], [2, "refused"]]);
  // Nothing waits: no timer left, nothing more sent.
  assert.equal(clock.pending, 0);
  clock.advance(10 * RECEIPT_WAIT_MS);
  assert.equal(sent.length, 1);
});

Deno.test("ReceiptBatcher sends a full receipt at once, and stop() drops what waits", () => {
  const { clock, sent, b } = batcher();
  for (let i = 0; i < MAX_RECEIPT_ENTRIES; i++) b.add(A, id(i % 256), "stored", null);
  assert.equal(sent.length, 1);
  assert.equal(decodeReceiptEntries(sent[0].e.body).length, MAX_RECEIPT_ENTRIES);
  b.add(A, id(7), "stored", null);
  b.stop();
  assert.equal(clock.pending, 0);
  clock.advance(10 * RECEIPT_WAIT_MS);
  assert.equal(sent.length, 1);
});
