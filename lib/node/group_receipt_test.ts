import assert from "node:assert/strict";
import { CodecError } from "../e2e/mod.ts";
import { decodeReceiptEntries, encodeReceiptEntries, type ReceiptEntry } from "./group_receipt.ts";
import { encodeReceipt } from "./receipt.ts";

const id = (v: number) => new Uint8Array(16).fill(v);

Deno.test("group receipts: per-user results round-trip as version 3", () => {
  const entries: ReceiptEntry[] = [
    { id: id(1), status: "stored" },
    {
      id: id(2),
      status: "stored",
      users: [{ name: "bob", status: "stored" }, { name: "carol", status: "refused" }],
    },
  ];
  const bytes = encodeReceiptEntries(entries);
  assert.equal(bytes[0], 3);
  assert.deepEqual(decodeReceiptEntries(bytes), entries);
  for (let i = 0; i < bytes.length; i++) {
    assert.throws(() => decodeReceiptEntries(bytes.subarray(0, i)), CodecError, `cut at ${i}`);
  }
});

Deno.test("group receipts: a batch without group entries stays version 2, read by both decoders", () => {
  const entries: ReceiptEntry[] = [{ id: id(3), status: "busy" }];
  const bytes = encodeReceiptEntries(entries);
  assert.deepEqual(bytes, encodeReceipt(entries));
  assert.deepEqual(decodeReceiptEntries(bytes), entries);
});

Deno.test("group receipts: a bad user name or status is refused", () => {
  const good = encodeReceiptEntries([{
    id: id(4),
    status: "stored",
    users: [{ name: "bob", status: "stored" }],
  }]);
  const badStatus = good.slice();
  badStatus[badStatus.length - 1] = 99;
  assert.throws(() => decodeReceiptEntries(badStatus), CodecError);
  const badName = good.slice();
  badName[badName.length - 2] = "B".charCodeAt(0);
  assert.throws(() => decodeReceiptEntries(badName), CodecError);
});
