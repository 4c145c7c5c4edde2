import assert from "node:assert/strict";
import { checkFileOffer, MAX_FILE_OFFER_BYTES, MAX_FILE_OFFER_CHUNKS } from "./file_offer.ts";

Deno.test("checkFileOffer() takes ordinary offers, an empty file included", () => {
  assert.deepEqual(checkFileOffer({ size: 0, chunkBytes: 256 * 1024 }), { kind: "ok", chunks: 1 });
  assert.deepEqual(checkFileOffer({ size: 8 * 1024 ** 3, chunkBytes: 256 * 1024 }), {
    kind: "ok",
    chunks: 32_768,
  });
  assert.equal(checkFileOffer({ size: MAX_FILE_OFFER_BYTES, chunkBytes: 256 * 1024 }).kind, "ok");
});

Deno.test("checkFileOffer() refuses too large, too many chunks, and nonsense sizes", () => {
  const refused = [
    { size: 2 ** 40, chunkBytes: 1024 },
    { size: MAX_FILE_OFFER_BYTES + 1, chunkBytes: 16 * 1024 * 1024 },
    { size: (MAX_FILE_OFFER_CHUNKS + 1) * 1024, chunkBytes: 1024 },
    { size: -1, chunkBytes: 1024 },
    { size: 1.5, chunkBytes: 1024 },
    { size: 2 ** 60, chunkBytes: 1024 },
    { size: 10, chunkBytes: 512 },
    { size: 10, chunkBytes: 32 * 1024 * 1024 },
  ];
  for (const o of refused) assert.equal(checkFileOffer(o).kind, "refused", JSON.stringify(o));
  assert.equal(checkFileOffer({ size: MAX_FILE_OFFER_CHUNKS * 1024, chunkBytes: 1024 }).kind, "ok");
});
