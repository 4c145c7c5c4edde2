/**
 * Routing benchmark, simulated (fake signatures, simulated clock, 20 ms per hop), with the
 * routing-origin budgets on (see limitsFor): random connected meshes (average degree 4) of
 * 1,000 to 10,000 nodes. Measures, for the cold start and for the failure of 1 % of nodes
 * (from failure detection): simulated time to converge, wall and CPU time, events,
 * announcements and the link messages (batches) that carried them, and traffic per link
 * (average, median, 99th percentile, maximum); steady-state traffic per link (measured when
 * --steady-min > 0, else estimated from the refresh interval); routing state per node (its
 * origins and per-origin columns, the simulation's heap and outside-heap memory per node,
 * where announcements are shared, and a real node holding its own decoded copies). Prints
 * human lines, then one JSON line. CPU time is the process's (user + system): on a shared
 * machine it, not the wall time, says what the work costs.
 *
 *   deno task bench routing [--sizes=1000,2000,10000] [--steady-min=30] [--seed=1] \
 *     [--budget=900] [--limits=federation|default]
 *
 * (bench/mod.ts runs it with `--expose-gc` and a 12,000 MB old space.)
 */
import process from "node:process";
import { toNodeId, toUserName } from "../lib/ids.ts";
import { Budget } from "../lib/budget.ts";
import { sample as sampleProcs } from "./_proc.ts";
import {
  decodeAnnouncement,
  DEFAULT_ORIGIN_LIMITS,
  type OriginLimits,
  Simulation,
  UNKNOWN_ORIGIN,
} from "../lib/federation/routing/mod.ts";
import { LinkStateDb } from "../lib/federation/routing/link_state_db.ts";
import { mulberry32 } from "./_prng.ts";

const HOP_DELAY_MS = 20;
const ENCODER = new TextEncoder();
const SETTLE_LIMIT_MS = 120_000;

interface Figures {
  nodes: number;
  links: number;
  diameterSample: number;
  convergeMs: number;
  reconvergeMs: number;
  killed: number;
  steadyBytesPerLinkPerMin: number;
  steadyMeasured: boolean;
  steadyWindowMin: number;
  presenceBytesPerLinkPerMin?: number;
  /** Both directions of a link together, cold start and failure. */
  convergeBytesPerLinkAvg: number;
  convergeBytesPerLinkMax: number;
  convergeMessagesPerLinkAvg: number;
  coldStart: PhaseFigures;
  failure: PhaseFigures;
  announcementBytesAvg: number;
  stateWireBytesPerNode: number;
  /** Origins a live node holds, and the bytes of its per-origin columns. */
  stateOriginsPerNode: number;
  stateColumnBytesPerNode: number;
  realNodeHeapBytes: number;
  simHeapBytesPerNode: number;
  simExternalBytesPerNode: number;
  simRssBytesPerNode: number;
  /** Distinct announcements held by the whole simulation (shared by every router). */
  sharedAnnouncements: number;
  refusals: Record<string, number>;
  routeProblemsInSample: number;
  events: number;
  messagesDelivered: number;
  convergeWallSeconds: number;
  convergeCpuSeconds: number;
  wallSeconds: number;
  cpuSeconds: number;
  /** The process's peak RSS so far (VmHWM; sizes run in one process, so it only grows). */
  peakRssBytes: number;
  /** The V8 heap's total size at the end, before the closing collection. */
  heapTotalBytes: number;
}

/** What one phase (cold start, failure) cost and carried. */
interface PhaseFigures {
  simulatedMs: number;
  wallSeconds: number;
  cpuSeconds: number;
  events: number;
  /** Announcements delivered, and the link messages (batches) that carried them. */
  announcements: number;
  linkMessages: number;
  /** Per link, both directions together: bytes and link messages, by percentile. */
  bytesPerLink: Percentiles;
  linkMessagesPerLink: Percentiles;
  announcementsPerLinkAvg: number;
}

interface Percentiles {
  avg: number;
  p50: number;
  p99: number;
  max: number;
}

/** Writes one line to stdout (a benchmark's output is its purpose). */
function print(line: string): void {
  Deno.stdout.writeSync(ENCODER.encode(`${line}\n`));
}

interface Args {
  sizes: number[];
  steadyMin: number;
  seed: number;
  budgetSeconds: number;
  /** "federation": defaults, one neighbour's provisional count raised to the total; "default". */
  limits: "federation" | "default";
}

