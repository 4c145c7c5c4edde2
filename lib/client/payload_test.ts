import assert from "node:assert/strict";
import { ByteWriter, CodecError } from "../e2e/mod.ts";
import { decodeInner, decodePayload, encodeInner, encodePayload, type Inner } from "./payload.ts";

const FILE_ID = "0123456789abcdef".repeat(2);
const MANIFEST = new Uint8Array(93).map((_, i) => i).toBase64();

const SAMPLES: Inner[] = [
  { t: "text", seq: 1, at: 1_764_000_000_000, text: "hello" },
  { t: "text", seq: Number.MAX_SAFE_INTEGER, at: 0, text: "" },
  { t: "text", seq: 2, at: 3, text: "€ 🙂 ünïcödé" },
  { t: "text", seq: 2, at: 3, text: "\uFEFF starts with a byte order mark" },
  { t: "text", seq: 3, at: 4, text: "🙂".repeat(32 * 1024) },
  { t: "read", upTo: 0 },
  { t: "read", upTo: 41 },
  { t: "hi" },
  {
    t: "file-offer",
    id: FILE_ID,
    name: "report.pdf",
    size: 2 ** 40,
    type: "application/pdf",
    manifest: MANIFEST,
  },
  { t: "file-accept", id: FILE_ID },
  { t: "file-decline", id: FILE_ID },
  { t: "file-done", id: FILE_ID },
  { t: "file-cancel", id: FILE_ID },
  { t: "file-cancel", id: FILE_ID, reason: "Cannot send file: quota full" },
  { t: "file-resend", id: FILE_ID, index: 7, attempt: 2 },
  { t: "file-push", id: FILE_ID },
  { t: "file-digest", id: FILE_ID, digest: "ab".repeat(32) },
  { t: "file-digest-ask", id: FILE_ID, attempt: 3 },
];

Deno.test("decodeInner() reads back every inner message encodeInner() writes", () => {
  for (const m of SAMPLES) assert.deepEqual(decodeInner(encodeInner(m)), m);
});

Deno.test("a text inside the ratchet is binary: version, type, seq, time, then the UTF-8", () => {
  const bytes = encodeInner({ t: "text", seq: 5, at: 6, text: "hi" });
  assert.deepEqual(
    bytes,
    Uint8Array.of(1, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 6, 0x68, 0x69),
  );
  assert.deepEqual(
    encodeInner({ t: "read", upTo: 9 }),
    Uint8Array.of(1, 2, 0, 0, 0, 0, 0, 0, 0, 9),
  );
  assert.deepEqual(encodeInner({ t: "hi" }), Uint8Array.of(1, 3));
});

function refuses(bytes: Uint8Array, why: RegExp) {
  assert.throws(() => decodeInner(bytes), (e) => e instanceof CodecError && why.test(e.message));
}

const w = (type: number) => new ByteWriter().u8(1).u8(type);

Deno.test("a file-push is type 10 and the file id, nothing else", () => {
  assert.deepEqual(
    encodeInner({ t: "file-push", id: FILE_ID }),
    Uint8Array.of(1, 10, ...Uint8Array.fromHex(FILE_ID)),
  );
  refuses(Uint8Array.of(1, 10, ...Uint8Array.fromHex(FILE_ID), 0), /trailing/);
});

Deno.test("decodeInner() refuses unknown versions and types, JSON, truncation, trailing bytes", () => {
  refuses(
    new TextEncoder().encode(JSON.stringify({ t: "text", seq: 1, at: 1, text: "x" })),
    /version/,
  );
  refuses(Uint8Array.of(2, 1), /version/);
  refuses(Uint8Array.of(1, 0), /unknown type/);
  refuses(Uint8Array.of(1, 13), /unknown type/);
  refuses(new Uint8Array(0), /truncated/);
  refuses(Uint8Array.of(1, 3, 0), /trailing/);
  refuses(Uint8Array.of(1, 2, 0, 0, 0, 0, 0, 0, 0, 9, 0), /trailing/);
  for (const m of SAMPLES) {
    if (m.t === "text" || m.t === "hi") continue; // a text's end is its text; hi is 2 bytes
    const bytes = encodeInner(m);
    for (let n = 0; n < bytes.length; n++) {
      assert.throws(() => decodeInner(bytes.subarray(0, n)), CodecError, `${m.t} at ${n}`);
    }
  }
});

