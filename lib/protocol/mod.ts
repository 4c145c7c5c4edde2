/**
 * Wire types shared by nodes and clients: envelopes, and the client protocol
 * between a client and its home node.
 *
 * @module
 */
export {
  decodeEnvelope,
  DEFAULT_TTL,
  destinationNode,
  encodeEnvelope,
  type Envelope,
  ENVELOPE_ID_BYTES,
  ENVELOPE_KINDS,
  EnvelopeError,
  envelopeIdHex,
  type EnvelopeKind,
  MAX_ENVELOPE_BODY,
  originNode,
  TTL_OFFSET,
} from "./envelope.ts";
export {
  type ChunkResult,
  type ClientLink,
  type ClientMessage,
  decodeClientMessage,
  encodeClientMessage,
  MAX_CLIENT_MESSAGE_BYTES,
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
