/**
 * Authenticated, encrypted channels over a WebSocket: the three-message
 * handshake in which both ends prove their Ed25519 keys over a transcript of
 * this connection, and the AES-256-GCM channel keyed from it. Used by node
 * links and by clients talking to their home node.
 *
 * @module
 */
export { AuthError, ProtocolError } from "./errors.ts";
export {
  CLIENT_LABEL,
  type Endpoint,
  initiatorFinish,
  initiatorHello,
  type InitiatorState,
  LINK_LABEL,
  type LinkKeys,
  type LinkSelf,
  type NodeKey,
  type PeerProof,
  responderFinish,
  responderHello,
  type ResponderState,
} from "./handshake.ts";
export {
  type ChannelHandler,
  LEND_RECORD_MIN_BYTES,
  RECORD_MAX_BYTES,
  SecureChannel,
  TAG_BYTES,
} from "./secure_channel.ts";
export { nextChannelMessage, nextMessage } from "./next_message.ts";
