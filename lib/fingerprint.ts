/**
 * Key fingerprints people compare: base32 (RFC 4648 alphabet, lower case, no
 * padding) of SHA-256 over the raw public key; the first 20 characters in
 * groups of five are read aloud.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { base32nopad as scureBase32nopad } from "@scure/base";

/** RFC 4648 base32 (§6), lower case, no padding (`@scure/base`). */
export function base32(bytes: Uint8Array): string {
  return scureBase32nopad.encode(bytes).toLowerCase();
}

/** Full fingerprint: base32 of SHA-256 over the raw public key (52 characters). */
export function fingerprintOf(publicKey: Uint8Array): string {
  return base32(sha256(publicKey));
}

/** {@linkcode fingerprintOf}, for callers that await it. */
export function fullFingerprint(publicKey: Uint8Array): Promise<string> {
  return Promise.resolve(fingerprintOf(publicKey));
}

/** The first 100 bits of a full fingerprint, as `abcde-fghij-klmno-pqrst`. */
export function shortFingerprint(full: string): string {
  return full.slice(0, 20).match(/.{5}/g)!.join("-");
}

/** Tells whether `given` (short or full, any case, dashes optional) matches `full`. */
export function fingerprintMatches(full: string, given: string): boolean {
  const g = given.toLowerCase().replaceAll("-", "");
  return g.length >= 20 && full.startsWith(g);
}
