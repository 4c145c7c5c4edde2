import assert from "node:assert/strict";
import { SILENT_LOGGER } from "../log.ts";
import { FakeClock } from "../clock.ts";
import { type NodeId, toNodeId } from "../ids.ts";
import {
  decodeEnvelope,
  encodeEnvelope,
  type Envelope,
  EnvelopeError,
  TTL_OFFSET,
} from "../protocol/mod.ts";
import { Forwarder } from "./forwarder.ts";

const sample = (over: Partial<Envelope> = {}): Envelope => ({
  id: new Uint8Array(16).fill(9),
  kind: "message",
  ttl: 32,
  createdAtMs: 1_000,
  expiresAtMs: 2_000,
  from: "alice@a",
  to: "bob@b",
  body: new Uint8Array([1, 2, 3]),
  ...over,
});

Deno.test("encodeEnvelope() round-trips through decodeEnvelope()", () => {
  for (
    const e of [sample(), sample({ kind: "receipt", from: "a", to: "b", body: new Uint8Array(0) })]
  ) {
    assert.deepEqual(decodeEnvelope(encodeEnvelope(e)), e);
  }
});

Deno.test("decodeEnvelope() rejects truncated, trailing, unknown version/kind and bad addresses", () => {
  const good = encodeEnvelope(sample());
  const bad: Uint8Array[] = [
    good.subarray(0, good.length - 1),
    new Uint8Array([...good, 0]),
    Uint8Array.from(good, (b, i) => (i === 0 ? 2 : b)),
    Uint8Array.from(good, (b, i) => (i === 17 ? 99 : b)),
    encodeEnvelope(sample({ from: "Alice@a" })),
    encodeEnvelope(sample({ kind: "receipt", from: "alice@a", to: "b" })),
    encodeEnvelope(sample({ expiresAtMs: 10 })),
    new Uint8Array(0),
  ];
  for (const b of bad) assert.throws(() => decodeEnvelope(b), EnvelopeError);
});

Deno.test("Forwarder sends on the next hop with ttl lowered, and drops at ttl 1", () => {
  const sent: Array<[string, Uint8Array]> = [];
  const local: Envelope[] = [];
  const f = new Forwarder({
    self: toNodeId("b"),
    clock: new FakeClock(1_500),
    log: SILENT_LOGGER,
    sendToPeer: (p, bytes) => (sent.push([p, bytes]), true),
    nextHop: (d) => (d === "c" ? toNodeId("c") : undefined),
    deliverLocal: (e) => local.push(e),
  });
  const toC = encodeEnvelope(sample({ to: "bob@c" }));
  assert.equal(f.receive("a" as NodeId, toC), "forwarded");
  assert.equal(sent[0][0], "c");
  assert.equal(sent[0][1][TTL_OFFSET], 31);
  assert.equal(
    f.receive("a" as NodeId, encodeEnvelope(sample({ to: "bob@c", ttl: 1 }))),
    "no-route",
  );
  assert.equal(f.receive("a" as NodeId, encodeEnvelope(sample({ to: "bob@zz" }))), "no-route");
  assert.equal(f.receive("a" as NodeId, encodeEnvelope(sample({ to: "bob@b" }))), "local");
  assert.equal(local.length, 1);
  assert.equal(
    f.receive("a" as NodeId, encodeEnvelope(sample({ to: "bob@c", expiresAtMs: 1_200 }))),
    "expired",
  );
  assert.equal(f.receive("a" as NodeId, new Uint8Array([1, 2, 3])), "invalid");
});

Deno.test("Forwarder.probe() records the path through a line of nodes", async () => {
  const clock = new FakeClock();
  const ids = ["a", "b", "c", "d"].map(toNodeId);
  const fwd = new Map<NodeId, Forwarder>();
  for (const [i, id] of ids.entries()) {
    fwd.set(
      id,
      new Forwarder({
        self: id,
        clock,
        log: SILENT_LOGGER,
        sendToPeer: (p, bytes) => (queueMicrotask(() => fwd.get(p)!.receive(id, bytes)), true),
        nextHop: (d) => {
          const j = ids.indexOf(d);
          return j < 0 || j === i ? undefined : ids[j > i ? i + 1 : i - 1];
        },
        deliverLocal: () => {},
      }),
    );
  }
  const r = await fwd.get(ids[0])!.probe(ids[3]);
  assert.deepEqual(r.path, ["a", "b", "c", "d"]);
});
