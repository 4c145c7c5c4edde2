/**
 * The file manifest: what the sender passes through the ratchet so the receiver can
 * decrypt and check a file. Secret (it holds the file key). Layouts:
 *
 *   v1 (93 bytes):     version u8 = 1 | fileId [16] | key [32] | chunkBytes u32
 *                      | byteLength u64 | digest [32]
 *   v2 (62 or 94):     version u8 = 2 | fileId [16] | key [32] | chunkBytes u32
 *                      | byteLength u64 | hasDigest u8 (0 | 1) | digest [32], if hasDigest
 *
 * v1 chunks are AES-256-GCM and the digest is known before the first chunk (a whole
 * pass over the file before sending). v2 chunks are ChaCha20-Poly1305 (RFC 8439) and
 * the offer carries no digest: the sender hashes each chunk as it seals it and sends
 * the whole-file digest after the last chunk is read (`file-digest`, docs/PROTOCOL.md
 * §13); a client keeps it in its stored copy of the manifest (hasDigest = 1).
 */
import { ByteReader, ByteWriter } from "./byte_codec.ts";
import { checkLength } from "./_bytes.ts";
import { CodecError } from "./errors.ts";

/** Version of the manifests written now. */
export const FILE_MANIFEST_VERSION = 2;
/** Encoded length of a v1 manifest. */
export const FILE_MANIFEST_BYTES = 1 + 16 + 32 + 4 + 8 + 32;
/** Encoded length of a v2 manifest without its digest (with it: 32 more). */
export const FILE_MANIFEST_V2_BYTES = 1 + 16 + 32 + 4 + 8 + 1;
/** Default plaintext chunk size: 256 KiB. */
export const DEFAULT_FILE_CHUNK_BYTES = 256 * 1024;
/** Smallest chunk size accepted. */
export const MIN_FILE_CHUNK_BYTES = 1024;
/** Largest chunk size accepted (16 MiB), bounding memory per chunk. */
export const MAX_FILE_CHUNK_BYTES = 16 * 1024 * 1024;

/** Everything needed to decrypt and check one file. */
export interface FileManifest {
  /** 1: AES-256-GCM chunks, digest up front; 2: ChaCha20-Poly1305, digest after the chunks. */
  readonly version: 1 | 2;
  /** 16 random bytes naming this encryption of the file. */
  readonly fileId: Uint8Array;
  /** The file's key, 32 bytes, fresh per file. */
  readonly key: Uint8Array;
  /** Plaintext bytes per chunk (the last may be shorter). */
  readonly chunkBytes: number;
  /** Plaintext length of the whole file. */
  readonly byteLength: number;
  /** Digest of the whole plaintext (see _file_chunk.ts); required in v1, null until known in v2. */
  readonly digest: Uint8Array | null;
}

/** Checks a chunk size is an integer within bounds; throws RangeError. */
export function checkChunkBytes(chunkBytes: number): number {
  if (
    !Number.isInteger(chunkBytes) || chunkBytes < MIN_FILE_CHUNK_BYTES ||
    chunkBytes > MAX_FILE_CHUNK_BYTES
  ) {
    throw new RangeError(
      `Cannot use chunk size "${chunkBytes}": expected ${MIN_FILE_CHUNK_BYTES} to ${MAX_FILE_CHUNK_BYTES}`,
    );
  }
  return chunkBytes;
}

/** Number of chunks of a file: at least one, so an empty file still has a final chunk. */
export function chunkCount(byteLength: number, chunkBytes: number): number {
  return Math.max(1, Math.ceil(byteLength / chunkBytes));
}

/**
 * Encodes a manifest.
 *
 * @throws {RangeError} a field out of range, or a v1 manifest without a digest
 */
export function encodeFileManifest(m: FileManifest): Uint8Array {
  if (m.version !== 1 && m.version !== 2) {
    throw new RangeError(`Cannot encode file manifest: unknown version "${m.version}"`);
  }
  if (m.version === 1 && m.digest === null) {
    throw new RangeError("Cannot encode file manifest: a v1 manifest needs its digest");
  }
  const w = new ByteWriter(FILE_MANIFEST_V2_BYTES + 32).u8(m.version)
    .raw(checkLength(m.fileId, 16, "file id"))
    .raw(checkLength(m.key, 32, "file key"))
    .u32(checkChunkBytes(m.chunkBytes))
    .u64(m.byteLength);
  if (m.version === 2) w.u8(m.digest === null ? 0 : 1);
  if (m.digest !== null) w.raw(checkLength(m.digest, 32, "file digest"));
  return w.finish();
}

/**
 * Decodes a manifest (v1 or v2).
 *
 * @throws {CodecError} wrong length, version, flag or chunk size
 */
export function decodeFileManifest(bytes: Uint8Array): FileManifest {
  const r = new ByteReader(bytes, "file manifest");
  const version = r.remaining > 0 ? r.u8() : -1;
  const want = version === 1
    ? [FILE_MANIFEST_BYTES]
    : version === 2
    ? [FILE_MANIFEST_V2_BYTES, FILE_MANIFEST_V2_BYTES + 32]
    : null;
  if (want === null) {
    throw new CodecError(`Cannot decode file manifest: unknown version "${version}"`);
  }
  if (!want.includes(bytes.length)) {
    throw new CodecError(`Cannot decode file manifest: expected ${want.join(" or ")} bytes`);
  }
  const fileId = r.raw(16);
  const key = r.raw(32);
  const chunkBytes = r.u32();
  try {
    checkChunkBytes(chunkBytes);
  } catch (cause) {
    throw new CodecError("Cannot decode file manifest: chunk size out of range", { cause });
  }
  const byteLength = r.u64();
  let hasDigest = true;
  if (version === 2) {
    const flag = r.u8();
    if (flag !== (bytes.length === FILE_MANIFEST_V2_BYTES ? 0 : 1)) {
      throw new CodecError("Cannot decode file manifest: digest flag does not match its length");
    }
    hasDigest = flag === 1;
  }
  const digest = hasDigest ? r.raw(32) : null;
  r.end();
  return { version: version as 1 | 2, fileId, key, chunkBytes, byteLength, digest };
}
