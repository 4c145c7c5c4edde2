/** The shape of a CLI command, and how commands reach a running process. */
import { resolve } from "node:path";
import { loadConfig } from "../config.ts";
import { adminCall, adminStream, NotRunningError } from "../node/mod.ts";
import { CliError } from "./cli_error.ts";
import { commandToRun } from "./command_line.ts";

/** Parsed flags. */
export type Flags = Record<string, string | boolean | undefined>;

/** One command. */
export interface Command {
  usage: string;
  summary: string;
  flags?: Record<string, { type: "string" | "boolean"; short?: string }>;
  run(positionals: string[], flags: Flags): Promise<number>;
}

/** `--config PATH` (a node, default ./config.conf) or `--client DIR` (a client-only process). */
export const TARGET_FLAGS = {
  config: { type: "string" as const, short: "c" },
  client: { type: "string" as const },
};

async function socketDir(flags: Flags): Promise<string> {
  if (typeof flags.client === "string") return resolve(flags.client);
  const config = await loadConfig(typeof flags.config === "string" ? flags.config : "config.conf");
  return config.dataDir;
}

/** `e`, or when it says that nothing runs, a CliError with the command that starts it. */
function withStartHint(e: unknown, flags: Flags): unknown {
  if (!(e instanceof NotRunningError)) return e;
  if (typeof flags.client === "string") {
    return new CliError(
      `Cannot reach the client: none is running in ${JSON.stringify(flags.client)}; start it ` +
        `first: ${commandToRun(["client", "--dir", flags.client])}`,
      { cause: e },
    );
  }
  const config = typeof flags.config === "string" ? ["--config", flags.config] : [];
  return new CliError(
    `Cannot reach the node: none is running with data directory ${JSON.stringify(e.dataDir)}; ` +
      `start it first: ${commandToRun(["start", ...config])}`,
    { cause: e },
  );
}

/**
 * Calls a command on the running process named by the flags.
 *
 * @throws {CliError} nothing runs there (with the command that starts it);
 *   {AdminReplyError} the process refused the command
 */
export async function call(
  flags: Flags,
  cmd: string,
  args: Record<string, unknown> = {},
): Promise<unknown> {
  const dir = await socketDir(flags);
  try {
    return await adminCall(dir, cmd, args);
  } catch (e) {
    throw withStartHint(e, flags);
  }
}

/** Streams a command's events from the running process; throws as {@linkcode call}. */
export async function* stream(flags: Flags, cmd: string): AsyncGenerator<unknown> {
  const dir = await socketDir(flags);
  try {
    yield* adminStream(dir, cmd);
  } catch (e) {
    throw withStartHint(e, flags);
  }
}
