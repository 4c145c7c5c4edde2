/**
 * How the command line shows an error that ended a command. Decided on the
 * error's type (and, for system errors, their `code`), never on its message.
 */
import { ConfigError } from "../config.ts";
import { FederationError } from "../federation/mod.ts";
import { AdminError, AdminReplyError, NotRunningError } from "../node/mod.ts";
import { CliError } from "./cli_error.ts";

/**
 * `user`: something the person at the keyboard can fix (a flag, the config, a
 * port in use), shown as the error's message alone, which says what to do.
 * `bug`: anything else, shown with its stack and causes, to be reported.
 */
export type FailureView = { kind: "user"; text: string } | { kind: "bug"; text: string };

/** Errors whose message is written for the user: what went wrong and what to do. */
const USER_ERRORS = [
  CliError, // a flag or an argument
  ConfigError, // the config file, with file, line and key
  NotRunningError, // no process on the admin socket
  AdminReplyError, // the running process refused the command; its message is for the user
  AdminError, // another node already runs on the data directory
  FederationError, // the node key is unreadable or corrupt
];

/** Deno errors about the user's machine rather than fedchat's code. */
const ENVIRONMENT_ERRORS = [
  Deno.errors.NotFound,
  Deno.errors.PermissionDenied,
  Deno.errors.NotCapable,
  Deno.errors.AlreadyExists,
  Deno.errors.IsADirectory,
  Deno.errors.NotADirectory,
  Deno.errors.AddrInUse,
  Deno.errors.AddrNotAvailable,
  Deno.errors.ConnectionRefused,
];

/** The same for system errors of `node:` modules, which carry a `code` and a `syscall`. */
const ENVIRONMENT_CODES = new Set([
  "ENOENT",
  "EACCES",
  "EPERM",
  "EEXIST",
  "EISDIR",
  "ENOTDIR",
  "EADDRINUSE",
  "EADDRNOTAVAIL",
  "ECONNREFUSED",
]);

function isEnvironmentError(e: unknown): boolean {
  if (ENVIRONMENT_ERRORS.some((type) => e instanceof type)) return true;
  const { code, syscall } = (e ?? {}) as { code?: unknown; syscall?: unknown };
  return typeof syscall === "string" && typeof code === "string" && ENVIRONMENT_CODES.has(code);
}

/** `e` and its causes, outermost first (bounded, in case of a loop). */
function causeChain(e: unknown): unknown[] {
  const chain = [e];
  for (let at = e; at instanceof Error && at.cause !== undefined && chain.length < 10;) {
    at = at.cause;
    chain.push(at);
  }
  return chain;
}

/**
 * Whether `error` is the user's to fix, and the text to show for it. An error
 * wrapping an environment error (a missing file, a port in use) counts as the
 * user's: its message names what to fix.
 *
 * @example
 * ```ts
 * describeFailure(new CliError("Cannot send: give ADDRESS and TEXT"));
 * // { kind: "user", text: "Cannot send: give ADDRESS and TEXT" }
 * ```
 */
export function describeFailure(error: unknown): FailureView {
  if (
    error instanceof Error &&
    (USER_ERRORS.some((type) => error instanceof type) ||
      causeChain(error).some(isEnvironmentError))
  ) {
    return { kind: "user", text: error.message };
  }
  const details = causeChain(error).map((e, i) =>
    `${i === 0 ? "" : "caused by: "}${e instanceof Error ? e.stack ?? String(e) : String(e)}`
  );
  return {
    kind: "bug",
    text: ["Unexpected error: this is a bug in fedchat; please report it with these lines:"]
      .concat(details).join("\n"),
  };
}