function parseArgs(): Args {
  const get = (name: string) => Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  const limits = get("limits") ?? "federation";
  if (limits !== "federation" && limits !== "default") {
    throw new RangeError(`Cannot run: --limits=${limits}, not "federation" or "default"`);
  }
  return {
    sizes: (get("sizes") ?? "1000,2000,10000").split(",").map(Number),
    steadyMin: Number(get("steady-min") ?? 30),
    seed: Number(get("seed") ?? 1),
    budgetSeconds: Number(get("budget") ?? 900),
    limits,
  };
}

/**
 * The origin budgets the routers run with. Budgets are always on. In a flat random mesh
 * most origins reach a node through one neighbour only (the others hear them from the node
 * first), so at 10,000 nodes up to 8,408 honest origins are provisional through a single
 * neighbour, past the default 4,096 per neighbour: "federation" raises that one count to
 * the provisional total (16,384), as config.conf advises for a neighbour that is a node's
 * only way into a large federation; every other budget keeps its default.
 */
function limitsFor(kind: Args["limits"]): OriginLimits {
  if (kind === "default") return { ...DEFAULT_ORIGIN_LIMITS };
  return {
    ...DEFAULT_ORIGIN_LIMITS,
    maxProvisionalPerPeer: DEFAULT_ORIGIN_LIMITS.maxProvisionalTotal,
  };
}

/** A connected random graph: a random tree, every leaf given a second edge, then random edges to 2n. */
function randomMesh(n: number, random: () => number): [number, number][] {
  const edges = new Set<string>();
  const degree = new Array(n).fill(0);
  const add = (a: number, b: number) => {
    if (a === b) return false;
    const key = a < b ? `${a},${b}` : `${b},${a}`;
    if (edges.has(key)) return false;
    edges.add(key);
    degree[a]++;
    degree[b]++;
    return true;
  };
  for (let i = 1; i < n; i++) add(i, Math.floor(random() * i));
  for (let i = 0; i < n; i++) while (degree[i] < 2) add(i, Math.floor(random() * n));
  while (edges.size < 2 * n) add(Math.floor(random() * n), Math.floor(random() * n));
  return [...edges].map((e) => e.split(",").map(Number) as [number, number]);
}

function connectedWithout(n: number, adj: number[][], dead: Set<number>): boolean {
  const start = [...Array(n).keys()].find((i) => !dead.has(i))!;
  const seen = new Set([start]);
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    for (const j of adj[queue[i]]) {
      if (!dead.has(j) && !seen.has(j)) {
        seen.add(j);
        queue.push(j);
      }
    }
  }
  return seen.size === n - dead.size;
}

function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const avg = sorted.reduce((x, y) => x + y, 0) / Math.max(1, sorted.length);
  return { avg: Math.round(avg), p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}

/** Traffic per link (both directions together) so far, keyed by the link. */
function trafficPerLink(sim: Simulation): Map<string, LinkTotals> {
  const perLink = new Map<string, LinkTotals>();
  for (const t of sim.linkTraffic()) {
    const key = t.from < t.to ? `${t.from}|${t.to}` : `${t.to}|${t.from}`;
    const e = perLink.get(key) ?? { bytes: 0, messages: 0, frames: 0 };
    e.bytes += t.bytes;
    e.messages += t.messages;
    e.frames += t.frames;
    perLink.set(key, e);
  }
  return perLink;
}

interface LinkTotals {
  bytes: number;
  messages: number;
  frames: number;
}

/** Measures a phase: simulated time, wall and CPU time, events and traffic. */
class Phase {
  #sim: Simulation;
  #wall = performance.now();
  #cpu = process.cpuUsage();
  #events: number;
  #delivered: number;
  #frames: number;
  #links: Map<string, LinkTotals>;

  constructor(sim: Simulation) {
    this.#sim = sim;
    this.#events = sim.clock.eventsRun;
    this.#delivered = sim.messagesDelivered;
    this.#frames = sim.framesSent;
    this.#links = trafficPerLink(sim);
  }

