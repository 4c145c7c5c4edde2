import assert from "node:assert/strict";
import { derOid, derSequence, derTime, derTlv, derUnsigned, derUtf8 } from "./der.ts";

const hex = (b: Uint8Array) => b.toHex();

Deno.test("derOid() encodes arcs above 127 in base 128", () => {
  assert.equal(hex(derOid("1.2.840.10045.4.3.2")), "06082a8648ce3d040302");
  assert.equal(hex(derOid("2.5.29.17")), "0603551d11");
  assert.equal(hex(derOid("1.3.6.1.5.5.7.3.1")), "06082b06010505070301");
});

Deno.test("derUnsigned() is minimal: no leading zeros, one zero before a high bit", () => {
  assert.equal(hex(derUnsigned(Uint8Array.of(2))), "020102");
  assert.equal(hex(derUnsigned(Uint8Array.of(0, 0, 0x7f))), "02017f");
  assert.equal(hex(derUnsigned(Uint8Array.of(0, 0x80))), "02020080");
  assert.equal(hex(derUnsigned(Uint8Array.of(0xff, 1))), "020300ff01");
  assert.equal(hex(derUnsigned(Uint8Array.of(0, 0))), "020100");
});

Deno.test("derTlv() uses the long length form from 128 bytes", () => {
  assert.equal(hex(derTlv(0x04, new Uint8Array(127)).subarray(0, 2)), "047f");
  assert.equal(hex(derTlv(0x04, new Uint8Array(128)).subarray(0, 3)), "048180");
  assert.equal(hex(derTlv(0x04, new Uint8Array(300)).subarray(0, 4)), "0482012c");
  assert.equal(hex(derSequence()), "3000");
  assert.equal(hex(derUtf8("é")), "0c02c3a9");
});

Deno.test("derTime() is UTCTime up to 2049 and GeneralizedTime from 2050, in whole seconds", () => {
  const text = (b: Uint8Array) => [b[0], new TextDecoder().decode(b.subarray(2))];
  assert.deepEqual(text(derTime(Date.parse("2026-12-02T23:59:00.750Z"))), [0x17, "261202235900Z"]);
  assert.deepEqual(text(derTime(Date.parse("2049-12-31T23:59:59Z"))), [0x17, "491231235959Z"]);
  assert.deepEqual(text(derTime(Date.parse("2050-01-01T00:00:00Z"))), [0x18, "20500101000000Z"]);
});
