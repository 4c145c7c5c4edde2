/**
 * One client core in its own process, for benchmarks: its RSS, CPU time and
 * CPU profile are then its own. The parent ({@linkcode ClientProc}) sends one
 * JSON command a line on stdin; the child answers one JSON line on stdout.
 *
 * Message texts are exactly 100 characters: `TAG SEQ SENT_MS ` padded with
 * "x", where SENT_MS is the sender's wall clock (performance.timeOrigin +
 * performance.now(), shared by processes on one machine), so the receiver
 * measures latency itself and counts what was lost or duplicated.
 *
 * With `inNode` (bench/_node_client_proc.ts), the child starts a node from a
 * config file first and opens the client on the node's in-process link, as
 * the default mode does (bench/_in_node.ts; no UI server): one process for
 * the node and its owner's client.
 *
 * FEDCHAT_PROFILE_DIR and FEDCHAT_V8_FLAGS work as for node processes, and
 * the V8 flags default to theirs (tests/_helpers/v8_flags.ts).
 */
// deno-lint-ignore-file no-console
import { join, resolve } from "node:path";
import { type ChatMessage, type OpenClient, openClient, remoteLink } from "../lib/client/mod.ts";
import { SYSTEM_CLOCK } from "../lib/clock.ts";
import { type NodeId, toAddress, toNodeId, toUserName } from "../lib/ids.ts";
import { SILENT_LOGGER } from "../lib/log.ts";
import type { NodeProc } from "../tests/_helpers/node_proc.ts";
import { tracedV8Flags, v8FlagsArgs } from "../tests/_helpers/v8_flags.ts";

const REPO = resolve(new URL("..", import.meta.url).pathname);
const TEXT_BYTES = 100;
/**
 * Marks the child's answers: with FEDCHAT_V8_FLAGS=--trace-gc, V8 writes its
 * own lines to the same stdout in buffered chunks, which may end mid-line.
 */
const MARK = "\u0001fedchat-bench ";
/** The longest a command may take before the parent gives up on it. */
const CALL_TIMEOUT_MS = 20 * 60_000;

/** Wall clock in ms with sub-ms precision, comparable across processes. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

function text(tag: string, seq: number): string {
  const head = `${tag} ${seq} ${wallMs().toFixed(3)} `;
  return head + "x".repeat(Math.max(0, TEXT_BYTES - head.length));
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return Math.round(sorted[i] * 100) / 100;
}

/** What the receiver saw of one tag. */
export interface TagStats {
  received: number;
  duplicates: number;
  firstMs: number;
  lastMs: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}

/** A client of a node elsewhere, over the client protocol (TLS, WebSocket, channel). */
export interface RemoteClientOptions {
  name: string;
  dir: string;
  address: string;
  host: string;
  port: number;
  nodeId: string;
  enrollCode: string;
}

/** A node started from `configPath` with its owner's client in the same process. */
export interface InNodeClientOptions {
  name: string;
  inNode: { configPath: string };
}

/** What the child is started with. */
export type ClientProcOptions = RemoteClientOptions | InNodeClientOptions;

/** Parent side: a client process. */
export class ClientProc {
  readonly name: string;
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 1;
  #stderr = "";
  #stdout = "";
  #ready: Promise<void>;

