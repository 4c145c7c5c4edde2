import assert from "node:assert/strict";
import { USER_STATUSES } from "../protocol/mod.ts";
import { RECEIPT_STATUSES } from "./receipt.ts";

Deno.test("the client protocol's user statuses are the receipt statuses, code for code", () => {
  assert.deepEqual([...USER_STATUSES], [...RECEIPT_STATUSES]);
});
