/** The federation error hierarchy. */

/** Base class of errors from links, handshakes and routing. */
export class FederationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export { AuthError, ProtocolError } from "../channel/mod.ts";
