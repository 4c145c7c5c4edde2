import assert from "node:assert/strict";
import { SILENT_LOGGER } from "../log.ts";
import { FakeClock } from "../clock.ts";
import { type NodeId, toAddress, toNodeId } from "../ids.ts";
import {
  decodeEnvelope,
  decodeEnvelopeWithAuth,
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

Deno.test("Forwarder gives what it forwards up (forwardToPeer, the received bytes themselves), after its proof", () => {
  const handed: Array<[string, Uint8Array]> = [];
  const { f, sent, signByA, prov } = relayB({
    forwardToPeer: (p, bytes) => (handed.push([p, bytes]), true),
  });
  const a = toNodeId("a");
  const bytes = signByA(sample({ to: toAddress("bob@c") }));
  assert.equal(f.receive(a, bytes), "forwarded");
  assert.equal(sent.length, 0, "not through sendToPeer (which copies)");
  assert.equal(handed.length, 1);
  assert.equal(handed[0][0], "c");
  assert.equal(handed[0][1], bytes, "the bytes as received, ttl lowered in place");
  assert.equal(bytes[TTL_OFFSET], 31);
  // Forged: refused before anything is handed on.
  const forged =
    prov.get(toNodeId("c"))!.signBatch([encodeEnvelope(sample({ to: toAddress("bob@c") }))])[0];
  assert.equal(f.receive(a, forged), "forged");
  assert.equal(handed.length, 1);
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

Deno.test("Forwarder proves its own envelopes as parts, the unsigned bytes not copied, then says they are sent", async () => {
  const prov = testProvenances(ids);
  const parts: Array<readonly Uint8Array[]> = [];
  const joined: Uint8Array[] = [];
  const events: string[] = [];
  const make = (withParts: boolean) =>
    new Forwarder({
      self: toNodeId("a"),
      clock: new FakeClock(1_500),
      log: SILENT_LOGGER,
      provenance: prov.get(toNodeId("a"))!,
      sendToPeer: (_p, bytes) => (joined.push(bytes), events.push("joined"), true),
      ...(withParts
        ? { sendPartsToPeer: (_p, ps) => (parts.push(ps), events.push("parts"), true) }
        : {}),
      nextHop: () => toNodeId("b"),
      deliverLocal: () => {},
    });
  const big = encodeEnvelope(sample({ body: new Uint8Array(300 * 1024).fill(7) }));
  const small = encodeEnvelope(sample());
  const f = make(true);
  assert.equal(f.sendEncoded(toNodeId("c"), big, undefined, () => events.push("sent big")), "b");
  f.sendEncoded(toNodeId("c"), small);
  assert.deepEqual(events, [], "proven and written at the end of the turn");
  await Promise.resolve();
  assert.deepEqual(events, ["parts", "sent big", "parts"]);
  assert.equal(parts[0][0], big, "the unsigned bytes are passed as they are");
  // Joined, the parts are the bytes of a one-buffer proof, and B proves them.
  const g = make(false);
  g.sendEncoded(toNodeId("c"), big);
  g.sendEncoded(toNodeId("c"), small);
  await Promise.resolve();
  const b = prov.get(toNodeId("b"))!;
  for (const [i, ps] of parts.entries()) {
    const bytes = new Uint8Array(ps.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of ps) {
      bytes.set(p, at);
      at += p.length;
    }
    assert.equal(bytes.length, joined[i].length);
    assert.equal(
      b.verify(bytes, decodeEnvelopeWithAuth(bytes)),
      "ok",
      `envelope ${i} proven from its parts`,
    );
    assert.equal(b.verify(joined[i], decodeEnvelopeWithAuth(joined[i])), "ok");
    // The same bytes but for the batch's signature (each batch signs its own root).
    assert.deepEqual(bytes.subarray(0, ps[0].length), joined[i].subarray(0, ps[0].length));
  }
});

Deno.test("Forwarder says nothing is sent when there is no route, and gives up after a failed flush", async () => {
  const prov = testProvenances(ids);
  const events: string[] = [];
  const f = new Forwarder({
    self: toNodeId("a"),
    clock: new FakeClock(1_500),
    log: SILENT_LOGGER,
    provenance: prov.get(toNodeId("a"))!,
    sendToPeer: () => false,
    sendPartsToPeer: () => (events.push("tried"), false),
    nextHop: (d) => (d === "c" ? toNodeId("b") : undefined),
    deliverLocal: () => {},
  });
  const bytes = encodeEnvelope(sample());
  assert.equal(f.sendEncoded(toNodeId("z"), bytes, undefined, () => events.push("sent")), null);
  f.sendEncoded(toNodeId("c"), bytes, undefined, () => events.push("sent"));
  await Promise.resolve();
  // Its link refused it (the only hop): given up for this attempt, and the bytes are free again.
  assert.deepEqual(events, ["tried", "sent"]);
});

Deno.test("Forwarder hands an own envelope's bytes back only once the link it went on takes more", async () => {
  const prov = testProvenances(ids);
  const events: string[] = [];
  const waiting: Array<() => void> = [];
  const f = new Forwarder({
    self: toNodeId("a"),
    clock: new FakeClock(1_500),
    log: SILENT_LOGGER,
    provenance: prov.get(toNodeId("a"))!,
    sendToPeer: () => true,
    sendPartsToPeer: (p) => (events.push(`on ${p}`), true),
    nextHop: () => toNodeId("b"),
    // The link to b is over its high-water mark: what is handed to it waits for its drain.
    whenWritable: (p, fn) => (events.push(`wait ${p}`), waiting.push(fn)),
    deliverLocal: () => {},
  });
  const bytes = encodeEnvelope(sample());
  f.sendEncoded(toNodeId("c"), bytes, undefined, () => events.push("sent"));
  await Promise.resolve();
  assert.deepEqual(events, ["on b", "wait b"], "written now, handed back later");
  waiting.shift()!();
  assert.deepEqual(events, ["on b", "wait b", "sent"]);
  // Not written anywhere (no link took it): handed back at once, nothing to wait for.
  const g = new Forwarder({
    self: toNodeId("a"),
    clock: new FakeClock(1_500),
    log: SILENT_LOGGER,
    provenance: prov.get(toNodeId("a"))!,
    sendToPeer: () => false,
    sendPartsToPeer: () => false,
    nextHop: () => toNodeId("b"),
    whenWritable: () => assert.fail("nothing was written: nothing waits"),
    deliverLocal: () => {},
  });
  g.sendEncoded(toNodeId("c"), bytes, undefined, () => events.push("given up"));
  await Promise.resolve();
  assert.equal(events.at(-1), "given up");
});
