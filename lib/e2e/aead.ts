/**
 * AES-256-GCM (NIST SP 800-38D) behind a small interface, so a platform with a faster
 * synchronous implementation can inject it; the default is WebCrypto.
 */
import { DecryptError } from "./errors.ts";

/** AES-256-GCM key length. */
export const AEAD_KEY_BYTES = 32;
/** GCM nonce length used throughout (SP 800-38D §8.2.1 deterministic construction). */
export const AEAD_NONCE_BYTES = 12;
/** GCM tag length: the full 128 bits. */
export const AEAD_TAG_BYTES = 16;

/** An AES-256-GCM implementation; outputs are ciphertext followed by the 16-byte tag. */
export interface Aead {
  /** Encrypts and authenticates; returns ciphertext || tag. */
  seal(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    ad: Uint8Array,
  ): Promise<Uint8Array>;
  /**
   * Checks and decrypts ciphertext || tag.
   *
   * @throws {DecryptError} the tag does not verify
   */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Promise<Uint8Array>;
}

/**
 * An {@linkcode Aead} that can also seal at once (node:crypto in the Deno
 * client), so {@linkcode ratchetEncryptSync} encrypts without a promise.
 */
export interface SyncAead extends Aead {
  /** Like `seal`, returning ciphertext || tag at once. */
  sealSync(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array;
}

async function importAesKey(key: Uint8Array, usage: KeyUsage): Promise<CryptoKey> {
  return await crypto.subtle.importKey("raw", key as BufferSource, { name: "AES-GCM" }, false, [
    usage,
  ]);
}

/** AES-256-GCM through WebCrypto; keys are imported non-extractable per call. */
export const WEBCRYPTO_AEAD: Aead = Object.freeze({
  async seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array) {
    const k = await importAesKey(key, "encrypt");
    const params = {
      name: "AES-GCM",
      iv: nonce as BufferSource,
      additionalData: ad as BufferSource,
    };
    return new Uint8Array(await crypto.subtle.encrypt(params, k, plaintext as BufferSource));
  },
  async open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array) {
    const k = await importAesKey(key, "decrypt");
    const params = {
      name: "AES-GCM",
      iv: nonce as BufferSource,
      additionalData: ad as BufferSource,
    };
    try {
      return new Uint8Array(await crypto.subtle.decrypt(params, k, sealed as BufferSource));
    } catch (cause) {
      throw new DecryptError("Cannot decrypt: authentication failed", { cause });
    }
  },
});
