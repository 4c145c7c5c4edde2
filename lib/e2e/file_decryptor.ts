/**
 * Streaming file decryption against a {@linkcode FileManifest}: the manifest fixes
 * the key, the chunk sizes and which chunk is final, so truncation, extension,
 * reordering, duplication and substitution (even of a chunk of another file) fail
 * authentication; the whole-file digest is checked at the end.
 */
import { type Aead, AEAD_TAG_BYTES } from "./aead.ts";
import { DecryptError } from "./errors.ts";
import { chunkAd, chunkDigest, chunkNonce, cutStream, FileDigest, inOrder } from "./_file_chunk.ts";
import { constantTimeEqual } from "./ed25519.ts";
import { DEFAULT_FILE_WINDOW } from "./file_encryptor.ts";
import { fileChunkAead, type FileCiphers, type SplitAead } from "./file_cipher.ts";
import { checkChunkBytes, chunkCount, type FileManifest } from "./file_manifest.ts";

/** Options of {@linkcode FileDecryptor}. */
export interface FileDecryptorOptions extends FileCiphers {
  /** Chunks in flight; default 4. */
  window?: number;
}

const FAILURE = "Cannot decrypt file";

/** Decrypts one file described by its manifest. */
export class FileDecryptor {
  #manifest: FileManifest;
  #chunks: number;
  #window: number;
  #aead: Aead | SplitAead;

  constructor(
    manifest: FileManifest,
    { window = DEFAULT_FILE_WINDOW, ...ciphers }: FileDecryptorOptions = {},
  ) {
    checkChunkBytes(manifest.chunkBytes);
    if (!Number.isSafeInteger(manifest.byteLength) || manifest.byteLength < 0) {
      throw new RangeError("Cannot decrypt file: manifest length out of range");
    }
    if (!Number.isInteger(window) || window < 1 || window > 64) {
      throw new RangeError(`Cannot use window "${window}": expected 1 to 64`);
    }
    this.#manifest = manifest;
    this.#chunks = chunkCount(manifest.byteLength, manifest.chunkBytes);
    this.#window = window;
    this.#aead = fileChunkAead(manifest.version, ciphers);
  }

  /** Number of chunks the file has. */
  get chunkCount(): number {
    return this.#chunks;
  }

  /** Expected ciphertext length of chunk `index`, or null past the last chunk. */
  sealedChunkBytes(index: number): number | null {
    if (index >= this.#chunks) return null;
    const { chunkBytes, byteLength } = this.#manifest;
    return Math.min(chunkBytes, byteLength - index * chunkBytes) + AEAD_TAG_BYTES;
  }

  /**
   * Decrypts chunk `index` alone (random access; no whole-file digest check).
   * With `into` (at least `chunkBytes` long) and a cipher that can, the
   * plaintext is written there and a view of it returned, instead of a fresh
   * buffer: a receiver that writes each chunk before decrypting the next keeps
   * one buffer for the whole file.
   *
   * @throws {DecryptError} wrong index, length, key, file, position or tampering
   */
  async decryptChunk(
    index: number,
    sealed: Uint8Array,
    { into }: { into?: Uint8Array } = {},
  ): Promise<Uint8Array> {
    const expected = Number.isSafeInteger(index) && index >= 0
      ? this.sealedChunkBytes(index)
      : null;
    if (expected === null || sealed.length !== expected) throw new DecryptError(FAILURE);
    const { key, fileId, chunkBytes } = this.#manifest;
    const final = index === this.#chunks - 1;
    const nonce = chunkNonce(index);
    const ad = chunkAd(this.#manifest.version, fileId, chunkBytes, index, final);
    const aead = this.#aead;
    try {
      if (into && "openInto" in aead && aead.openInto && into.length >= expected - AEAD_TAG_BYTES) {
        return await aead.openInto(key, nonce, sealed, ad, into);
      }
      return await aead.open(key, nonce, sealed, ad);
    } catch (cause) {
      throw new DecryptError(FAILURE, { cause });
    }
  }

  /**
   * Decrypts a ciphertext stream cut anywhere, yielding plaintext chunks in order.
   * Chunks are authentic as they come; the file is complete and matches the
   * manifest's digest only once the generator ends without throwing.
   *
   * @throws {DecryptError} any chunk fails, data is missing or extra, or the digest differs
   * @throws {RangeError} the manifest has no digest (v2 before its `file-digest`)
   */
  async *decrypt(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  ): AsyncGenerator<Uint8Array> {
    const expected = this.#manifest.digest;
    if (expected === null) throw new RangeError("Cannot decrypt file: its digest is not known");
    const digest = new FileDigest(this.#manifest.chunkBytes, this.#manifest.version);
    const pieces = cutStream(source, (i) => this.sealedChunkBytes(i), () => {
      throw new DecryptError(FAILURE, { cause: new RangeError("data after the final chunk") });
    });
    const tasks = async function* (this: FileDecryptor) {
      let index = 0;
      for await (const piece of pieces) {
        const i = index++;
        yield async () => {
          const plaintext = await this.decryptChunk(i, piece);
          return { plaintext, digest: await chunkDigest(plaintext) };
        };
      }
    }.call(this);
    for await (const { plaintext, digest: d } of inOrder(tasks, this.#window)) {
      digest.add(d);
      yield plaintext;
    }
    if (!constantTimeEqual(digest.finish(this.#manifest.byteLength), expected)) {
      throw new DecryptError(FAILURE, { cause: new RangeError("digest mismatch") });
    }
  }
}
