/**
 * ML-KEM-768 (FIPS 203) through WebCrypto (Deno 2.9 and Chromium expose it as
 * "ML-KEM-768" with `encapsulateBits` / `decapsulateBits`). Private keys are kept
 * as the 64-byte seed d || z (FIPS 203 §7.1 ML-KEM.KeyGen_internal), which
 * WebCrypto imports as "raw-seed"; key generation from a seed is deterministic.
 * Encapsulation randomness cannot be injected through WebCrypto, hence the
 * {@linkcode Kem} interface: frozen vectors replay a recorded encapsulation.
 */
import { checkLength } from "./_bytes.ts";
import { CodecError, VerifyError } from "./errors.ts";
import { type Random, SYSTEM_RANDOM } from "./random.ts";

/** FIPS 203 §8 Table 3, ML-KEM-768 encapsulation key length. */
export const MLKEM768_ENCAPSULATION_KEY_BYTES = 1184;
/** FIPS 203 §8 Table 3, ML-KEM-768 ciphertext length. */
export const MLKEM768_CIPHERTEXT_BYTES = 1088;
/** Length of the seed d || z (FIPS 203 §7.1). */
export const MLKEM768_SEED_BYTES = 64;
/** Length of the shared secret K (FIPS 203 §7.2). */
export const MLKEM768_SHARED_SECRET_BYTES = 32;

const ALG = { name: "ML-KEM-768" };

// WebCrypto's ML-KEM methods are newer than the TypeScript DOM typings.
interface KemSubtle {
  importKey(
    format: "raw-seed" | "raw-public",
    data: BufferSource,
    alg: { name: string },
    extractable: boolean,
    usages: string[],
  ): Promise<CryptoKey>;
  getPublicKey(key: CryptoKey, usages: string[]): Promise<CryptoKey>;
  exportKey(format: "raw-public", key: CryptoKey): Promise<ArrayBuffer>;
  encapsulateBits(
    alg: { name: string },
    key: CryptoKey,
  ): Promise<{ sharedKey: ArrayBuffer; ciphertext: ArrayBuffer }>;
  decapsulateBits(
    alg: { name: string },
    key: CryptoKey,
    ciphertext: BufferSource,
  ): Promise<ArrayBuffer>;
}

function subtle(): KemSubtle {
  return crypto.subtle as unknown as KemSubtle;
}

/** An ML-KEM-768 key pair: the seed is the private key. */
export interface MlKemKeyPair {
  /** 64-byte seed d || z. */
  readonly seed: Uint8Array;
  /** 1184-byte encapsulation key. */
  readonly encapsulationKey: Uint8Array;
}

/** Result of an encapsulation. */
export interface MlKemEncapsulation {
  /** 1088-byte ciphertext for the key holder. */
  readonly ciphertext: Uint8Array;
  /** 32-byte shared secret. */
  readonly sharedSecret: Uint8Array;
}

/** The encapsulation half of ML-KEM-768, injectable so that vectors can be frozen. */
export interface Kem {
  /**
   * Encapsulates to `encapsulationKey`.
   *
   * @throws {VerifyError} the key fails the FIPS 203 §7.2 input check
   */
  encapsulate(encapsulationKey: Uint8Array): Promise<MlKemEncapsulation>;
}

async function importSeed(seed: Uint8Array, usages: string[]): Promise<CryptoKey> {
  checkLength(seed, MLKEM768_SEED_BYTES, "ML-KEM-768 seed");
  return await subtle().importKey("raw-seed", seed as BufferSource, ALG, false, usages);
}

/** Derives the key pair of a seed (FIPS 203 Algorithm 16, deterministic). */
export async function mlKemKeyPairFromSeed(seed: Uint8Array): Promise<MlKemKeyPair> {
  const privateKey = await importSeed(seed, ["decapsulateBits"]);
  const publicKey = await subtle().getPublicKey(privateKey, ["encapsulateBits"]);
  const encapsulationKey = new Uint8Array(await subtle().exportKey("raw-public", publicKey));
  return { seed: new Uint8Array(seed), encapsulationKey };
}

/** Generates a key pair from 64 bytes of `random`. */
export async function generateMlKemKeyPair(random: Random = SYSTEM_RANDOM): Promise<MlKemKeyPair> {
  return await mlKemKeyPairFromSeed(random.bytes(MLKEM768_SEED_BYTES));
}

/** ML-KEM-768 encapsulation with WebCrypto's own randomness (FIPS 203 Algorithm 20). */
export const WEBCRYPTO_KEM: Kem = Object.freeze({
  async encapsulate(encapsulationKey: Uint8Array): Promise<MlKemEncapsulation> {
    checkLength(encapsulationKey, MLKEM768_ENCAPSULATION_KEY_BYTES, "ML-KEM-768 encapsulation key");
    try {
      // FIPS 203 §7.2 modulus check: Chromium runs it at import, Deno at encapsulation.
      const key = await subtle().importKey(
        "raw-public",
        encapsulationKey as BufferSource,
        ALG,
        false,
        [
          "encapsulateBits",
        ],
      );
      const { sharedKey, ciphertext } = await subtle().encapsulateBits(ALG, key);
      return { ciphertext: new Uint8Array(ciphertext), sharedSecret: new Uint8Array(sharedKey) };
    } catch (cause) {
      throw new VerifyError("Cannot encapsulate to ML-KEM-768 key: invalid encapsulation key", {
        cause,
      });
    }
  },
});

/**
 * Decapsulates (FIPS 203 Algorithm 21). A wrong ciphertext of the right length
 * yields an unrelated secret (implicit rejection), which later key confirmation catches.
 *
 * @throws {CodecError} wrong seed or ciphertext length
 */
export async function mlKemDecapsulate(
  seed: Uint8Array,
  ciphertext: Uint8Array,
): Promise<Uint8Array> {
  checkLength(ciphertext, MLKEM768_CIPHERTEXT_BYTES, "ML-KEM-768 ciphertext");
  const key = await importSeed(seed, ["decapsulateBits"]);
  try {
    return new Uint8Array(await subtle().decapsulateBits(ALG, key, ciphertext as BufferSource));
  } catch (cause) {
    throw new CodecError("Cannot decapsulate ML-KEM-768 ciphertext", { cause });
  }
}
