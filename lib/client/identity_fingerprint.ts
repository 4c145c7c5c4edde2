/**
 * The fingerprint people compare for a user identity: lib/fingerprint.ts's
 * format (base32 of SHA-256, `abcde-fghij-klmno-pqrst` when short) over the
 * identity's Ed25519 signing key, which also vouches for its DH key.
 */
import * as e2e from "../e2e/mod.ts";
import { fingerprintMatches, fullFingerprint, shortFingerprint } from "../fingerprint.ts";

/** Both forms of an identity's fingerprint. */
export interface IdentityFingerprint {
  full: string;
  short: string;
}

/** The fingerprint of an identity, encoded (as stored) or decoded. */
export async function identityFingerprint(
  identity: e2e.PublicIdentity | Uint8Array,
): Promise<IdentityFingerprint> {
  const pub = identity instanceof Uint8Array ? e2e.decodePublicIdentity(identity) : identity;
  const full = await fullFingerprint(pub.signingKey);
  return { full, short: shortFingerprint(full) };
}

/** Tells whether `given` (short or full, any case, dashes optional) names `identity`. */
export async function identityMatches(identity: Uint8Array, given: string): Promise<boolean> {
  return fingerprintMatches((await identityFingerprint(identity)).full, given);
}
