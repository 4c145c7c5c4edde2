/**
 * The chat handshake: a hybrid (X25519 + ML-KEM-768) authenticated key agreement
 * carried by a chat request and its acceptance, shaped like X3DH (Signal, "The X3DH
 * Key Agreement Protocol" §3) with the responder's ephemeral key in the place of the
 * signed prekey, and a post-quantum KEM secret mixed in as in PQXDH.
 *
 * A (initiator) -> B: request  = A's identity, EK_A, ML-KEM ek_A, both addresses, A's clock,
 *                               a nonce and the intro sealed to B, signed by A.
 * B -> A:             acceptance = hash(request), B's identity, EK_B, ML-KEM ct, confirmation,
 *                                  both addresses, signed by B.
 * A -> B (optional):  confirm = hash(request), A's confirmation (or just A's first message).
 *
 *   DH1 = DH(IK_A, EK_B)  DH2 = DH(EK_A, IK_B)  DH3 = DH(EK_A, EK_B)  K = ML-KEM(ek_A)
 *   TH  = SHA-256("fedchat/v1/handshake/transcript\0" | u32 len | request | acceptance
 *         up to its confirmation)
 *   rootKey | responderKey | initiatorKey = HKDF-SHA-256(salt = TH,
 *         ikm = DH1 | DH2 | DH3 | K, info = "fedchat/v1/handshake/keys", 96)
 *   confirmation_X = HMAC-SHA-256(X's key, "fedchat/v1/handshake/confirm/X" | TH)
 *
 * The root key starts a Double Ratchet (§3.3): A as Alice with B's ratchet key EK_B,
 * B as Bob with the key pair EK_B. TH is the session id bound into every message.
 */
import { ByteWriter } from "./byte_codec.ts";
import { concat, utf8 } from "./_bytes.ts";
import { hkdfSha256, hmacSha256, sha256 } from "./_sha256.ts";
import {
  initRatchetAsInitiator,
  initRatchetAsResponder,
  type RatchetState,
} from "./double_ratchet.ts";
import { constantTimeEqual } from "./ed25519.ts";
import { VerifyError } from "./errors.ts";
import {
  CHAT_REQUEST_NONCE_BYTES,
  type ChatRequestMessage,
  decodeChatAcceptance,
  decodeChatRequest,
  decodeHandshakeConfirm,
  encodeChatAcceptanceBody,
  encodeChatRequestBody,
  encodeHandshakeConfirm,
  type PendingChatRequest,
} from "./handshake_messages.ts";
import {
  type IdentityKeyPair,
  type PublicIdentity,
  signWithIdentity,
  verifyByIdentity,
  verifyPublicIdentity,
} from "./identity.ts";
import { generateMlKemKeyPair, type Kem, mlKemDecapsulate, WEBCRYPTO_KEM } from "./mlkem.ts";
import { type Random, SYSTEM_RANDOM } from "./random.ts";
import { checkX25519PublicKey, generateX25519KeyPair, x25519 } from "./x25519.ts";

const REQUEST_SIGNATURE_LABEL = utf8("fedchat/v1/handshake/request\0");
const ACCEPTANCE_SIGNATURE_LABEL = utf8("fedchat/v1/handshake/acceptance\0");
const TRANSCRIPT_LABEL = utf8("fedchat/v1/handshake/transcript\0");
const KEYS_INFO = utf8("fedchat/v1/handshake/keys");
const RESPONDER_CONFIRM_LABEL = utf8("fedchat/v1/handshake/confirm/responder");
const INITIATOR_CONFIRM_LABEL = utf8("fedchat/v1/handshake/confirm/initiator");

/** A chat request whose signature, keys and recipient have been checked. */
export interface VerifiedChatRequest extends ChatRequestMessage {
  /** SHA-256 of the encoded request: its id, echoed by the acceptance. */
  readonly requestHash: Uint8Array;
}

/** Options of {@linkcode createChatRequest}. */
export interface CreateChatRequestOptions {
  /** Our identity. */
  identity: IdentityKeyPair;
  /** Our address, e.g. "alice@nodea". */
  from: string;
  /** The address we ask to chat with. */
  to: string;
  /** Our clock now (lib/e2e has none); the receiver judges how fresh the request is. */
  createdAtMs: number;
  /** The intro, already sealed to the recipient (`sealIntro`); signed with the rest. */
  sealedIntro?: Uint8Array;
  /** Randomness for the ephemeral keys and the nonce. */
  random?: Random;
}

