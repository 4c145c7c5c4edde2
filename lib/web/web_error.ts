/**
 * The UI server's errors: one root, each carrying the HTTP status it is
 * answered with. Code decides on the type (or `status`), never on the text.
 */

/** A request the UI server refuses; `status` is the answer. */
export class WebError extends Error {
  readonly status: number;

  constructor(message: string, status: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "WebError";
    this.status = status;
  }
}

/** A request that is malformed or has the wrong shape (400). */
export class BadRequestError extends WebError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 400, options);
    this.name = "BadRequestError";
  }
}

/** Nothing answers at this URL, or the thing it names does not exist (404). */
export class NotFoundError extends WebError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 404, options);
    this.name = "NotFoundError";
  }
}

/** A body larger than the route accepts (413). */
export class PayloadTooLargeError extends WebError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 413, options);
    this.name = "PayloadTooLargeError";
  }
}
