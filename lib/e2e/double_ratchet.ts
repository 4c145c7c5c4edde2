/**
 * The Double Ratchet (Signal, "The Double Ratchet Algorithm", rev. 1, 2016), with
 * KDF_RK = HKDF-SHA-256 and KDF_CK = HMAC-SHA-256 as recommended in §5.2, and
 * AES-256-GCM as the AEAD. State is plain immutable data; every transition returns
 * a new state and leaves its input untouched, so a failed decrypt changes nothing.
 */
import { copy, utf8 } from "./_bytes.ts";
import { hkdfExpandBlocks, hkdfSha256, HmacSha256 } from "./_sha256.ts";
import { type Aead, type SyncAead, WEBCRYPTO_AEAD } from "./aead.ts";
import { constantTimeEqual } from "./ed25519.ts";
import { DecryptError, StateError } from "./errors.ts";
import { type Random, SYSTEM_RANDOM } from "./random.ts";
import {
  decodeRatchetMessage,
  encodeRatchetHeader,
  MAX_RATCHET_PLAINTEXT_BYTES,
  type RatchetMessage,
} from "./ratchet_message.ts";
import { generateX25519KeyPair, x25519, type X25519KeyPair } from "./x25519.ts";

/** Default most message keys skipped in one chain by one message (Double Ratchet §3.5 MAX_SKIP). */
export const DEFAULT_MAX_SKIP = 1000;
/** Default most skipped message keys kept in total; beyond it the oldest are dropped. */
export const DEFAULT_MAX_SKIPPED_KEYS = 2000;

const ROOT_INFO = utf8("fedchat/v1/ratchet/root");
const AEAD_INFO = utf8("fedchat/v1/ratchet/aead");
const AD_LABEL = utf8("fedchat/v1/ratchet/message\0");
const MESSAGE_KEY_INPUT = Uint8Array.of(0x01);
const CHAIN_KEY_INPUT = Uint8Array.of(0x02);
const MESSAGE_KEY_PARTS: readonly Uint8Array[] = [MESSAGE_KEY_INPUT];
const CHAIN_KEY_PARTS: readonly Uint8Array[] = [CHAIN_KEY_INPUT];
const UTF8 = new TextEncoder();
const MAX_COUNTER = 0xffffffff;
const EMPTY = new Uint8Array(0);

/** A message key kept for a message not yet received (Double Ratchet §3.2 MKSKIPPED). */
export interface SkippedKey {
  /** The peer ratchet public key of the chain. */
  readonly dh: Uint8Array;
  /** Message number in that chain. */
  readonly n: number;
  /** The 32-byte message key. */
  readonly messageKey: Uint8Array;
}

/** Double Ratchet §3.2 state, plus what binds it to one conversation. */
export interface RatchetState {
  /** Our address, bound into every message's associated data. */
  readonly localAddress: string;
  /** The peer's address, likewise. */
  readonly peerAddress: string;
  /** 32-byte handshake transcript hash, likewise. */
  readonly sessionId: Uint8Array;
  /** RK. */
  readonly rootKey: Uint8Array;
  /** DHs. */
  readonly dhSelf: X25519KeyPair;
  /** DHr, or null before the first message from the peer. */
  readonly dhPeer: Uint8Array | null;
  /** CKs, or null until we can send. */
  readonly sendChainKey: Uint8Array | null;
  /** CKr, or null before the first message from the peer. */
  readonly recvChainKey: Uint8Array | null;
  /** Ns. */
  readonly sendCount: number;
  /** Nr. */
  readonly recvCount: number;
  /** PN. */
  readonly prevSendCount: number;
  /** MKSKIPPED, oldest first. */
  readonly skipped: readonly SkippedKey[];
}

/** What binds a session; shared by both initialisers. */
export interface RatchetBinding {
  /** SK from the handshake, 32 bytes. */
  sharedKey: Uint8Array;
  /** Our address. */
  localAddress: string;
  /** The peer's address. */
  peerAddress: string;
  /** The handshake transcript hash, 32 bytes. */
  sessionId: Uint8Array;
}

