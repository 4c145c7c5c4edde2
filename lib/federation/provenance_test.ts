import assert from "node:assert/strict";
import { toAddress, toNodeId } from "../ids.ts";
import {
  decodeEnvelopeWithAuth,
  encodeEnvelope,
  encodeEnvelopeAuth,
  encodeEnvelopeAuthTail,
  type Envelope,
  TTL_OFFSET,
} from "../protocol/mod.ts";
import { sampleEnvelope, testNodeKey, testProvenances } from "./_test_nodes.ts";
import { MAX_KNOWN_NODES, Provenance } from "./provenance.ts";

const [a, b, m] = ["a", "b", "m"].map(toNodeId);

function envelope(over: Partial<Envelope> = {}): Uint8Array {
  return encodeEnvelope(
    sampleEnvelope({ id: crypto.getRandomValues(new Uint8Array(16)), ...over }),
  );
}

const verify = (p: Provenance, bytes: Uint8Array) => p.verify(bytes, decodeEnvelopeWithAuth(bytes));

Deno.test("a signed batch proves each of its envelopes, with one signature check per batch", () => {
  const p = testProvenances([a, b]);
  const batch = Array.from({ length: 37 }, () => envelope());
  const signed = p.get(a)!.signBatch(batch);
  for (const bytes of signed) assert.equal(verify(p.get(b)!, bytes), "ok");
  assert.equal(p.get(b)!.signatureChecks, 1);
});

Deno.test("the ttl may change on the way; any other byte may not", () => {
  const p = testProvenances([a, b]);
  const [signed] = p.get(a)!.signBatch([envelope()]);
  const lowered = signed.slice();
  lowered[TTL_OFFSET] = 7;
  assert.equal(verify(p.get(b)!, lowered), "ok");
  const { signedLength } = decodeEnvelopeWithAuth(signed);
  for (const at of [0 + 1, TTL_OFFSET + 3, signedLength - 1, signedLength + 5, signed.length - 1]) {
    const altered = signed.slice();
    altered[at] ^= 1;
    let verdict;
    try {
      verdict = verify(p.get(b)!, altered);
    } catch {
      verdict = "undecodable";
    }
    assert.notEqual(verdict, "ok", `byte ${at}`);
  }
});

Deno.test("an envelope claiming another node's user is refused: only that node's key proves it", () => {
  const p = testProvenances([a, b, m]);
  // m signs an envelope that says it is from alice@a.
  const [forged] = p.get(m)!.signBatch([envelope()]);
  assert.equal(verify(p.get(b)!, forged), "bad-proof");
  // ...and one from its own user is fine.
  const [own] = p.get(m)!.signBatch([envelope({ from: toAddress("mallory@m") })]);
  assert.equal(verify(p.get(b)!, own), "ok");
});

Deno.test("an unsigned envelope, and one from an origin with no trusted key, are not proven", () => {
  const p = testProvenances([a, b]);
  assert.equal(verify(p.get(b)!, envelope()), "unsigned");
  const stranger = new Provenance({
    self: toNodeId("z"),
    privateKeyPkcs8: testNodeKey().pkcs8,
    keyOf: () => undefined,
  });
  const [signed] = p.get(a)!.signBatch([envelope()]);
  assert.equal(verify(stranger, signed), "unknown-origin");
});

Deno.test("a small-order key trusted for the origin proves nothing", () => {
  const [signed] = testProvenances([a, b]).get(a)!.signBatch([envelope()]);
  const weak = new Provenance({
    self: b,
    privateKeyPkcs8: testNodeKey().pkcs8,
    keyOf: () =>
      Uint8Array.fromHex("0100000000000000000000000000000000000000000000000000000000000000"),
  });
  assert.equal(verify(weak, signed), "bad-proof");
});

