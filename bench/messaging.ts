/**
 * End-to-end messaging (run by hand: `deno task bench messaging`): real node
 * processes on loopback (headless, durable queues), alice's and bob's client
 * cores each in its own process, connected to their nodes over the client
 * protocol. For 1 and 3 hops it prints:
 *
 * - sustained messages/s (closed loop: WINDOW sends outstanding, N in all),
 *   with lost and duplicated counts;
 * - p50/p90/p99 latency at 1,000 msg/s offered (open loop, RATE_SECONDS);
 * - per process (every node, each client, the bench itself): RSS now, at the
 *   highest sample under load and at peak (VmRSS / VmHWM), CPU seconds and CPU
 *   µs per message in each phase; each client's V8 heap and external memory;
 * - the load average and the CPU other processes used meanwhile (the machine
 *   is shared: compare CPU per message, which load disturbs less).
 *
 * `--vs-prosody` also runs the Prosody harness (../shared/bench/prosody, or
 * PROSODY_HARNESS) in a copy under .tmp/prosody-bench when Prosody is
 * installed: the most msg/s across 1 hop (window 400) and p50/p99 at 1,000
 * msg/s, stock settings, and prints fedchat / Prosody ratios. Without
 * Prosody (or root, which the harness needs) it says why it skipped.
 *
 * `--one-process` runs alice's client inside the first node's process and
 * bob's inside the last's (bench/_node_client_proc.ts), as users run them
 * (`deno task start`, without the UI server); the relays stay headless. The
 * default is a process per client, as the figures in docs/PERF_NOTES.md.
 *
 * Options: --hops=1,3 --vs-prosody --one-process; env N (20000), WINDOW (512),
 * RATE_SECONDS (10), RATE (1000, msg/s offered), PROSODY_SECONDS (10), PROSODY_NAGLE (on).
 * Targets: ≥ 10,000 msg/s across 1 hop, ≥ 7,000 across 3; p99 ≤ 5 ms (1 hop)
 * and ≤ 10 ms (3 hops) at 1,000 msg/s; node and client RSS ≤ 80 MiB.
 * Figures only, JSON line last; nothing is asserted about time.
 */
// deno-lint-ignore-file no-console
import { link, type LinkableNode } from "../tests/_helpers/chat.ts";
import { NodeProc, tempRoot } from "../tests/_helpers/node_proc.ts";
import { ClientProc, type TagStats } from "./_client_proc.ts";
import { NodeClientProc } from "./_node_client_proc.ts";
import { interval, type MachineSample, mib, round1, RssWatch, sample } from "./_proc.ts";
import { compareWithProsody } from "./_prosody.ts";

const N = Number(Deno.env.get("N") ?? 20_000);
const WINDOW = Number(Deno.env.get("WINDOW") ?? 512);
const RATE = Number(Deno.env.get("RATE") ?? 1000);
const RATE_SECONDS = Number(Deno.env.get("RATE_SECONDS") ?? 10);
const hopsArg = Deno.args.find((a) => a.startsWith("--hops="))?.slice(7) ?? "1,3";
const HOPS = hopsArg.split(",").map(Number).filter((h) => h === 1 || h === 3) as Array<1 | 3>;
const VS_PROSODY = Deno.args.includes("--vs-prosody");
const ONE_PROCESS = Deno.args.includes("--one-process");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every 100 ms until true; false after `timeoutMs`. */
async function until(fn: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await sleep(100);
  }
  return false;
}

interface Proc {
  role: string;
  pid: number;
}

/** Per process figures for one phase. */
interface PhaseRow {
  role: string;
  cpuS: number;
  /** The kernel's share of cpuS, %. */
  sysPct: number;
  cpuPct: number;
  usPerMsg: number;
  rssMaxMiB: number;
}

interface Phase {
  messages: number;
  seconds: number;
  /** Start and end as /proc/uptime seconds (the clock of the CPU profiles' timestamps). */
  window: [number, number];
  loadavg1: number;
  otherCpuPct: number;
  procs: PhaseRow[];
}

