/**
 * The client's native fast paths for v2 file chunks (docs/PROTOCOL.md §13):
 * ChaCha20-Poly1305 (RFC 8439) and SHA-256 through node:crypto, synchronous.
 * Measured here in Deno 2.9.6 (MB per CPU second, 256 KiB chunks,
 * docs/PERF_NOTES.md, "Files at the client"): ChaCha20-Poly1305 1,192 against 124–214 for
 * `@noble/ciphers` (lib/e2e's default, which browsers use) and 194–203 for
 * AES-256-GCM; SHA-256 1,515 against WebCrypto's 1,166 (and no thread hand-off).
 */
import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import { DecryptError, type SplitAead } from "../e2e/mod.ts";

const TAG_BYTES = 16;

// A plain Uint8Array over a Buffer's bytes: no copy, and no Buffer semantics (`slice`).
function plain(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function sealParts(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
): [Uint8Array, Uint8Array] {
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_BYTES });
  c.setAAD(ad, { plaintextLength: plaintext.length });
  const ciphertext = plain(c.update(plaintext));
  // The stream cipher's final() gives no bytes; the tag follows the ciphertext.
  c.final();
  return [ciphertext, plain(c.getAuthTag())];
}

/**
 * ChaCha20-Poly1305 through node:crypto, as a {@linkcode SplitAead}
 * (ciphertext || 16-byte tag, or the two apart).
 */
export const NODE_CHACHA20_POLY1305: SplitAead = Object.freeze({
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array) {
    try {
      const [ciphertext, tag] = sealParts(key, nonce, plaintext, ad);
      const out = new Uint8Array(ciphertext.length + TAG_BYTES);
      out.set(ciphertext, 0);
      out.set(tag, ciphertext.length);
      return Promise.resolve(out);
    } catch (e) {
      return Promise.reject(e);
    }
  },
  sealParts(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array) {
    try {
      return Promise.resolve(sealParts(key, nonce, plaintext, ad));
    } catch (e) {
      return Promise.reject(e);
    }
  },
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array) {
    try {
      if (sealed.length < TAG_BYTES) throw new RangeError("too short");
      const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_BYTES });
      d.setAAD(ad, { plaintextLength: sealed.length - TAG_BYTES });
      d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const out = d.update(sealed.subarray(0, sealed.length - TAG_BYTES));
      d.final();
      return Promise.resolve(plain(out));
    } catch (cause) {
      return Promise.reject(new DecryptError("Cannot decrypt: authentication failed", { cause }));
    }
  },
});

/** SHA-256 of `bytes` through node:crypto (a file chunk's digest, synchronous). */
export function sha256Sync(bytes: Uint8Array): Uint8Array {
  return plain(createHash("sha256").update(bytes).digest());
}

/** The chunk ciphers the Deno client injects into lib/e2e's file sealer and decryptor. */
export const NODE_FILE_CIPHERS = Object.freeze({ chacha20Poly1305: NODE_CHACHA20_POLY1305 });
