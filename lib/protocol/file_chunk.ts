/**
 * The body of a `chunk` envelope: one end-to-end encrypted chunk of a file,
 * with the little a receiving node needs to keep it on disk, apply limits and
 * hand it to its user's client in order. Nodes never see the file key, the
 * name or the plaintext.
 *
 *   u8 version=1 | [16] fileId | u32 index | u64 fileBytes | bytes sealed (u32 length)
 *
 * `fileBytes` is the plaintext size the sender claims (checked against the
 * node's limit; the receiving client checks it against the manifest).
 * Envelope ids of chunks are derived, so a retransmission has the same id and
 * the destination's de-duplication makes it harmless:
 *
 *   id = SHA-256("fedchat/v1/chunk-id\0" | fileId | u32 index | u32 attempt)[0..16]
 *
 * `attempt` grows only when the receiver asks for a chunk again (it arrived
 * altered), so the new copy is not taken for a duplicate.
 */
import { ByteReader, ByteWriter, CodecError } from "../e2e/base.ts";

const VERSION = 1;
const ID_LABEL = new TextEncoder().encode("fedchat/v1/chunk-id\0");
/** Bytes of a file id. */
export const FILE_ID_BYTES = 16;
/** Largest sealed chunk a chunk envelope carries. */
export const MAX_SEALED_CHUNK_BYTES = 256 * 1024 + 16;
/** Fixed bytes of a chunk body before the sealed bytes. */
export const CHUNK_HEADER_BYTES = 1 + FILE_ID_BYTES + 4 + 8 + 4;

/** A decoded chunk body. */
export interface ChunkBody {
  fileId: Uint8Array;
  index: number;
  fileBytes: number;
  sealed: Uint8Array;
}

/** Encodes a chunk body. */
export function encodeChunkBody(c: ChunkBody): Uint8Array {
  if (c.fileId.length !== FILE_ID_BYTES) throw new RangeError("Cannot encode chunk: bad file id");
  if (c.sealed.length > MAX_SEALED_CHUNK_BYTES) {
    throw new RangeError("Cannot encode chunk: too large");
  }
  return new ByteWriter(CHUNK_HEADER_BYTES + c.sealed.length).u8(VERSION).raw(c.fileId)
    .u32(c.index).u64(c.fileBytes)
    .bytes32(c.sealed).finish();
}

/**
 * Encodes a chunk body whose sealed bytes come in parts (ciphertext, tag), into
 * one buffer sized once: no joined copy of the sealed chunk first.
 */
export function encodeChunkBodyParts(
  c: Omit<ChunkBody, "sealed">,
  sealed: readonly Uint8Array[],
): Uint8Array {
  if (c.fileId.length !== FILE_ID_BYTES) throw new RangeError("Cannot encode chunk: bad file id");
  let n = 0;
  for (const p of sealed) n += p.length;
  if (n > MAX_SEALED_CHUNK_BYTES) throw new RangeError("Cannot encode chunk: too large");
  const w = new ByteWriter(CHUNK_HEADER_BYTES + n).u8(VERSION).raw(c.fileId).u32(c.index)
    .u64(c.fileBytes).u32(n);
  for (const p of sealed) w.raw(p);
  return w.finish();
}

/**
 * A chunk body as parts, for an encoder that frames them once: the header
 * (with the sealed bytes' length), then the sealed parts themselves, not copied.
 * Joined, they are exactly {@linkcode encodeChunkBodyParts}' output.
 *
 * @throws {RangeError} bad file id, sealed bytes too large
 */
export function chunkBodyParts(
  c: Omit<ChunkBody, "sealed">,
  sealed: readonly Uint8Array[],
): Uint8Array[] {
  if (c.fileId.length !== FILE_ID_BYTES) throw new RangeError("Cannot encode chunk: bad file id");
  let n = 0;
  for (const p of sealed) n += p.length;
  if (n > MAX_SEALED_CHUNK_BYTES) throw new RangeError("Cannot encode chunk: too large");
  const head = new ByteWriter(CHUNK_HEADER_BYTES).u8(VERSION).raw(c.fileId).u32(c.index)
    .u64(c.fileBytes).u32(n).finish();
  return [head, ...sealed];
}

/**
 * Decodes a chunk body. With `view`, `sealed` is a view into `bytes` (no copy of
 * the chunk; it changes if `bytes` does), for a caller that uses it at once.
 *
 * @throws {CodecError} malformed, unknown version, oversized
 */
export function decodeChunkBody(
  bytes: Uint8Array,
  { view = false }: { view?: boolean } = {},
): ChunkBody {
  if (bytes.length > CHUNK_HEADER_BYTES + MAX_SEALED_CHUNK_BYTES) {
    throw new CodecError("Cannot decode chunk: too large");
  }
  const r = new ByteReader(bytes, "file chunk");
  if (r.u8("version") !== VERSION) throw new CodecError("Cannot decode chunk: unknown version");
  const fileId = r.raw(FILE_ID_BYTES, "file id");
  const index = r.u32("index");
  const fileBytes = r.u64("file bytes");
  const sealed = view
    ? r.bytes32View(MAX_SEALED_CHUNK_BYTES, "sealed chunk")
    : r.bytes32(MAX_SEALED_CHUNK_BYTES, "sealed chunk");
  r.end();
  return { fileId, index, fileBytes, sealed };
}

/** The envelope id of chunk `index` of file `fileId`, for the given attempt. */
export async function chunkEnvelopeId(
  fileId: Uint8Array,
  index: number,
  attempt = 0,
): Promise<Uint8Array> {
  const d = await crypto.subtle.digest("SHA-256", idInput(fileId, index, attempt));
  return new Uint8Array(d, 0, 16);
}

/**
 * {@linkcode chunkEnvelopeId} with a synchronous SHA-256 (a sender's
 * node:crypto one: no promise and no WebCrypto op per chunk).
 */
export function chunkEnvelopeIdWith(
  sha256: (bytes: Uint8Array) => Uint8Array,
  fileId: Uint8Array,
  index: number,
  attempt = 0,
): Uint8Array {
  return sha256(idInput(fileId, index, attempt)).slice(0, 16);
}

function idInput(fileId: Uint8Array, index: number, attempt: number): Uint8Array<ArrayBuffer> {
  return new ByteWriter().raw(ID_LABEL).raw(fileId).u32(index).u32(attempt)
    .finish() as Uint8Array<ArrayBuffer>;
}
