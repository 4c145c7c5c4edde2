/**
 * Random-access chunk sealing and an incremental whole-file digest, for file
 * transfers that resume: a chunk can be sealed again at any index with the
 * manifest's key and gives the same bytes (the nonce and associated data
 * depend only on the file id, chunk size and index), and the digest is
 * computed before sending and checked after receiving, chunk by chunk.
 * Same construction as {@linkcode FileEncryptor} (see _file_chunk.ts).
 *
 * @example
 * ```ts
 * const manifest = { version: 2, fileId, key, chunkBytes, byteLength, digest: null } as const;
 * const sealer = new FileChunkSealer(manifest);
 * const digester = new FileDigester(chunkBytes, 2);
 * for (const [i, chunk] of chunks.entries()) {
 *   await upload(await sealer.seal(i, chunk));
 *   digester.add(await FileDigester.chunkDigest(chunk));
 * }
 * await sendThroughRatchet(digester.finish(byteLength)); // the `file-digest` message
 * ```
 */
import type { Aead } from "./aead.ts";
import { chunkAd, chunkDigest, chunkNonce, FileDigest } from "./_file_chunk.ts";
import { fileChunkAead, type FileCiphers, type SplitAead } from "./file_cipher.ts";
import { checkChunkBytes, chunkCount, type FileManifest } from "./file_manifest.ts";

/** Seals chunks of one file at any index. */
export class FileChunkSealer {
  #manifest: FileManifest;
  #chunks: number;
  #aead: Aead | SplitAead;

  /** @throws {RangeError} bad chunk size, length, key or file id */
  constructor(manifest: FileManifest, ciphers: FileCiphers = {}) {
    checkChunkBytes(manifest.chunkBytes);
    if (!Number.isSafeInteger(manifest.byteLength) || manifest.byteLength < 0) {
      throw new RangeError("Cannot seal file: length out of range");
    }
    if (manifest.key.length !== 32 || manifest.fileId.length !== 16) {
      throw new RangeError("Cannot seal file: key must be 32 bytes and file id 16");
    }
    this.#manifest = manifest;
    this.#chunks = chunkCount(manifest.byteLength, manifest.chunkBytes);
    this.#aead = fileChunkAead(manifest.version, ciphers);
  }

  /** Number of chunks of the file (at least one). */
  get chunkCount(): number {
    return this.#chunks;
  }

  /** Plaintext length of chunk `index`. @throws {RangeError} past the end */
  plainChunkBytes(index: number): number {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.#chunks) {
      throw new RangeError(`Cannot seal chunk "${index}": the file has ${this.#chunks}`);
    }
    const { chunkBytes, byteLength } = this.#manifest;
    return Math.min(chunkBytes, byteLength - index * chunkBytes);
  }

  /**
   * Seals chunk `index`; the same input always gives the same output.
   *
   * @throws {RangeError} index past the end or wrong plaintext length
   */
  seal(index: number, plaintext: Uint8Array): Promise<Uint8Array> {
    const [nonce, ad] = this.#params(index, plaintext);
    return this.#aead.seal(this.#manifest.key, nonce, plaintext, ad);
  }

  /**
   * Seals chunk `index` as parts whose concatenation is what `seal` gives:
   * [ciphertext, tag] when the cipher can split them (no joined copy), else [sealed].
   *
   * @throws {RangeError} index past the end or wrong plaintext length
   */
  sealParts(index: number, plaintext: Uint8Array): Promise<Uint8Array[]> {
    const [nonce, ad] = this.#params(index, plaintext);
    const aead = this.#aead;
    const key = this.#manifest.key;
    return "sealParts" in aead
      ? aead.sealParts(key, nonce, plaintext, ad)
      : aead.seal(key, nonce, plaintext, ad).then((sealed) => [sealed]);
  }

  #params(index: number, plaintext: Uint8Array): [Uint8Array, Uint8Array] {
    const want = this.plainChunkBytes(index);
    if (plaintext.length !== want) {
      throw new RangeError(
        `Cannot seal chunk "${index}": length "${plaintext.length}", expected "${want}"`,
      );
    }
    const { version, fileId, chunkBytes } = this.#manifest;
    return [
      chunkNonce(index),
      chunkAd(version, fileId, chunkBytes, index, index === this.#chunks - 1),
    ];
  }
}

/** The whole-file digest of a {@linkcode FileManifest}, fed chunk digests in order. */
export class FileDigester {
  #digest: FileDigest;

  /** `version`: the manifest's (the digest's label differs). */
  constructor(chunkBytes: number, version: 1 | 2 = 1) {
    if (version !== 1 && version !== 2) throw new RangeError(`Cannot use version "${version}"`);
    this.#digest = new FileDigest(checkChunkBytes(chunkBytes), version);
  }

  /** SHA-256 of one plaintext chunk (WebCrypto; run several at once, or use any SHA-256). */
  static chunkDigest(plaintext: Uint8Array): Promise<Uint8Array> {
    return chunkDigest(plaintext);
  }

  /** Adds the next chunk's digest (chunks in index order). */
  add(chunkDigestBytes: Uint8Array): void {
    if (chunkDigestBytes.length !== 32) {
      throw new RangeError("Cannot add digest: expected 32 bytes");
    }
    this.#digest.add(chunkDigestBytes);
  }

  /** The digest of a file of `byteLength` bytes whose chunks were all added. */
  finish(byteLength: number): Uint8Array {
    return this.#digest.finish(byteLength);
  }
}
