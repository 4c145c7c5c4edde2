/** The crypto a router needs, injected so that simulations can use a cheap stand-in. */
import type { AnnouncementBody, SignedAnnouncement } from "./announcement.ts";
import { announcementSigningMessage } from "./announcement.ts";
import {
  decodeAnnouncement,
  encodeAnnouncementBody,
  joinAnnouncement,
} from "./announcement_codec.ts";

/**
 * Signs announcements for one node. `sign` may answer synchronously (fakes do) so that
 * large simulations avoid a promise per message.
 */
export interface AnnouncementSigner {
  /** The raw 32-byte public key that verifies this signer's signatures. */
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array> | Uint8Array;
}

/**
 * Verifies announcement signatures; answers false (never throws) for a bad key or
 * signature. May answer synchronously, like {@linkcode AnnouncementSigner.sign}.
 */
export interface AnnouncementVerifier {
  verify(
    publicKey: Uint8Array,
    signature: Uint8Array,
    message: Uint8Array,
  ): Promise<boolean> | boolean;
  /**
   * Optional: verifies a decoded announcement as a whole, so that a simulation can check
   * each (origin, seq) once for all its routers. Undefined falls back to `verify`.
   */
  verifyAnnouncement?(
    announcement: SignedAnnouncement,
    publicKey: Uint8Array,
  ): Promise<boolean> | boolean | undefined;
}

/**
 * Encodes and signs an announcement body; synchronous when the signer is.
 * @throws {RangeError} a field out of range
 */
export function signAnnouncement(
  body: AnnouncementBody,
  signer: AnnouncementSigner,
): SignedAnnouncement | Promise<SignedAnnouncement> {
  const encoded = encodeAnnouncementBody(body);
  const signature = signer.sign(announcementSigningMessage(encoded));
  if (signature instanceof Uint8Array) {
    return decodeAnnouncement(joinAnnouncement(encoded, signature));
  }
  return signature.then((s) => decodeAnnouncement(joinAnnouncement(encoded, s)));
}

/** Verifies the signature of a decoded announcement under `publicKey`. */
export function verifyAnnouncement(
  announcement: SignedAnnouncement,
  publicKey: Uint8Array,
  verifier: AnnouncementVerifier,
): Promise<boolean> | boolean {
  const whole = verifier.verifyAnnouncement?.(announcement, publicKey);
  if (whole !== undefined) return whole;
  return verifier.verify(
    publicKey,
    announcement.signature,
    announcementSigningMessage(announcement.body),
  );
}