// Double Ratchet §5.2: KDF_RK(rk, dh_out) = HKDF(salt = rk, ikm = dh_out), 64 bytes out.
function kdfRk(rootKey: Uint8Array, dhOut: Uint8Array): [Uint8Array, Uint8Array] {
  const out = hkdfSha256({ ikm: dhOut, salt: rootKey, info: ROOT_INFO, length: 64 });
  return [out.slice(0, 32), out.slice(32)];
}

// Double Ratchet §5.2: KDF_CK(ck) = (HMAC(ck, 0x02), HMAC(ck, 0x01)).
function kdfCk(chainKey: Uint8Array): [Uint8Array, Uint8Array] {
  const hmac = new HmacSha256(chainKey);
  const next = new Uint8Array(32);
  const messageKey = new Uint8Array(32);
  hmac.macInto(next, CHAIN_KEY_PARTS);
  hmac.macInto(messageKey, MESSAGE_KEY_PARTS);
  return [next, messageKey];
}

// Double Ratchet §5.2 ENCRYPT: HKDF from the message key to the AEAD key and nonce.
// The message key is already uniform, so RFC 5869 §3.3 lets us expand without extract.
// Two whole blocks: the key is bytes 0-31, the nonce 32-43; the caller wipes them after use.
function aeadKeys(messageKey: Uint8Array): Uint8Array {
  return hkdfExpandBlocks(messageKey, AEAD_INFO, new Uint8Array(64));
}

// Double Ratchet §3.4 CONCAT(AD, header), with AD = label, sender, receiver, session, caller ad.
// Written in place (the layout of ByteWriter's raw, str16, raw, u32, raw, raw): one array per
// message, sized for addresses up to 3 bytes a character, and a view of what was written.
function associatedData(
  sender: string,
  receiver: string,
  sessionId: Uint8Array,
  ad: Uint8Array,
  headerBytes: Uint8Array,
): Uint8Array {
  const size = AD_LABEL.length + 2 + 3 * (sender.length + receiver.length) + 2 +
    sessionId.length + 4 + ad.length + headerBytes.length;
  const out = new Uint8Array(size);
  out.set(AD_LABEL);
  let at = putStr16(out, AD_LABEL.length, sender);
  at = putStr16(out, at, receiver);
  out.set(sessionId, at);
  at += sessionId.length;
  const n = ad.length;
  out[at] = n >>> 24;
  out[at + 1] = n >>> 16;
  out[at + 2] = n >>> 8;
  out[at + 3] = n;
  out.set(ad, at + 4);
  at += 4 + n;
  out.set(headerBytes, at);
  at += headerBytes.length;
  return at === size ? out : out.subarray(0, at);
}

/** Writes a u16 length and the UTF-8 of `text` at `at` (room for 3 bytes a character); returns the end. */
function putStr16(out: Uint8Array, at: number, text: string): number {
  let n = 0;
  for (; n < text.length; n++) {
    const c = text.charCodeAt(n);
    if (c >= 0x80) break;
    out[at + 2 + n] = c;
  }
  if (n < text.length) n = UTF8.encodeInto(text, out.subarray(at + 2)).written;
  if (n > 0xffff) throw new RangeError(`Cannot encode field length: ${n} is over 65535`);
  out[at] = n >>> 8;
  out[at + 1] = n;
  return at + 2 + n;
}

/** Double Ratchet §3.3 RatchetInitAlice: the side that sends first (the chat initiator). */
export async function initRatchetAsInitiator(
  { sharedKey, localAddress, peerAddress, sessionId, peerRatchetKey, random = SYSTEM_RANDOM }:
    & RatchetBinding
    & { peerRatchetKey: Uint8Array; random?: Random },
): Promise<RatchetState> {
  const dhSelf = await generateX25519KeyPair(random);
  const [rootKey, sendChainKey] = kdfRk(sharedKey, await x25519(dhSelf.privateKey, peerRatchetKey));
  return {
    localAddress,
    peerAddress,
    sessionId: copy(sessionId),
    rootKey,
    dhSelf,
    dhPeer: copy(peerRatchetKey),
    sendChainKey,
    recvChainKey: null,
    sendCount: 0,
    recvCount: 0,
    prevSendCount: 0,
    skipped: [],
  };
}

