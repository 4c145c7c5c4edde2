/**
 * AES-256-GCM for the client's ratchet through node:crypto: synchronous, so
 * a small message costs a few microseconds instead of a WebCrypto thread
 * hand-off (bench/e2e: 11.4k vs 3.2k ratchet messages/s in one session). The
 * client core runs only in Deno; lib/e2e stays on WebCrypto for browsers.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { DecryptError, type SyncAead } from "../e2e/mod.ts";

const TAG_BYTES = 16;

function sealSync(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array) {
  const c = createCipheriv("aes-256-gcm", key, nonce);
  c.setAAD(ad);
  const head = c.update(plaintext);
  const tail = c.final();
  const out = new Uint8Array(head.length + tail.length + TAG_BYTES);
  out.set(head, 0);
  out.set(tail, head.length);
  out.set(c.getAuthTag(), head.length + tail.length);
  return out;
}

/** The node:crypto {@linkcode SyncAead}. */
export const NODE_AEAD: SyncAead = Object.freeze({
  sealSync,
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array) {
    return Promise.resolve(sealSync(key, nonce, plaintext, ad));
  },
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array) {
    try {
      if (sealed.length < TAG_BYTES) throw new RangeError("too short");
      const d = createDecipheriv("aes-256-gcm", key, nonce);
      d.setAAD(ad);
      d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const head = d.update(sealed.subarray(0, sealed.length - TAG_BYTES));
      const tail = d.final();
      const out = new Uint8Array(head.length + tail.length);
      out.set(head, 0);
      out.set(tail, head.length);
      return Promise.resolve(out);
    } catch (cause) {
      return Promise.reject(new DecryptError("Cannot decrypt: authentication failed", { cause }));
    }
  },
});
