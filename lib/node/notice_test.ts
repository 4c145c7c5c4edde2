import assert from "node:assert/strict";
import { decodeNotice, encodeNotice, type NoticeFields } from "./notice.ts";

Deno.test("encodeNotice() keeps a plain 'delivered' as the word, and round-trips the rest", () => {
  assert.equal(encodeNotice({ state: "delivered" }), "delivered");
  const cases: NoticeFields[] = [
    { state: "delivered" },
    { state: "failed", reason: "refused" },
    { state: "delivered", users: { "bob@nb": "stored", "carol@nb": "refused" } },
    { state: "failed", reason: "expired", users: {} },
  ];
  for (const n of cases) assert.deepEqual(decodeNotice(encodeNotice(n)), n);
});

Deno.test("decodeNotice() refuses what is not a notice", () => {
  assert.throws(() => decodeNotice("deliver"), TypeError);
  assert.throws(() => decodeNotice("null"), TypeError);
  assert.throws(() => decodeNotice('{"state":"held"}'), TypeError);
  assert.throws(() => decodeNotice('{"state":"failed","reason":3}'), TypeError);
  assert.throws(() => decodeNotice('{"state":"failed","users":["x"]}'), TypeError);
  assert.throws(() => decodeNotice('{"state":"failed","users":{"a":1}}'), TypeError);
  assert.throws(
    () => decodeNotice(`{"state":"failed","reason":"${"x".repeat(300_000)}"}`),
    RangeError,
  );
});
