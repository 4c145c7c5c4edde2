/**
 * The lib/e2e error hierarchy. What a peer can observe of a failure is uniform:
 * callers surface `DecryptError` and `VerifyError` without their detail.
 */

/** Base class of every error thrown by lib/e2e. */
export class E2eError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A ciphertext, tag or header did not authenticate. */
export class DecryptError extends E2eError {}

/** A signature, key or confirmation did not verify, or a key was refused at import. */
export class VerifyError extends E2eError {}

/** Bytes or data could not be decoded: wrong length, version or field. */
export class CodecError extends E2eError {}

/** An operation was not valid in the current protocol state. */
export class StateError extends E2eError {}