  private constructor(name: string, child: Deno.ChildProcess) {
    this.name = name;
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    let markReady!: () => void;
    this.#ready = new Promise((r) => (markReady = r));
    const lines = async () => {
      let buf = "";
      const d = new TextDecoder();
      for await (const c of child.stdout) {
        buf += d.decode(c, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const at = line.indexOf(MARK);
          if (at < 0) {
            this.#stdout += line + "\n";
            continue;
          }
          const m = JSON.parse(line.slice(at + MARK.length));
          if (m.ready) markReady();
          const w = this.#waiting.get(m.id);
          if (!w) continue;
          this.#waiting.delete(m.id);
          if (m.error) w.reject(new Error(`${name}: ${m.error}`));
          else w.resolve(m.result);
        }
      }
    };
    lines().catch(() => {});
    (async () => {
      const d = new TextDecoder();
      for await (const c of child.stderr) this.#stderr += d.decode(c, { stream: true });
    })().catch(() => {});
    child.status.then((s) => {
      for (const w of this.#waiting.values()) {
        w.reject(new Error(`${name} exited (${s.code}):\n${this.#stderr.slice(-2000)}`));
      }
      this.#waiting.clear();
    });
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** What the child wrote that is not an answer (stdout, then stderr): --trace-gc, logs. */
  get output(): string {
    return this.#stdout + this.#stderr;
  }

  /** Adds user `name` at `node` and starts its client process (its store under `root`). */
  static async startUser(node: NodeProc, name: string, root: string): Promise<ClientProc> {
    const added = await node.addUser(name);
    return await ClientProc.start({
      name,
      dir: join(root, `${name}-client`),
      address: `${name}@${node.id}`,
      host: "127.0.0.1",
      port: node.port,
      nodeId: node.id,
      enrollCode: added.code,
    });
  }

  /** Starts a client process and waits until it is connected to its node. */
  static async start(o: ClientProcOptions): Promise<ClientProc> {
    const profileDir = Deno.env.get("FEDCHAT_PROFILE_DIR");
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []),
        ...(Deno.env.get("FEDCHAT_TRACE")
          ? [
            "-A", // the watcher reads /proc/PID/task/PID/schedstat
            "--preload",
            new URL("./_stall_watch.ts", import.meta.url).pathname,
            tracedV8Flags(v8FlagsArgs()),
          ]
          : [
            // A node listens on its admin socket too (a Unix socket, which needs --allow-net).
            "inNode" in o ? "--allow-net" : "--allow-net=127.0.0.1",
            "--allow-read",
            "--allow-write=.tmp",
            ...v8FlagsArgs(),
          ]),
        new URL(import.meta.url).pathname,
        JSON.stringify(o),
      ],
      cwd: REPO,
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const p = new ClientProc(o.name, child);
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${o.name} not ready:\n${p.#stderr}`)), 30_000)
    );
    await Promise.race([p.#ready, Promise.race([timeout, child.status.then(() => timeout)])]);
    return p;
  }

  /** Runs one command in the child. */
  call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`${this.name}: ${op} took over ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      this.#waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#writer.write(new TextEncoder().encode(JSON.stringify({ id, op, ...args }) + "\n"))
        .catch(reject);
    });
  }

  /** Asks the child to close its client and exit (so a CPU profile is written). */
  async stop(): Promise<void> {
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 10_000);
    try {
      await this.call("exit").catch(() => {});
      await this.#child.status;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A client of a node elsewhere; `close` closes it. */
async function openRemote(o: RemoteClientOptions): Promise<[OpenClient, () => Promise<void>]> {
  const client = await openClient({
    dir: o.dir,
    address: toAddress(o.address),
    clock: SYSTEM_CLOCK,
    log: SILENT_LOGGER,
    open: remoteLink({
      host: o.host,
      port: o.port,
      nodeId: toNodeId(o.nodeId) as NodeId,
      user: toUserName(o.address.split("@")[0]),
      enrollCode: o.enrollCode,
    }),
  });
  return [client, () => Promise.resolve(client.close())];
}

async function childMain(o: ClientProcOptions): Promise<void> {
  // The node's code is loaded only in a combined process: a client process stays as it was.
  const [client, close] = "inNode" in o
    ? await (await import("./_in_node.ts")).openInNode(o.inNode.configPath)
    : await openRemote(o);
  const core = client.core;
  // Receiver side: per tag, latencies and the sequence numbers seen.
  const tags = new Map<
    string,
    { seen: Set<number>; lat: number[]; sent: number[]; dup: number; first: number; last: number }
  >();
  // Sender side: delivery states seen per tag (ids of our messages → tag).
  const outTag = new Map<string, string>();
  const delivered = new Map<string, number>();
  core.subscribe((e) => {
    if (e.kind === "message" && e.message.direction === "in") {
      const now = wallMs();
      const [tag, seqText, sentText] = e.message.text.split(" ", 3);
      let t = tags.get(tag);
      if (!t) {
        tags.set(tag, t = { seen: new Set(), lat: [], sent: [], dup: 0, first: now, last: now });
      }
      const seq = Number(seqText);
      if (t.seen.has(seq)) t.dup++;
      else {
        t.seen.add(seq);
        t.lat.push(now - Number(sentText));
        t.sent.push(Number(sentText));
      }
      t.last = now;
    } else if (e.kind === "state" && e.state === "delivered") {
      const tag = outTag.get(e.id);
      if (tag !== undefined) {
        outTag.delete(e.id);
        delivered.set(tag, (delivered.get(tag) ?? 0) + 1);
      }
    }
  });
  const send = async (to: string, tag: string, seq: number) => {
    const m = await core.send(to, text(tag, seq));
    if (m.state === "delivered") delivered.set(tag, (delivered.get(tag) ?? 0) + 1);
    else outTag.set(m.id, tag);
  };

  const ops: Record<string, (a: Record<string, unknown>) => Promise<unknown>> = {
    async request(a) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          await core.request(a.to as string, "bench");
          return true;
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    async waitRequest() {
      const deadline = Date.now() + 30_000;
      while ((await core.requests()).length === 0) {
        if (Date.now() > deadline) throw new Error("no chat request arrived");
        await new Promise((r) => setTimeout(r, 50));
      }
      return true;
    },
    async accept(a) {
      await core.accept(a.from as string);
      return true;
    },
    async waitAccepted() {
      const deadline = Date.now() + 30_000;
      while (!(await core.contacts()).some((c) => c.state === "accepted")) {
        if (Date.now() > deadline) throw new Error("chat not accepted");
        await new Promise((r) => setTimeout(r, 50));
      }
      return true;
    },
    /**
     * Closed loop: `window` sends outstanding (each until the node took it), `n` in all. Each
     * answer starts the next send: an outstanding send holds its promise and one shared
     * reaction, not an async frame of the harness (they would be promoted and counted as the
     * client's GC; docs/PERF_NOTES.md, `msgcpu`).
     */
    async burst(a) {
      const { to, tag, n, window } = a as { to: string; tag: string; n: number; window: number };
      const t0 = wallMs();
      let next = 0;
      let answered = 0;
      await new Promise<void>((resolve, reject) => {
        if (n <= 0) return resolve();
        const start = () => void core.send(to, text(tag, next++)).then(taken, reject);
        const taken = (m: ChatMessage) => {
          if (m.state === "delivered") delivered.set(tag, (delivered.get(tag) ?? 0) + 1);
          else outTag.set(m.id, tag);
          if (++answered === n) resolve();
          else if (next < n) start();
        };
        for (let i = Math.min(window, n); i > 0; i--) start();
      });
      return { startMs: t0, endMs: wallMs() };
    },
    /** Open loop: `rate` messages/s for `seconds`, sends due in each 1 ms tick. */
    async rate(a) {
      const { to, tag, rate, seconds } = a as {
        to: string;
        tag: string;
        rate: number;
        seconds: number;
      };
      const total = Math.round(rate * seconds);
      const t0 = performance.now();
      const pending: Promise<void>[] = [];
      let i = 0;
      while (i < total) {
        const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
        while (i < due) pending.push(send(to, tag, i++));
        await new Promise((r) => setTimeout(r, 1));
      }
      await Promise.all(pending);
      return { sent: total, startMs: performance.timeOrigin + t0, endMs: wallMs() };
    },
    stats(a) {
      const t = tags.get(a.tag as string);
      if (!t) {
        return Promise.resolve(
          {
            received: 0,
            duplicates: 0,
            firstMs: 0,
            lastMs: 0,
            latencyMs: { p50: NaN, p90: NaN, p99: NaN, max: NaN },
          } satisfies TagStats,
        );
      }
      const lat = [...t.lat].sort((x, y) => x - y);
      return Promise.resolve(
        {
          received: t.seen.size,
          duplicates: t.dup,
          firstMs: t.first,
          lastMs: t.last,
          latencyMs: {
            p50: pct(lat, 0.5),
            p90: pct(lat, 0.9),
            p99: pct(lat, 0.99),
            max: pct(lat, 1),
          },
        } satisfies TagStats,
      );
    },
    /** Every message's sent time and latency (ms), in arrival order: [sent, latency, ...]. */
    samples(a) {
      const t = tags.get(a.tag as string);
      return Promise.resolve(t ? t.sent.flatMap((s, i) => [s, t.lat[i]]) : []);
    },
    count(a) {
      return Promise.resolve({
        received: tags.get(a.tag as string)?.seen.size ?? 0,
        delivered: delivered.get(a.tag as string) ?? 0,
      });
    },
    memory() {
      return Promise.resolve(Deno.memoryUsage());
    },
    exit() {
      setTimeout(async () => {
        await close();
        Deno.exit(0);
      }, 50);
      return Promise.resolve(true);
    },
  };

  const reply = (m: unknown) => console.log(MARK + JSON.stringify(m));
  reply({ ready: true, pid: Deno.pid });
  let buf = "";
  const d = new TextDecoder();
  for await (const c of Deno.stdin.readable) {
    buf += d.decode(c, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const cmd = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      const op = ops[cmd.op];
      if (!op) {
        reply({ id: cmd.id, error: `unknown op ${cmd.op}` });
        continue;
      }
      op(cmd).then(
        (result) => reply({ id: cmd.id, result }),
        (e) => reply({ id: cmd.id, error: (e as Error).message }),
      );
    }
  }
  await close();
}

if (import.meta.main) {
  const o = JSON.parse(Deno.args[0]);
  if (!("inNode" in o)) o.dir = resolve(REPO, o.dir ?? join(".tmp", o.name));
  await childMain(o);
}