Deno.test("a proof moved to another envelope of the same batch fails", () => {
  const p = testProvenances([a, b]);
  const [one, two] = p.get(a)!.signBatch([envelope(), envelope()]);
  const d1 = decodeEnvelopeWithAuth(one);
  const d2 = decodeEnvelopeWithAuth(two);
  const spliced = new Uint8Array(d1.signedLength + (two.length - d2.signedLength));
  spliced.set(one.subarray(0, d1.signedLength));
  spliced.set(two.subarray(d2.signedLength), d1.signedLength);
  assert.equal(verify(p.get(b)!, spliced), "bad-proof");
});

Deno.test("nodes proven for one origin prove nothing for another (the cache is per origin)", () => {
  const p = testProvenances([a, b, m]);
  // m signs one honest envelope and one that claims alice@a, in the same batch.
  const [honest, forged] = p.get(m)!.signBatch([
    envelope({ from: toAddress("mallory@m") }),
    envelope(),
  ]);
  assert.equal(verify(p.get(b)!, honest), "ok", "the honest one proves m's tree");
  assert.equal(verify(p.get(b)!, forged), "bad-proof");
});

Deno.test("after one check, the rest of a batch costs no signature and few hashes", () => {
  const p = testProvenances([a, b]);
  const signed = p.get(a)!.signBatch(Array.from({ length: 200 }, () => envelope()));
  for (const bytes of signed.reverse()) assert.equal(verify(p.get(b)!, bytes), "ok");
  assert.equal(p.get(b)!.signatureChecks, 1);
});

Deno.test("later envelopes of a proven batch stop after a hash or two: nodes below a known one are remembered", () => {
  const p = testProvenances([a, b]);
  const signed = p.get(a)!.signBatch(Array.from({ length: 64 }, () => envelope()));
  const verifier = p.get(b)!;
  for (const bytes of signed) assert.equal(verify(verifier, bytes), "ok");
  assert.equal(verifier.signatureChecks, 1);
  // 6 for the first (up to the root), then one new node per envelope plus the known one it
  // meets: 63 inner nodes in all, and each later envelope one more hash for the known node.
  // Walking up to the first envelope's path each time (as before) took 6 + 321 = 327.
  assert.ok(verifier.pathHashes <= 6 + 63 + 63, `${verifier.pathHashes} path hashes`);
});

Deno.test("nodes remembered from a proven batch prove no altered envelope of it", () => {
  const p = testProvenances([a, b]);
  const signed = p.get(a)!.signBatch(Array.from({ length: 8 }, () => envelope()));
  const verifier = p.get(b)!;
  for (const bytes of signed.slice(0, 4)) assert.equal(verify(verifier, bytes), "ok");
  for (const bytes of signed.slice(4)) {
    const { signedLength } = decodeEnvelopeWithAuth(bytes);
    const altered = bytes.slice();
    altered[signedLength - 1] ^= 1;
    assert.equal(verify(verifier, altered), "bad-proof");
  }
  for (const bytes of signed) assert.equal(verify(verifier, bytes), "ok");
});

Deno.test("attack: a proven node vouches for no altered path above it, position or signature", () => {
  const p = testProvenances([a, b]);
  const signed = p.get(a)!.signBatch(Array.from({ length: 8 }, () => envelope()));
  const verifier = p.get(b)!;
  for (const bytes of signed.slice(0, 5)) assert.equal(verify(verifier, bytes), "ok");
  // A hostile neighbour alters what lies above a node this verifier already proved (envelopes
  // 5-7 stop at the node over leaves 4 and 5 or 6 and 7): a node that has not seen the batch
  // would refuse them and blame whoever handed them over, so this one must refuse them too.
  const alter = (bytes: Uint8Array, at: (signedLength: number) => number, bit = 1) => {
    const out = bytes.slice();
    out[at(decodeEnvelopeWithAuth(bytes).signedLength)] ^= bit;
    return out;
  };
  const signatureAltered = alter(signed[5], () => signed[5].length - 1);
  const pathAltered = alter(signed[6], () => signed[6].length - 64 - 1);
  const indexAltered = alter(signed[7], (at) => at + 1, 4); // index 7 becomes 3
  assert.equal(decodeEnvelopeWithAuth(indexAltered).auth?.index, 3);
  for (const bytes of [signatureAltered, pathAltered, indexAltered]) {
    assert.equal(verify(verifier, bytes), "bad-proof");
  }
  for (const bytes of signed) assert.equal(verify(verifier, bytes), "ok");
});

