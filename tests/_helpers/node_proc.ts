/**
 * Real node processes for multi-node tests: each on 127.0.0.1 with real TLS,
 * its own config and data directory under .tmp/, stopped in `finally`.
 */
import { join, resolve } from "node:path";
import { SYSTEM_CLOCK } from "../../lib/clock.ts";
import { loadConfig } from "../../lib/config.ts";
import { createLogger } from "../../lib/log.ts";
import { adminCall, type Node, startNode, type StartNodeOptions } from "../../lib/node/mod.ts";
import { tracedV8Flags, v8FlagsArgs } from "./v8_flags.ts";

const REPO = resolve(new URL("../..", import.meta.url).pathname);
const PROFILE_DIR = Deno.env.get("FEDCHAT_PROFILE_DIR");
const V8_FLAGS_ARGS = v8FlagsArgs();
/**
 * For benchmarks by hand: FEDCHAT_TRACE=1 preloads bench/_stall_watch.ts (event-loop stalls)
 * into started nodes (with -A: it reads /proc schedstat) and adds --trace-gc to their V8 flags.
 */
const START_ARGS = Deno.env.get("FEDCHAT_TRACE")
  ? ["-A", "--preload", join(REPO, "bench", "_stall_watch.ts"), tracedV8Flags(V8_FLAGS_ARGS)]
  : ["--allow-net", "--allow-read", "--allow-write=.tmp", ...V8_FLAGS_ARGS];

/** A fresh folder under .tmp/ for one test. */
export async function tempRoot(name: string): Promise<string> {
  await Deno.mkdir(join(REPO, ".tmp"), { recursive: true });
  return await Deno.makeTempDir({ dir: join(REPO, ".tmp"), prefix: `${name}-` });
}

/**
 * A port free on 127.0.0.1 right now, below the kernel's ephemeral range
 * (32768–60999 on Linux, 49152–65535 elsewhere): a node started on it a second
 * later cannot find it taken by some process's outgoing connection, which is
 * what a port from `port: 0` (in that range) ran into on a busy machine
 * (`routing_hostile_test.ts`: "address already in use"). Listeners on port 0
 * can still take one; the random pick makes that unlikely.
 */
