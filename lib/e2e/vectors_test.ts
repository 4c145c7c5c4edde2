import assert from "node:assert/strict";
import { hkdfSha256, hmacSha256 } from "./_sha256.ts";
import { WEBCRYPTO_AEAD } from "./aead.ts";
import {
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  importEd25519PrivateKey,
  importEd25519PublicKey,
} from "./ed25519.ts";
import { DecryptError } from "./errors.ts";
import { mlKemDecapsulate, mlKemKeyPairFromSeed } from "./mlkem.ts";
import { x25519, x25519PublicKey } from "./x25519.ts";

const VECTORS = new URL("../../tests/vectors/", import.meta.url);

function readJson(path: string) {
  return JSON.parse(Deno.readTextFileSync(new URL(path, VECTORS)));
}

function readPem(path: string): Uint8Array {
  const body = Deno.readTextFileSync(new URL(path, VECTORS)).split("\n")
    .filter((l) => l && !l.startsWith("-----")).join("");
  return Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
}

Deno.test("RFC 7748 §5.2 scalar multiplication vectors match x25519()", async () => {
  for (const v of readJson("rfc7748/x25519.json").scalarMult) {
    assert.equal(
      (await x25519(Uint8Array.fromHex(v.scalar), Uint8Array.fromHex(v.u))).toHex(),
      v.output,
      v.section,
    );
  }
});

Deno.test("RFC 7748 §5.2 iterated vectors match after 1 and 1,000 iterations", async () => {
  const want = new Map<number, string>(
    readJson("rfc7748/x25519.json").iterated.map((
      v: { iterations: number; k: string },
    ) => [v.iterations, v.k]),
  );
  let k: Uint8Array = new Uint8Array(32);
  k[0] = 9;
  let u: Uint8Array = k.slice();
  for (let i = 1; i <= 1000; i++) {
    const next = await x25519(k, u);
    u = k;
    k = next;
    if (want.has(i)) assert.equal(k.toHex(), want.get(i), `after ${i}`);
  }
});

Deno.test("RFC 7748 §6.1 Diffie-Hellman vector matches", async () => {
  const v = readJson("rfc7748/x25519.json").diffieHellman;
  assert.equal((await x25519PublicKey(Uint8Array.fromHex(v.alicePrivate))).toHex(), v.alicePublic);
  assert.equal((await x25519PublicKey(Uint8Array.fromHex(v.bobPrivate))).toHex(), v.bobPublic);
  assert.equal(
    (await x25519(Uint8Array.fromHex(v.alicePrivate), Uint8Array.fromHex(v.bobPublic))).toHex(),
    v.shared,
  );
  assert.equal(
    (await x25519(Uint8Array.fromHex(v.bobPrivate), Uint8Array.fromHex(v.alicePublic))).toHex(),
    v.shared,
  );
});

Deno.test("RFC 8032 §7.1 Ed25519 tests 1-3 match WebCrypto sign and verify", async () => {
  for (const v of readJson("rfc8032/ed25519.json").tests) {
    const seed = Uint8Array.fromHex(v.secretKey);
    assert.equal((await ed25519PublicKey(seed)).toHex(), v.publicKey, v.section);
    const sig = await ed25519Sign(
      await importEd25519PrivateKey(seed),
      Uint8Array.fromHex(v.message),
    );
    assert.equal(sig.toHex(), v.signature, v.section);
    const pub = await importEd25519PublicKey(Uint8Array.fromHex(v.publicKey));
    assert.equal(
      await ed25519Verify(pub, Uint8Array.fromHex(v.signature), Uint8Array.fromHex(v.message)),
      true,
    );
    const bad = Uint8Array.fromHex(v.signature);
    bad[0] ^= 1;
    assert.equal(await ed25519Verify(pub, bad, Uint8Array.fromHex(v.message)), false);
  }
});

Deno.test("RFC 5869 A.1-A.3 match both WebCrypto HKDF and hkdfSha256()", async () => {
  for (const v of readJson("rfc5869/hkdf.json").tests) {
    const ikm = Uint8Array.fromHex(v.ikm),
      salt = Uint8Array.fromHex(v.salt),
      info = Uint8Array.fromHex(v.info);
    assert.equal((hkdfSha256({ ikm, salt, info, length: v.length })).toHex(), v.okm, v.section);
    assert.equal(
      (hmacSha256(salt.length ? salt : new Uint8Array(32), ikm)).toHex(),
      v.prk,
      v.section,
    );
    const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
    const bits = await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt, info },
      key,
      v.length * 8,
    );
    assert.equal((new Uint8Array(bits)).toHex(), v.okm, v.section);
  }
});

Deno.test("GCM test cases 13-16 (AES-256) match WEBCRYPTO_AEAD", async () => {
  for (const v of readJson("gcm/aes256_gcm.json").tests) {
    const key = Uint8Array.fromHex(v.key),
      iv = Uint8Array.fromHex(v.iv),
      aad = Uint8Array.fromHex(v.aad);
    const sealed = await WEBCRYPTO_AEAD.seal(key, iv, Uint8Array.fromHex(v.plaintext), aad);
    assert.equal(sealed.toHex(), v.ciphertext + v.tag, `case ${v.case}`);
    assert.equal((await WEBCRYPTO_AEAD.open(key, iv, sealed, aad)).toHex(), v.plaintext);
    sealed[sealed.length - 1] ^= 1;
    await assert.rejects(WEBCRYPTO_AEAD.open(key, iv, sealed, aad), DecryptError);
  }
});

Deno.test("RFC 9935 ML-KEM-768 example: seed 00..3f gives the published public key", async () => {
  const spki = readPem("mlkem768/rfc9935_mlkem768_public.pem");
  const pkcs8 = readPem("mlkem768/rfc9935_mlkem768_seed.pem");
  const seed = pkcs8.subarray(pkcs8.length - 64);
  assert.deepEqual(seed, Uint8Array.from({ length: 64 }, (_, i) => i));
  const { encapsulationKey } = await mlKemKeyPairFromSeed(seed);
  assert.equal(spki.length, 22 + 1184);
  assert.equal(encapsulationKey.toHex(), (spki.subarray(22)).toHex());
});

Deno.test("ML-KEM-768 implicit rejection matches the CCTV pq-crystals pseudorandom vector", async () => {
  const lines = Deno.readTextFileSync(new URL("mlkem768/pq_crystals_768.txt", VECTORS)).trim()
    .split("\n");
  const t = Object.fromEntries(lines.map((l) => l.split(": ")));
  const z = Uint8Array.fromHex(t["Coins"]).subarray(32);
  // Any d: the rejection key J(z || c) does not depend on it (FIPS 203 Algorithm 18).
  const seed = new Uint8Array(64);
  seed.set(z, 32);
  const k = await mlKemDecapsulate(seed, Uint8Array.fromHex(t["Pseudorandom Ciphertext"]));
  assert.equal(k.toHex(), t["Pseudorandom shared Secret A"]);
});