/** Double Ratchet §3.3 RatchetInitBob: the side that waits for the first message. */
export function initRatchetAsResponder(
  { sharedKey, localAddress, peerAddress, sessionId, ratchetKeyPair }: RatchetBinding & {
    ratchetKeyPair: X25519KeyPair;
  },
): RatchetState {
  return {
    localAddress,
    peerAddress,
    sessionId: copy(sessionId),
    rootKey: copy(sharedKey),
    dhSelf: {
      privateKey: copy(ratchetKeyPair.privateKey),
      publicKey: copy(ratchetKeyPair.publicKey),
    },
    dhPeer: null,
    sendChainKey: null,
    recvChainKey: null,
    sendCount: 0,
    recvCount: 0,
    prevSendCount: 0,
    skipped: [],
  };
}

/** Options of {@linkcode ratchetEncrypt}. */
export interface RatchetEncryptOptions {
  state: RatchetState;
  plaintext: Uint8Array;
  /** Extra associated data the receiver must pass too; default empty. */
  ad?: Uint8Array;
  /** AES-256-GCM implementation; default WebCrypto. */
  aead?: Aead;
}

/** Result of {@linkcode ratchetEncrypt}. */
export interface RatchetEncryptResult {
  readonly newState: RatchetState;
  /** The encoded message (header and ciphertext). */
  readonly message: Uint8Array;
}

/**
 * Double Ratchet §3.4 RatchetEncrypt.
 *
 * @throws {StateError} no sending chain yet (responder before the first message) or counter exhausted
 * @throws {RangeError} plaintext longer than {@linkcode MAX_RATCHET_PLAINTEXT_BYTES}
 */
export async function ratchetEncrypt(
  { state, plaintext, ad = EMPTY, aead = WEBCRYPTO_AEAD }: RatchetEncryptOptions,
): Promise<RatchetEncryptResult> {
  const e = beginEncrypt(state, plaintext, ad);
  try {
    return endEncrypt(state, e, await aead.seal(e.key, e.nonce, plaintext, e.ad));
  } finally {
    e.okm.fill(0);
  }
}

/**
 * {@linkcode ratchetEncrypt} with an AEAD that seals at once: the same
 * message from the same state, without a promise (the Deno client sends on
 * node:crypto, and each await is garbage per message).
 *
 * @throws {StateError} no sending chain yet (responder before the first message) or counter exhausted
 * @throws {RangeError} plaintext longer than {@linkcode MAX_RATCHET_PLAINTEXT_BYTES}
 */
export function ratchetEncryptSync(
  { state, plaintext, ad = EMPTY, aead }: RatchetEncryptOptions & { aead: SyncAead },
): RatchetEncryptResult {
  const e = beginEncrypt(state, plaintext, ad);
  try {
    return endEncrypt(state, e, aead.sealSync(e.key, e.nonce, plaintext, e.ad));
  } finally {
    e.okm.fill(0);
  }
}

/** What RatchetEncrypt derives before the AEAD; `okm` (key and nonce) is wiped after sealing. */
interface Encryption {
  sendChainKey: Uint8Array;
  headerBytes: Uint8Array;
  okm: Uint8Array;
  key: Uint8Array;
  nonce: Uint8Array;
  ad: Uint8Array;
}

