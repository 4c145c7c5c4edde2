import assert from "node:assert/strict";
import { parseSize } from "./size_parse.ts";

const RANGE = { min: 65_536, max: 2 ** 50 };

Deno.test("parseSize() reads bytes and 1024-based units as config.conf does", () => {
  assert.equal(parseSize("65536", RANGE), 65_536);
  assert.equal(parseSize("64K", RANGE), 65_536);
  assert.equal(parseSize(" 10 MiB ", RANGE), 10 * 1024 ** 2);
  assert.equal(parseSize("2gb", RANGE), 2 * 1024 ** 3);
  assert.equal(parseSize("1024T", RANGE), 2 ** 50);
});

Deno.test("parseSize() refuses what is not a size in range, saying what to type", () => {
  for (const text of ["", "ten", "10X", "-1M", "1.5M", "63K", "1025T", "1".repeat(17)]) {
    assert.throws(
      () => parseSize(text, RANGE),
      (e: unknown) =>
        e instanceof RangeError && e.message.includes(JSON.stringify(text)) &&
        e.message.includes("optionally with K, M, G or T"),
    );
  }
});