function phase(
  procs: Proc[],
  a: MachineSample,
  b: MachineSample,
  rss: Map<number, number>,
  n: number,
): Phase {
  const iv = interval(a, b);
  return {
    messages: n,
    seconds: round1(iv.seconds),
    window: [a.uptimeS, b.uptimeS],
    loadavg1: iv.loadavg1,
    otherCpuPct: iv.otherPct,
    procs: procs.map((p) => {
      const cpu = iv.cpuS.get(p.pid) ?? 0;
      return {
        role: p.role,
        cpuS: Math.round(cpu * 100) / 100,
        sysPct: cpu > 0 ? Math.round(((iv.sysS.get(p.pid) ?? 0) / cpu) * 100) : 0,
        cpuPct: round1((cpu / iv.seconds) * 100),
        usPerMsg: Math.round((cpu / n) * 1e6),
        rssMaxMiB: mib(Math.max(rss.get(p.pid) ?? 0, b.procs.get(p.pid)?.rssKiB ?? 0)),
      };
    }),
  };
}

/** Something the scenario started and stops at the end. */
interface Stoppable {
  stop(): Promise<void>;
}

/** A node as the scenario uses it: a headless node process, or a node with its owner's client. */
type BenchNode = LinkableNode & { pid?: number; output: string; stop(): Promise<void> };

/** The nodes, the chat's two clients (their addresses) and every process to measure. */
interface Setup {
  nodes: BenchNode[];
  alice: ClientProc;
  bob: ClientProc;
  aliceAddr: string;
  bobAddr: string;
  procs: Proc[];
}

/**
 * Headless nodes, linked in a line, with alice's client on the first and bob's
 * on the last, each client a process of its own; whatever started is pushed on
 * `started` (clients are stopped first).
 */
async function separateProcesses(
  ids: string[],
  root: string,
  started: Stoppable[],
) {
  const nodes = await Promise.all(ids.map((id) => NodeProc.create({ id, root, open: true })));
  started.push(...nodes);
  for (let i = 0; i + 1 < nodes.length; i++) await link(nodes[i], nodes[i + 1]);
  const first = nodes[0];
  const last = nodes[nodes.length - 1];
  const start = async (name: string, node: NodeProc) => {
    const c = await ClientProc.startUser(node, name, root);
    started.push(c);
    return c;
  };
  const alice = await start("alice", first);
  const bob = await start("bob", last);
  return {
    nodes,
    alice,
    bob,
    aliceAddr: `alice@${first.id}`,
    bobAddr: `bob@${last.id}`,
    procs: [
      ...nodes.map((n) => ({ role: `node ${n.id}`, pid: n.pid! })),
      { role: "client alice", pid: alice.pid },
      { role: "client bob", pid: bob.pid },
    ],
  };
}

/**
 * `--one-process`: the first and the last node each with its owner's client
 * in its own process (alice is the first node's owner, bob the last's), as
 * users run them; the relays headless.
 */
async function oneProcessPerUser(
  ids: string[],
  root: string,
  started: Stoppable[],
) {
  const ends = [ids[0], ids[ids.length - 1]];
  const nodes: BenchNode[] = await Promise.all(
    ids.map((id) =>
      ends.includes(id)
        ? NodeClientProc.create({ id, root, open: true })
        : NodeProc.create({ id, root, open: true })
    ),
  );
  started.push(...nodes);
  for (let i = 0; i + 1 < nodes.length; i++) await link(nodes[i], nodes[i + 1]);
  const first = nodes[0] as NodeClientProc;
  const last = nodes[nodes.length - 1] as NodeClientProc;
  const role = (n: BenchNode) =>
    n === first ? `node ${n.id}+alice` : n === last ? `node ${n.id}+bob` : `node ${n.id}`;
  return {
    nodes,
    alice: first.client,
    bob: last.client,
    aliceAddr: first.address,
    bobAddr: last.address,
    procs: nodes.map((n) => ({ role: role(n), pid: n.pid! })),
  };
}

