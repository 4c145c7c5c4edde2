import assert from "node:assert/strict";
import { generateIdentity } from "./identity.ts";
import { safetyNumber, safetyQrMatches } from "./safety_number.ts";

const a = (await generateIdentity()).publicIdentity;
const b = (await generateIdentity()).publicIdentity;
const c = (await generateIdentity()).publicIdentity;

Deno.test("safetyNumber() is the same on both sides: 60 digits in 12 groups of 5", () => {
  const ab = safetyNumber({
    local: { address: "a@n", identity: a },
    peer: { address: "b@n", identity: b },
  });
  const ba = safetyNumber({
    local: { address: "b@n", identity: b },
    peer: { address: "a@n", identity: a },
  });
  assert.deepEqual(ab, ba);
  assert.match(ab.digits, /^(\d{5} ){11}\d{5}$/);
  assert.ok(safetyQrMatches(ba.qr, ab));
});

Deno.test("safetyNumber() differs for another key or another address", () => {
  const ab = safetyNumber({
    local: { address: "a@n", identity: a },
    peer: { address: "b@n", identity: b },
  });
  const ac = safetyNumber({
    local: { address: "a@n", identity: a },
    peer: { address: "b@n", identity: c },
  });
  const ab2 = safetyNumber({
    local: { address: "a@n", identity: a },
    peer: { address: "b@m", identity: b },
  });
  assert.notEqual(ab.digits, ac.digits);
  assert.notEqual(ab.digits, ab2.digits);
  assert.equal(safetyQrMatches(ac.qr, ab), false);
  assert.equal(safetyQrMatches(ab.qr.slice(0, -1), ab), false);
});
