import assert from "node:assert/strict";
import { ByteWriter, CodecError } from "../e2e/mod.ts";
import { decodeGroupInner, encodeGroupInner, type GroupInner } from "./group_payload.ts";
import { encodeInner } from "./payload.ts";

const ID = "ab".repeat(16);
const FILE_ID = "cd".repeat(16);
const MANIFEST = new Uint8Array(93).map((_, i) => i).toBase64();

const SAMPLES: GroupInner[] = [
  { t: "text", id: ID, seq: 3, at: 1_800_000_000_000, text: "hi" },
  { t: "text", id: ID, seq: 1, at: 0, text: "€".repeat(16_000) },
  { t: "read", upTo: { "alice@a": 4 } },
  { t: "read", upTo: {} },
  { t: "joined" },
  { t: "file-accept", id: FILE_ID, to: "alice@a" },
  { t: "file-push", id: FILE_ID, to: "alice@a" },
  { t: "file-cancel", id: FILE_ID },
  { t: "file-resend", id: FILE_ID, index: 2, attempt: 1, to: "bob@b" },
  { t: "file-offer", id: FILE_ID, name: "a.txt", size: 5, type: "text/plain", manifest: MANIFEST },
];

Deno.test("group contents round-trip", () => {
  for (const x of SAMPLES) assert.deepEqual(decodeGroupInner(encodeGroupInner(x)), x);
});

Deno.test("group contents are binary: a text is version, type, id, seq, time, UTF-8", () => {
  const bytes = encodeGroupInner({ t: "text", id: ID, seq: 1, at: 2, text: "hi" });
  assert.equal(bytes.length, 2 + 16 + 8 + 8 + 2);
  assert.deepEqual(bytes.subarray(0, 2), Uint8Array.of(1, 1));
  assert.deepEqual(encodeGroupInner({ t: "joined" }), Uint8Array.of(1, 3));
});

function refuses(bytes: Uint8Array, why: RegExp) {
  assert.throws(
    () => decodeGroupInner(bytes),
    (e) => e instanceof CodecError && why.test(e.message),
  );
}

const w = (type: number) => new ByteWriter().u8(1).u8(type);

Deno.test("group contents: anything else is refused", () => {
  refuses(new TextEncoder().encode(JSON.stringify({ t: "joined" })), /version/);
  refuses(Uint8Array.of(2, 3), /version/);
  refuses(Uint8Array.of(1, 5), /unknown type/);
  refuses(Uint8Array.of(1, 3, 0), /trailing/);
  refuses(w(1).raw(Uint8Array.fromHex(ID)).u64(0).u64(1).raw(Uint8Array.of(0x68)).finish(), /seq/);
  refuses(w(1).raw(Uint8Array.fromHex(ID)).u64(1).u64(1).finish(), /empty/);
  refuses(
    w(1).raw(Uint8Array.fromHex(ID)).u64(1).u64(1).raw(new Uint8Array(16_001).fill(0x61)).finish(),
    /too long/,
  );
  refuses(
    w(1).raw(Uint8Array.fromHex(ID)).u64(1).u64(1).raw(Uint8Array.of(0xc3, 0x28)).finish(),
    /UTF-8/,
  );
  refuses(w(2).u16(257).finish(), /more than 256/);
  refuses(w(2).u16(1).str16("x".repeat(81)).u64(1).finish(), /longer than 80/);
  refuses(w(2).u16(2).str16("a@a").u64(1).str16("a@a").u64(2).finish(), /twice/);
  refuses(w(4).u8(2).finish(), /unknown flags/);
  refuses(w(4).u8(1).str16("x".repeat(81)).finish(), /longer than 80/);
  // Inside a file message: only the file transfer's messages.
  refuses(w(4).u8(0).bytes16(encodeInner({ t: "hi" })).finish(), /not a file message/);
  refuses(w(4).u8(0).bytes16(Uint8Array.of(1, 10, 1, 2)).finish(), /truncated/);
  for (const x of SAMPLES) {
    if (x.t === "text" || x.t === "joined") continue; // a text's end is its text
    const bytes = encodeGroupInner(x);
    for (let n = 0; n < bytes.length; n++) {
      assert.throws(() => decodeGroupInner(bytes.subarray(0, n)), CodecError, `${x.t} at ${n}`);
    }
  }
});

Deno.test("a reader named __proto__ is an own field", () => {
  const m = decodeGroupInner(w(2).u16(1).str16("__proto__").u64(3).finish());
  assert.equal(m.t, "read");
  assert.deepEqual(Object.keys((m as { upTo: object }).upTo), ["__proto__"]);
});

Deno.test("encodeGroupInner() refuses what it cannot carry", () => {
  assert.throws(
    () => encodeGroupInner({ t: "text", id: "x", seq: 1, at: 1, text: "a" }),
    RangeError,
  );
  const many = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`u${i}@b`, 1]));
  assert.throws(() => encodeGroupInner({ t: "read", upTo: many }), RangeError);
});
