/**
 * The client's native fast paths for v2 file chunks (docs/PROTOCOL.md §13):
 * ChaCha20-Poly1305 (RFC 8439) and SHA-256 through node:crypto, synchronous.
 * Measured here in Deno 2.9.6 (MB per CPU second, 256 KiB chunks,
 * docs/PERF_NOTES.md, "Files at the client"): ChaCha20-Poly1305 1,192 against 124–214 for
 * `@noble/ciphers` (lib/e2e's default, which browsers use) and 194–203 for
 * AES-256-GCM; SHA-256 1,515 against WebCrypto's 1,166 (and no thread hand-off).
 *
 * A chunk goes through the cipher in slices (lib/cipher_slices.ts): sealed,
 * the slices are the ciphertext's parts (the caller copies them into its
 * message, then frees them: `freeNow`); opened, they are copied into a buffer
 * the caller keeps (`openInto`) and freed at once.
 */
import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import { CIPHER_SLICE_BYTES, decipherInto, freeNow } from "../cipher_slices.ts";
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
): Uint8Array[] {
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_BYTES });
  c.setAAD(ad, { plaintextLength: plaintext.length });
  const parts: Uint8Array[] = [];
  for (let at = 0; at < plaintext.length; at += CIPHER_SLICE_BYTES) {
    parts.push(plain(c.update(plaintext.subarray(at, at + CIPHER_SLICE_BYTES))));
  }
  // The stream cipher's final() gives no bytes; the tag follows the ciphertext.
  c.final();
  parts.push(plain(c.getAuthTag()));
  return parts;
}

function openInto(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  ad: Uint8Array,
  into: Uint8Array,
): Uint8Array {
  if (sealed.length < TAG_BYTES) throw new RangeError("too short");
  const n = sealed.length - TAG_BYTES;
  if (into.length < n) throw new RangeError("output buffer too small");
  const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_BYTES });
  d.setAAD(ad, { plaintextLength: n });
  d.setAuthTag(sealed.subarray(n));
  decipherInto(d, sealed, n, into);
  // Throws unless the tag verifies; the caller uses nothing from `into` before.
  d.final();
  return into.subarray(0, n);
}

/**
 * ChaCha20-Poly1305 through node:crypto, as a {@linkcode SplitAead}
 * (ciphertext || 16-byte tag, or the ciphertext in slices and the tag apart).
 */
export const NODE_CHACHA20_POLY1305: SplitAead = Object.freeze({
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array) {
    try {
      const parts = sealParts(key, nonce, plaintext, ad);
      const out = new Uint8Array(plaintext.length + TAG_BYTES);
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
        freeNow(p);
      }
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
      const out = openInto(
        key,
        nonce,
        sealed,
        ad,
        new Uint8Array(Math.max(0, sealed.length - TAG_BYTES)),
      );
      return Promise.resolve(out);
    } catch (cause) {
      return Promise.reject(new DecryptError("Cannot decrypt: authentication failed", { cause }));
    }
  },
  openInto(
    key: Uint8Array,
    nonce: Uint8Array,
    sealed: Uint8Array,
    ad: Uint8Array,
    into: Uint8Array,
  ) {
    try {
      return Promise.resolve(openInto(key, nonce, sealed, ad, into));
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
