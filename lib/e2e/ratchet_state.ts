/**
 * Versioned encoding of {@linkcode RatchetState}, so a client can persist a session
 * after every message. Secret: store it as carefully as the identity. Layout (v1):
 *
 *   version u8 = 1 | localAddress (u16 len + UTF-8) | peerAddress (u16 len + UTF-8)
 *   | sessionId [32] | rootKey [32] | dhSelf.privateKey [32] | dhSelf.publicKey [32]
 *   | flags u8 (1 = dhPeer, 2 = sendChainKey, 4 = recvChainKey) | each present field [32]
 *   | sendCount u32 | recvCount u32 | prevSendCount u32
 *   | skipped count u32 | count x (dh [32] | n u32 | messageKey [32])
 */
import { ByteReader, ByteWriter } from "./byte_codec.ts";
import { checkLength } from "./_bytes.ts";
import type { RatchetState, SkippedKey } from "./double_ratchet.ts";
import { CodecError } from "./errors.ts";

/** Version byte of an encoded ratchet state. */
export const RATCHET_STATE_VERSION = 1;
/** Longest address accepted anywhere in lib/e2e, in UTF-8 bytes. */
export const MAX_ADDRESS_BYTES = 320;
/** Most skipped keys an encoded state may hold. */
export const MAX_ENCODED_SKIPPED_KEYS = 100_000;

const SKIPPED_ENTRY_BYTES = 32 + 4 + 32;
const MAX_STATE_BYTES = 1 + 2 * (2 + MAX_ADDRESS_BYTES) + 4 * 32 + 1 + 3 * 32 + 3 * 4 + 4 +
  MAX_ENCODED_SKIPPED_KEYS * SKIPPED_ENTRY_BYTES;
const HAS_PEER = 1;
const HAS_SEND = 2;
const HAS_RECV = 4;

/** Encodes a ratchet state. */
export function encodeRatchetState(state: RatchetState): Uint8Array {
  const w = new ByteWriter()
    .u8(RATCHET_STATE_VERSION)
    .str16(state.localAddress)
    .str16(state.peerAddress)
    .raw(checkLength(state.sessionId, 32, "session id"))
    .raw(checkLength(state.rootKey, 32, "root key"))
    .raw(checkLength(state.dhSelf.privateKey, 32, "ratchet private key"))
    .raw(checkLength(state.dhSelf.publicKey, 32, "ratchet public key"))
    .u8(
      (state.dhPeer ? HAS_PEER : 0) | (state.sendChainKey ? HAS_SEND : 0) |
        (state.recvChainKey ? HAS_RECV : 0),
    );
  if (state.dhPeer) w.raw(checkLength(state.dhPeer, 32, "peer ratchet key"));
  if (state.sendChainKey) w.raw(checkLength(state.sendChainKey, 32, "sending chain key"));
  if (state.recvChainKey) w.raw(checkLength(state.recvChainKey, 32, "receiving chain key"));
  w.u32(state.sendCount).u32(state.recvCount).u32(state.prevSendCount).u32(state.skipped.length);
  for (const s of state.skipped) {
    w.raw(checkLength(s.dh, 32, "skipped key chain")).u32(s.n)
      .raw(checkLength(s.messageKey, 32, "skipped message key"));
  }
  return w.finish();
}

/**
 * Decodes a ratchet state.
 *
 * @throws {CodecError} too long, truncated, unknown version or flags, or trailing bytes
 */
export function decodeRatchetState(bytes: Uint8Array): RatchetState {
  const r = new ByteReader(bytes, "ratchet state");
  if (r.remaining > MAX_STATE_BYTES) throw new CodecError("Cannot decode ratchet state: too long");
  const version = r.u8();
  if (version !== RATCHET_STATE_VERSION) {
    throw new CodecError(`Cannot decode ratchet state: unknown version "${version}"`);
  }
  const localAddress = r.str16(MAX_ADDRESS_BYTES);
  const peerAddress = r.str16(MAX_ADDRESS_BYTES);
  const sessionId = r.raw(32);
  const rootKey = r.raw(32);
  const dhSelf = { privateKey: r.raw(32), publicKey: r.raw(32) };
  const flags = r.u8();
  if ((flags & ~(HAS_PEER | HAS_SEND | HAS_RECV)) !== 0) {
    throw new CodecError(`Cannot decode ratchet state: unknown flags "${flags}"`);
  }
  const dhPeer = flags & HAS_PEER ? r.raw(32) : null;
  const sendChainKey = flags & HAS_SEND ? r.raw(32) : null;
  const recvChainKey = flags & HAS_RECV ? r.raw(32) : null;
  if (recvChainKey !== null && dhPeer === null) {
    throw new CodecError("Cannot decode ratchet state: receiving chain without peer key");
  }
  const sendCount = r.u32();
  const recvCount = r.u32();
  const prevSendCount = r.u32();
  const count = r.u32();
  if (count > MAX_ENCODED_SKIPPED_KEYS || count * SKIPPED_ENTRY_BYTES !== r.remaining) {
    throw new CodecError("Cannot decode ratchet state: bad skipped key count");
  }
  const skipped: SkippedKey[] = [];
  for (let i = 0; i < count; i++) {
    skipped.push({ dh: r.raw(32), n: r.u32(), messageKey: r.raw(32) });
  }
  r.end();
  return {
    localAddress,
    peerAddress,
    sessionId,
    rootKey,
    dhSelf,
    dhPeer,
    sendChainKey,
    recvChainKey,
    sendCount,
    recvCount,
    prevSendCount,
    skipped,
  };
}
