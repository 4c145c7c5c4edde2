import assert from "node:assert/strict";
import { decodeEnvelope } from "../protocol/mod.ts";
import { ID_TIME_BYTES, newEnvelope, newEnvelopeId } from "./new_envelope.ts";

const T = Date.UTC(2026, 11, 2, 19, 0, 0, 123);

/** The id's first bytes as milliseconds (big-endian). */
function idMs(id: Uint8Array): number {
  let ms = 0;
  for (let i = 0; i < ID_TIME_BYTES; i++) ms = ms * 256 + id[i];
  return ms;
}

Deno.test("newEnvelopeId() starts with the time it is given, big-endian", () => {
  const id = newEnvelopeId(T);
  assert.equal(id.length, 16);
  assert.equal(idMs(id), T);
  assert.equal(idMs(newEnvelopeId(2 ** 48 - 1)), 2 ** 48 - 1);
  assert.equal(idMs(newEnvelopeId(-5)), 0);
});

Deno.test("newEnvelopeId() ids made later sort after, whatever their random bytes", () => {
  const ids = [T, T + 1, T + 256, T + 65_536, T + 2 ** 32].map((t) => newEnvelopeId(t).toHex());
  assert.deepEqual([...ids].sort(), ids);
});

Deno.test("newEnvelopeId() ids of one millisecond differ in their random bytes", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) seen.add(newEnvelopeId(T).subarray(ID_TIME_BYTES).toHex());
  assert.equal(seen.size, 1000);
});

Deno.test("newEnvelope() makes its id from the envelope's own createdAtMs", () => {
  const e = newEnvelope({
    from: "alice@a",
    to: "bob@b",
    kind: "message",
    body: new Uint8Array(4),
    nowMs: T,
    lifetimeMs: 60_000,
  });
  const decoded = decodeEnvelope(e.bytes);
  assert.equal(decoded.createdAtMs, T);
  assert.equal(idMs(decoded.id), T);
  assert.equal(e.idBytes.toHex(), e.id);
});
