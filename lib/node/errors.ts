/** The lib/node error hierarchy: every error the node's own code throws derives from NodeError. */

/** Base class of the node's errors. */
export class NodeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A client's submission was refused; the message says why, for the client to show. */
export class DeliveryError extends NodeError {}

/** A user-facing failure of an admin command (its message is shown as is). */
export class AdminError extends NodeError {}
