/**
 * Computes fedchat's own frozen vectors: fixed identities, randomness and a recorded
 * ML-KEM encapsulation give fixed bytes for every wire and stored format. The test
 * (lib/e2e/frozen_vectors_test.ts) recomputes them and compares with vectors.json;
 * make_vectors.ts writes vectors.json (only when a format change is deliberate).
 */
import {
  acceptChatRequest,
  completeChatRequest,
  createChatRequest,
  DeterministicRandom,
  encodeFileManifest,
  encodePublicIdentity,
  encodeRatchetState,
  FileChunkSealer,
  FileDigester,
  FileEncryptor,
  generateIdentity,
  type MlKemEncapsulation,
  ratchetDecrypt,
  ratchetEncrypt,
  readChatRequest,
  safetyNumber,
  sealIdentity,
  sealIntro,
} from "../../../lib/e2e/mod.ts";
import { RecordedKem } from "../../../lib/e2e/_testing.ts";

const r = (label: string) => new DeterministicRandom(`fedchat/vector/${label}`);
const utf8 = (s: string) => new TextEncoder().encode(s);

/** The request alone, so the generator can encapsulate to its ML-KEM key. */
export async function frozenRequest() {
  const alice = await generateIdentity({ random: r("alice") });
  const bob = await generateIdentity({ random: r("bob") });
  const sealedIntro = await sealIntro({ recipient: bob.publicIdentity, intro: utf8("hello, it is alice"), ad: utf8("alice@nodea|bob@nodeb"), random: r("intro") });
  return { alice, sealedIntro, ...(await createChatRequest({ identity: alice, from: "alice@nodea", to: "bob@nodeb", createdAtMs: 1_700_000_000_000, sealedIntro, random: r("request") })) };
}

/** Every frozen value, as hex, given the recorded encapsulation. */
export async function computeFrozenVectors(kem: MlKemEncapsulation): Promise<Record<string, string>> {
  const { alice, request, pending, sealedIntro } = await frozenRequest();
  const bob = await generateIdentity({ random: r("bob") });
  const verified = await readChatRequest(request, { localAddress: "bob@nodeb" });
  const accepted = await acceptChatRequest({ identity: bob, request: verified, random: r("accept"), kem: new RecordedKem(kem) });
  const done = await completeChatRequest({ identity: alice, pending, acceptance: accepted.acceptance, random: r("complete") });
  const m1 = await ratchetEncrypt({ state: done.session, plaintext: utf8("hello bob") });
  const b1 = await ratchetDecrypt({ state: accepted.session, message: m1.message, random: r("bob-ratchet") });
  const m2 = await ratchetEncrypt({ state: b1.newState, plaintext: utf8("hello alice") });
  const a2 = await ratchetDecrypt({ state: m1.newState, message: m2.message, random: r("alice-ratchet") });
  const m3 = await ratchetEncrypt({ state: a2.newState, plaintext: utf8("third"), ad: utf8("ad") });
  const b3 = await ratchetDecrypt({ state: m2.newState, message: m3.message, ad: utf8("ad"), random: r("bob-ratchet-2") });
  const safety = safetyNumber({
    local: { address: "alice@nodea", identity: alice.publicIdentity },
    peer: { address: "bob@nodeb", identity: bob.publicIdentity },
  });
  const sealed = await sealIdentity(alice, { passphrase: "frozen passphrase", iterations: 1000, random: r("seal") });
  const enc = new FileEncryptor({ chunkBytes: 1024, random: r("file") });
  const chunks: Uint8Array[] = [];
  const fileData = Uint8Array.from({ length: 2500 }, (_, i) => i & 0xff);
  for await (const c of enc.encrypt([fileData])) chunks.push(c);
  // Manifest v2: ChaCha20-Poly1305 chunks, the digest after them (its own key and id).
  const v2Random = r("file-v2");
  const v2 = {
    version: 2 as const,
    key: v2Random.bytes(32),
    fileId: v2Random.bytes(16),
    chunkBytes: 1024,
    byteLength: fileData.length,
    digest: null,
  };
  const sealer = new FileChunkSealer(v2);
  const digester = new FileDigester(1024, 2);
  const chunksV2: Uint8Array[] = [];
  for (let i = 0; i < sealer.chunkCount; i++) {
    const piece = fileData.subarray(i * 1024, (i + 1) * 1024);
    chunksV2.push(await sealer.seal(i, piece));
    digester.add(await FileDigester.chunkDigest(piece));
  }
  return {
    aliceIdentity: (encodePublicIdentity(alice.publicIdentity)).toHex(),
    bobIdentity: (encodePublicIdentity(bob.publicIdentity)).toHex(),
    sealedIntro: sealedIntro.toHex(),
    request: request.toHex(),
    kemCiphertext: kem.ciphertext.toHex(),
    kemSharedSecret: kem.sharedSecret.toHex(),
    acceptance: accepted.acceptance.toHex(),
    confirm: done.confirm.toHex(),
    sessionId: done.session.sessionId.toHex(),
    message1: m1.message.toHex(),
    message2: m2.message.toHex(),
    message3: m3.message.toHex(),
    aliceState: (encodeRatchetState(a2.newState)).toHex(),
    bobState: (encodeRatchetState(b3.newState)).toHex(),
    safetyDigits: safety.digits,
    safetyQr: safety.qr,
    sealedIdentity: sealed.toHex(),
    fileChunks: chunks.map((c) => c.toHex()).join(","),
    fileManifest: (encodeFileManifest(await enc.manifest())).toHex(),
    fileV2Chunks: chunksV2.map((c) => c.toHex()).join(","),
    fileV2Offer: encodeFileManifest(v2).toHex(),
    fileV2Manifest: encodeFileManifest({ ...v2, digest: digester.finish(fileData.length) }).toHex(),
  };
}
