/**
 * Streaming file encryption (manifest v1: the digest is in the manifest, known once the
 * whole stream is encrypted): a fresh AES-256-GCM key and file id per file, fixed-size
 * chunks, each sealed with its index and a final-chunk flag in the associated data
 * (see _file_chunk.ts), several chunks in flight, memory bounded by the window.
 *
 * @example
 * ```ts
 * const enc = new FileEncryptor();
 * for await (const chunk of enc.encrypt(fileStream)) await upload(chunk);
 * const manifest = await enc.manifest(); // send through the ratchet
 * ```
 */
import { type Aead, AEAD_KEY_BYTES, WEBCRYPTO_AEAD } from "./aead.ts";
import { StateError } from "./errors.ts";
import { chunkAd, chunkDigest, chunkNonce, FileDigest, inOrder } from "./_file_chunk.ts";
import { checkChunkBytes, DEFAULT_FILE_CHUNK_BYTES, type FileManifest } from "./file_manifest.ts";
import { type Random, SYSTEM_RANDOM } from "./random.ts";

/** Default number of chunks encrypted concurrently. */
export const DEFAULT_FILE_WINDOW = 4;

/** Options of {@linkcode FileEncryptor}. */
export interface FileEncryptorOptions {
  /** Plaintext bytes per chunk; default 256 KiB. */
  chunkBytes?: number;
  /** Chunks in flight; default 4. */
  window?: number;
  /** Randomness for the key and file id. */
  random?: Random;
  /** AES-256-GCM implementation; default WebCrypto. */
  aead?: Aead;
}

/** Encrypts one file, chunk by chunk, in order. */
export class FileEncryptor {
  #key: Uint8Array;
  #fileId: Uint8Array;
  #chunkBytes: number;
  #window: number;
  #aead: Aead;
  #next = 0;
  #byteLength = 0;
  #finished = false;
  #digest: FileDigest;
  #fold: Promise<void> = Promise.resolve();

  constructor(
    {
      chunkBytes = DEFAULT_FILE_CHUNK_BYTES,
      window = DEFAULT_FILE_WINDOW,
      random = SYSTEM_RANDOM,
      aead = WEBCRYPTO_AEAD,
    }: FileEncryptorOptions = {},
  ) {
    this.#chunkBytes = checkChunkBytes(chunkBytes);
    if (!Number.isInteger(window) || window < 1 || window > 64) {
      throw new RangeError(`Cannot use window "${window}": expected 1 to 64`);
    }
    this.#window = window;
    this.#aead = aead;
    this.#key = random.bytes(AEAD_KEY_BYTES);
    this.#fileId = random.bytes(16);
    this.#digest = new FileDigest(this.#chunkBytes);
  }

  /** The plaintext chunk size. */
  get chunkBytes(): number {
    return this.#chunkBytes;
  }

  /**
   * Encrypts the next chunk. Every chunk but the final one must be exactly
   * `chunkBytes` long; calls may overlap (up to the caller's window), and results
   * must be sent in call order.
   *
   * @throws {StateError} after the final chunk
   * @throws {RangeError} wrong chunk length
   */
  encryptChunk(
    plaintext: Uint8Array,
    { final = false }: { final?: boolean } = {},
  ): Promise<Uint8Array> {
    if (this.#finished) {
      throw new StateError("Cannot encrypt chunk: the final chunk was already sent");
    }
    if (final ? plaintext.length > this.#chunkBytes : plaintext.length !== this.#chunkBytes) {
      throw new RangeError(
        `Cannot encrypt chunk: length "${plaintext.length}" does not fit the chunk size`,
      );
    }
    const index = this.#next++;
    this.#byteLength += plaintext.length;
    this.#finished = final;
    const digest = chunkDigest(plaintext);
    // Digests fold in call order, whatever order they finish in.
    this.#fold = Promise.all([this.#fold, digest]).then(([, d]) => this.#digest.add(d));
    return this.#aead.seal(
      this.#key,
      chunkNonce(index),
      plaintext,
      chunkAd(1, this.#fileId, this.#chunkBytes, index, final),
    );
  }

  /** Re-chunks `source` and yields the encrypted chunks in order, `window` at a time. */
  encrypt(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    const tasks = async function* (this: FileEncryptor) {
      for await (const { chunk, final } of rechunk(source, this.#chunkBytes)) {
        yield () => this.encryptChunk(chunk, { final });
      }
    }.call(this);
    return inOrder(tasks, this.#window);
  }

  /**
   * The manifest to send to the recipient, once the final chunk is encrypted.
   *
   * @throws {StateError} before the final chunk
   */
  async manifest(): Promise<FileManifest> {
    if (!this.#finished) {
      throw new StateError("Cannot make manifest: the final chunk is not encrypted yet");
    }
    await this.#fold;
    return {
      version: 1,
      fileId: this.#fileId.slice(),
      key: this.#key.slice(),
      chunkBytes: this.#chunkBytes,
      byteLength: this.#byteLength,
      digest: this.#digest.finish(this.#byteLength),
    };
  }
}

// Full chunks are emitted only once more data shows they are not the last one.
async function* rechunk(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  chunkBytes: number,
): AsyncGenerator<{ chunk: Uint8Array; final: boolean }> {
  let buf = new Uint8Array(chunkBytes);
  let fill = 0;
  for await (const piece of source) {
    let off = 0;
    while (off < piece.length) {
      if (fill === chunkBytes) {
        yield { chunk: buf, final: false };
        buf = new Uint8Array(chunkBytes);
        fill = 0;
      }
      const take = Math.min(chunkBytes - fill, piece.length - off);
      buf.set(piece.subarray(off, off + take), fill);
      fill += take;
      off += take;
    }
  }
  yield { chunk: buf.subarray(0, fill), final: true };
}
