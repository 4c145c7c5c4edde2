/** Command dispatch for main.ts. */
import { parseArgs } from "node:util";
import { SYSTEM_CLOCK } from "../clock.ts";
import { loadConfig } from "../config.ts";
import { printLine } from "../log.ts";
import { CliError } from "./cli_error.ts";
import { commandToRun } from "./command_line.ts";
import { describeFailure } from "./describe_failure.ts";
import type { Command, Flags } from "./command.ts";
import type { RouteManifest } from "../web/mod.ts";
import { runNode } from "./run_node.ts";

const CONFIG_FLAG = { config: { type: "string" as const, short: "c" } };

async function configFrom(flags: Flags) {
  return await loadConfig(typeof flags.config === "string" ? flags.config : "config.conf");
}

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  /**
   * Loads the UI's routes (routes/mod.ts): main.ts, the composition root, hands
   * them in; called only by the commands that start the UI.
   */
  loadManifest: () => Promise<RouteManifest>;
}

/**
 * The commands that run a process (they start the UI with `loadManifest`).
 * The client and the UI (./app.ts) are loaded when one of them needs it.
 */
function runCommands(loadManifest: () => Promise<RouteManifest>): Record<string, Command> {
  return {
    start: {
      usage: "[start] [--config PATH]",
      summary: "Run the node with its owner's client (the default)",
      flags: CONFIG_FLAG,
      run: async (_p, f) =>
        runNode(await configFrom(f), { clock: SYSTEM_CLOCK, headless: false, loadManifest }),
    },
    server: {
      usage: "server [--config PATH]",
      summary: "Run the node only, headless (a relay, or a node for remote users)",
      flags: CONFIG_FLAG,
      run: async (_p, f) =>
        runNode(await configFrom(f), { clock: SYSTEM_CLOCK, headless: true, loadManifest }),
    },
    client: {
      usage: "client --node HOST:PORT --user NAME@NODE [--code CODE] [--fingerprint FP] [--dir D]",
      summary: "Run a client against a node elsewhere (several users per node)",
      flags: {
        node: { type: "string" },
        user: { type: "string" },
        code: { type: "string" },
        fingerprint: { type: "string" },
        dir: { type: "string" },
      },
      run: async (_p, f) => {
        const { runClientOnly } = await import("./app.ts");
        const user = typeof f.user === "string" ? f.user : undefined;
        const dir = typeof f.dir === "string"
          ? f.dir
          : `fedchat-client-${(user ?? "me").replace("@", "-at-")}`;
        return runClientOnly({
          dir,
          node: typeof f.node === "string" ? f.node : undefined,
          user,
          code: typeof f.code === "string" ? f.code : undefined,
          fingerprint: typeof f.fingerprint === "string" ? f.fingerprint : undefined,
          clock: SYSTEM_CLOCK,
          loadManifest,
        });
      },
    },
  };
}

/**
 * Every command by name: the run commands, then the commands that act on a
 * running process, loaded here (a running node does not keep their code, nor
 * lib/ui's that they format with).
 */
async function allCommands(
  runs: Record<string, Command>,
): Promise<Record<string, Command>> {
  const [node, client, file, ui, group] = await Promise.all([
    import("./node_commands.ts"),
    import("./client_commands.ts"),
    import("./file_commands.ts"),
    import("./ui_commands.ts"),
    import("./group_commands.ts"),
  ]);
  return {
    ...runs,
    ...node.NODE_COMMANDS,
    ...client.CLIENT_COMMANDS,
    ...file.FILE_COMMANDS,
    ...ui.UI_COMMANDS,
    ...group.GROUP_COMMANDS,
  };
}

function help(commands: Record<string, Command>): string {
  const rows = Object.values(commands).map((c) => `  ${c.usage.padEnd(60)} ${c.summary}`);
  return [
    "fedchat: federated, end-to-end encrypted chat",
    "",
    `usage: ${commandToRun([])} COMMAND [ARGS] [--config PATH]   (config.conf by default)`,
    "Client commands act on the running client: the node's own (--config), or a client",
    "started with `client` (--client DIR).",
    "",
    ...rows,
    "",
    "Every command takes --help.",
  ].join("\n");
}

/** Runs the command line; returns the process exit code. */
export async function runCli(argv: string[], options: RunCliOptions): Promise<number> {
  const runs = runCommands(options.loadManifest);
  const first = argv[0];
  if (first === "--help" || first === "-h" || first === "help") {
    printLine(help(await allCommands(runs)));
    return 0;
  }
  const name = first === undefined || first.startsWith("-") ? "start" : first;
  const rest = name === first ? argv.slice(1) : argv;
  const commands = Object.hasOwn(runs, name) ? runs : await allCommands(runs);
  const cmd = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!cmd) {
    printLine(
      `Cannot run ${JSON.stringify(name)}: no such command; see ${commandToRun(["--help"])}`,
    );
    return 2;
  }
  try {
    const { values, positionals } = parseFlags(name, cmd, rest);
    if (values.help) {
      printLine(`usage: ${commandToRun([])} ${cmd.usage}\n\n${cmd.summary}`);
      return 0;
    }
    return await cmd.run(positionals, values);
  } catch (e) {
    printLine(describeFailure(e).text);
    return 1;
  }
}

/**
 * The command's flags and positionals.
 *
 * @throws {CliError} an unknown flag, or a flag without its value
 */
function parseFlags(name: string, cmd: Command, args: string[]) {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...cmd.flags, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Flags, positionals };
  } catch (cause) {
    // ERR_PARSE_ARGS_*: what was typed; anything else is a bug in the command's flag table.
    const code = (cause as { code?: unknown }).code;
    if (typeof code !== "string" || !code.startsWith("ERR_PARSE_ARGS_")) throw cause;
    throw new CliError(
      `Cannot run ${name}: ${(cause as Error).message}; see ${commandToRun([name, "--help"])}`,
      { cause },
    );
  }
}
