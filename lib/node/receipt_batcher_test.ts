import assert from "node:assert/strict";
import { FakeClock } from "../clock.ts";
import { type NodeId, toNodeId } from "../ids.ts";
import type { NodeEnvelope } from "../protocol/mod.ts";
import { decodeReceiptEntries } from "./group_receipt.ts";
import { MAX_RECEIPT_ENTRIES } from "./receipt.ts";
import { RECEIPT_SOON_ENTRIES, RECEIPT_WAIT_MS, ReceiptBatcher } from "./receipt_batcher.ts";

const A = toNodeId("na");
const R = toNodeId("relay");

function batcher() {
  const clock = new FakeClock();
  const sent: Array<{ e: NodeEnvelope; prefer?: NodeId }> = [];
  /** What the batcher scheduled for the end of the turn; `endTurn` runs it. */
  const turnEnd: Array<() => void> = [];
  const b = new ReceiptBatcher(toNodeId("nb"), {
    clock,
    send: (e, prefer) => sent.push({ e, prefer }),
    schedule: (fn) => turnEnd.push(fn),
  });
  const endTurn = () => {
    for (const fn of turnEnd.splice(0)) fn();
  };
  return { clock, sent, b, endTurn };
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

Deno.test("ReceiptBatcher sends an origin's batch of RECEIPT_SOON_ENTRIES at the end of the turn; smaller ones wait", () => {
  const { clock, sent, b, endTurn } = batcher();
  const C = toNodeId("nc");
  b.add(C, id(200), "stored", null);
  for (let i = 0; i < RECEIPT_SOON_ENTRIES; i++) b.add(A, id(i), "stored", R);
  // Nothing leaves inside the turn.
  assert.equal(sent.length, 0);
  endTurn();
  assert.equal(sent.length, 1);
  assert.equal(sent[0].e.to, A);
  assert.equal(sent[0].prefer, R);
  assert.equal(decodeReceiptEntries(sent[0].e.body).length, RECEIPT_SOON_ENTRIES);
  // The small batch still waits for its timer, then goes alone.
  b.add(A, id(99), "stored", R);
  endTurn();
  assert.equal(sent.length, 1);
  clock.advance(RECEIPT_WAIT_MS);
  assert.equal(sent.length, 3);
  assert.deepEqual(sent.slice(1).map((s) => decodeReceiptEntries(s.e.body).length), [1, 1]);
  assert.equal(clock.pending, 0);
});
