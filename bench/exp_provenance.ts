/**
 * Experiment behind docs/PERF_NOTES.md (run by hand): the CPU cost per
 * envelope of proving where it came from, as main does it (lib/federation/
 * provenance.ts: one Ed25519 signature per batch over a Merkle root, every
 * receiving node, relays included, checks the audit path and the root) against
 * a per-(origin, destination) HMAC-SHA-256 keyed from static X25519 between
 * node keys (only the destination checks it).
 *
 *   deno run --allow-read --allow-env bench/exp_provenance.ts
 *
 * For batch sizes 1 (a quiet node sends one envelope per turn), 16, 64 and
 * 1,024: µs of CPU per envelope to prove at the origin, and to check at one
 * receiving node (first check of a batch pays the signature, the rest hit the
 * root cache). JSON line last.
 */
// deno-lint-ignore-file no-console
import { cpuUsage } from "node:process";
import { createHash, createHmac } from "node:crypto";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { Provenance } from "../lib/federation/provenance.ts";
import { toNodeId } from "../lib/ids.ts";
import { decodeEnvelopeWithAuth, DEFAULT_TTL, encodeEnvelope } from "../lib/protocol/mod.ts";

const SECONDS = Number(Deno.env.get("EXP_SECONDS") ?? 1.5);

function cpuPer(fn: () => number): number {
  for (const end = performance.now() + 200; performance.now() < end;) fn();
  const c0 = cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < SECONDS * 1000) n += fn();
  const c = cpuUsage(c0);
  return Math.round(((c.user + c.system) / n) * 10) / 10;
}

const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
  "sign",
  "verify",
]) as CryptoKeyPair;
const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
const publicRaw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
const origin = toNodeId("na");
const body = new Uint8Array(1 + 4 + 41 + 160 + 16);
const unsignedEnvelope = () =>
  encodeEnvelope({
    id: crypto.getRandomValues(new Uint8Array(16)),
    kind: "message",
    ttl: DEFAULT_TTL,
    createdAtMs: Date.now(),
    expiresAtMs: Date.now() + 60_000,
    from: "alice@na",
    to: "bob@nb",
    body,
  });

const results: Record<string, number> = {};
const line = (name: string, us: number) => {
  results[name] = us;
  console.log(`${String(us).padStart(8)} µs  ${name}`);
};

console.log("-- main: Merkle batch + Ed25519 (node:crypto), per envelope");
for (const size of [1, 16, 64, 1024]) {
  const signer = new Provenance({ self: origin, privateKeyPkcs8: pkcs8, keyOf: () => publicRaw });
  const batch = Array.from({ length: size }, unsignedEnvelope);
  line(`origin proves a batch of ${size}`, cpuPer(() => signer.signBatch(batch).length));
  const signed = signer.signBatch(batch);
  const decoded = signed.map((b) => decodeEnvelopeWithAuth(b));
  const extra = signed[0].length - batch[0].length;
  // A fresh verifier per batch, so each batch pays its one signature check, as on the wire.
  line(
    `a receiving node checks a batch of ${size} (+${extra} bytes each)`,
    cpuPer(() => {
      const v = new Provenance({
        self: toNodeId("nb"),
        privateKeyPkcs8: pkcs8,
        keyOf: () => publicRaw,
      });
      for (let i = 0; i < size; i++) v.verify(signed[i], decoded[i]);
      return size;
    }),
  );
}

console.log("-- one SHA-256 as merkle.ts does it (node:crypto createHash) vs @noble");
{
  const node = new Uint8Array(65), leaf = unsignedEnvelope();
  line(
    "createHash: a Merkle node (65 bytes)",
    cpuPer(() => {
      createHash("sha256").update(node.subarray(0, 1)).update(node.subarray(1, 33)).update(
        node.subarray(33),
      ).digest();
      return 1;
    }),
  );
  line(
    "@noble sha256: a Merkle node (65 bytes)",
    cpuPer(() => {
      sha256.create().update(node.subarray(0, 1)).update(node.subarray(1, 33)).update(
        node.subarray(33),
      ).digest();
      return 1;
    }),
  );
  line(
    `createHash: a leaf (${leaf.length} bytes)`,
    cpuPer(() => {
      createHash("sha256").update(leaf).digest();
      return 1;
    }),
  );
  line(
    `@noble sha256: a leaf (${leaf.length} bytes)`,
    cpuPer(() => {
      sha256(leaf);
      return 1;
    }),
  );
}

console.log("-- proposed: HMAC-SHA-256 per (origin, destination), per envelope");
const secret = crypto.getRandomValues(new Uint8Array(32));
const env = unsignedEnvelope();
const keyed = hmac.create(sha256, secret);
line(
  "@noble, pads hashed once per pair (origin MACs; the destination does the same)",
  cpuPer(() => {
    keyed.clone().update(env).digest();
    return 1;
  }),
);
line(
  "node:crypto createHmac",
  cpuPer(() => {
    createHmac("sha256", secret).update(env).digest();
    return 1;
  }),
);

console.log(JSON.stringify({ bench: "exp_provenance", cpuUsPerEnvelope: results }));
