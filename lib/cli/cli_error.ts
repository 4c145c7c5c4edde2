/**
 * A mistake on the command line (a flag, an argument, a process that is not
 * running), shown as its message only: the message says what to do.
 */
export class CliError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CliError";
  }
}
