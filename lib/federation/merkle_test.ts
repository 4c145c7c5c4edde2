import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { leafHash, merkleTree, NATIVE_LEAF_BYTES, rootFromPath } from "./merkle.ts";

const leaves = (n: number) =>
  Array.from({ length: n }, (_, i) => leafHash([Uint8Array.of(i, i >> 8)]));

Deno.test("merkleTree() paths prove every leaf of trees of 1 to 70 leaves", () => {
  for (let n = 1; n <= 70; n++) {
    const ls = leaves(n);
    const { root, paths } = merkleTree(ls);
    for (let i = 0; i < n; i++) {
      assert.deepEqual(rootFromPath(ls[i], i, n, paths[i]), root, `n=${n} i=${i}`);
      assert.ok(paths[i].length <= Math.ceil(Math.log2(n)), "path no longer than the depth");
    }
  }
});

Deno.test("rootFromPath() gives another root for a wrong leaf, index, size or path", () => {
  const ls = leaves(13);
  const { root, paths } = merkleTree(ls);
  const other = (r: Uint8Array | null) => r === null || r.toHex() !== root.toHex();
  assert.ok(other(rootFromPath(ls[4], 5, 13, paths[4])), "wrong index");
  assert.ok(other(rootFromPath(ls[5], 4, 13, paths[4])), "wrong leaf");
  // A size that changes the shape breaks the path (the signed statement binds the size too).
  assert.ok(other(rootFromPath(ls[4], 4, 5, paths[4])), "wrong size");
  assert.ok(other(rootFromPath(ls[4], 4, 13, paths[4].slice(1))), "short path");
  assert.ok(other(rootFromPath(ls[4], 4, 13, [...paths[4], ls[0]])), "long path");
  assert.equal(rootFromPath(ls[0], 13, 13, paths[0]), null, "index past the end");
  const flipped = paths[4].map((p, i) => (i === 1 ? p.map((b, j) => (j === 0 ? b ^ 1 : b)) : p));
  assert.ok(other(rootFromPath(ls[4], 4, 13, flipped)), "altered sibling");
});

Deno.test("a leaf and an inner node never hash alike (RFC 9162 domain separation)", () => {
  const [a, b] = leaves(2);
  const { root } = merkleTree([a, b]);
  // A one-leaf tree whose leaf is the concatenation cannot have the same root.
  assert.notDeepEqual(merkleTree([leafHash([a, b])]).root, root);
  assert.throws(() => merkleTree([]), RangeError);
});

Deno.test("leafHash() is SHA-256(0x00 ‖ parts) in 1 to 3 parts, hash after hash, on either side of the native size", () => {
  const around = NATIVE_LEAF_BYTES;
  const sizes = Array.from({ length: 301 }, (_, n) => n)
    .concat([around - 1, around, around + 1, 262_144 + 31]);
  for (const n of sizes) {
    const bytes = new Uint8Array(n).map((_, i) => (i * 131 + n) & 0xff);
    const cuts = [Math.floor(n / 3), Math.floor((2 * n) / 3)];
    const parts = [
      bytes.subarray(0, cuts[0]),
      bytes.subarray(cuts[0], cuts[1]),
      bytes.subarray(cuts[1]),
    ];
    const expected = createHash("sha256").update(Uint8Array.of(0)).update(bytes).digest("hex");
    assert.equal(leafHash(parts).toHex(), expected, `n=${n}`);
    assert.equal(leafHash([bytes]).toHex(), expected, `n=${n}, one part`);
  }
});

Deno.test("inner nodes are SHA-256(0x01 ‖ left ‖ right) (RFC 9162 §2.1.1)", () => {
  const ls = leaves(2);
  const expected = createHash("sha256").update(Uint8Array.of(1)).update(ls[0]).update(ls[1])
    .digest("hex");
  assert.equal(merkleTree(ls).root.toHex(), expected);
});