// §3.4 RatchetEncrypt up to the AEAD: the chain step, the header, the keys, the associated data.
function beginEncrypt(state: RatchetState, plaintext: Uint8Array, ad: Uint8Array): Encryption {
  if (state.sendChainKey === null) {
    throw new StateError("Cannot encrypt: no sending chain before the peer's first message");
  }
  if (state.sendCount >= MAX_COUNTER) throw new StateError("Cannot encrypt: chain exhausted");
  if (plaintext.length > MAX_RATCHET_PLAINTEXT_BYTES) {
    throw new RangeError(`Cannot encrypt: plaintext over ${MAX_RATCHET_PLAINTEXT_BYTES} bytes`);
  }
  const [sendChainKey, messageKey] = kdfCk(state.sendChainKey);
  const headerBytes = encodeRatchetHeader({
    dh: state.dhSelf.publicKey,
    pn: state.prevSendCount,
    n: state.sendCount,
  });
  const okm = aeadKeys(messageKey);
  messageKey.fill(0);
  return {
    sendChainKey,
    headerBytes,
    okm,
    key: okm.subarray(0, 32),
    nonce: okm.subarray(32, 44),
    ad: associatedData(state.localAddress, state.peerAddress, state.sessionId, ad, headerBytes),
  };
}

// §3.4 RatchetEncrypt after the AEAD: the message is the header and the sealed plaintext.
function endEncrypt(
  state: RatchetState,
  { sendChainKey, headerBytes }: Encryption,
  sealed: Uint8Array,
): RatchetEncryptResult {
  const message = new Uint8Array(headerBytes.length + sealed.length);
  message.set(headerBytes);
  message.set(sealed, headerBytes.length);
  return { newState: { ...state, sendChainKey, sendCount: state.sendCount + 1 }, message };
}

/** Options of {@linkcode ratchetDecrypt}. */
export interface RatchetDecryptOptions {
  state: RatchetState;
  /** The encoded message as received. */
  message: Uint8Array;
  /** Extra associated data, as given to the sender's encrypt; default empty. */
  ad?: Uint8Array;
  /** Randomness for the new ratchet key of a DH ratchet step. */
  random?: Random;
  /** AES-256-GCM implementation; default WebCrypto. */
  aead?: Aead;
  /** Most keys one message may make us skip in a chain; default {@linkcode DEFAULT_MAX_SKIP}. */
  maxSkip?: number;
  /** Most skipped keys kept; default {@linkcode DEFAULT_MAX_SKIPPED_KEYS}. */
  maxSkippedKeys?: number;
  /**
   * Counts the message keys derived to skip ahead, whether or not the message
   * then authenticates: what a caller's budget of work spent on messages that
   * fail needs (a forged header can ask for 2 × maxSkip derivations).
   */
  work?: { derivedKeys: number };
}

/** Result of {@linkcode ratchetDecrypt}. */
export interface RatchetDecryptResult {
  readonly newState: RatchetState;
  readonly plaintext: Uint8Array;
}

/**
 * Double Ratchet §3.5 RatchetDecrypt, with skip bounds checked before any key is
 * derived. Every failure throws the same DecryptError and the caller keeps its state.
 *
 * @throws {DecryptError} malformed, forged, replayed, or outside the skip window
 */
export async function ratchetDecrypt(
  options: RatchetDecryptOptions,
): Promise<RatchetDecryptResult> {
  const { maxSkip = DEFAULT_MAX_SKIP, maxSkippedKeys = DEFAULT_MAX_SKIPPED_KEYS } = options;
  if (
    !Number.isInteger(maxSkip) || maxSkip < 0 || !Number.isInteger(maxSkippedKeys) ||
    maxSkippedKeys < 0
  ) {
    throw new RangeError(
      "Cannot decrypt: maxSkip and maxSkippedKeys must be non-negative integers",
    );
  }
  try {
    return await decryptOrThrow({ ...options, maxSkip, maxSkippedKeys });
  } catch (cause) {
    throw new DecryptError("Cannot decrypt message", { cause });
  }
}

type Working = { -readonly [K in keyof RatchetState]: RatchetState[K] } & { skipped: SkippedKey[] };

