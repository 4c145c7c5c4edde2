/**
 * The file manifest: what the sender passes through the ratchet so the receiver can
 * decrypt and check a file. Secret (it holds the file key). Layout (v1, 93 bytes):
 *
 *   version u8 = 1 | fileId [16] | key [32] | chunkBytes u32 | byteLength u64 | digest [32]
 */
import { ByteReader, ByteWriter } from "./byte_codec.ts";
import { checkLength } from "./_bytes.ts";
import { CodecError } from "./errors.ts";

/** Version byte of the manifest. */
export const FILE_MANIFEST_VERSION = 1;
/** Encoded manifest length. */
export const FILE_MANIFEST_BYTES = 1 + 16 + 32 + 4 + 8 + 32;
/** Default plaintext chunk size: 256 KiB. */
export const DEFAULT_FILE_CHUNK_BYTES = 256 * 1024;
/** Smallest chunk size accepted. */
export const MIN_FILE_CHUNK_BYTES = 1024;
/** Largest chunk size accepted (16 MiB), bounding memory per chunk. */
export const MAX_FILE_CHUNK_BYTES = 16 * 1024 * 1024;

/** Everything needed to decrypt and check one file. */
export interface FileManifest {
  /** 16 random bytes naming this encryption of the file. */
  readonly fileId: Uint8Array;
  /** The file's AES-256-GCM key, 32 bytes, fresh per file. */
  readonly key: Uint8Array;
  /** Plaintext bytes per chunk (the last may be shorter). */
  readonly chunkBytes: number;
  /** Plaintext length of the whole file. */
  readonly byteLength: number;
  /** Digest of the whole plaintext (see file_crypto.ts). */
  readonly digest: Uint8Array;
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

/** Encodes a manifest. */
export function encodeFileManifest(m: FileManifest): Uint8Array {
  return new ByteWriter().u8(FILE_MANIFEST_VERSION)
    .raw(checkLength(m.fileId, 16, "file id"))
    .raw(checkLength(m.key, 32, "file key"))
    .u32(checkChunkBytes(m.chunkBytes))
    .u64(m.byteLength)
    .raw(checkLength(m.digest, 32, "file digest"))
    .finish();
}

/**
 * Decodes a manifest.
 *
 * @throws {CodecError} wrong length, version or chunk size
 */
export function decodeFileManifest(bytes: Uint8Array): FileManifest {
  const r = new ByteReader(bytes, "file manifest");
  if (r.remaining !== FILE_MANIFEST_BYTES) {
    throw new CodecError(`Cannot decode file manifest: expected ${FILE_MANIFEST_BYTES} bytes`);
  }
  const version = r.u8();
  if (version !== FILE_MANIFEST_VERSION) {
    throw new CodecError(`Cannot decode file manifest: unknown version "${version}"`);
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
  const digest = r.raw(32);
  r.end();
  return { fileId, key, chunkBytes, byteLength, digest };
}
