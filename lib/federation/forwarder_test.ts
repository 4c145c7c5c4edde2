import assert from "node:assert/strict";
import { SILENT_LOGGER } from "../log.ts";
import { FakeClock } from "../clock.ts";
import { type NodeId, toAddress, toNodeId } from "../ids.ts";
import {
  decodeEnvelope,
  encodeEnvelope,
  type Envelope,
  EnvelopeError,
  TTL_OFFSET,
} from "../protocol/mod.ts";
import { Forwarder, type ForwarderOptions } from "./forwarder.ts";
import { sampleEnvelope, testProvenances } from "./_test_nodes.ts";

const sample = sampleEnvelope;

Deno.test("encodeEnvelope() round-trips through decodeEnvelope()", () => {
  const receipt = sample({ kind: "receipt", from: toNodeId("a"), to: toNodeId("b") } as never);
  for (const e of [sample(), { ...receipt, body: new Uint8Array(0) }]) {
    assert.deepEqual(decodeEnvelope(encodeEnvelope(e)), e);
  }
});

Deno.test("decodeEnvelope() rejects truncated, trailing, unknown version/kind and bad addresses", () => {
  const good = encodeEnvelope(sample());
  const bad: Uint8Array[] = [
    good.subarray(0, good.length - 1),
    new Uint8Array([...good, 0]),
    Uint8Array.from(good, (b, i) => (i === 0 ? 3 : b)),
    Uint8Array.from(good, (b, i) => (i === 17 ? 99 : b)),
    encodeEnvelope({ ...sample(), from: "Alice@a" }),
    encodeEnvelope({ ...sample(), kind: "receipt", from: "alice@a", to: "b" }),
    encodeEnvelope(sample({ expiresAtMs: 10 })),
    new Uint8Array(0),
  ];
  for (const b of bad) assert.throws(() => decodeEnvelope(b), EnvelopeError);
});

const ids = ["a", "b", "c"].map(toNodeId);

function relayB(over: Partial<ForwarderOptions> = {}) {
  const prov = testProvenances(ids);
  const sent: Array<[string, Uint8Array]> = [];
  const local: Array<[Envelope, NodeId | null]> = [];
  const f = new Forwarder({
    self: toNodeId("b"),
    clock: new FakeClock(1_500),
    log: SILENT_LOGGER,
    provenance: prov.get(toNodeId("b"))!,
    sendToPeer: (p, bytes) => (sent.push([p, bytes]), true),
    nextHop: (d) => (d === "c" ? toNodeId("c") : d === "a" ? toNodeId("a") : undefined),
    deliverLocal: (e, _bytes, via) => local.push([e, via]),
    ...over,
  });
  const signByA = (e: Envelope) => prov.get(toNodeId("a"))!.signBatch([encodeEnvelope(e)])[0];
  return { f, sent, local, signByA, prov };
}

Deno.test("Forwarder sends a proven envelope on with ttl lowered, and drops at ttl 1", () => {
  const { f, sent, local, signByA } = relayB();
  const a = toNodeId("a");
  assert.equal(f.receive(a, signByA(sample({ to: toAddress("bob@c") }))), "forwarded");
  assert.equal(sent[0][0], "c");
  assert.equal(sent[0][1][TTL_OFFSET], 31);
  assert.equal(f.receive(a, signByA(sample({ to: toAddress("bob@c"), ttl: 1 }))), "dropped");
  assert.equal(f.receive(a, signByA(sample({ to: toAddress("bob@zz") }))), "dropped");
  assert.equal(f.receive(a, signByA(sample({ to: toAddress("bob@b") }))), "local");
  assert.equal(local.length, 1);
  assert.equal(local[0][1], "a", "the neighbour that handed it over is named");
  // Clocks disagree: a relay never judges another node's expiry.
  assert.equal(
    f.receive(a, signByA(sample({ to: toAddress("bob@c"), expiresAtMs: 1_200 }))),
    "forwarded",
  );
});

Deno.test("Forwarder refuses garbage, unsigned and forged envelopes before forwarding", () => {
  const { f, sent, prov } = relayB();
  const a = toNodeId("a");
  assert.equal(f.receive(a, new Uint8Array([1, 2, 3])), "invalid");
  assert.equal(f.receive(a, encodeEnvelope(sample({ to: toAddress("bob@c") }))), "invalid");
  // c signs an envelope claiming to come from alice@a.
  const forged =
    prov.get(toNodeId("c"))!.signBatch([encodeEnvelope(sample({ to: toAddress("bob@c") }))])[0];
  assert.equal(f.receive(a, forged), "forged");
  assert.equal(sent.length, 0);
});

Deno.test("Forwarder survives a probe whose body is garbage, and one with a long path", async () => {
  const { f, signByA } = relayB();
  const bad = sample(
    { kind: "probe", from: toNodeId("a"), to: toNodeId("c"), body: Uint8Array.of(0xc8) } as never,
  );
  assert.equal(f.receive(toNodeId("a"), signByA(bad)), "forwarded");
  const long = sample(
    {
      kind: "probe",
      from: toNodeId("a"),
      to: toNodeId("b"),
      body: new Uint8Array(64 * 33),
    } as never,
  );
  assert.equal(f.receive(toNodeId("a"), signByA(long)), "local");
  await new Promise((r) => setTimeout(r, 0));
});

Deno.test("Forwarder.probe() learns the path through a line of nodes from each hop's answer", async () => {
  const clock = new FakeClock();
  const line = ["a", "b", "c", "d"].map(toNodeId);
  const prov = testProvenances(line);
  const fwd = new Map<NodeId, Forwarder>();
  for (const [i, id] of line.entries()) {
    fwd.set(
      id,
      new Forwarder({
        self: id,
        clock,
        log: SILENT_LOGGER,
        provenance: prov.get(id)!,
        sendToPeer: (p, bytes) => (queueMicrotask(() => fwd.get(p)!.receive(id, bytes)), true),
        nextHop: (d) => {
          const j = line.indexOf(d);
          return j < 0 || j === i ? undefined : line[j > i ? i + 1 : i - 1];
        },
        deliverLocal: () => {},
      }),
    );
  }
  const r = await fwd.get(line[0])!.probe(line[3]);
  assert.deepEqual(r.path, ["a", "b", "c", "d"]);
});