Deno.test("a subtree two batches share proves each batch's envelopes under its own root", () => {
  const p = testProvenances([a, b]);
  const [e1, e2, e3, e4, e5] = Array.from({ length: 5 }, () => envelope());
  const first = p.get(a)!.signBatch([e1, e2, e3, e4]);
  const second = p.get(a)!.signBatch([e1, e2, e5]);
  const verifier = p.get(b)!;
  for (const bytes of [...first, ...second, ...first]) assert.equal(verify(verifier, bytes), "ok");
});

Deno.test("the nodes remembered over all origins stay under their bound", () => {
  const origins = Array.from({ length: 40 }, (_, i) => toNodeId(`o${i}`));
  const p = testProvenances([b, ...origins]);
  const verifier = p.get(b)!;
  for (const origin of origins) {
    const signed = p.get(origin)!.signBatch(
      Array.from({ length: 1024 }, () => envelope({ from: toAddress(`u@${origin}`) })),
    );
    for (const bytes of signed) assert.equal(verify(verifier, bytes), "ok");
    assert.ok(verifier.knownNodes <= MAX_KNOWN_NODES, `${verifier.knownNodes} nodes`);
  }
  assert.ok(verifier.knownNodes > MAX_KNOWN_NODES - 1024, "the bound is used, not undercounted");
});

Deno.test("signBatchParts(): each envelope's bytes as given and its proof, joined as signBatch's", () => {
  const p = testProvenances([a, b]);
  const batch = Array.from(
    { length: 5 },
    (_, i) => envelope({ body: new Uint8Array(1 + i * 40_000) }),
  );
  const parts = p.get(a)!.signBatchParts(batch);
  assert.equal(parts.length, batch.length);
  const alteredOnes: Uint8Array[] = [];
  for (const [i, [unsigned, tail]] of parts.entries()) {
    assert.equal(unsigned, batch[i], "not copied");
    const joined = new Uint8Array([...unsigned, ...tail]);
    assert.equal(verify(p.get(b)!, joined), "ok");
    const { auth } = decodeEnvelopeWithAuth(joined);
    assert.deepEqual(encodeEnvelopeAuthTail(auth!), tail);
    assert.deepEqual(encodeEnvelopeAuth(unsigned, auth!), joined);
    // The proof covers the unsigned bytes: one changed byte there fails it.
    const altered = joined.slice();
    altered[unsigned.length - 1] ^= 1;
    alteredOnes.push(altered);
  }
  assert.equal(p.get(b)!.signatureChecks, 1);
  for (const bytes of alteredOnes) assert.equal(verify(p.get(b)!, bytes), "bad-proof");
});

Deno.test("one origin's remembered nodes stay under its cache size, and older batches still prove", () => {
  const keys = new Map([a, b].map((n) => [n, testNodeKey()]));
  const signer = new Provenance({
    self: a,
    privateKeyPkcs8: keys.get(a)!.pkcs8,
    keyOf: (n) => keys.get(n)?.publicKey,
  });
  const verifier = new Provenance({
    self: b,
    privateKeyPkcs8: keys.get(b)!.pkcs8,
    keyOf: (n) => keys.get(n)?.publicKey,
    cacheSize: 64,
  });
  const batches = Array.from(
    { length: 12 },
    () => signer.signBatch(Array.from({ length: 32 }, () => envelope())),
  );
  for (const signed of batches) {
    for (const bytes of signed) assert.equal(verify(verifier, bytes), "ok");
    assert.ok(verifier.knownNodes <= 64, `${verifier.knownNodes} nodes`);
  }
  assert.ok(verifier.knownNodes >= 32, "the bound is used");
  const checks = verifier.signatureChecks;
  for (const bytes of batches[0]) assert.equal(verify(verifier, bytes), "ok");
  assert.equal(verifier.signatureChecks, checks + 1, "forgotten: proven again by its signature");
});
