/**
 * ChaCha20-Poly1305 (RFC 8439) behind the {@linkcode Aead} interface: the cipher of
 * v2 file chunks. This default is `@noble/ciphers` (pure JS, runs in browsers); a
 * platform with a native implementation injects it instead (the Deno client uses
 * node:crypto, about 1,190 MB per CPU second here against 124–214 for this one and
 * 194–203 for AES-256-GCM: docs/PERF_NOTES.md, "Files at the client").
 */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { type Aead, WEBCRYPTO_AEAD } from "./aead.ts";
import { DecryptError } from "./errors.ts";

/** ChaCha20-Poly1305 through `@noble/ciphers`; outputs are ciphertext || 16-byte tag. */
export const NOBLE_CHACHA20_POLY1305: Aead = Object.freeze({
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array) {
    try {
      return Promise.resolve(chacha20poly1305(key, nonce, ad).encrypt(plaintext));
    } catch (e) {
      return Promise.reject(e);
    }
  },
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array) {
    try {
      return Promise.resolve(chacha20poly1305(key, nonce, ad).decrypt(sealed));
    } catch (cause) {
      return Promise.reject(new DecryptError("Cannot decrypt: authentication failed", { cause }));
    }
  },
});

/**
 * An {@linkcode Aead} that can also hand back the ciphertext and the tag apart, so a
 * caller that frames them (a chunk body) copies the chunk once instead of twice, and
 * may open into a buffer the caller keeps (no fresh plaintext buffer per chunk).
 */
export interface SplitAead extends Aead {
  /**
   * Like `seal`, as the ciphertext in one or more parts, then the 16-byte tag. The parts are
   * the caller's own: one that has copied them may free them at once (lib/cipher_slices.ts
   * `freeNow`).
   */
  sealParts(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    ad: Uint8Array,
  ): Promise<Uint8Array[]>;
  /**
   * Like `open`, writing the plaintext into `into` (at least `sealed.length - 16`
   * bytes) and resolving with the view of it that holds the plaintext. When it
   * rejects, `into` may hold unauthenticated bytes: the caller must not use them.
   */
  openInto?(
    key: Uint8Array,
    nonce: Uint8Array,
    sealed: Uint8Array,
    ad: Uint8Array,
    into: Uint8Array,
  ): Promise<Uint8Array>;
}

/** The ciphers a file's chunks may use, by manifest version; defaults run anywhere. */
export interface FileCiphers {
  /** AES-256-GCM, for v1 manifests; default WebCrypto. */
  aead?: Aead;
  /** ChaCha20-Poly1305, for v2 manifests; default `@noble/ciphers`. */
  chacha20Poly1305?: Aead | SplitAead;
}

/** The chunk cipher of manifest `version`. */
export function fileChunkAead(version: 1 | 2, ciphers: FileCiphers = {}): Aead | SplitAead {
  return version === 1
    ? ciphers.aead ?? WEBCRYPTO_AEAD
    : ciphers.chacha20Poly1305 ?? NOBLE_CHACHA20_POLY1305;
}
