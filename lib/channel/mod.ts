/**
 * Authenticated, encrypted channels over a WebSocket: the three-message
 * handshake in which both ends prove their Ed25519 keys over a transcript of
 * this connection and, when both hold one TLS session, its channel binding;
 * and the channel after it: records sealed with ChaCha20-Poly1305 keyed from
 * the handshake, or plain when the bindings matched (no TLS-terminating party
 * in between). Used by node links and by clients talking to their home node.
 *
 * @module
 */
export { AuthError, ProtocolError } from "./errors.ts";
export {
  CLIENT_LABEL,
  type Endpoint,
  initiatorFinish,
  initiatorHello,
  type InitiatorHelloOptions,
  type InitiatorState,
  LINK_LABEL,
  type LinkKeys,
  type LinkSelf,
  type NodeKey,
  type PeerProof,
  responderFinish,
  responderHello,
  type ResponderHelloOptions,
  type ResponderState,
} from "./handshake.ts";
export {
  type ChannelHandler,
  LEND_RECORD_MIN_BYTES,
  RECORD_MAX_BYTES,
  SecureChannel,
  SEND_ROOM_BYTES,
  TAG_BYTES,
} from "./secure_channel.ts";
export { nextChannelMessage, nextMessage } from "./next_message.ts";
