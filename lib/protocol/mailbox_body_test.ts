import assert from "node:assert/strict";
import { CodecError } from "../e2e/mod.ts";
import {
  decodeHeldEnvelope,
  decodeReceiptQuery,
  encodeHeldEnvelope,
  encodeReceiptQuery,
  MAX_QUERY_IDS,
} from "./mailbox_body.ts";

Deno.test("held envelopes and receipt queries round-trip", () => {
  const inner = Uint8Array.of(2, 9, 9, 9);
  assert.deepEqual(decodeHeldEnvelope(encodeHeldEnvelope(inner)), inner);
  const ids = [new Uint8Array(16).fill(1), new Uint8Array(16).fill(2)];
  assert.deepEqual(decodeReceiptQuery(encodeReceiptQuery(ids)), ids);
  assert.deepEqual(decodeReceiptQuery(encodeReceiptQuery([])), []);
});

Deno.test("held envelopes and receipt queries refuse bad versions, truncation, trailing bytes", () => {
  const held = encodeHeldEnvelope(Uint8Array.of(1, 2, 3));
  const query = encodeReceiptQuery([new Uint8Array(16)]);
  for (
    const [bytes, decode] of [
      [Uint8Array.from(held, (b, i) => (i === 0 ? 2 : b)), decodeHeldEnvelope],
      [held.subarray(0, held.length - 1), decodeHeldEnvelope],
      [new Uint8Array([...held, 0]), decodeHeldEnvelope],
      [Uint8Array.from(query, (b, i) => (i === 0 ? 9 : b)), decodeReceiptQuery],
      [query.subarray(0, 10), decodeReceiptQuery],
      [Uint8Array.of(1, 0xff, 0xff), decodeReceiptQuery],
    ] as const
  ) {
    assert.throws(() => decode(bytes), CodecError);
  }
  assert.throws(
    () => encodeReceiptQuery(Array(MAX_QUERY_IDS + 1).fill(new Uint8Array(16))),
    RangeError,
  );
});