  end(simulatedMs: number, links: readonly string[]): PhaseFigures {
    const cpu = process.cpuUsage(this.#cpu);
    const sim = this.#sim;
    const now = trafficPerLink(sim);
    const zero = { bytes: 0, messages: 0, frames: 0 };
    const delta = links.map((key) => {
      const a = now.get(key) ?? zero;
      const b = this.#links.get(key) ?? zero;
      return {
        bytes: a.bytes - b.bytes,
        messages: a.messages - b.messages,
        frames: a.frames - b.frames,
      };
    });
    return {
      simulatedMs,
      wallSeconds: round1((performance.now() - this.#wall) / 1000),
      cpuSeconds: round1((cpu.user + cpu.system) / 1e6),
      events: sim.clock.eventsRun - this.#events,
      announcements: sim.messagesDelivered - this.#delivered,
      linkMessages: sim.framesSent - this.#frames,
      bytesPerLink: percentiles(delta.map((d) => d.bytes)),
      linkMessagesPerLink: percentiles(delta.map((d) => d.frames)),
      announcementsPerLinkAvg: Math.round(
        delta.reduce((x, d) => x + d.messages, 0) / Math.max(1, delta.length),
      ),
    };
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function describe(what: string, p: PhaseFigures): string {
  return `${what}: ${p.simulatedMs} ms simulated, ${p.wallSeconds} s wall, ${p.cpuSeconds} s CPU, ` +
    `${p.events} events, ${p.announcements} announcements in ${p.linkMessages} link messages; ` +
    `per link ${(p.bytesPerLink.avg / 1024).toFixed(1)} KiB average ` +
    `(p50 ${(p.bytesPerLink.p50 / 1024).toFixed(1)}, p99 ${
      (p.bytesPerLink.p99 / 1024).toFixed(1)
    }, ` +
    `max ${
      (p.bytesPerLink.max / 1024).toFixed(1)
    } KiB), ${p.announcementsPerLinkAvg} announcements ` +
    `in ${p.linkMessagesPerLink.avg} link messages average (max ${p.linkMessagesPerLink.max})`;
}

async function benchOne(
  n: number,
  { steadyMin, seed, limits }: { steadyMin: number; seed: number; limits: OriginLimits },
): Promise<Figures> {
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const cpuSeconds = () => {
    const u = process.cpuUsage(cpuStart);
    return (u.user + u.system) / 1e6;
  };
  const random = mulberry32(seed);
  const id = (i: number) => toNodeId(`n${i}`);
  const edges = randomMesh(n, random);
  const adj: number[][] = Array.from({ length: n }, () => []);
  for (const [a, b] of edges) adj[a].push(b), adj[b].push(a);
  const linkKeys = edges.map(([a, b]) => {
    const [x, y] = [id(a), id(b)];
    return x < y ? `${x}|${y}` : `${y}|${x}`;
  });

  // Convergence tracking, by the simulation's shared origin index: latest seq per origin,
  // and how many live nodes hold it.
  let latest = new Uint32Array(n);
  let holders = new Uint32Array(n);
  let live = n;
  let complete = 0; // origins held at their latest seq by every live node
  let lastChangeMs = 0;
  const refusals: Record<string, number> = {};
  const grow = (i: number) => {
    if (i < latest.length) return;
    const [l, h] = [new Uint32Array(2 * i), new Uint32Array(2 * i)];
    l.set(latest), h.set(holders);
    [latest, holders] = [l, h];
  };
  const sim: Simulation = new Simulation({
    hopDelayMs: HOP_DELAY_MS,
    routerOptions: { random, purgeIntervalMs: 10 * 60_000, limits },
    observer: {
      rejected(_at, _from, reason) {
        refusals[reason] = (refusals[reason] ?? 0) + 1;
      },
      announced(at, a) {
        const i = sim.index.find(at);
        grow(i);
        if (holders[i] === live) complete--;
        latest[i] = a.seq;
        holders[i] = 1;
        lastChangeMs = sim.clock.nowMs();
      },
      accepted(_at, origin, seq) {
        lastChangeMs = sim.clock.nowMs();
        const i = sim.index.find(origin);
        if (latest[i] !== seq) return;
        if (++holders[i] === live) complete++;
      },
    },
  });
  const runToConvergence = (): number => {
    // First let every rate-limited re-announcement go out, so "complete" is about them.
    sim.clock.runUntil(sim.clock.nowMs() + 1_100);
    const deadline = sim.clock.nowMs() + SETTLE_LIMIT_MS;
    while (complete !== live && sim.clock.nowMs() < deadline) {
      sim.clock.runUntil(sim.clock.nowMs() + 100);
    }
    if (complete !== live) {
      throw new Error(
        `Cannot converge: ${complete} of ${live} origins complete after ${SETTLE_LIMIT_MS} ms; ` +
          `refusals ${JSON.stringify(refusals)}`,
      );
    }
    return lastChangeMs;
  };

  for (let i = 0; i < n; i++) {
    await sim.addNode(id(i), {
      users: [
        { name: toUserName(`owner${i}`), presence: "online" },
        { name: toUserName(`guest${i}`), presence: "offline" },
      ],
    });
  }
  const t0 = sim.clock.nowMs();
  const cold = new Phase(sim);
  for (const [a, b] of edges) sim.connect(id(a), id(b));
  const convergeMs = runToConvergence() - t0;
  const coldStart = cold.end(convergeMs, linkKeys);
  const convergeWallSeconds = (performance.now() - wallStart) / 1000;
  const convergeCpuSeconds = cpuSeconds();
  print(`${n} nodes, ${edges.length} links`);
  print(describe("  cold start converged", coldStart));

  // Kill 1 %, keeping the rest connected, so that "converged" has one meaning.
  const k = Math.max(1, Math.round(n / 100));
  let dead = new Set<number>();
  do {
    dead = new Set();
    while (dead.size < k) dead.add(Math.floor(random() * n));
  } while (!connectedWithout(n, adj, dead));
  sim.clock.runUntil(sim.clock.nowMs() + 5_000);
  const failing = new Phase(sim);
  const tFail = sim.clock.nowMs();
  for (const i of dead) sim.kill(id(i));
  live = n - k;
  // The dead held copies too: take theirs off the count.
  const liveIds = sim.ids();
  for (const d of dead) {
    const router = sim.router(id(d));
    for (const origin of liveIds) {
      const i = sim.index.find(origin);
      if (router.announcementOf(origin)?.seq === latest[i]) holders[i]--;
    }
  }
  complete = 0;
  for (const origin of liveIds) if (holders[sim.index.find(origin)] === live) complete++;
  const reconvergeMs = runToConvergence() - tFail;
  const failure = failing.end(reconvergeMs, linkKeys);
  print(describe(`  killed ${k} nodes (1 %), re-converged after detection`, failure));

  // Route check on a sample against BFS truth.
  let routeProblemsInSample = 0;
  let diameterSample = 0;
  for (let s = 0; s < 10; s++) {
    const who = liveIds[Math.floor(random() * liveIds.length)];
    routeProblemsInSample += sim.checkRoutes(who).length;
    for (const d of sim.trueDistances(who).values()) diameterSample = Math.max(diameterSample, d);
  }
  print(
    `  route check on 10 nodes: ${routeProblemsInSample} problems; eccentricity up to ${diameterSample}`,
  );

  // Traffic per link so far (cold start and failure), both directions together.
  const perLink = [...trafficPerLink(sim).values()];
  const linkBytes = perLink.map((e) => e.bytes);
  const convergeBytesPerLinkAvg = linkBytes.reduce((x, y) => x + y, 0) / linkBytes.length;
  const convergeBytesPerLinkMax = Math.max(...linkBytes);
  const convergeMessagesPerLinkAvg = perLink.reduce((x, e) => x + e.messages, 0) / perLink.length;

  // Steady state: refreshes only (10 min ± 10 %), then with presence changes.
  const liveLinks = edges.filter(([a, b]) => !dead.has(a) && !dead.has(b)).length;
  let steadyBytesPerLinkPerMin: number;
  let presenceBytesPerLinkPerMin: number | undefined;
  const sample0 = sim.router(liveIds[0]);
  let wireSum = 0;
  let wireCount = 0;
  for (const row of sample0.table()) {
    wireSum += sample0.announcementOf(row.node)!.bytes.length + 4;
    wireCount++;
  }
  if (steadyMin > 0) {
    sim.clock.runUntil(sim.clock.nowMs() + 15 * 60_000); // past the start-up wave of refreshes
    let bytes0 = sim.bytesSent;
    sim.clock.runUntil(sim.clock.nowMs() + steadyMin * 60_000);
    steadyBytesPerLinkPerMin = (sim.bytesSent - bytes0) / liveLinks / steadyMin;
    print(
      `  steady state (refresh only, ${steadyMin} min): ${
        steadyBytesPerLinkPerMin.toFixed(0)
      } B per link per minute` +
        ` (${(steadyBytesPerLinkPerMin / 120).toFixed(1)} B/s each way)`,
    );
    // Presence: every node changes one user's presence every 10 minutes on average.
    const presenceMin = Math.min(steadyMin, 5);
    const changes = Math.round((liveIds.length * presenceMin) / 10);
    for (let c = 0; c < changes; c++) {
      const who = Number(liveIds[Math.floor(random() * liveIds.length)].slice(1));
      sim.clock.setTimer(() => {
        sim.router(id(who)).setUsers([
          { name: toUserName(`owner${who}`), presence: random() < 0.5 ? "online" : "offline" },
          { name: toUserName(`guest${who}`), presence: "offline" },
        ]);
      }, random() * presenceMin * 60_000);
    }
    bytes0 = sim.bytesSent;
    sim.clock.runUntil(sim.clock.nowMs() + presenceMin * 60_000);
    presenceBytesPerLinkPerMin = (sim.bytesSent - bytes0) / liveLinks / presenceMin;
    print(
      `  with presence changes (one per node per 10 min, ${presenceMin} min): ` +
        `${presenceBytesPerLinkPerMin.toFixed(0)} B per link per minute`,
    );
  } else {
    // Every origin refreshes once per 10 minutes and each refresh crosses every link about
    // once (in one direction or the other).
    steadyBytesPerLinkPerMin = (wireCount + 1) * (wireSum / wireCount) / 10;
    print(
      `  steady state (estimated: one refresh per origin per 10 min crossing each link once): ` +
        `${steadyBytesPerLinkPerMin.toFixed(0)} B per link per minute`,
    );
  }

  // State per node: in the simulation (shared announcements, measured over the process),
  // and for a real node, which decodes its own copy of every announcement.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const mem = Deno.memoryUsage();
  const simHeapBytesPerNode = mem.heapUsed / n;
  const simExternalBytesPerNode = mem.external / n;
  const simRssBytesPerNode = mem.rss / n;
  const sample = sim.router(liveIds[0]);
  const stats = sample.stats();
  const copies = sample.table().map((r) => sample.announcementOf(r.node)!.bytes.slice());
  const wire = copies.reduce((x, b) => x + b.length + 4, 0);
  gc?.();
  const before = Deno.memoryUsage();
  const budget = (name: string) => new Budget(name, { perKey: Infinity, total: Infinity });
  const db = new LinkStateDb({
    budgets: {
      origins: budget("o"),
      provisional: budget("p"),
      provisionalBytes: budget("b"),
    },
  });
  for (const bytes of copies) {
    const a = decodeAnnouncement(bytes);
    db.set(a.origin, {
      ...UNKNOWN_ORIGIN,
      key: a.publicKey,
      trust: "confirmed",
      seq: a.seq,
      announcement: a,
      expiresAtMs: 1,
    });
  }
  gc?.();
  const after = Deno.memoryUsage();
  const realNodeHeapBytes = after.heapUsed + after.external - before.heapUsed - before.external;
  const announcementBytesAvg = wire / copies.length;
  print(
    `  state per node: ${stats.origins} origins (${stats.live} live announcements), ` +
      `${(stats.columnBytes / 1024).toFixed(0)} KiB of per-origin columns; ` +
      `${(wire / 1024).toFixed(0)} KiB of announcements on the wire; ` +
      `a real node holds about ${(realNodeHeapBytes / 1024).toFixed(0)} KiB (${
        (realNodeHeapBytes / wire).toFixed(1)
      }× the wire); the simulation ${(simHeapBytesPerNode / 1024).toFixed(1)} KiB heap + ${
        (simExternalBytesPerNode / 1024).toFixed(0)
      } KiB outside the heap, ${(simRssBytesPerNode / 1024).toFixed(0)} KiB RSS per node, ` +
      `${sim.table.live} announcements shared by all`,
  );
  print(`  refusals: ${JSON.stringify(refusals)}`);
  for (const i of liveIds) sim.router(i).stop();
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const cpuTotal = cpuSeconds();
  // VmHWM; 0 where /proc cannot tell (bench/_proc.ts reads it with --allow-run).
  const peakRssBytes = ((await sampleProcs([Deno.pid])).procs.get(Deno.pid)?.hwmKiB ?? 0) * 1024;
  print(
    `  wall time ${wallSeconds.toFixed(1)} s (${cpuTotal.toFixed(1)} s CPU), ` +
      `${sim.clock.eventsRun} simulated events, ` +
      `${sim.messagesDelivered} announcements delivered in ${sim.framesSent} link messages; ` +
      `peak RSS ${(peakRssBytes / 2 ** 20).toFixed(0)} MiB, V8 heap ${
        (mem.heapTotal / 2 ** 20).toFixed(0)
      } MiB (${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB used after a full collection)\n`,
  );
  return {
    nodes: n,
    links: edges.length,
    diameterSample,
    convergeMs,
    reconvergeMs,
    killed: k,
    steadyBytesPerLinkPerMin: Math.round(steadyBytesPerLinkPerMin),
    steadyMeasured: steadyMin > 0,
    steadyWindowMin: steadyMin,
    ...(presenceBytesPerLinkPerMin !== undefined
      ? { presenceBytesPerLinkPerMin: Math.round(presenceBytesPerLinkPerMin) }
      : {}),
    convergeBytesPerLinkAvg: Math.round(convergeBytesPerLinkAvg),
    convergeBytesPerLinkMax,
    convergeMessagesPerLinkAvg: Math.round(convergeMessagesPerLinkAvg),
    coldStart,
    failure,
    announcementBytesAvg: Math.round(announcementBytesAvg),
    stateWireBytesPerNode: wire,
    stateOriginsPerNode: stats.origins,
    stateColumnBytesPerNode: stats.columnBytes,
    realNodeHeapBytes,
    simHeapBytesPerNode: Math.round(simHeapBytesPerNode),
    simExternalBytesPerNode: Math.round(simExternalBytesPerNode),
    simRssBytesPerNode: Math.round(simRssBytesPerNode),
    sharedAnnouncements: sim.table.live,
    refusals,
    routeProblemsInSample,
    events: sim.clock.eventsRun,
    messagesDelivered: sim.messagesDelivered,
    convergeWallSeconds: round1(convergeWallSeconds),
    convergeCpuSeconds: round1(convergeCpuSeconds),
    wallSeconds: round1(wallSeconds),
    cpuSeconds: round1(cpuTotal),
    peakRssBytes,
    heapTotalBytes: mem.heapTotal,
  };
}

interface Skipped {
  nodes: number;
  skipped: string;
  estimatedEvents: number;
  estimatedWallSeconds: number;
  estimatedStateWireBytesPerNode: number;
  estimatedStateHeapBytesPerNode: number;
  estimatedSteadyBytesPerLinkPerMin: number;
}

/**
 * Flooding costs O(nodes × links) deliveries per wave of announcements, and every node holds
 * every announcement: from the last size run, estimates a size that would not fit the wall
 * budget instead of running it.
 */
function estimate(n: number, last: Figures): Skipped {
  const scale = (n * 2 * n) / (last.nodes * last.links);
  const perNode = n / last.nodes;
  return {
    nodes: n,
    skipped: `over the ${budgetSeconds} s wall budget: ${n} × ${2 * n} deliveries per flood wave ` +
      `in one JS process (run with --budget=N to try)`,
    estimatedEvents: Math.round(last.events * scale),
    estimatedWallSeconds: Math.round(last.wallSeconds * scale),
    estimatedStateWireBytesPerNode: Math.round(last.stateWireBytesPerNode * perNode),
    estimatedStateHeapBytesPerNode: Math.round(last.realNodeHeapBytes * perNode),
    // Each refresh crosses each link about as often at any size; the count of origins scales.
    estimatedSteadyBytesPerLinkPerMin: Math.round(last.steadyBytesPerLinkPerMin * perNode),
  };
}

const args = parseArgs();
const { sizes, steadyMin, seed, budgetSeconds } = args;
const limits = limitsFor(args.limits);
print(`origin budgets (${args.limits}): ${JSON.stringify(limits)}`);
const results: (Figures | Skipped)[] = [];
let last: Figures | undefined;
for (const n of sizes) {
  const guess = last && estimate(n, last);
  if (guess && guess.estimatedWallSeconds > budgetSeconds) {
    print(`${n} nodes: not run, ${guess.skipped}; estimated ${guess.estimatedWallSeconds} s`);
    print(
      `  estimates: ${guess.estimatedSteadyBytesPerLinkPerMin} B per link per minute at steady state, ` +
        `${(guess.estimatedStateWireBytesPerNode / 1024 / 1024).toFixed(1)} MiB wire / ` +
        `${
          (guess.estimatedStateHeapBytesPerNode / 1024 / 1024).toFixed(1)
        } MiB heap of state per node\n`,
    );
    results.push(guess);
    continue;
  }
  last = await benchOne(n, { steadyMin, seed, limits });
  results.push(last);
}
print(JSON.stringify({
  bench: "routing",
  hopDelayMs: HOP_DELAY_MS,
  refreshMs: 600_000,
  lifetimeMs: 3_600_000,
  limits,
  limitsKind: args.limits,
  minAnnounceIntervalMs: 1000,
  results,
}));
