import assert from "node:assert/strict";
import { decodeLinkMessage, encodeLinkMessage, envelopeMessageParts } from "./link_message.ts";

function join(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(parts.flatMap((p) => [...p]));
}

Deno.test("envelopeMessageParts() joined equals encodeLinkMessage() of the envelope", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(1000));
  assert.deepEqual(
    join(envelopeMessageParts(bytes)),
    encodeLinkMessage({ kind: "envelope", bytes }),
  );
});

Deno.test("decodeLinkMessage() reads back every kind encodeLinkMessage() writes", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(50));
  for (
    const m of [
      { kind: "heartbeat" },
      { kind: "envelope", bytes },
      { kind: "announce", bytes },
      { kind: "announce-batch", bytes },
      { kind: "result", status: "refused", reason: "no" },
      { kind: "bye", reason: "stopping" },
    ] as const
  ) {
    assert.deepEqual(decodeLinkMessage(encodeLinkMessage(m), 1 << 20), m);
  }
});

Deno.test("decodeLinkMessage() gives an envelope as a view of its input, not a copy", () => {
  const wire = encodeLinkMessage({ kind: "envelope", bytes: new Uint8Array([1, 2, 3]) });
  const m = decodeLinkMessage(wire, 1 << 20);
  assert.equal(m.kind, "envelope");
  if (m.kind !== "envelope") return;
  assert.equal(m.bytes.buffer, wire.buffer);
  assert.deepEqual(m.bytes, new Uint8Array([1, 2, 3]));
});

Deno.test("decodeLinkMessage() refuses an unknown version, an unknown kind and an oversized message", () => {
  assert.throws(() => decodeLinkMessage(new Uint8Array([9, 2]), 100));
  assert.throws(() => decodeLinkMessage(new Uint8Array([1, 99]), 100));
  assert.throws(() => decodeLinkMessage(new Uint8Array(101), 100));
});
