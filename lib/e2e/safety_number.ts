/**
 * Safety numbers, after Signal's "numeric fingerprint" (libsignal NumericFingerprint):
 * each side's fingerprint is an iterated hash of its address and identity signing key;
 * the displayed number is both 30-digit halves in sorted order, so both people see
 * the same 60 digits, and the QR payload carries both full fingerprints likewise.
 *
 *   f_0 = SHA-256("fedchat/v1/safety-number\0" | u16 len | address | signingKey)
 *   f_i = SHA-256(f_{i-1} | signingKey), i = 1..5200;  fingerprint = f_5200
 *   digits = for each 5-byte group g_j of fingerprint[0..30): (g_j as 40-bit int) mod 100000,
 *            zero-padded to 5 digits
 *
 * The DH key is not hashed: it is signed by the signing key, so it cannot change
 * without the signing key changing.
 */
import { ByteWriter } from "./byte_codec.ts";
import { utf8 } from "./_bytes.ts";
import { Sha256 } from "./_sha256.ts";
import { constantTimeEqual } from "./ed25519.ts";
import type { PublicIdentity } from "./identity.ts";

/** Iterations of the fingerprint hash, as in Signal. */
export const SAFETY_NUMBER_ITERATIONS = 5200;
/** Prefix of the QR payload, with its version. */
export const SAFETY_QR_PREFIX = "fedchat-safety:1:";

const LABEL = utf8("fedchat/v1/safety-number\0");

/** One side of a conversation. */
export interface SafetyParty {
  /** The address, e.g. "alice@nodea". */
  readonly address: string;
  /** The identity pinned for that address. */
  readonly identity: PublicIdentity;
}

/** A safety number to display and its QR payload. */
export interface SafetyNumber {
  /** 60 digits in 12 groups of 5, separated by spaces. */
  readonly digits: string;
  /** The QR payload: prefix, then both fingerprints' hex in sorted order, ":"-separated. */
  readonly qr: string;
}

function fingerprint(party: SafetyParty): Uint8Array {
  const key = party.identity.signingKey;
  let f = new Sha256().update(
    new ByteWriter().raw(LABEL).str16(party.address).raw(key).finish(),
  )
    .digest();
  for (let i = 0; i < SAFETY_NUMBER_ITERATIONS; i++) {
    f = new Sha256().update(f).update(key).digest();
  }
  return f;
}

function digitsOf(f: Uint8Array): string {
  let out = "";
  for (let j = 0; j < 6; j++) {
    let v = 0;
    for (let k = 0; k < 5; k++) v = v * 256 + f[j * 5 + k];
    out += String(v % 100000).padStart(5, "0");
  }
  return out;
}

/** Computes the safety number of a pair; the same whichever side is `local`. */
export function safetyNumber(
  { local, peer }: { local: SafetyParty; peer: SafetyParty },
): SafetyNumber {
  const halves = [fingerprint(local), fingerprint(peer)]
    .map((f) => ({ hex: f.toHex(), digits: digitsOf(f) }))
    .sort((a, b) => (a.digits < b.digits ? -1 : a.digits > b.digits ? 1 : a.hex < b.hex ? -1 : 1));
  const all = halves[0].digits + halves[1].digits;
  const digits = all.match(/.{5}/g)!.join(" ");
  return { digits, qr: SAFETY_QR_PREFIX + halves[0].hex + ":" + halves[1].hex };
}

/** Compares a scanned QR payload with ours in constant time. */
export function safetyQrMatches(scanned: string, ours: SafetyNumber): boolean {
  const enc = new TextEncoder();
  return typeof scanned === "string" && constantTimeEqual(enc.encode(scanned), enc.encode(ours.qr));
}
