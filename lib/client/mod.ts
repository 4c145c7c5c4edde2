/**
 * The client core: the user's identity, contacts, sessions and history, and
 * its conversation with its home node.
 *
 * @module
 */
export type * from "./api.ts";
export { MAX_MESSAGE_CHARS } from "./api.ts";
export { ClientCore, type ClientCoreOptions, type NodeControl } from "./client_core.ts";
export { ChatStateError, ClientError, NodeRefusedError, NodeUnavailableError } from "./errors.ts";
export { ClientStore } from "./client_store.ts";
export {
  type OpenClient,
  openClient,
  type OpenClientOptions,
  remoteLink,
  type RemoteLinkOptions,
} from "./open_client.ts";
