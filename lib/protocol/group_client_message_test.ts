import assert from "node:assert/strict";
import { type ClientMessage, decodeClientMessage, encodeClientMessage } from "./client_message.ts";
import { CodecError } from "../e2e/mod.ts";

Deno.test("client messages for groups round-trip; per-user results are checked", () => {
  const all: ClientMessage[] = [
    { type: "keyPackages", packages: new Uint8Array([1, 2]) },
    { type: "keyPackageCount", count: 3, lastResort: true },
    { type: "keyPackageFetch", req: 7, address: "bob@nodeb" },
    { type: "keyPackage", req: 7, keyPackage: new Uint8Array([5]) },
    { type: "keyPackage", req: 8, error: "none" },
    { type: "groupPolicy", group: "ab@nodea", state: "joined" },
    { type: "notice", seq: 1, id: "n1", ref: "e1", state: "delivered", users: { "b@b": "stored" } },
    { type: "submitted", req: 2, id: "e2", state: "delivered", users: { "b@b": "refused" } },
  ];
  for (const m of all) assert.deepEqual(decodeClientMessage(encodeClientMessage(m)), m);
  const bad = encodeClientMessage({
    type: "notice",
    seq: 1,
    id: "n1",
    ref: "e1",
    state: "delivered",
    users: { "b@b": 5 as unknown as string },
  });
  assert.throws(() => decodeClientMessage(bad), CodecError);
  const badPolicy = encodeClientMessage({
    type: "groupPolicy",
    group: "g",
    state: "owner" as "joined",
  });
  assert.throws(() => decodeClientMessage(badPolicy), CodecError);
});