/** Makes a chat request; keep `pending` (secret) until the acceptance arrives. */
export async function createChatRequest(
  { identity, from, to, createdAtMs, sealedIntro = new Uint8Array(0), random = SYSTEM_RANDOM }:
    CreateChatRequestOptions,
): Promise<{ request: Uint8Array; pending: PendingChatRequest }> {
  const ephemeral = await generateX25519KeyPair(random);
  const kem = await generateMlKemKeyPair(random);
  const body = encodeChatRequestBody({
    from,
    to,
    createdAtMs,
    nonce: random.bytes(CHAT_REQUEST_NONCE_BYTES),
    identity: identity.publicIdentity,
    ephemeralKey: ephemeral.publicKey,
    kemEncapsulationKey: kem.encapsulationKey,
    sealedIntro,
  });
  const signature = await signWithIdentity(identity, concat(REQUEST_SIGNATURE_LABEL, body));
  const request = concat(body, signature);
  return {
    request,
    pending: { ephemeralPrivateKey: ephemeral.privateKey, kemSeed: kem.seed, request },
  };
}

/**
 * Decodes and checks a received chat request: addressed to `localAddress`, keys
 * acceptable, signature valid (over everything, the sealed intro, time and nonce
 * included). Whether it is fresh (`createdAtMs`, `requestHash` not seen before) is
 * the caller's to judge, with its clock; whether to accept it is the user's decision.
 *
 * @throws {CodecError} malformed
 * @throws {VerifyError} wrong recipient, refused key or bad signature
 */
export async function readChatRequest(
  bytes: Uint8Array,
  { localAddress }: { localAddress: string },
): Promise<VerifiedChatRequest> {
  const request = decodeChatRequest(bytes);
  if (request.to !== localAddress) {
    throw new VerifyError("Cannot read chat request: addressed to someone else");
  }
  checkX25519PublicKey(request.ephemeralKey);
  await verifyPublicIdentity(request.identity);
  await verifyByIdentity(
    request.identity,
    concat(REQUEST_SIGNATURE_LABEL, request.signed),
    request.signature,
  );
  return { ...request, requestHash: sha256(request.bytes) };
}

function transcriptHash(request: Uint8Array, acceptancePart: Uint8Array): Uint8Array {
  return sha256(
    TRANSCRIPT_LABEL,
    new ByteWriter().u32(request.length).finish(),
    request,
    acceptancePart,
  );
}

function handshakeKeys(ikm: Uint8Array, th: Uint8Array) {
  const okm = hkdfSha256({ ikm, salt: th, info: KEYS_INFO, length: 96 });
  ikm.fill(0);
  return {
    rootKey: okm.slice(0, 32),
    responderConfirmation: hmacSha256(okm.subarray(32, 64), RESPONDER_CONFIRM_LABEL, th),
    initiatorConfirmation: hmacSha256(okm.subarray(64, 96), INITIATOR_CONFIRM_LABEL, th),
  };
}

/** Options of {@linkcode acceptChatRequest}. */
export interface AcceptChatRequestOptions {
  /** Our identity. */
  identity: IdentityKeyPair;
  /** The request, as returned by {@linkcode readChatRequest}. */
  request: VerifiedChatRequest;
  /** Randomness for the ephemeral key. */
  random?: Random;
  /** ML-KEM encapsulation; default WebCrypto (tests inject a recorded one). */
  kem?: Kem;
}

/** What accepting a request yields. */
export interface AcceptedChat {
  /** The encoded acceptance to send back. */
  readonly acceptance: Uint8Array;
  /** Our ratchet; it can decrypt at once and encrypt after the first message arrives. */
  readonly session: RatchetState;
  /** The initiator's identity (to pin). */
  readonly peerIdentity: PublicIdentity;
  /** The request's id. */
  readonly requestHash: Uint8Array;
  /** The confirmation the initiator's HandshakeConfirm must carry. */
  readonly expectedConfirmation: Uint8Array;
}

/**
 * Accepts a verified request: runs the responder's side of the key agreement.
 *
 * @throws {VerifyError} the initiator's key material is refused (low-order, bad ML-KEM key)
 */