Deno.test("a file-digest is type 11, the file id and 32 bytes, nothing else", () => {
  const bytes = encodeInner({ t: "file-digest", id: FILE_ID, digest: "cd".repeat(32) });
  assert.deepEqual(
    bytes,
    Uint8Array.of(1, 11, ...Uint8Array.fromHex(FILE_ID), ...new Uint8Array(32).fill(0xcd)),
  );
  refuses(bytes.subarray(0, bytes.length - 1), /truncated/);
  refuses(Uint8Array.of(...bytes, 0), /trailing/);
  assert.throws(() => encodeInner({ t: "file-digest", id: FILE_ID, digest: "cd" }), RangeError);
});

Deno.test("a file-digest-ask is type 12, the file id and an attempt of 1 to 99", () => {
  const bytes = encodeInner({ t: "file-digest-ask", id: FILE_ID, attempt: 2 });
  assert.deepEqual(bytes, Uint8Array.of(1, 12, ...Uint8Array.fromHex(FILE_ID), 2));
  refuses(Uint8Array.of(1, 12, ...Uint8Array.fromHex(FILE_ID), 0), /attempt out of range/);
  refuses(Uint8Array.of(1, 12, ...Uint8Array.fromHex(FILE_ID), 100), /attempt out of range/);
  refuses(Uint8Array.of(...bytes, 0), /trailing/);
});

Deno.test("decodeInner() checks every field", () => {
  refuses(w(1).u64(0).u64(1).finish(), /seq is 0/);
  refuses(w(1).u64(1).u64(1).raw(Uint8Array.of(0xc3, 0x28)).finish(), /not UTF-8/);
  refuses(w(1).u64(1).u64(1).raw(new Uint8Array(64 * 1024 + 1).fill(0x61)).finish(), /too long/);
  refuses(w(1).u32(0x20_0000).u32(0).u64(1).finish(), /too large/); // seq 2^53
  const id = Uint8Array.fromHex(FILE_ID);
  refuses(w(8).raw(id).u8(2).finish(), /0 or 1/);
  refuses(w(8).raw(id).u8(1).str16("x".repeat(501)).finish(), /reason is too long/);
  refuses(w(9).raw(id).u64(1).u8(0).finish(), /attempt/);
  refuses(w(9).raw(id).u64(1).u8(100).finish(), /attempt/);
  refuses(
    w(4).raw(id).u64(1).str16("x".repeat(4097)).str16("t").bytes16(new Uint8Array(93)).finish(),
    /name/,
  );
  refuses(
    w(4).raw(id).u64(1).str16("n").str16("t").bytes16(new Uint8Array(151)).finish(),
    /manifest/,
  );
});

Deno.test("encodeInner() refuses a file id that is not 32 lowercase hex digits", () => {
  assert.throws(() => encodeInner({ t: "file-done", id: FILE_ID.toUpperCase() }), RangeError);
  assert.throws(() => encodeInner({ t: "file-done", id: "00" }), RangeError);
});

Deno.test("envelope bodies round-trip; a ratchet message is read without a copy", () => {
  const message = new Uint8Array(180).fill(7);
  const body = encodePayload({ kind: "ratchet", message });
  assert.equal(body.length, 5 + message.length);
  const p = decodePayload(body);
  assert.equal(p.kind, "ratchet");
  if (p.kind === "ratchet") {
    assert.deepEqual(p.message, message);
    assert.equal(p.message.buffer, body.buffer, "a view into the body");
  }
  const acceptance = new Uint8Array(50).fill(1);
  assert.deepEqual(decodePayload(encodePayload({ kind: "acceptance", acceptance })), {
    kind: "acceptance",
    acceptance,
  });
  assert.throws(() => decodePayload(Uint8Array.of(1, 0, 0, 0, 0)), /version 1 request/);
  assert.throws(() => decodePayload(Uint8Array.of(9, 0, 0, 0, 0)), /unknown kind/);
});
