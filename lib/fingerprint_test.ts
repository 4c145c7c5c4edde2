import assert from "node:assert/strict";
import { base32, fingerprintMatches, fullFingerprint, shortFingerprint } from "./fingerprint.ts";

// RFC 4648 §10 test vectors, lower case and without padding.
const RFC4648 = [
  ["", ""],
  ["f", "my"],
  ["fo", "mzxq"],
  ["foo", "mzxw6"],
  ["foob", "mzxw6yq"],
  ["fooba", "mzxw6ytb"],
  ["foobar", "mzxw6ytboi"],
];

Deno.test("base32() matches the RFC 4648 §10 vectors (lower case, no padding)", () => {
  for (const [text, want] of RFC4648) assert.equal(base32(new TextEncoder().encode(text)), want);
});

Deno.test("fullFingerprint() is 52 characters; the short form and matching follow it", async () => {
  const full = await fullFingerprint(new Uint8Array(32));
  assert.match(full, /^[a-z2-7]{52}$/);
  const short = shortFingerprint(full);
  assert.match(short, /^[a-z2-7]{5}(-[a-z2-7]{5}){3}$/);
  assert.ok(fingerprintMatches(full, short.toUpperCase()));
  assert.ok(fingerprintMatches(full, full));
  assert.equal(fingerprintMatches(full, short.slice(0, 10)), false, "too short to match");
  assert.equal(fingerprintMatches(full, "aaaaa-aaaaa-aaaaa-aaaaa"), false);
});