export async function acceptChatRequest(
  { identity, request, random = SYSTEM_RANDOM, kem = WEBCRYPTO_KEM }: AcceptChatRequestOptions,
): Promise<AcceptedChat> {
  const ephemeral = await generateX25519KeyPair(random);
  const encapsulation = await kem.encapsulate(request.kemEncapsulationKey);
  const [dh1, dh2, dh3] = await Promise.all([
    x25519(ephemeral.privateKey, request.identity.dhKey),
    x25519(identity.dhPrivateKey, request.ephemeralKey),
    x25519(ephemeral.privateKey, request.ephemeralKey),
  ]);
  const body = encodeChatAcceptanceBody({
    from: request.to,
    to: request.from,
    requestHash: request.requestHash,
    identity: identity.publicIdentity,
    ephemeralKey: ephemeral.publicKey,
    kemCiphertext: encapsulation.ciphertext,
  });
  const th = transcriptHash(request.bytes, body);
  const keys = handshakeKeys(concat(dh1, dh2, dh3, encapsulation.sharedSecret), th);
  const signed = concat(body, keys.responderConfirmation);
  const signature = await signWithIdentity(identity, concat(ACCEPTANCE_SIGNATURE_LABEL, signed));
  const session = initRatchetAsResponder({
    sharedKey: keys.rootKey,
    localAddress: request.to,
    peerAddress: request.from,
    sessionId: th,
    ratchetKeyPair: ephemeral,
  });
  return {
    acceptance: concat(signed, signature),
    session,
    peerIdentity: request.identity,
    requestHash: request.requestHash,
    expectedConfirmation: keys.initiatorConfirmation,
  };
}

/** Options of {@linkcode completeChatRequest}. */
export interface CompleteChatRequestOptions {
  /** Our identity, the one that signed the request. */
  identity: IdentityKeyPair;
  /** What {@linkcode createChatRequest} returned. */
  pending: PendingChatRequest;
  /** The acceptance bytes as received. */
  acceptance: Uint8Array;
  /** Randomness for the first ratchet key. */
  random?: Random;
}

/** What completing a request yields. */
export interface CompletedChat {
  /** Our ratchet; it can encrypt at once. */
  readonly session: RatchetState;
  /** The responder's identity (to pin). */
  readonly peerIdentity: PublicIdentity;
  /** The encoded HandshakeConfirm to send (or rely on the first message instead). */
  readonly confirm: Uint8Array;
}

/**
 * Checks an acceptance against our pending request and finishes the key agreement.
 * Every failure is the same VerifyError.
 *
 * @throws {VerifyError} malformed, for another request or address, refused key,
 *   bad signature, or key confirmation mismatch
 */
export async function completeChatRequest(
  { identity, pending, acceptance, random = SYSTEM_RANDOM }: CompleteChatRequestOptions,
): Promise<CompletedChat> {
  try {
    const request = decodeChatRequest(pending.request);
    const a = decodeChatAcceptance(acceptance);
    const requestHash = sha256(pending.request);
    if (
      a.from !== request.to || a.to !== request.from ||
      !constantTimeEqual(a.requestHash, requestHash)
    ) {
      throw new VerifyError("Cannot complete chat request: acceptance is for another request");
    }
    await verifyPublicIdentity(a.identity);
    await verifyByIdentity(a.identity, concat(ACCEPTANCE_SIGNATURE_LABEL, a.signed), a.signature);
    const [dh1, dh2, dh3, kemSecret] = await Promise.all([
      x25519(identity.dhPrivateKey, a.ephemeralKey),
      x25519(pending.ephemeralPrivateKey, a.identity.dhKey),
      x25519(pending.ephemeralPrivateKey, a.ephemeralKey),
      mlKemDecapsulate(pending.kemSeed, a.kemCiphertext),
    ]);
    const th = transcriptHash(pending.request, a.transcriptPart);
    const keys = handshakeKeys(concat(dh1, dh2, dh3, kemSecret), th);
    if (!constantTimeEqual(keys.responderConfirmation, a.confirmation)) {
      throw new VerifyError("Cannot complete chat request: key confirmation failed");
    }
    const session = await initRatchetAsInitiator({
      sharedKey: keys.rootKey,
      localAddress: request.from,
      peerAddress: request.to,
      sessionId: th,
      peerRatchetKey: a.ephemeralKey,
      random,
    });
    return {
      session,
      peerIdentity: a.identity,
      confirm: encodeHandshakeConfirm(requestHash, keys.initiatorConfirmation),
    };
  } catch (cause) {
    throw new VerifyError("Cannot complete chat request", { cause });
  }
}

/**
 * The responder's check of the initiator's explicit confirmation.
 *
 * @throws {VerifyError} malformed or not matching
 */
export function checkHandshakeConfirm(
  confirm: Uint8Array,
  { requestHash, expectedConfirmation }: Pick<AcceptedChat, "requestHash" | "expectedConfirmation">,
): void {
  try {
    const c = decodeHandshakeConfirm(confirm);
    const ok = constantTimeEqual(c.requestHash, requestHash) &&
      constantTimeEqual(c.confirmation, expectedConfirmation);
    if (!ok) throw new VerifyError("Cannot check handshake confirmation: mismatch");
  } catch (cause) {
    throw new VerifyError("Cannot check handshake confirmation", { cause });
  }
}
