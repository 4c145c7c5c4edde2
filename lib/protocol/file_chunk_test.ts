import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CodecError } from "../e2e/mod.ts";
import {
  CHUNK_HEADER_BYTES,
  chunkEnvelopeId,
  chunkEnvelopeIdWith,
  decodeChunkBody,
  encodeChunkBody,
  encodeChunkBodyParts,
  MAX_SEALED_CHUNK_BYTES,
} from "./file_chunk.ts";

const body = {
  fileId: new Uint8Array(16).fill(7),
  index: 3,
  fileBytes: 5_000_000_000,
  sealed: new Uint8Array(100).fill(1),
};

Deno.test("chunk body round trip", () => {
  const bytes = encodeChunkBody(body);
  assert.equal(bytes.length, CHUNK_HEADER_BYTES + 100);
  assert.deepEqual(decodeChunkBody(bytes), body);
});

Deno.test("encodeChunkBodyParts() gives the bytes of encodeChunkBody(); a view decodes the same", () => {
  const { sealed, ...head } = body;
  const bytes = encodeChunkBodyParts(head, [sealed.subarray(0, 84), sealed.subarray(84)]);
  assert.deepEqual(bytes, encodeChunkBody(body));
  assert.deepEqual(encodeChunkBodyParts(head, [sealed]), bytes);
  const viewed = decodeChunkBody(bytes, { view: true });
  assert.deepEqual(viewed, body);
  assert.equal(viewed.sealed.buffer, bytes.buffer, "a view, not a copy");
  assert.notEqual(decodeChunkBody(bytes).sealed.buffer, bytes.buffer, "a copy by default");
  assert.throws(
    () => encodeChunkBodyParts(head, [new Uint8Array(MAX_SEALED_CHUNK_BYTES), new Uint8Array(1)]),
    RangeError,
  );
  assert.throws(
    () => encodeChunkBodyParts({ ...head, fileId: new Uint8Array(15) }, []),
    RangeError,
  );
});

Deno.test("decodeChunkBody() rejects unknown version, truncation, trailing and oversized input", () => {
  const bytes = encodeChunkBody(body);
  const v2 = bytes.slice();
  v2[0] = 2;
  assert.throws(() => decodeChunkBody(v2), CodecError);
  assert.throws(() => decodeChunkBody(bytes.subarray(0, bytes.length - 1)), CodecError);
  assert.throws(() => decodeChunkBody(new Uint8Array([...bytes, 0])), CodecError);
  assert.throws(
    () => decodeChunkBody(new Uint8Array(CHUNK_HEADER_BYTES + MAX_SEALED_CHUNK_BYTES + 1)),
    CodecError,
  );
  assert.throws(
    () => encodeChunkBody({ ...body, sealed: new Uint8Array(MAX_SEALED_CHUNK_BYTES + 1) }),
    RangeError,
  );
});

Deno.test("chunkEnvelopeId() is deterministic per file, index and attempt", async () => {
  const a = await chunkEnvelopeId(body.fileId, 1);
  assert.equal(a.length, 16);
  assert.deepEqual(a, await chunkEnvelopeId(body.fileId, 1, 0));
  assert.notDeepEqual(a, await chunkEnvelopeId(body.fileId, 2));
  assert.notDeepEqual(a, await chunkEnvelopeId(body.fileId, 1, 1));
  assert.notDeepEqual(a, await chunkEnvelopeId(new Uint8Array(16), 1));
});

Deno.test("chunkEnvelopeIdWith() a synchronous SHA-256 gives chunkEnvelopeId()'s id", async () => {
  const sha256 = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());
  for (const [index, attempt] of [[0, 0], [1, 0], [1, 3], [2 ** 20 - 1, 7]]) {
    const id = chunkEnvelopeIdWith(sha256, body.fileId, index, attempt);
    assert.equal(id.length, 16);
    assert.deepEqual(id, await chunkEnvelopeId(body.fileId, index, attempt));
  }
});
