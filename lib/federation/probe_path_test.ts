import assert from "node:assert/strict";
import { CodecError } from "../e2e/mod.ts";
import { type NodeId, toNodeId } from "../ids.ts";
import { decodePath, encodePath, MAX_PROBE_HOPS } from "./probe_path.ts";

const hops = (n: number): NodeId[] => Array.from({ length: n }, (_, i) => toNodeId(`node-${i}`));

Deno.test("encodePath() round-trips through decodePath(), from no hop to the most", () => {
  for (const path of [[], [toNodeId("a")], hops(3), hops(MAX_PROBE_HOPS)]) {
    assert.deepEqual(decodePath(encodePath(path)), path);
  }
  assert.deepEqual(encodePath([toNodeId("ab")]), Uint8Array.of(1, 0, 2, 0x61, 0x62));
});

Deno.test("encodePath() refuses a path one hop too long", () => {
  assert.throws(() => encodePath(hops(MAX_PROBE_HOPS + 1)), RangeError);
});

Deno.test("decodePath() refuses truncated, trailing, too long and bad hops with CodecError", () => {
  const good = encodePath(hops(2));
  const bad = [
    new Uint8Array(0),
    good.subarray(0, good.length - 1),
    Uint8Array.of(...good, 0),
    Uint8Array.of(MAX_PROBE_HOPS + 1),
    Uint8Array.of(1, 0, 1, 0x41), // "A": not a node id
    Uint8Array.of(1, 0, 33, ...new Uint8Array(33).fill(0x61)), // 33 bytes
    Uint8Array.of(1, 0, 1, 0xff), // not UTF-8
  ];
  for (const bytes of bad) assert.throws(() => decodePath(bytes), CodecError, bytes.toHex());
});