async function scenario(hops: 1 | 3) {
  const root = await tempRoot(`bench-msg-${hops}`);
  const ids = hops === 1 ? ["na", "nb"] : ["na", "r1", "r2", "nd"];
  const started: Stoppable[] = [];
  try {
    const set: Setup = await (ONE_PROCESS ? oneProcessPerUser : separateProcesses)(
      ids,
      root,
      started,
    );
    const { nodes, alice, bob, aliceAddr, bobAddr } = set;
    await alice.call("request", { to: bobAddr });
    await bob.call("waitRequest");
    await bob.call("accept", { from: aliceAddr });
    await alice.call("waitAccepted");

    const procs: Proc[] = [...set.procs, { role: "bench", pid: Deno.pid }];
    const pids = procs.map((p) => p.pid);
    const count = async (tag: string) => {
      const [b, a] = await Promise.all([
        bob.call<{ received: number }>("count", { tag }),
        alice.call<{ delivered: number }>("count", { tag }),
      ]);
      return { received: b.received, delivered: a.delivered };
    };
    /** Waits until bob has `n` of `tag` and alice has heard "delivered" for all of them. */
    const settle = async (tag: string, n: number) => {
      const got = await until(async () => (await count(tag)).received >= n, 600_000);
      const acked = await until(async () => (await count(tag)).delivered >= n, 60_000);
      return { got, acked };
    };

    // RSS with the chat set up and no traffic yet, then a warm-up: JIT, the link, SQLite pages.
    const fresh = await sample(pids);
    await alice.call("burst", { to: bobAddr, tag: "w", n: 500, window: 64 });
    await settle("w", 500);
    const idle0 = await sample(pids);
    await sleep(2000);
    const idle1 = await sample(pids);
    const idle = interval(idle0, idle1);

    // Sustained throughput.
    const t0 = await sample(pids);
    let watch = new RssWatch(pids);
    const burst = await alice.call<{ startMs: number; endMs: number }>("burst", {
      to: bobAddr,
      tag: "t",
      n: N,
      window: WINDOW,
    });
    const burstDone = await settle("t", N);
    const t1 = await sample(pids);
    const burstPhase = phase(procs, t0, t1, watch.stop(), N);
    const tStats = await bob.call<TagStats>("stats", { tag: "t" });
    const throughput = Math.round(N / ((tStats.lastMs - burst.startMs) / 1000));

    // Latency at 1,000 msg/s offered; client memory sampled halfway.
    await sleep(1000);
    const r0 = await sample(pids);
    watch = new RssWatch(pids);
    const memory = sleep((RATE_SECONDS * 1000) / 2).then(() =>
      Promise.all([alice.call<Deno.MemoryUsage>("memory"), bob.call<Deno.MemoryUsage>("memory")])
    );
    // Each node's V8 heap and external memory, halfway too (admin `memory`).
    const nodeMemory = sleep((RATE_SECONDS * 1000) / 2).then(() =>
      Promise.all(nodes.map((n) => n.admin("memory") as Promise<Deno.MemoryUsage>))
    );
    const rate = await alice.call<{ sent: number }>("rate", {
      to: bobAddr,
      tag: "l",
      rate: RATE,
      seconds: RATE_SECONDS,
    });
    const rateDone = await settle("l", rate.sent);
    const r1 = await sample(pids);
    const ratePhase = phase(procs, r0, r1, watch.stop(), rate.sent);
    const lStats = await bob.call<TagStats>("stats", { tag: "l" });
    if (Deno.env.get("FEDCHAT_TRACE")) {
      // For tail analysis by hand (bench/_stall_watch.ts): every latency, the roles' pids, and
      // what each process printed (--trace-gc lines with FEDCHAT_V8_FLAGS=...,--trace-gc).
      const samples = await bob.call<number[]>("samples", { tag: "l" });
      const outputs = Object.fromEntries(
        [...nodes, ...started.filter((p) => p instanceof ClientProc)].map((p) => [p.pid, p.output]),
      );
      await Deno.writeTextFile(
        `.tmp/trace/run-${hops}.json`,
        JSON.stringify({ procs, window: ratePhase.window, samples, outputs }),
      );
    }
    const [aliceMem, bobMem] = await memory;
    const nodeMems = await nodeMemory;

    const rows = procs.map((p) => {
      const s = r1.procs.get(p.pid)!;
      return {
        role: p.role,
        pid: p.pid,
        rssMiB: mib(s.rssKiB),
        peakMiB: mib(s.hwmKiB),
        anonMiB: mib(s.anonKiB),
        fileMiB: mib(s.fileKiB),
        shmemMiB: mib(s.shmemKiB),
        freshMiB: mib(fresh.procs.get(p.pid)!.rssKiB),
        idleMiB: mib(idle1.procs.get(p.pid)!.rssKiB),
        idleCpuPct: round1(((idle.cpuS.get(p.pid) ?? 0) / idle.seconds) * 100),
      };
    });
    // With FEDCHAT_V8_FLAGS=--max-semi-space-size=1,--trace-gc, each node prints its V8 heap
    // after every GC.
    const nodeHeap = Object.fromEntries(nodes.map((n) => [n.id, lastGcHeap(n.output)]));
    const heap = (m: Deno.MemoryUsage) => ({
      rssMiB: mib(m.rss / 1024),
      heapUsedMiB: mib(m.heapUsed / 1024),
      heapTotalMiB: mib(m.heapTotal / 1024),
      externalMiB: mib(m.external / 1024),
    });
    return {
      hops,
      messages: N,
      window: WINDOW,
      throughput,
      lost: N - tStats.received,
      duplicates: tStats.duplicates,
      allDeliveredNoticed: burstDone.acked,
      burstLatencyMs: tStats.latencyMs,
      rate: {
        offered: RATE,
        seconds: RATE_SECONDS,
        sent: rate.sent,
        lost: rate.sent - lStats.received,
        duplicates: lStats.duplicates,
        allDeliveredNoticed: rateDone.acked,
        latencyMs: lStats.latencyMs,
      },
      processes: rows,
      burstPhase,
      ratePhase,
      clientMemoryAtRate: { alice: heap(aliceMem), bob: heap(bobMem) },
      nodeMemoryAtRate: Object.fromEntries(nodes.map((n, i) => [n.id, heap(nodeMems[i])])),
      nodeHeapAfterLastGc: nodeHeap,
    };
  } finally {
    const clients = started.filter((p) => p instanceof ClientProc);
    await Promise.all(clients.map((c) => c.stop()));
    await Promise.all(started.filter((p) => !(p instanceof ClientProc)).map((n) => n.stop()));
  }
}

