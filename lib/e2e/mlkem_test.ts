import assert from "node:assert/strict";
import { CodecError, VerifyError } from "./errors.ts";
import {
  generateMlKemKeyPair,
  MLKEM768_CIPHERTEXT_BYTES,
  mlKemDecapsulate,
  mlKemKeyPairFromSeed,
  WEBCRYPTO_KEM,
} from "./mlkem.ts";
import { DeterministicRandom } from "./random.ts";

Deno.test("ML-KEM-768 encapsulate/decapsulate round trip agrees", async () => {
  const kp = await generateMlKemKeyPair();
  const { ciphertext, sharedSecret } = await WEBCRYPTO_KEM.encapsulate(kp.encapsulationKey);
  assert.equal(ciphertext.length, MLKEM768_CIPHERTEXT_BYTES);
  assert.deepEqual(await mlKemDecapsulate(kp.seed, ciphertext), sharedSecret);
});

Deno.test("mlKemKeyPairFromSeed() is deterministic", async () => {
  const seed = new DeterministicRandom("kem").bytes(64);
  const a = await mlKemKeyPairFromSeed(seed);
  const b = await mlKemKeyPairFromSeed(seed);
  assert.deepEqual(a.encapsulationKey, b.encapsulationKey);
});

Deno.test("mlKemDecapsulate() of a tampered ciphertext gives a different secret (implicit rejection)", async () => {
  const kp = await generateMlKemKeyPair();
  const { ciphertext, sharedSecret } = await WEBCRYPTO_KEM.encapsulate(kp.encapsulationKey);
  ciphertext[5] ^= 1;
  const k = await mlKemDecapsulate(kp.seed, ciphertext);
  assert.notDeepEqual(k, sharedSecret);
  assert.deepEqual(await mlKemDecapsulate(kp.seed, ciphertext), k, "deterministic");
});

Deno.test("ML-KEM rejects truncated and oversized inputs", async () => {
  const kp = await generateMlKemKeyPair();
  await assert.rejects(mlKemDecapsulate(kp.seed, new Uint8Array(1087)), CodecError);
  await assert.rejects(mlKemDecapsulate(kp.seed, new Uint8Array(1089)), CodecError);
  await assert.rejects(mlKemDecapsulate(kp.seed.subarray(1), new Uint8Array(1088)), CodecError);
  await assert.rejects(WEBCRYPTO_KEM.encapsulate(kp.encapsulationKey.subarray(1)), CodecError);
});

Deno.test("WEBCRYPTO_KEM refuses an encapsulation key failing the FIPS 203 modulus check", async () => {
  const kp = await generateMlKemKeyPair();
  const bad = kp.encapsulationKey.slice();
  // First coefficient = 0xfff > q = 3329 (12-bit little-endian packing, FIPS 203 §4.2.1).
  bad[0] = 0xff;
  bad[1] |= 0x0f;
  await assert.rejects(WEBCRYPTO_KEM.encapsulate(bad), VerifyError);
});
