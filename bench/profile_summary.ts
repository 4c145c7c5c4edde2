/**
 * Where the CPU of one message goes, per process: reads the V8 CPU profiles a
 * profiled messaging run wrote (FEDCHAT_PROFILE_DIR) and that run's output,
 * keeps the samples inside one phase (by /proc/uptime, the profiles' clock),
 * sorts every busy sample into a category by its stack, and scales each
 * category's share of busy samples by the process's CPU time in the phase
 * (from /proc) to µs per message.
 *
 *   FEDCHAT_PROFILE_DIR=.tmp/prof deno task bench messaging > .tmp/prof/bench.out
 *   (also with --one-process: a node and its owner's client are one process, one profile)
 *   deno run --allow-read bench/profile_summary.ts .tmp/prof [--phase=rate] [--detail]
 *
 * Sampling is by wall clock on the JS thread: a sample taken while the thread
 * is blocked in a synchronous call (an fsync inside COMMIT) counts as busy, so
 * the busy-sample time can exceed the CPU time; both are printed.
 */
// deno-lint-ignore-file no-console
import { join } from "node:path";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const UTILITY = ["/lib/e2e/byte_codec.ts", "/lib/e2e/_bytes.ts", "/lib/ids.ts", "/lib/clock.ts"];
const SOCKET =
  /ext:deno_node\/(net\.ts|_tls_wrap|internal\/stream|internal\/streams|stream_base_commons|internal_binding\/(stream_wrap|tcp_wrap|tls_wrap))/;
const SOCKET_LEAF = new Set(["writeBuffer", "writev", "writeUtf8String", "op_node_tls_write"]);
const JSON_LEAF = new Set(["stringify", "parse"]);

function isRepo(f: CallFrame): boolean {
  return f.url.startsWith("file://") && /\/(lib|bench)\//.test(f.url) &&
    !UTILITY.some((u) => f.url.endsWith(u));
}

function file(f: CallFrame): string {
  return f.url.replace(/^.*\/(lib|bench)\//, "$1/");
}

/** The category of one stack (leaf first). */
export function classify(stack: CallFrame[]): string {
  const leaf = stack[0];
  if (leaf.functionName === "(idle)") return "(idle)";
  if (leaf.functionName === "(garbage collector)") return "GC";
  if (leaf.functionName === "(program)") return "(program): native, outside JS";
  const at = stack.findIndex(isRepo);
  const between = at < 0 ? stack : stack.slice(0, at);
  if (between.some((f) => f.url.includes("@noble/hashes"))) return "HMAC/HKDF/SHA-256 (@noble)";
  if (between.some((f) => SOCKET.test(f.url)) || SOCKET_LEAF.has(leaf.functionName)) {
    return "socket I/O + TLS (node:net/tls layer)";
  }
  if (at < 0) {
    if (stack.some((f) => /timers|01_core/.test(f.url))) return "runtime: timers, promises";
    return "runtime: other";
  }
  const r = stack[at];
  const path = file(r);
  const fn = r.functionName;
  const jsonLeaf = JSON_LEAF.has(leaf.functionName) && leaf.url === "";
  // The nearest named function of the same file, above anonymous callbacks.
  const named = () => {
    for (let i = at; i < stack.length && stack[i].url === r.url; i++) {
      const n = stack[i].functionName;
      if (n && n !== "transaction") return n;
      if (n === "transaction" && i === at) return "transaction";
    }
    return fn;
  };
  switch (path) {
    case "lib/client/client_store.ts":
      return ["transaction", "begin", "commit", "rollback"].includes(fn)
        ? "client store BEGIN/COMMIT (WAL)"
        : "client store rows (SQLite get/run)";
    case "lib/client/turn_commit.ts":
      return "client group commit (turn_commit.ts)";
    case "lib/client/client_core.ts":
      if (jsonLeaf) return "ratchet inner codec";
      if (leaf.functionName === "getRandomValues") return "random ids";
      return "client core glue (send/receive, rows, events)";
    case "lib/client/payload.ts":
      return fn === "decodeInner" || fn === "encodeInner"
        ? "ratchet inner codec"
        : "envelope encode/decode";
    case "lib/e2e/double_ratchet.ts":
    case "lib/e2e/ratchet_message.ts":
      return "ratchet logic (chain step, header, AD)";
    case "lib/e2e/ratchet_state.ts":
      return "ratchet state encode/decode";
    case "lib/e2e/_sha256.ts":
      return "HMAC/HKDF/SHA-256 (@noble)";
    case "lib/client/node_aead.ts":
    case "lib/e2e/aead.ts":
      return "AES-GCM (ratchet)";
    case "lib/e2e/x25519.ts":
      return "X25519";
    case "lib/e2e/ed25519.ts":
    case "lib/node/receipt.ts":
      return "receipts: Ed25519 sign/verify + codec";
    case "lib/protocol/envelope.ts":
      return "envelope encode/decode";
    case "lib/protocol/client_message.ts":
      return "client protocol encode/decode";
    case "lib/client/node_connection.ts":
      return "client connection (requests, timers)";
    case "lib/channel/secure_channel.ts":
      return "channel seal/open (AES-GCM)";
    case "lib/wss/frame.ts":
    case "lib/wss/connection.ts":
      return "WebSocket framing/masking";
    case "lib/node/committer.ts":
      return "committer loop";
    case "lib/store/sqlite_message_store.ts": {
      const n = named();
      if (n === "transaction") return "node SQLite BEGIN/COMMIT (fsync)";
      if (n.startsWith("outbox")) return "outbox rows (SQLite)";
      if (n.startsWith("inbox") || /[dD]elivered/.test(n)) return "inbox + dedup rows (SQLite)";
      if (n.startsWith("notices")) return "settled notices (SQLite)";
      return "account/policy lookups (SQLite)";
    }
    case "lib/node/delivery.ts":
      return "delivery logic (submit/admit/receipt handling)";
    case "lib/node/outbox_queue.ts":
    case "lib/node/outbox.ts":
      return "outbox bookkeeping (memory)";
    case "lib/federation/provenance.ts":
    case "lib/federation/merkle.ts":
      return "provenance: Merkle batch sign/verify";
    case "lib/node/delivery_budgets.ts":
    case "lib/node/admission.ts":
    case "lib/node/resource_state.ts":
    case "lib/federation/peer_conduct.ts":
      return "budgets + admission";
    case "lib/node/client_hub.ts":
      return "push/ack bookkeeping (client hub)";
    case "lib/node/in_process_link.ts":
      return "in-process link (client-node hand-over)";
    case "lib/federation/forwarder.ts":
    case "lib/federation/link_manager.ts":
    case "lib/federation/link_message.ts":
    case "lib/federation/federation.ts":
      return "link messages + forwarding";
    case "lib/log.ts":
      return "logging";
    case "bench/_client_proc.ts":
      return "bench harness";
  }
  if (path.startsWith("lib/federation/routing/")) return "routing";
  return `other: ${path}`;
}

/** One process's busy samples in a window, by category. */
export function summarize(p: Profile, fromUs: number, toUs: number) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stackCache = new Map<number, string>();
  const leafCache = new Map<number, string>();
  const categoryOf = (id: number): string => {
    let c = stackCache.get(id);
    if (c === undefined) {
      const stack: CallFrame[] = [];
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const f = byId.get(at)!.callFrame;
        if (f.functionName !== "(root)") stack.push(f);
      }
      c = stack.length ? classify(stack) : "(idle)";
      stackCache.set(id, c);
      const l = stack[0];
      leafCache.set(id, l ? `${l.functionName || "(anonymous)"} ${l.url.split("/").pop()}` : "");
    }
    return c;
  };
  const count = new Map<string, number>();
  const leaves = new Map<string, Map<string, number>>();
  let t = p.startTime, busy = 0, idle = 0, busyUs = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i];
    if (t < fromUs || t > toUs) continue;
    const c = categoryOf(p.samples[i]);
    if (c === "(idle)") {
      idle++;
      continue;
    }
    busy++;
    busyUs += p.timeDeltas[i];
    count.set(c, (count.get(c) ?? 0) + 1);
    const lm = leaves.get(c) ?? new Map<string, number>();
    const leaf = leafCache.get(p.samples[i])!;
    lm.set(leaf, (lm.get(leaf) ?? 0) + 1);
    leaves.set(c, lm);
  }
  return { busy, idle, busyS: busyUs / 1e6, count, leaves };
}

