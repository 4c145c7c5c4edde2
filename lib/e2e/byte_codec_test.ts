import assert from "node:assert/strict";
import { ByteReader, ByteWriter } from "./byte_codec.ts";
import { CodecError } from "./errors.ts";

Deno.test("ByteWriter and ByteReader round-trip every field type", () => {
  const body = new Uint8Array(70_000).map((_, i) => i * 7);
  const bytes = new ByteWriter(4).u8(255).u16(65535).u32(0xffff_ffff).u64(2 ** 53 - 1)
    .raw(Uint8Array.of(1, 2, 3)).bytes16(Uint8Array.of(9)).bytes32(body).str16("café ✓")
    .finish();
  const r = new ByteReader(bytes, "sample");
  assert.equal(r.u8(), 255);
  assert.equal(r.u16(), 65535);
  assert.equal(r.u32(), 0xffff_ffff);
  assert.equal(r.u64(), 2 ** 53 - 1);
  assert.deepEqual(r.raw(3), Uint8Array.of(1, 2, 3));
  assert.deepEqual(r.bytes16(1), Uint8Array.of(9));
  const view = r.bytes32View(body.length);
  assert.deepEqual(view, body);
  assert.equal(view.buffer, bytes.buffer, "a view shares the input");
  assert.equal(r.str16(20), "café ✓");
  r.end();
});

Deno.test("ByteWriter refuses values out of range instead of wrapping them", () => {
  const w = new ByteWriter();
  assert.throws(() => w.u8(256), RangeError);
  assert.throws(() => w.u16(-1), RangeError);
  assert.throws(() => w.u32(2 ** 32), RangeError);
  assert.throws(() => w.u64(2 ** 53), RangeError);
  assert.throws(() => w.u8(1.5), RangeError);
  assert.throws(() => w.bytes16(new Uint8Array(65_536)), RangeError);
});

Deno.test("ByteReader refuses truncation, over-cap lengths, bad UTF-8, huge u64 and trailing bytes", () => {
  const fails = (bytes: Uint8Array, read: (r: ByteReader) => unknown, re: RegExp) =>
    assert.throws(
      () => read(new ByteReader(bytes, "thing")),
      (e: unknown) => e instanceof CodecError && re.test(e.message),
    );
  fails(Uint8Array.of(0), (r) => r.u16("len"), /thing: len is truncated/);
  fails(Uint8Array.of(0, 5, 1), (r) => r.bytes16(10, "f"), /f is truncated/);
  fails(
    Uint8Array.of(0, 0, 0, 11),
    (r) => r.bytes32(10, "body"),
    /body has 11 bytes, more than 10/,
  );
  fails(Uint8Array.of(0, 2, 0xc3, 0x28), (r) => r.str16(10, "name"), /name is not UTF-8/);
  fails(new Uint8Array(8).fill(0xff), (r) => r.u64("seq"), /seq is too large/);
  fails(Uint8Array.of(1, 2), (r) => (r.u8(), r.end()), /1 trailing bytes/);
  assert.throws(() => new ByteReader("x" as unknown as Uint8Array, "t"), CodecError);
});

Deno.test("ByteReader checks a length before allocating it", () => {
  // A u32 length of 4 GiB in a 4-byte input must fail on the cap, not try to allocate.
  const r = new ByteReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff), "big");
  assert.throws(() => r.bytes32(1024, "x"), /more than 1024/);
});

Deno.test("u64 is big-endian across both halves, and 2^53 on the wire is refused", () => {
  for (const v of [0, 1, 0xffff_ffff, 2 ** 32, 2 ** 32 + 5, 1_733_100_000_123, 2 ** 53 - 1]) {
    const bytes = new ByteWriter(8).u64(v).finish();
    const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
    assert.equal(view.getBigUint64(0), BigInt(v), `written ${v}`);
    assert.equal(new ByteReader(bytes, "n").u64(), v);
  }
  const over = new Uint8Array(8);
  new DataView(over.buffer).setBigUint64(0, 2n ** 53n);
  assert.throws(() => new ByteReader(over, "n").u64("seq"), /seq is too large/);
});

Deno.test("finish() hands out an exactly filled buffer without a copy; later writes never change it", () => {
  const w = new ByteWriter(3).u8(1).u16(0x0203);
  const first = w.finish();
  assert.deepEqual(first, Uint8Array.of(1, 2, 3));
  w.u8(4);
  assert.deepEqual(first, Uint8Array.of(1, 2, 3), "copied before the next write");
  assert.deepEqual(w.finish(), Uint8Array.of(1, 2, 3, 4));
  const part = new ByteWriter(8).u8(9).finish();
  assert.equal(part.buffer.byteLength, 1, "a partly filled buffer is still cut to size");
});

Deno.test("writers made while another writes (nested, interleaved, dropped, grown past the shared buffer) keep their own bytes", () => {
  const inner = (n: number) => new ByteWriter(8).u16(n).str16("x".repeat(n)).finish();
  // Nested in the arguments of an unfinished writer, twice.
  const outer = new ByteWriter(64).u8(7).bytes16(inner(3)).u32(0x01020304).bytes16(inner(2))
    .finish();
  const r = new ByteReader(outer, "outer");
  assert.equal(r.u8(), 7);
  assert.deepEqual(r.bytes16(100), Uint8Array.of(0, 3, 0, 3, 120, 120, 120));
  assert.equal(r.u32(), 0x01020304);
  assert.deepEqual(r.bytes16(100), Uint8Array.of(0, 2, 0, 2, 120, 120));
  r.end();
  // Interleaved, each finished twice and written after its first finish.
  const a = new ByteWriter().u8(1);
  const b = new ByteWriter().u8(2);
  a.u8(3);
  const c = new ByteWriter().u8(4);
  b.u8(5);
  const bFirst = b.finish();
  c.u8(6);
  assert.deepEqual(a.finish(), Uint8Array.of(1, 3));
  assert.deepEqual(bFirst, Uint8Array.of(2, 5));
  b.u8(9);
  assert.deepEqual(bFirst, Uint8Array.of(2, 5), "a result never changes");
  assert.deepEqual(b.finish(), Uint8Array.of(2, 5, 9));
  assert.deepEqual(c.finish(), Uint8Array.of(4, 6));
  // Dropped by a throw halfway: the next writer starts empty, and the dropped one's bytes stay
  // its own.
  const dropped = new ByteWriter().u8(0xaa);
  assert.throws(() => dropped.u8(256), RangeError);
  assert.deepEqual(new ByteWriter().u8(1).finish(), Uint8Array.of(1));
  assert.deepEqual(dropped.finish(), Uint8Array.of(0xaa));
  // Grown from the shared buffer to 40 KiB, with a writer nested after the growth.
  const big = new ByteWriter().u8(1);
  const filler = new Uint8Array(40 * 1024).fill(3);
  big.raw(filler);
  big.bytes16(inner(1));
  const out = big.finish();
  assert.equal(out.length, 1 + filler.length + 2 + 5);
  assert.equal(out[0], 1);
  assert.equal(out[filler.length], 3);
  assert.deepEqual(out.subarray(filler.length + 1), Uint8Array.of(0, 5, 0, 1, 0, 1, 120));
});
