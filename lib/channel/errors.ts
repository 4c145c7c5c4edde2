/** Errors of authenticated channels. */

/** A peer broke the protocol: bad frame, bad field, wrong order, too big. */
export class ProtocolError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A peer failed to prove its identity, or proved one we refuse. */
export class AuthError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
