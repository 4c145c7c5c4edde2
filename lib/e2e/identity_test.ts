import assert from "node:assert/strict";
import { flip } from "./_testing.ts";
import { ED25519_SMALL_ORDER_KEYS } from "./ed25519.ts";
import { CodecError, DecryptError, VerifyError } from "./errors.ts";
import {
  decodeIdentityKeyPair,
  decodePublicIdentity,
  encodeIdentityKeyPair,
  encodePublicIdentity,
  generateIdentity,
  importPublicIdentity,
  PUBLIC_IDENTITY_BYTES,
} from "./identity.ts";
import { decodeSealedIdentity, openIdentity, sealIdentity } from "./identity_seal.ts";
import { DeterministicRandom } from "./random.ts";
import { X25519_LOW_ORDER_KEYS } from "./x25519.ts";

const FAST = 1_000; // PBKDF2 iterations for tests only

Deno.test("public identity encodes to 129 bytes and round-trips", async () => {
  const id = await generateIdentity();
  const bytes = encodePublicIdentity(id.publicIdentity);
  assert.equal(bytes.length, PUBLIC_IDENTITY_BYTES);
  assert.deepEqual(await importPublicIdentity(bytes), id.publicIdentity);
});

Deno.test("importPublicIdentity() rejects any altered byte", async () => {
  const bytes = encodePublicIdentity((await generateIdentity()).publicIdentity);
  for (let i = 0; i < bytes.length; i += 7) {
    await assert.rejects(importPublicIdentity(flip(bytes, i)), i === 0 ? CodecError : VerifyError);
  }
});

Deno.test("decodePublicIdentity() rejects truncated, oversized and unknown-version input", () => {
  const bytes = new Uint8Array(PUBLIC_IDENTITY_BYTES);
  bytes[0] = 1;
  assert.throws(() => decodePublicIdentity(bytes.subarray(0, 128)), CodecError);
  assert.throws(() => decodePublicIdentity(new Uint8Array(130)), CodecError);
  bytes[0] = 2;
  assert.throws(() => decodePublicIdentity(bytes), CodecError);
});

Deno.test("importPublicIdentity() refuses each small-order Ed25519 key and low-order X25519 key", async () => {
  const id = (await generateIdentity()).publicIdentity;
  for (const signingKey of ED25519_SMALL_ORDER_KEYS) {
    await assert.rejects(
      importPublicIdentity(encodePublicIdentity({ ...id, signingKey })),
      VerifyError,
    );
  }
  for (const dhKey of X25519_LOW_ORDER_KEYS) {
    await assert.rejects(importPublicIdentity(encodePublicIdentity({ ...id, dhKey })), VerifyError);
  }
});

Deno.test("identity key pair round-trips and refuses a mismatched public half", async () => {
  const a = await generateIdentity();
  const b = await generateIdentity();
  assert.deepEqual(await decodeIdentityKeyPair(encodeIdentityKeyPair(a)), a);
  const mixed = encodeIdentityKeyPair({ ...a, publicIdentity: b.publicIdentity });
  await assert.rejects(decodeIdentityKeyPair(mixed), VerifyError);
});

Deno.test("generateIdentity() is deterministic under injected randomness", async () => {
  const a = await generateIdentity({ random: new DeterministicRandom("x") });
  const b = await generateIdentity({ random: new DeterministicRandom("x") });
  assert.deepEqual(a, b);
});

Deno.test("sealIdentity() then openIdentity() returns the identity", async () => {
  const id = await generateIdentity();
  const sealed = await sealIdentity(id, { passphrase: "correct horse", iterations: FAST });
  assert.deepEqual(await openIdentity(sealed, { passphrase: "correct horse" }), id);
});

Deno.test("openIdentity() rejects a wrong passphrase and tampered bytes with DecryptError", async () => {
  const id = await generateIdentity();
  const sealed = await sealIdentity(id, { passphrase: "pw", iterations: FAST });
  await assert.rejects(openIdentity(sealed, { passphrase: "pW" }), DecryptError);
  for (const i of [10, 20, 40, sealed.length - 1]) {
    await assert.rejects(openIdentity(flip(sealed, i), { passphrase: "pw" }), DecryptError);
  }
});

Deno.test("openIdentity() rejects unknown version, KDF, cost out of range, truncated and oversized", async () => {
  const sealed = await sealIdentity(await generateIdentity(), {
    passphrase: "pw",
    iterations: FAST,
  });
  await assert.rejects(openIdentity(flip(sealed, 0), { passphrase: "pw" }), CodecError);
  await assert.rejects(openIdentity(flip(sealed, 1), { passphrase: "pw" }), CodecError);
  const huge = sealed.slice();
  huge[2] = 0xff;
  await assert.rejects(openIdentity(huge, { passphrase: "pw" }), CodecError);
  await assert.rejects(openIdentity(sealed.subarray(1), { passphrase: "pw" }), CodecError);
  await assert.rejects(
    openIdentity(new Uint8Array(sealed.length + 1), { passphrase: "pw" }),
    CodecError,
  );
});

Deno.test("decodeSealedIdentity() reads the layout sealIdentity() wrote, without a passphrase", async () => {
  const sealed = await sealIdentity(await generateIdentity(), {
    passphrase: "pw",
    iterations: FAST,
  });
  const parts = decodeSealedIdentity(sealed);
  assert.equal(parts.iterations, FAST);
  assert.deepEqual(parts.header, sealed.subarray(0, 34));
  assert.deepEqual(parts.salt, sealed.subarray(6, 22));
  assert.deepEqual(parts.nonce, sealed.subarray(22, 34));
  assert.deepEqual(parts.body, sealed.subarray(34));
  assert.throws(() => decodeSealedIdentity(flip(sealed, 1)), CodecError);
});

Deno.test("sealIdentity() refuses an iteration count below the minimum", async () => {
  await assert.rejects(
    sealIdentity(await generateIdentity(), { passphrase: "pw", iterations: 10 }),
    RangeError,
  );
});
