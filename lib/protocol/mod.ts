/**
 * Wire types shared by nodes and clients: envelopes, and the client protocol
 * between a client and its home node.
 *
 * @module
 */
export {
  type DecodedEnvelope,
  decodeEnvelope,
  decodeEnvelopeWithAuth,
  DEFAULT_TTL,
  destinationNode,
  encodeEnvelope,
  encodeEnvelopeAuth,
  type Envelope,
  ENVELOPE_ID_BYTES,
  ENVELOPE_KINDS,
  type EnvelopeAuth,
  EnvelopeError,
  envelopeIdHex,
  type EnvelopeInit,
  type EnvelopeKind,
  isUserEnvelope,
  MAX_AUTH_BYTES,
  MAX_BATCH,
  MAX_ENVELOPE_BODY,
  type NodeEnvelope,
  nodeEnvelope,
  type NodeKind,
  originNode,
  TTL_OFFSET,
  type UserEnvelope,
  type UserKind,
  withoutAuth,
} from "./envelope.ts";
export {
  type ChunkResult,
  type ClientLink,
  type ClientMessage,
  decodeClientMessage,
  encodeClientMessage,
  MAX_CLIENT_MESSAGE_BYTES,
  type NodeCondition,
} from "./client_message.ts";
export {
  CHUNK_HEADER_BYTES,
  type ChunkBody,
  chunkEnvelopeId,
  decodeChunkBody,
  encodeChunkBody,
  FILE_ID_BYTES,
  MAX_SEALED_CHUNK_BYTES,
} from "./file_chunk.ts";
export {
  decodeHeldEnvelope,
  decodeReceiptQuery,
  encodeHeldEnvelope,
  encodeReceiptQuery,
  MAX_QUERY_IDS,
} from "./mailbox_body.ts";
