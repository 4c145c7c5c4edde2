import assert from "node:assert/strict";
import { describeStoreFailure, storeFailure } from "./store_failure.ts";

Deno.test("storeFailure() names a full disk, an I/O error, a read-only store and a lock", () => {
  assert.equal(storeFailure(new Error("database or disk is full")), "disk-full");
  assert.equal(storeFailure(new Error("No space left on device (os error 28)")), "disk-full");
  assert.equal(storeFailure(new Error("disk I/O error")), "io-error");
  assert.equal(storeFailure(new Error("attempt to write a readonly database")), "read-only");
  assert.equal(storeFailure(new Error("database is locked")), "busy");
  assert.equal(storeFailure(new Error("UNIQUE constraint failed")), "other");
  assert.match(describeStoreFailure("disk-full"), /disk is full/);
});
