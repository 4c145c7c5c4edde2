/**
 * The lib/client error hierarchy. Code decides on these types, never on an
 * error's message: "retry later" is {@linkcode NodeUnavailableError}, "the node
 * said no" is {@linkcode NodeRefusedError}, and "not now, in this chat" is
 * {@linkcode ChatStateError}. Messages are user-facing sentences.
 */

/** Base class of every error thrown by lib/client. */
export class ClientError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The home node cannot be asked now: not connected, no answer in time, or the
 * connection dropped while waiting. Whatever was being sent is kept and sent
 * again after the next connection.
 */
export class NodeUnavailableError extends ClientError {}

/** The home node answered and refused (its sentence is the message). Sending again will not help. */
export class NodeRefusedError extends ClientError {}

/** The action does not fit the chat's current state (not accepted, no request, key unconfirmed...). */
export class ChatStateError extends ClientError {}