async function decryptOrThrow(
  {
    state,
    message,
    ad = EMPTY,
    random = SYSTEM_RANDOM,
    aead = WEBCRYPTO_AEAD,
    maxSkip,
    maxSkippedKeys,
    work,
  }: RatchetDecryptOptions & { maxSkip: number; maxSkippedKeys: number },
): Promise<RatchetDecryptResult> {
  const msg = decodeRatchetMessage(message);
  const { header } = msg;
  // §3.5 TrySkippedMessageKeys
  const found = state.skipped.findIndex((s) =>
    s.n === header.n && constantTimeEqual(s.dh, header.dh)
  );
  if (found >= 0) {
    const plaintext = await open(state, state.skipped[found].messageKey, msg, ad, aead);
    const skipped = state.skipped.filter((_, i) => i !== found);
    return { newState: { ...state, skipped }, plaintext };
  }
  const s: Working = { ...state, skipped: state.skipped as SkippedKey[] };
  const samePeer = state.dhPeer !== null && state.recvChainKey !== null &&
    constantTimeEqual(header.dh, state.dhPeer);
  if (!samePeer) {
    // §3.5 MAX_SKIP, checked before deriving anything. The position in the new chain
    // must be within the window. If the rest of the old chain is not, its keys are
    // abandoned instead of derived (those messages are lost), so a long gap cannot wedge
    // the session; this commits only if the message authenticates.
    if (header.n > maxSkip) throw new DecryptError("Cannot decrypt: skip beyond window");
    if (state.recvChainKey !== null && header.pn <= state.recvCount + maxSkip) {
      skipMessageKeys(s, header.pn, maxSkippedKeys, work);
    }
    await dhRatchet(s, header.dh, random);
  } else {
    if (header.n < state.recvCount) throw new DecryptError("Cannot decrypt: replayed or too old");
    if (header.n > state.recvCount + maxSkip) {
      throw new DecryptError("Cannot decrypt: skip beyond window");
    }
  }
  skipMessageKeys(s, header.n, maxSkippedKeys, work);
  const [recvChainKey, messageKey] = kdfCk(s.recvChainKey!);
  const plaintext = await open(s, messageKey, msg, ad, aead);
  s.recvChainKey = recvChainKey;
  s.recvCount = header.n + 1;
  return { newState: s, plaintext };
}

// §3.5 SkipMessageKeys; copies the skipped list on first write, drops the oldest past the cap.
function skipMessageKeys(
  s: Working,
  until: number,
  maxSkippedKeys: number,
  work?: { derivedKeys: number },
): void {
  if (s.recvChainKey === null || s.recvCount >= until) return;
  if (work) work.derivedKeys += until - s.recvCount;
  const added: SkippedKey[] = [];
  let chainKey = s.recvChainKey;
  for (let n = s.recvCount; n < until; n++) {
    const [next, messageKey] = kdfCk(chainKey);
    added.push({ dh: s.dhPeer!, n, messageKey });
    chainKey = next;
  }
  const all = s.skipped.concat(added);
  s.skipped = all.length > maxSkippedKeys ? all.slice(all.length - maxSkippedKeys) : all;
  s.recvChainKey = chainKey;
  s.recvCount = until;
}

// §3.5 DHRatchet
async function dhRatchet(s: Working, peerKey: Uint8Array, random: Random): Promise<void> {
  s.prevSendCount = s.sendCount;
  s.sendCount = 0;
  s.recvCount = 0;
  s.dhPeer = copy(peerKey);
  const [rootKey1, recvChainKey] = kdfRk(s.rootKey, await x25519(s.dhSelf.privateKey, peerKey));
  s.dhSelf = await generateX25519KeyPair(random);
  const [rootKey2, sendChainKey] = kdfRk(rootKey1, await x25519(s.dhSelf.privateKey, peerKey));
  s.rootKey = rootKey2;
  s.recvChainKey = recvChainKey;
  s.sendChainKey = sendChainKey;
}

async function open(
  state: RatchetState,
  messageKey: Uint8Array,
  msg: RatchetMessage,
  ad: Uint8Array,
  aead: Aead,
): Promise<Uint8Array> {
  const okm = aeadKeys(messageKey);
  const fullAd = associatedData(
    state.peerAddress,
    state.localAddress,
    state.sessionId,
    ad,
    msg.headerBytes,
  );
  try {
    return await aead.open(okm.subarray(0, 32), okm.subarray(32, 44), msg.sealed, fullAd);
  } finally {
    okm.fill(0);
  }
}
