import assert from "node:assert/strict";
import { CodecError } from "../e2e/mod.ts";
import {
  decodeReceipt,
  encodeReceipt,
  MAX_RECEIPT_ENTRIES,
  type ReceiptEntries,
} from "./receipt.ts";

Deno.test("encodeReceipt() round-trips through decodeReceipt()", () => {
  const entries: ReceiptEntries = [
    { id: new Uint8Array(16).fill(1), status: "stored" },
    { id: new Uint8Array(16).fill(2), status: "busy" },
    { id: new Uint8Array(16).fill(3), status: "expired" },
  ];
  assert.deepEqual(decodeReceipt(encodeReceipt(entries)), entries);
  assert.deepEqual(decodeReceipt(encodeReceipt([])), []);
});

Deno.test("decodeReceipt() refuses unknown versions and statuses, truncation, trailing bytes", () => {
  const good = encodeReceipt([{ id: new Uint8Array(16), status: "stored" }]);
  for (
    const bad of [
      Uint8Array.from(good, (b, i) => (i === 0 ? 1 : b)),
      Uint8Array.from(good, (b, i) => (i === good.length - 1 ? 99 : b)),
      good.subarray(0, good.length - 1),
      new Uint8Array([...good, 0]),
      new Uint8Array(0),
      Uint8Array.of(2, 0xff, 0xff),
    ]
  ) {
    assert.throws(() => decodeReceipt(bad), CodecError);
  }
  assert.throws(
    () =>
      encodeReceipt(
        Array(MAX_RECEIPT_ENTRIES + 1).fill({ id: new Uint8Array(16), status: "stored" }),
      ),
    RangeError,
  );
});
