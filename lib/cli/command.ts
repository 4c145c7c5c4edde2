/** The shape of a CLI command, and how commands reach a running process. */
import { resolve } from "node:path";
import { loadConfig } from "../config.ts";
import { adminCall, adminStream } from "../node/mod.ts";

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

/** Calls a command on the running process named by the flags. */
export async function call(
  flags: Flags,
  cmd: string,
  args: Record<string, unknown> = {},
): Promise<unknown> {
  return await adminCall(await socketDir(flags), cmd, args);
}

/** Streams a command's events from the running process. */
export async function* stream(flags: Flags, cmd: string): AsyncGenerator<unknown> {
  yield* adminStream(await socketDir(flags), cmd);
}
