import assert from "node:assert/strict";
import { CodecError } from "../e2e/mod.ts";
import { toNodeId } from "../ids.ts";
import { decodeProbeHop, encodeProbeHop, type ProbeHop } from "./probe_hop.ts";

const hop = (over: Partial<ProbeHop> = {}): ProbeHop => ({
  probe: new Uint8Array(16).fill(7),
  hop: 3,
  node: toNodeId("relay-1"),
  final: false,
  ...over,
});

Deno.test("encodeProbeHop() round-trips through decodeProbeHop()", () => {
  for (const h of [hop(), hop({ final: true, hop: 0 }), hop({ hop: 255, node: toNodeId("a") })]) {
    assert.deepEqual(decodeProbeHop(encodeProbeHop(h)), h);
  }
  assert.deepEqual(
    encodeProbeHop(hop({ node: toNodeId("ab"), final: true })),
    Uint8Array.of(1, ...new Uint8Array(16).fill(7), 3, 0, 2, 0x61, 0x62, 1),
  );
});

Deno.test("encodeProbeHop() refuses a probe id that is not 16 bytes", () => {
  assert.throws(() => encodeProbeHop(hop({ probe: new Uint8Array(15) })), RangeError);
});

Deno.test("decodeProbeHop() refuses version, truncation, trailing bytes, node and flag with CodecError", () => {
  const good = encodeProbeHop(hop());
  const at = (i: number, v: number) => Uint8Array.from(good, (b, j) => (j === i ? v : b));
  const bad = [
    new Uint8Array(0),
    at(0, 2),
    good.subarray(0, good.length - 1),
    Uint8Array.of(...good, 0),
    at(good.length - 1, 2), // final must be 0 or 1
    at(20, 0x41), // "Relay-1": not a node id
    at(20, 0xff), // not UTF-8
  ];
  for (const bytes of bad) assert.throws(() => decodeProbeHop(bytes), CodecError, bytes.toHex());
});
