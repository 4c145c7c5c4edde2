/** Fuzz targets in lib/e2e: every decoder of a wire or stored type, and the openers around them. */
import * as e2e from "../../../lib/e2e/mod.ts";
import { encodeFileManifest } from "../../../lib/e2e/file_manifest.ts";
import { type FuzzTarget, rejects } from "../harness.ts";
import { chat, INTRO_AD } from "./_fixtures.ts";

const codec = rejects(e2e.CodecError);
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

const manifest = (
  chunkBytes: number,
  byteLength: number,
  version: 1 | 2 = 1,
  digest: Uint8Array | null = bytes(32, 3),
): e2e.FileManifest => ({
  version,
  fileId: bytes(16, 1),
  key: bytes(32, 2),
  chunkBytes,
  byteLength,
  digest,
});

/** The lib/e2e targets. */
export const E2E_TARGETS: FuzzTarget[] = [
  {
    name: "file-manifest",
    owner: "fuzz",
    errors: "CodecError",
    decode: e2e.decodeFileManifest,
    allowed: codec,
    seeds: () => [
      e2e.encodeFileManifest(manifest(e2e.DEFAULT_FILE_CHUNK_BYTES, 1_000_000)),
      encodeFileManifest(manifest(e2e.MIN_FILE_CHUNK_BYTES, 0)),
      encodeFileManifest(manifest(e2e.MAX_FILE_CHUNK_BYTES, Number.MAX_SAFE_INTEGER)),
      encodeFileManifest(manifest(e2e.DEFAULT_FILE_CHUNK_BYTES, 1_000_000, 2, null)),
      encodeFileManifest(manifest(e2e.MIN_FILE_CHUNK_BYTES, 0, 2)),
    ],
    reencode: (v) => e2e.encodeFileManifest(v as e2e.FileManifest),
  },
  {
    name: "public-identity",
    owner: "fuzz",
    errors: "CodecError",
    decode: e2e.decodePublicIdentity,
    allowed: codec,
    seeds: async () => {
      const { alice, bob } = await chat();
      return [alice, bob].map((i) => e2e.encodePublicIdentity(i.publicIdentity));
    },
    reencode: (v) => e2e.encodePublicIdentity(v as e2e.PublicIdentity),
  },
  {
    // An intro bundle as a client takes it from a node: decoded and verified.
    name: "intro-bundle",
    owner: "fuzz",
    errors: "CodecError, VerifyError",
    decode: e2e.importPublicIdentity,
    allowed: rejects(e2e.CodecError, e2e.VerifyError),
    seeds: async () => {
      const { alice, bob } = await chat();
      return [alice, bob].map((i) => e2e.encodePublicIdentity(i.publicIdentity));
    },
    share: 0.5,
  },
  {
    name: "chat-request",
    owner: "fuzz",
    errors: "CodecError",
    decode: e2e.decodeChatRequest,
    allowed: codec,
    seeds: async () => [(await chat()).request],
  },
  {
    // What the receiving client runs on a request: decode, then check recipient, keys, signature.
    name: "chat-request-read",
    owner: "fuzz",
    errors: "CodecError, VerifyError",
    decode: (b) => e2e.readChatRequest(b, { localAddress: "bob@nodeb" }),
    allowed: rejects(e2e.CodecError, e2e.VerifyError),
    seeds: async () => [(await chat()).request],
    share: 0.5,
  },
  {
    name: "chat-acceptance",
    owner: "fuzz",
    errors: "CodecError",
    decode: e2e.decodeChatAcceptance,
    allowed: codec,
    seeds: async () => [(await chat()).acceptance],
  },
  {
    name: "handshake-confirm",
    owner: "fuzz",
    errors: "CodecError",
    decode: e2e.decodeHandshakeConfirm,
    allowed: codec,
    seeds: async () => [(await chat()).confirm, (await chat()).confirmAlt],
  },
  {
    name: "pending-request",
    owner: "fuzz",
    errors: "CodecError",
    decode: e2e.decodePendingChatRequest,
    allowed: codec,
    seeds: async () => [(await chat()).pending],
    reencode: (v) => e2e.encodePendingChatRequest(v as e2e.PendingChatRequest),
  },
  {
    name: "ratchet-message",
    owner: "fuzz",
    errors: "CodecError",
    decode: e2e.decodeRatchetMessage,
    allowed: codec,
    seeds: async () => [...(await chat()).messages, (await chat()).reply],
  },
  {
    // The receiving side of the ratchet: a mutated header can ask for up to MAX_SKIP (1000)
    // chain steps before authentication, so time and memory get a fixed allowance.
    name: "ratchet-decrypt",
    owner: "fuzz",
    errors: "DecryptError",
    decode: async (b) => {
      const { bobSession } = await chat();
      return await e2e.ratchetDecrypt({ state: bobSession, message: b });
    },
    allowed: rejects(e2e.DecryptError),
    seeds: async () => (await chat()).messages,
    allocation: { perByte: 8, fixed: 1024 * 1024 },
    share: 0.3,
  },
  {
    name: "ratchet-state",
    owner: "fuzz",
    errors: "CodecError",
    decode: e2e.decodeRatchetState,
    allowed: codec,
    seeds: async () => (await chat()).states,
    reencode: (v) => e2e.encodeRatchetState(v as e2e.RatchetState),
  },
  {
    name: "sealed-identity",
    owner: "fuzz",
    errors: "CodecError",
    decode: e2e.decodeSealedIdentity,
    allowed: codec,
    seeds: async () => [(await chat()).sealedIdentity],
  },
  {
    // The plaintext inside a sealed identity: decoded, then its public half checked.
    name: "identity-key-pair",
    owner: "fuzz",
    errors: "CodecError, VerifyError",
    decode: e2e.decodeIdentityKeyPair,
    allowed: rejects(e2e.CodecError, e2e.VerifyError),
    seeds: async () => {
      const { alice, bob } = await chat();
      return [alice, bob].map(e2e.encodeIdentityKeyPair);
    },
    share: 0.5,
  },
  {
    name: "sealed-intro",
    owner: "fuzz",
    errors: "DecryptError",
    decode: async (b) => e2e.openIntro({ identity: (await chat()).bob, sealed: b, ad: INTRO_AD }),
    allowed: rejects(e2e.DecryptError),
    seeds: async () => [(await chat()).sealedIntro],
    share: 0.5,
  },
];
