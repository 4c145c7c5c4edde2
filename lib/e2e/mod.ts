/**
 * End-to-end cryptography: keys, handshake, ratchet, file encryption, safety numbers,
 * and group chats over MLS (RFC 9420, through ts-mls; group*.ts).
 * Pure: no I/O, no clock, no `Deno.*`; runs in Deno and in browsers on WebCrypto
 * (Ed25519, X25519, AES-GCM, PBKDF2, SHA-256, ML-KEM-768). Formats and guarantees:
 * docs/PROTOCOL.md §11 and docs/SECURITY.md.
 *
 * @example
 * ```ts
 * import * as e2e from "./mod.ts";
 * const alice = await e2e.generateIdentity();
 * const bob = await e2e.generateIdentity();
 * const { request, pending } = await e2e.createChatRequest({
 *   identity: alice, from: "alice@nodea", to: "bob@nodeb", createdAtMs: Date.now(),
 * });
 * const verified = await e2e.readChatRequest(request, { localAddress: "bob@nodeb" });
 * const accepted = await e2e.acceptChatRequest({ identity: bob, request: verified });
 * const done = await e2e.completeChatRequest({
 *   identity: alice, pending, acceptance: accepted.acceptance,
 * });
 * const sent = await e2e.ratchetEncrypt({
 *   state: done.session, plaintext: new TextEncoder().encode("hi"),
 * });
 * const got = await e2e.ratchetDecrypt({ state: accepted.session, message: sent.message });
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./ed25519.ts";
export { DeterministicRandom, type Random, SYSTEM_RANDOM } from "./random.ts";
export { ByteReader, ByteWriter } from "./byte_codec.ts";
/** SHA-256 into a given array, for hashes run per message outside lib/e2e (Merkle provenance). */
export { sha256Into } from "./_sha256.ts";
export {
  checkX25519PublicKey,
  generateX25519KeyPair,
  x25519,
  X25519_KEY_BYTES,
  X25519_LOW_ORDER_KEYS,
  type X25519KeyPair,
  x25519PublicKey,
} from "./x25519.ts";
export {
  generateMlKemKeyPair,
  type Kem,
  MLKEM768_CIPHERTEXT_BYTES,
  MLKEM768_ENCAPSULATION_KEY_BYTES,
  MLKEM768_SEED_BYTES,
  MLKEM768_SHARED_SECRET_BYTES,
  mlKemDecapsulate,
  type MlKemEncapsulation,
  type MlKemKeyPair,
  mlKemKeyPairFromSeed,
  WEBCRYPTO_KEM,
} from "./mlkem.ts";
export {
  type Aead,
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  type SyncAead,
  WEBCRYPTO_AEAD,
} from "./aead.ts";
export {
  decodeIdentityKeyPair,
  decodePublicIdentity,
  encodeIdentityKeyPair,
  encodePublicIdentity,
  generateIdentity,
  type GenerateIdentityOptions,
  IDENTITY_KEY_PAIR_BYTES,
  IDENTITY_VERSION,
  type IdentityKeyPair,
  importPublicIdentity,
  PUBLIC_IDENTITY_BYTES,
  type PublicIdentity,
  signWithIdentity,
  verifyByIdentity,
  verifyPublicIdentity,
} from "./identity.ts";
export {
  decodeSealedIdentity,
  DEFAULT_PBKDF2_ITERATIONS,
  MAX_PBKDF2_ITERATIONS,
  MIN_PBKDF2_ITERATIONS,
  openIdentity,
  SEALED_IDENTITY_BYTES,
  SEALED_IDENTITY_VERSION,
  type SealedIdentity,
  sealIdentity,
  type SealIdentityOptions,
} from "./identity_seal.ts";
export {
  acceptChatRequest,
  type AcceptChatRequestOptions,
  type AcceptedChat,
  checkHandshakeConfirm,
  completeChatRequest,
  type CompleteChatRequestOptions,
  type CompletedChat,
  createChatRequest,
  type CreateChatRequestOptions,
  readChatRequest,
  type VerifiedChatRequest,
} from "./handshake.ts";
export {
  CHAT_REQUEST_NONCE_BYTES,
  CHAT_REQUEST_VERSION,
  type ChatAcceptanceMessage,
  type ChatRequestMessage,
  decodeChatAcceptance,
  decodeChatRequest,
  decodeHandshakeConfirm,
  decodePendingChatRequest,
  encodePendingChatRequest,
  HANDSHAKE_VERSION,
  MAX_CHAT_ACCEPTANCE_BYTES,
  MAX_CHAT_REQUEST_BYTES,
  MAX_SEALED_INTRO_BYTES,
  type PendingChatRequest,
} from "./handshake_messages.ts";
export {
  DEFAULT_MAX_SKIP,
  DEFAULT_MAX_SKIPPED_KEYS,
  initRatchetAsInitiator,
  initRatchetAsResponder,
  type RatchetBinding,
  ratchetDecrypt,
  type RatchetDecryptOptions,
  type RatchetDecryptResult,
  ratchetEncrypt,
  type RatchetEncryptOptions,
  type RatchetEncryptResult,
  ratchetEncryptSync,
  type RatchetState,
  type SkippedKey,
} from "./double_ratchet.ts";
export {
  decodeRatchetMessage,
  MAX_RATCHET_MESSAGE_BYTES,
  MAX_RATCHET_PLAINTEXT_BYTES,
  RATCHET_HEADER_BYTES,
  RATCHET_MESSAGE_VERSION,
  type RatchetHeader,
  type RatchetMessage,
} from "./ratchet_message.ts";
export {
  decodeRatchetState,
  encodeRatchetState,
  MAX_ADDRESS_BYTES,
  RATCHET_STATE_VERSION,
} from "./ratchet_state.ts";
export {
  SAFETY_NUMBER_ITERATIONS,
  SAFETY_QR_PREFIX,
  type SafetyNumber,
  safetyNumber,
  type SafetyParty,
  safetyQrMatches,
} from "./safety_number.ts";
export {
  chunkCount,
  decodeFileManifest,
  DEFAULT_FILE_CHUNK_BYTES,
  encodeFileManifest,
  FILE_MANIFEST_BYTES,
  FILE_MANIFEST_V2_BYTES,
  FILE_MANIFEST_VERSION,
  type FileManifest,
  MAX_FILE_CHUNK_BYTES,
  MIN_FILE_CHUNK_BYTES,
} from "./file_manifest.ts";
export { DEFAULT_FILE_WINDOW, FileEncryptor, type FileEncryptorOptions } from "./file_encryptor.ts";
export { FileDecryptor, type FileDecryptorOptions } from "./file_decryptor.ts";
export { FileChunkSealer, FileDigester } from "./file_chunk_sealer.ts";
export {
  fileChunkAead,
  type FileCiphers,
  NOBLE_CHACHA20_POLY1305,
  type SplitAead,
} from "./file_cipher.ts";
export { MAX_INTRO_BYTES, openIntro, sealIntro } from "./intro_seal.ts";
export {
  checkGroupAddress,
  GROUP_CREDENTIAL_VERSION,
  type GroupMember,
  MAX_GROUP_CREDENTIAL_BYTES,
} from "./group_credential.ts";
export {
  DEFAULT_GROUP_KEY_PACKAGE_LIFETIME_MS,
  type GeneratedGroupKeyPackage,
  generateGroupKeyPackage,
  type GenerateGroupKeyPackageOptions,
  GROUP_KEY_PACKAGE_SECRET_VERSION,
  MAX_CLOCK_SKEW_MS,
  MAX_GROUP_KEY_PACKAGE_BYTES,
  MAX_GROUP_KEY_PACKAGE_LIFETIME_MS,
  readGroupKeyPackage,
  type ReadGroupKeyPackageOptions,
  type VerifiedGroupKeyPackage,
} from "./group_key_package.ts";
export {
  decodeGroupState,
  encodeGroupState,
  GROUP_EPOCH_WINDOW,
  GROUP_STATE_VERSION,
  type GroupState,
  MAX_GROUP_FORWARD_STEPS,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_NAME_BYTES,
  MAX_GROUP_SKIPPED_KEYS,
  MAX_GROUP_STATE_BYTES,
  MAX_PENDING_PROPOSALS,
} from "./group_state.ts";
export {
  addGroupMembers,
  type AddGroupMembersOptions,
  commitPendingProposals,
  createGroup,
  type CreateGroupOptions,
  GROUP_ID_BYTES,
  type GroupCommitOptions,
  type GroupCommitResult,
  proposeLeaveGroup,
  type ProposeLeaveGroupOptions,
  removeGroupMembers,
  type RemoveGroupMembersOptions,
  renameGroup,
  type RenameGroupOptions,
} from "./group.ts";
export {
  encryptGroupMessage,
  type EncryptGroupMessageOptions,
  type GroupChange,
  type GroupMessageHeader,
  type GroupReceiveResult,
  type JoinedGroup,
  joinGroup,
  type JoinGroupOptions,
  MAX_GROUP_MESSAGE_BYTES,
  MAX_GROUP_PLAINTEXT_BYTES,
  MAX_GROUP_WELCOME_BYTES,
  peekGroupMessage,
  processGroupMessage,
  type ProcessGroupMessageOptions,
} from "./group_message.ts";
export {
  createGroupHubInfo,
  GROUP_HUB_INFO_VERSION,
  type GroupHubInfo,
  type HubMember,
  MAX_GROUP_HUB_INFO_BYTES,
  readGroupHubInfo,
} from "./group_hub_info.ts";