export function freePort(): number {
  for (let tries = 0; tries < 50; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    }
  }
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Polls `fn` until it returns true, or fails after `timeoutMs` naming `what`. */
export async function waitUntil(
  what: string,
  fn: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await fn()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** Runs main.ts with `args`; returns exit code and output. */
export async function runCli(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write=.tmp",
      ...V8_FLAGS_ARGS,
      join(REPO, "main.ts"),
      ...args,
    ],
    cwd: REPO,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** Options of {@linkcode NodeProc.create}. */
export interface NodeProcOptions {
  id: string;
  root: string;
  port?: number;
  open?: boolean;
  /** Extra INI text appended to the config. */
  extra?: string;
  /** Reuse another node's data directory (an impostor needs its own). */
  dataDir?: string;
  /** Run the owner's client in the node's process (default mode) instead of `server`. */
  withClient?: boolean;
  /** Start under `ulimit -n` this many open files (through bash), to test fd exhaustion. */
  maxOpenFiles?: number;
  /** Extra environment for the process (e.g. libfaketime's LD_PRELOAD and FAKETIME). */
  env?: Record<string, string>;
  /** `[Log] level` (default debug; a long soak keeps the output short with info). */
  logLevel?: "debug" | "info" | "warn" | "error";
}

/**
 * Writes a node's config under `o.root` (its data directory beside it unless
 * `o.dataDir`), on `o.port` or a free port, as {@linkcode NodeProc.create} starts it.
 */
export async function writeNodeConfig(
  o: Pick<NodeProcOptions, "id" | "root" | "port" | "open" | "extra" | "dataDir" | "logLevel">,
): Promise<{ port: number; dataDir: string; configPath: string }> {
  const port = o.port ?? freePort();
  const dataDir = o.dataDir ?? join(o.root, `${o.id}-data`);
  const configPath = join(o.root, `${o.id}-${port}.conf`);
  await Deno.writeTextFile(
    configPath,
    `[Network]\nhost = 127.0.0.1\nport = ${port}\nclient_id = ${o.id}\n` +
      `[Storage]\ndata_dir = ${dataDir}\n[Federation]\nopen = ${o.open ?? false}\n` +
      `[Log]\nlevel = ${o.logLevel ?? "debug"}\n${o.extra ?? ""}`,
  );
  return { port, dataDir, configPath };
}

/** One node process. */
export class NodeProc {
  readonly id: string;
  readonly port: number;
  readonly configPath: string;
  readonly dataDir: string;
  readonly mode: "start" | "server";
  readonly maxOpenFiles: number | undefined;
  readonly env: Record<string, string>;
  #child: Deno.ChildProcess | null = null;
  #exited = false;
  #output = "";

  private constructor(
    id: string,
    port: number,
    configPath: string,
    dataDir: string,
    mode: "start" | "server",
    extras: { env?: Record<string, string>; maxOpenFiles?: number } = {},
  ) {
    this.env = extras.env ?? {};
    this.maxOpenFiles = extras.maxOpenFiles;
    this.id = id;
    this.port = port;
    this.configPath = configPath;
    this.dataDir = dataDir;
    this.mode = mode;
  }

  /** Writes the config and starts the node; resolves once it prints `ready`. */
  static async create(o: NodeProcOptions): Promise<NodeProc> {
    const { port, dataDir, configPath } = await writeNodeConfig(o);
    const node = new NodeProc(
      o.id,
      port,
      configPath,
      dataDir,
      o.withClient ? "start" : "server",
      { env: o.env, maxOpenFiles: o.maxOpenFiles },
    );
    await node.start();
    return node;
  }

  /** Everything the process printed so far. */
  get output(): string {
    return this.#output;
  }

  /** The process id while running. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /**
   * Resident memory of the running process, from `ps`: Deno grants reading
   * another process's /proc only with --allow-all, the test run has --allow-run.
   */
  async rssBytes(): Promise<number> {
    const out = await runText("ps", ["-o", "rss=", "-p", String(this.pid)]);
    const kb = Number(out.trim());
    if (!out.trim() || !Number.isFinite(kb)) throw new Error(`${this.id}: ps printed no RSS`);
    return kb * 1024;
  }

  /** Open file descriptors of the running process (`ls` of its /proc fd folder, as for RSS). */
  async openFiles(): Promise<number> {
    const out = await runText("ls", ["-1", `/proc/${this.pid}/fd`]);
    return out.split("\n").filter((l) => l.length > 0).length;
  }

  /** True while the process started last has not exited. */
  get running(): boolean {
    return this.#child !== null && !this.#exited;
  }

  /** Starts (or restarts) the process and waits for `ready`. */
  async start(): Promise<void> {
    if (this.#child) throw new Error(`${this.id} is already running`);
    const denoArgs = [
      "run",
      // For profiling by hand: FEDCHAT_PROFILE_DIR=.tmp/prof deno task bench ...
      ...(PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : []),
      ...START_ARGS,
      join(REPO, "main.ts"),
      this.mode,
      "--config",
      this.configPath,
    ];
    // `exec` keeps the process id: signals and /proc reach deno itself.
    const [program, args] = this.maxOpenFiles === undefined ? [Deno.execPath(), denoArgs] : [
      "bash",
      ["-c", `ulimit -n ${this.maxOpenFiles} && exec "$0" "$@"`, Deno.execPath(), ...denoArgs],
    ];
    const child = new Deno.Command(program, {
      args,
      cwd: REPO,
      env: { NO_COLOR: "1", ...this.env },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#output += "\n--- start ---\n";
    this.#child = child;
    this.#exited = false;
    void child.status.then((s) => {
      if (this.#child !== child) return;
      this.#exited = true;
      this.#output += `\n--- exited with code ${s.code}${s.signal ? ` (${s.signal})` : ""} ---\n`;
    });
    const d = new TextDecoder();
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      for await (const c of stream) this.#output += d.decode(c, { stream: true });
    };
    pump(child.stdout).catch(() => {});
    pump(child.stderr).catch(() => {});
    const exited = child.status.then((s) => s);
    const deadline = Date.now() + 20_000;
    const from = this.#output.length;
    while (!/ready on /.test(this.#output.slice(from))) {
      const done = await Promise.race([exited, new Promise((r) => setTimeout(r, 25))]);
      if (done && typeof done === "object" && "code" in done) {
        this.#child = null;
        throw new Error(`${this.id} exited before ready:\n${this.#output}`);
      }
      if (Date.now() > deadline) throw new Error(`${this.id} not ready:\n${this.#output}`);
    }
  }

  /** Asks the running node for something over its admin channel. */
  admin(cmd: string, args: Record<string, unknown> = {}): Promise<unknown> {
    return adminCall(this.dataDir, cmd, args);
  }

  /** `status --json` as an object. */
  async status(): Promise<
    { nodeId: string; fingerprint: string; invite: string; links: LinkRow[] }
  > {
    return await this.admin("status") as never;
  }

  /** The browser UI's token URL the process printed at start (default mode). */
  uiUrl(): string {
    const m = /open\s+(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(this.#output);
    if (!m) throw new Error(`${this.id} printed no UI address`);
    return m[1];
  }

  /** Adds a user with `users add NAME --json` (the real CLI); returns its enrollment details. */
  async addUser(name: string): Promise<{ name: string; code: string; fingerprint: string }> {
    const r = await runCli(["users", "add", name, "--json", "--config", this.configPath]);
    if (r.code !== 0) throw new Error(`users add ${name} failed: ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  /** The state of the link to `peer`, or undefined. */
  async link(peer: string): Promise<LinkRow | undefined> {
    return (await this.status()).links.find((l) => l.peer === peer);
  }

  /** Sends a signal to the running process (SIGSTOP freezes it with its sockets open). */
  signal(sig: Deno.Signal): void {
    this.#child?.kill(sig);
  }

  /** Stops with SIGTERM (or SIGKILL with `hard`) and waits for the exit. */
  async stop(hard = false): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = null;
    try {
      child.kill("SIGCONT");
      child.kill(hard ? "SIGKILL" : "SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    await child.status;
    clearTimeout(timer);
  }
}

/** A row of `links`. */
export interface LinkRow {
  peer: string;
  state: string;
  lastError: string | null;
  fingerprint: string | null;
  sinceMs: number;
  /** While up: `plain` (both proved one TLS session) or `sealed`; null otherwise. */
  records?: "plain" | "sealed" | null;
}

/** Waits until `a`'s link to `peer` is in `state`. */
export async function waitLink(a: NodeProc, peer: string, state: string, timeoutMs = 15_000) {
  await waitUntil(
    `${a.id}→${peer} ${state}`,
    async () => (await a.link(peer))?.state === state,
    timeoutMs,
  );
}

/**
 * A node started inside the test's own process (so a test hook can be set on
 * it), with its config and data under `root`, on a free port.
 */
export async function inProcessNode(
  o: {
    root: string;
    id: string;
    open?: boolean;
    alterForwarded?: StartNodeOptions["alterForwarded"];
  },
): Promise<Node & { configPath: string }> {
  const port = freePort();
  const configPath = join(o.root, `${o.id}.conf`);
  await Deno.writeTextFile(
    configPath,
    `[Network]\nhost = 127.0.0.1\nport = ${port}\nclient_id = ${o.id}\n` +
      `[Storage]\ndata_dir = ${join(o.root, `${o.id}-data`)}\n` +
      `[Federation]\nopen = ${o.open ?? true}\n`,
  );
  const node = await startNode({
    config: await loadConfig(configPath),
    log: createLogger({ level: "error" }),
    clock: SYSTEM_CLOCK,
    alterForwarded: o.alterForwarded,
  });
  return Object.assign(node, { configPath });
}

/** Runs a short command and returns its standard output; throws on a non-zero exit. */
async function runText(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return new TextDecoder().decode(out.stdout);
}