interface ProcRow {
  role: string;
  pid: number;
}
interface PhaseOut {
  messages: number;
  window: [number, number];
  procs: Array<{ role: string; cpuS: number; usPerMsg: number }>;
}

if (import.meta.main) {
  const dir = Deno.args.find((a) => !a.startsWith("--")) ?? ".tmp/prof";
  const phaseName = Deno.args.includes("--phase=rate") ? "ratePhase" : "burstPhase";
  const detail = Deno.args.includes("--detail");
  const out = await Deno.readTextFile(join(dir, "bench.out"));
  const line = out.trim().split("\n").reverse().find((l) => l.startsWith('{"bench"'));
  if (!line) throw new Error(`no JSON line in ${dir}/bench.out`);
  const bench = JSON.parse(line);
  const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
    n.endsWith(".cpuprofile")
  );
  const json: unknown[] = [];
  for (const r of bench.results) {
    const ph = r[phaseName] as PhaseOut;
    console.log(
      `\n== ${r.hops} hop(s), ${phaseName === "burstPhase" ? "sustained max" : "1,000 msg/s"}: ` +
        `${ph.messages} messages in the window`,
    );
    for (const [i, proc] of (r.processes as ProcRow[]).entries()) {
      const name = files.find((f) => f.split(".")[2] === String(proc.pid));
      if (!name) continue;
      const prof: Profile = JSON.parse(await Deno.readTextFile(join(dir, name)));
      const s = summarize(prof, ph.window[0] * 1e6, ph.window[1] * 1e6);
      const cpu = ph.procs[i];
      const rows = [...s.count].sort((a, b) => b[1] - a[1]).map(([c, k]) => ({
        category: c,
        pct: Math.round((k / s.busy) * 1000) / 10,
        usPerMsg: Math.round(((k / s.busy) * cpu.cpuS * 1e6) / ph.messages),
        top: [...s.leaves.get(c)!].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([l, n]) =>
          `${l} ${Math.round((n / k) * 100)}%`
        ),
      }));
      console.log(
        `-- ${proc.role}: CPU ${cpu.cpuS} s = ${cpu.usPerMsg} µs/msg; busy samples ${s.busy} ` +
          `(${Math.round(s.busyS * 100) / 100} s of thread time), idle ${s.idle}`,
      );
      for (const row of rows) {
        if (row.pct < 0.5 && !detail) continue;
        console.log(
          `   ${String(row.pct).padStart(5)}%  ${
            String(row.usPerMsg).padStart(5)
          } µs  ${row.category}` +
            (detail ? `   [${row.top.join(", ")}]` : ""),
        );
      }
      json.push({ hops: r.hops, phase: phaseName, role: proc.role, cpuS: cpu.cpuS, rows });
    }
  }
  console.log(JSON.stringify({ bench: "profile_summary", rows: json }));
}
