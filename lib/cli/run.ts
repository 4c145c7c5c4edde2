/** Command dispatch for main.ts. */
import { parseArgs } from "node:util";
import { SYSTEM_CLOCK } from "../clock.ts";
import { ConfigError, loadConfig } from "../config.ts";
import { createLogger, printLine } from "../log.ts";
import { adminCall, startNode } from "../node/mod.ts";
import { CliError } from "./cli_error.ts";
import { initMulti } from "./init_multi.ts";
import { formatLinks } from "./format.ts";

interface Command {
  usage: string;
  summary: string;
  flags?: Record<string, { type: "string" | "boolean"; short?: string }>;
  run(positionals: string[], flags: Record<string, string | boolean | undefined>): Promise<number>;
}

const CONFIG_FLAG = { config: { type: "string" as const, short: "c" } };

async function configFrom(flags: Record<string, string | boolean | undefined>) {
  return await loadConfig(typeof flags.config === "string" ? flags.config : "config.conf");
}

async function runNode(
  flags: Record<string, string | boolean | undefined>,
  mode: "server" | "server+client",
): Promise<number> {
  const startedAt = performance.now();
  const config = await configFrom(flags);
  const log = createLogger({ level: config.logLevel });
  const node = await startNode({
    config,
    log,
    clock: SYSTEM_CLOCK,
    ownerOnline: mode !== "server",
  });
  const readyMs = Math.round(performance.now() - startedAt);
  printLine(`fedchat node ${node.config.nodeId} (${mode})`);
  printLine(`  fingerprint  ${node.fingerprint}`);
  printLine(`  listening    ${config.host}:${node.port} (TLS)`);
  printLine(`  invite       ${node.invite()}`);
  printLine(`ready on ${config.host}:${node.port} in ${readyMs} ms`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  printLine("stopping");
  await node.stop();
  return 0;
}

async function admin(
  flags: Record<string, string | boolean | undefined>,
  cmd: string,
  args: Record<string, unknown> = {},
): Promise<unknown> {
  const config = await configFrom(flags);
  return await adminCall(config.dataDir, cmd, args);
}

const COMMANDS: Record<string, Command> = {
  start: {
    usage: "[start] [--config PATH]",
    summary: "Run the node with its client and browser UI (the default)",
    flags: CONFIG_FLAG,
    run: (_p, f) => runNode(f, "server+client"),
  },
  server: {
    usage: "server [--config PATH]",
    summary: "Run the node only, headless (a relay, or a node for remote users)",
    flags: CONFIG_FLAG,
    run: (_p, f) => runNode(f, "server"),
  },
  "init-multi": {
    usage: "init-multi N [--dir D] [--base-port P]",
    summary: "Write configs for N nodes on this machine to try federation",
    flags: { dir: { type: "string" }, "base-port": { type: "string" } },
    run: async (p, f) => {
      for (const line of await initMulti(p, f)) printLine(line);
      return 0;
    },
  },
  connect: {
    usage: "connect HOST PORT NODE_ID | connect INVITE  [--config PATH]",
    summary: "Link this node to another (by address and id, or by an invite line)",
    flags: CONFIG_FLAG,
    run: async (p, f) => {
      let args: Record<string, unknown>;
      if (p.length === 1 && p[0].startsWith("fedchat://")) args = { invite: p[0] };
      else if (p.length === 3) args = { host: p[0], port: Number(p[1]), nodeId: p[2] };
      else throw new CliError("Cannot connect: give HOST PORT NODE_ID, or one invite line");
      const link = await admin(f, "connect", args) as {
        peer: string;
        state: string;
        lastError: string | null;
      };
      printLine(`${link.peer}: ${link.state}${link.lastError ? ` (${link.lastError})` : ""}`);
      return link.state === "up" || link.state === "pending-approval" ? 0 : 1;
    },
  },
  invite: {
    usage: "invite [--config PATH]",
    summary: "Print this node's invite line (host, port, id, key fingerprint)",
    flags: CONFIG_FLAG,
    run: async (_p, f) => {
      printLine(String(await admin(f, "invite")));
      return 0;
    },
  },
  links: {
    usage: "links [--json] [--config PATH]",
    summary: "List linked and waiting nodes with their state",
    flags: { ...CONFIG_FLAG, json: { type: "boolean" } },
    run: async (_p, f) => {
      const links = await admin(f, "links");
      printLine(f.json ? JSON.stringify(links) : formatLinks(links as never));
      return 0;
    },
  },
  approve: {
    usage: "approve NODE_ID [--config PATH]",
    summary: "Let a node that asked to link do so",
    flags: CONFIG_FLAG,
    run: async (p, f) => {
      if (p.length !== 1) throw new CliError("Cannot approve: give one NODE_ID");
      const link = await admin(f, "approve", { nodeId: p[0] }) as { peer: string; state: string };
      printLine(`${link.peer}: approved (${link.state})`);
      return 0;
    },
  },
  reject: {
    usage: "reject NODE_ID [--config PATH]",
    summary: "Refuse a node's link request (and close its link)",
    flags: CONFIG_FLAG,
    run: async (p, f) => {
      if (p.length !== 1) throw new CliError("Cannot reject: give one NODE_ID");
      await admin(f, "reject", { nodeId: p[0] });
      printLine(`${p[0]}: rejected`);
      return 0;
    },
  },
  ping: {
    usage: "ping NODE_ID [--config PATH]",
    summary: "Send a probe to a node and show the path it took",
    flags: CONFIG_FLAG,
    run: async (p, f) => {
      if (p.length !== 1) throw new CliError("Cannot ping: give one NODE_ID");
      const r = await admin(f, "ping", { nodeId: p[0] }) as { path: string[]; rttMs: number };
      printLine(`${r.path.join(" -> ")}  ${r.rttMs} ms`);
      return 0;
    },
  },
  directory: {
    usage: "directory [--json] [--config PATH]",
    summary: "List the users of every reachable node, with presence",
    flags: { ...CONFIG_FLAG, json: { type: "boolean" } },
    run: async (_p, f) => {
      const d = await admin(f, "directory") as Array<{ address: string; presence: string }>;
      if (f.json) printLine(JSON.stringify(d));
      else for (const u of d) printLine(`${u.address.padEnd(40)} ${u.presence}`);
      if (!f.json && d.length === 0) printLine("nobody reachable yet");
      return 0;
    },
  },
  status: {
    usage: "status [--json] [--config PATH]",
    summary: "Show the node's id, fingerprint, address and links",
    flags: { ...CONFIG_FLAG, json: { type: "boolean" } },
    run: async (_p, f) => {
      const s = await admin(f, "status") as {
        nodeId: string;
        fingerprint: string;
        listening: { host: string; port: number };
        links: never;
      };
      if (f.json) printLine(JSON.stringify(s));
      else {
        printLine(
          `node ${s.nodeId}  fingerprint ${s.fingerprint}  on ${s.listening.host}:${s.listening.port}`,
        );
        printLine(formatLinks(s.links));
      }
      return 0;
    },
  },
};

function help(): string {
  const rows = Object.entries(COMMANDS).map(([, c]) => `  ${c.usage.padEnd(52)} ${c.summary}`);
  return [
    "fedchat: federated, end-to-end encrypted chat",
    "",
    "usage: main.ts COMMAND [ARGS] [--config PATH]   (config.conf in this folder by default)",
    "",
    ...rows,
    "",
    "Every command takes --help.",
  ].join("\n");
}

/** Runs the command line; returns the process exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first === "--help" || first === "-h" || first === "help") {
    printLine(help());
    return 0;
  }
  const name = first === undefined || first.startsWith("-") ? "start" : first;
  const rest = name === first ? argv.slice(1) : argv;
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!cmd) {
    printLine(`Unknown command ${JSON.stringify(name)}. Run main.ts --help for the list.`);
    return 2;
  }
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { ...cmd.flags, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      printLine(`usage: main.ts ${cmd.usage}\n\n${cmd.summary}`);
      return 0;
    }
    return await cmd.run(positionals, values as Record<string, string | boolean | undefined>);
  } catch (e) {
    const err = e as Error;
    const userError = e instanceof CliError || e instanceof ConfigError ||
      (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") || err.name !== "Error" ||
      err.message.startsWith("Cannot");
    printLine(userError ? err.message : `Unexpected error: ${err.stack ?? err}`);
    return 1;
  }
}