type Result = Awaited<ReturnType<typeof scenario>>;

/** The V8 heap (used and committed, MiB) after the last GC a --trace-gc process printed. */
function lastGcHeap(output: string): { usedMiB: number; committedMiB: number } | null {
  const all = [...output.matchAll(/-> (\d+\.\d+) \((\d+\.\d+)\) MB/g)];
  const m = all.at(-1);
  return m ? { usedMiB: Number(m[1]), committedMiB: Number(m[2]) } : null;
}

function print(r: Result): void {
  const b = r.burstPhase, l = r.ratePhase;
  console.log(
    `${r.hops} hop(s)${
      ONE_PROCESS ? ", one process per user" : ""
    }: ${r.throughput} msg/s sustained (${r.messages} messages, window ${r.window}, ` +
      `${r.lost} lost, ${r.duplicates} duplicated; load ${b.loadavg1}, other processes ${b.otherCpuPct}% CPU)`,
  );
  console.log(
    `  at ${r.rate.offered} msg/s for ${r.rate.seconds} s: p50 ${r.rate.latencyMs.p50} ms, ` +
      `p90 ${r.rate.latencyMs.p90} ms, p99 ${r.rate.latencyMs.p99} ms, max ${r.rate.latencyMs.max} ms ` +
      `(${r.rate.lost} lost, ${r.rate.duplicates} duplicated; load ${l.loadavg1}, other processes ${l.otherCpuPct}% CPU)`,
  );
  const pad = (s: string | number, w: number) => String(s).padStart(w);
  console.log(
    `  ${"process".padEnd(13)} ${pad("RSS", 6)} ${pad("peak", 6)} ${pad("max@max", 8)} ${
      pad("max@1k", 7)
    } ${pad("CPU s@max", 10)} ${pad("µs/msg@max", 11)} ${pad("CPU%@1k", 8)} ${
      pad("µs/msg@1k", 10)
    } ${pad("sys%@max", 9)} ${pad("idle CPU%", 10)}`,
  );
  for (const [i, p] of r.processes.entries()) {
    const pb = b.procs[i], pl = l.procs[i];
    console.log(
      `  ${p.role.padEnd(13)} ${pad(p.rssMiB, 6)} ${pad(p.peakMiB, 6)} ${pad(pb.rssMaxMiB, 8)} ${
        pad(pl.rssMaxMiB, 7)
      } ${pad(pb.cpuS, 10)} ${pad(pb.usPerMsg, 11)} ${pad(pl.cpuPct, 8)} ${pad(pl.usPerMsg, 10)} ${
        pad(pb.sysPct, 9)
      } ${pad(p.idleCpuPct, 10)}`,
    );
  }
  const sum = (ph: Phase) =>
    ph.procs.filter((p) => p.role !== "bench").reduce((s, p) => s + p.usPerMsg, 0);
  console.log(
    `  all fedchat processes: ${sum(b)} µs CPU per message at max, ${sum(l)} µs at 1,000 msg/s ` +
      `(MiB: RSS now, peak VmHWM, highest sample at max and at 1k; sys%: kernel share of the CPU)`,
  );
  console.log(
    `  RSS before traffic / after a 500-message warm-up: ${
      r.processes.map((p) => `${p.role} ${p.freshMiB}/${p.idleMiB}`).join(", ")
    } MiB`,
  );
  console.log(
    `  RSS now = anonymous + file-backed + shared: ${
      r.processes.map((p) => `${p.role} ${p.anonMiB}+${p.fileMiB}+${p.shmemMiB}`).join(", ")
    }`,
  );
  for (const [node, h] of Object.entries(r.nodeHeapAfterLastGc)) {
    if (h) {
      console.log(
        `  node ${node} V8 heap after its last GC: ${h.usedMiB} used of ${h.committedMiB} MB`,
      );
    }
  }
  for (const [who, m] of Object.entries(r.clientMemoryAtRate)) {
    console.log(
      `  client ${who} at 1k: rss ${m.rssMiB} MiB, V8 heap used ${m.heapUsedMiB} of ${m.heapTotalMiB} MiB, external ${m.externalMiB} MiB`,
    );
  }
  for (const [who, m] of Object.entries(r.nodeMemoryAtRate)) {
    console.log(
      `  node ${who} at 1k: rss ${m.rssMiB} MiB, V8 heap used ${m.heapUsedMiB} of ${m.heapTotalMiB} MiB, external ${m.externalMiB} MiB`,
    );
  }
}

// ---- main ----

const results: Result[] = [];
for (const hops of HOPS) {
  const r = await scenario(hops);
  print(r);
  results.push(r);
}

let vsProsody: unknown = undefined;
if (VS_PROSODY) {
  const one = results.find((r) => r.hops === 1);
  vsProsody = await compareWithProsody(
    one && { throughput: one.throughput, p50: one.rate.latencyMs.p50, p99: one.rate.latencyMs.p99 },
  );
}

console.log(
  JSON.stringify({
    bench: "messaging",
    ...(ONE_PROCESS ? { mode: "one-process" } : {}),
    results,
    ...(vsProsody ? { prosody: vsProsody } : {}),
    targets: {
      msgPerSec1Hop: 10_000,
      msgPerSec3Hops: 7_000,
      p99Ms1Hop: 5,
      p99Ms3Hops: 10,
      nodeRssMiB: 80,
      clientRssMiB: 80,
    },
  }),
);
