/**
 * Sealing a chat request's intro to the recipient's published identity DH key
 * (ECIES: ephemeral X25519, HKDF-SHA-256, AES-256-GCM), so the intro is never
 * plaintext at a node. The recipient's identity comes from its node before any
 * chat exists, so this is only as strong as that lookup: the client checks, at
 * acceptance, that the identity that accepted is the one the intro was sealed to.
 *
 *   sealed = u8 version=1 | [32] ephemeral public key | AES-GCM(key, nonce 0, intro, ad)
 *   key    = HKDF-SHA-256(ikm = X25519(eph, dhKey), salt = eph || dhKey,
 *                         info = "fedchat/v1/intro" || ad)
 */
import { concat, utf8 } from "./_bytes.ts";
import { hkdfSha256 } from "./_sha256.ts";
import { type Aead, WEBCRYPTO_AEAD } from "./aead.ts";
import { CodecError, DecryptError } from "./errors.ts";
import type { IdentityKeyPair, PublicIdentity } from "./identity.ts";
import { type Random, SYSTEM_RANDOM } from "./random.ts";
import { generateX25519KeyPair, x25519 } from "./x25519.ts";

const VERSION = 1;
const INFO = utf8("fedchat/v1/intro");
/** Largest intro accepted, in bytes. */
export const MAX_INTRO_BYTES = 4096;

function deriveKey(
  shared: Uint8Array,
  eph: Uint8Array,
  dhKey: Uint8Array,
  ad: Uint8Array,
): Uint8Array {
  return hkdfSha256({ ikm: shared, salt: concat(eph, dhKey), info: concat(INFO, ad), length: 32 });
}

/** Seals `intro` to `recipient`'s identity DH key, bound to `ad` (both addresses). */
export async function sealIntro(
  { recipient, intro, ad, random = SYSTEM_RANDOM, aead = WEBCRYPTO_AEAD }: {
    recipient: PublicIdentity;
    intro: Uint8Array;
    ad: Uint8Array;
    random?: Random;
    aead?: Aead;
  },
): Promise<Uint8Array> {
  if (intro.length > MAX_INTRO_BYTES) throw new CodecError("Cannot seal intro: too long");
  const eph = await generateX25519KeyPair(random);
  const key = deriveKey(
    await x25519(eph.privateKey, recipient.dhKey),
    eph.publicKey,
    recipient.dhKey,
    ad,
  );
  const ct = await aead.seal(key, new Uint8Array(12), intro, ad);
  return concat(new Uint8Array([VERSION]), eph.publicKey, ct);
}

/**
 * Opens an intro sealed to our identity.
 *
 * @throws {DecryptError} anything wrong (uniform)
 */
export async function openIntro(
  { identity, sealed, ad, aead = WEBCRYPTO_AEAD }: {
    identity: IdentityKeyPair;
    sealed: Uint8Array;
    ad: Uint8Array;
    aead?: Aead;
  },
): Promise<Uint8Array> {
  try {
    if (
      sealed.length < 1 + 32 + 16 || sealed.length > 1 + 32 + 16 + MAX_INTRO_BYTES ||
      sealed[0] !== VERSION
    ) {
      throw new CodecError("bad sealed intro");
    }
    const eph = sealed.subarray(1, 33);
    const dhKey = identity.publicIdentity.dhKey;
    const key = deriveKey(await x25519(identity.dhPrivateKey, eph), eph, dhKey, ad);
    return await aead.open(key, new Uint8Array(12), sealed.subarray(33), ad);
  } catch (cause) {
    throw new DecryptError("Cannot open intro", { cause });
  }
}
