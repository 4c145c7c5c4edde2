/**
 * Routing benchmark, simulated (fake signatures, simulated clock, 20 ms per hop), with the
 * routing-origin budgets on (defaults): random connected meshes (average degree 4) of
 * 1,000 to 10,000 nodes. Measures time to converge from a cold start, time to re-converge
 * after 1 % of nodes die (from failure detection), traffic per link (measured during
 * convergence and failure, and at steady state when --steady-min > 0, else estimated from
 * the refresh interval), routing state per node (in the simulation, where announcements
 * are shared, and for a real node holding its own decoded copies), and wall time. Prints
 * human lines, then one JSON line.
 *
 *   deno run -A --v8-flags=--max-old-space-size=8192,--expose-gc bench/routing.ts \
 *     [--sizes=1000,2000,10000] [--steady-min=30] [--seed=1] [--budget=900]
 */
import process from "node:process";
import { type NodeId, toNodeId, toUserName } from "../lib/ids.ts";
import { Budget } from "../lib/budget.ts";
import {
  decodeAnnouncement,
  DEFAULT_ORIGIN_LIMITS,
  Simulation,
  UNKNOWN_ORIGIN,
} from "../lib/federation/routing/mod.ts";
import { LinkStateDb } from "../lib/federation/routing/link_state_db.ts";

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
  convergeBytesPerLinkAvg: number;
  convergeBytesPerLinkMax: number;
  convergeMessagesPerLinkAvg: number;
  announcementBytesAvg: number;
  stateWireBytesPerNode: number;
  realNodeHeapBytes: number;
  simHeapBytesPerNode: number;
  simRssBytesPerNode: number;
  refusals: Record<string, number>;
  routeProblemsInSample: number;
  events: number;
  messagesDelivered: number;
  convergeWallSeconds: number;
  convergeCpuSeconds: number;
  wallSeconds: number;
  cpuSeconds: number;
}

/** Writes one line to stdout (a benchmark's output is its purpose). */
function print(line: string): void {
  Deno.stdout.writeSync(ENCODER.encode(`${line}\n`));
}

function parseArgs(): { sizes: number[]; steadyMin: number; seed: number; budgetSeconds: number } {
  const get = (name: string) => Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  return {
    sizes: (get("sizes") ?? "1000,2000,10000").split(",").map(Number),
    steadyMin: Number(get("steady-min") ?? 30),
    seed: Number(get("seed") ?? 1),
    budgetSeconds: Number(get("budget") ?? 900),
  };
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
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

async function benchOne(n: number, steadyMin: number, seed: number): Promise<Figures> {
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

  // Convergence tracking: latest seq per origin, and how many live nodes hold it.
  const latest = new Map<NodeId, number>();
  const holders = new Map<NodeId, number>();
  let live = n;
  let complete = 0; // origins held at their latest seq by every live node
  let lastChangeMs = 0;
  const refusals: Record<string, number> = {};
  const sim = new Simulation({
    hopDelayMs: HOP_DELAY_MS,
    routerOptions: { random, purgeIntervalMs: 10 * 60_000, limits: DEFAULT_ORIGIN_LIMITS },
    observer: {
      rejected(_at, _from, reason) {
        refusals[reason] = (refusals[reason] ?? 0) + 1;
      },
      announced(at, a) {
        if (holders.get(at) === live) complete--;
        latest.set(at, a.seq);
        holders.set(at, 1);
        lastChangeMs = sim.clock.nowMs();
      },
      accepted(_at, origin, seq) {
        lastChangeMs = sim.clock.nowMs();
        if (latest.get(origin) !== seq) return;
        const h = holders.get(origin)! + 1;
        holders.set(origin, h);
        if (h === live) complete++;
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
      throw new Error(`Cannot converge: ${complete} of ${live} origins complete`);
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
  for (const [a, b] of edges) sim.connect(id(a), id(b));
  const convergeMs = runToConvergence() - t0;
  const convergeWallSeconds = (performance.now() - wallStart) / 1000;
  const convergeCpuSeconds = cpuSeconds();
  print(
    `${n} nodes, ${edges.length} links: converged from cold start in ${convergeMs} ms simulated ` +
      `(${convergeWallSeconds.toFixed(1)} s wall, ${convergeCpuSeconds.toFixed(1)} s CPU, ` +
      `${sim.clock.eventsRun} events, ` +
      `${sim.messagesDelivered} messages)`,
  );

  // Kill 1 %, keeping the rest connected, so that "converged" has one meaning.
  const k = Math.max(1, Math.round(n / 100));
  let dead = new Set<number>();
  do {
    dead = new Set();
    while (dead.size < k) dead.add(Math.floor(random() * n));
  } while (!connectedWithout(n, adj, dead));
  sim.clock.runUntil(sim.clock.nowMs() + 5_000);
  const tFail = sim.clock.nowMs();
  for (const i of dead) sim.kill(id(i));
  live = n - k;
  // Recount holders among the living (the dead held copies too).
  complete = 0;
  const liveIds = sim.ids();
  for (const origin of liveIds) {
    let h = 0;
    const want = latest.get(origin);
    for (const at of liveIds) {
      const a = sim.router(at).announcementOf(origin);
      if (a?.seq === want) h++;
    }
    holders.set(origin, h);
    if (h === live) complete++;
  }
  const reconvergeMs = runToConvergence() - tFail;
  print(`killed ${k} nodes: re-converged ${reconvergeMs} ms after failure detection`);

  // Route check on a sample against BFS truth.
  let routeProblemsInSample = 0;
  let diameterSample = 0;
  for (let s = 0; s < 10; s++) {
    const who = liveIds[Math.floor(random() * liveIds.length)];
    routeProblemsInSample += sim.checkRoutes(who).length;
    for (const d of sim.trueDistances(who).values()) diameterSample = Math.max(diameterSample, d);
  }
  print(
    `route check on 10 nodes: ${routeProblemsInSample} problems; eccentricity up to ${diameterSample}`,
  );

  // Traffic per link so far (cold start and failure), both directions together.
  const perLink = new Map<string, { bytes: number; messages: number }>();
  for (const t of sim.linkTraffic()) {
    const key = t.from < t.to ? `${t.from}|${t.to}` : `${t.to}|${t.from}`;
    const e = perLink.get(key) ?? { bytes: 0, messages: 0 };
    e.bytes += t.bytes;
    e.messages += t.messages;
    perLink.set(key, e);
  }
  const linkBytes = [...perLink.values()].map((e) => e.bytes);
  const convergeBytesPerLinkAvg = linkBytes.reduce((x, y) => x + y, 0) / linkBytes.length;
  const convergeBytesPerLinkMax = Math.max(...linkBytes);
  const convergeMessagesPerLinkAvg = [...perLink.values()].reduce((x, e) => x + e.messages, 0) /
    perLink.size;
  print(
    `traffic per link through convergence and failure: ${
      (convergeBytesPerLinkAvg / 1024).toFixed(0)
    } KiB average, ` +
      `${(convergeBytesPerLinkMax / 1024).toFixed(0)} KiB max, ${
        convergeMessagesPerLinkAvg.toFixed(0)
      } messages average`,
  );

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
      `steady state (refresh only, ${steadyMin} min): ${
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
      `with presence changes (one per node per 10 min, ${presenceMin} min): ` +
        `${presenceBytesPerLinkPerMin.toFixed(0)} B per link per minute`,
    );
  } else {
    // Every origin refreshes once per 10 minutes and each refresh crosses every link about
    // once (in one direction or the other).
    steadyBytesPerLinkPerMin = (wireCount + 1) * (wireSum / wireCount) / 10;
    print(
      `steady state (estimated: one refresh per origin per 10 min crossing each link once): ` +
        `${steadyBytesPerLinkPerMin.toFixed(0)} B per link per minute`,
    );
  }

  // State per node: in the simulation (shared announcements, measured over the process),
  // and for a real node, which decodes its own copy of every announcement.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const mem = Deno.memoryUsage();
  const simHeapBytesPerNode = (mem.heapUsed + mem.external) / n;
  const simRssBytesPerNode = mem.rss / n;
  const sample = sim.router(liveIds[0]);
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
    `routing state per node: ${copies.length} announcements, ${
      (wire / 1024).toFixed(0)
    } KiB on the wire; ` +
      `a real node holds about ${(realNodeHeapBytes / 1024).toFixed(0)} KiB (${
        (realNodeHeapBytes / wire).toFixed(1)
      }× the wire); ` +
      `the simulation ${(simHeapBytesPerNode / 1024).toFixed(0)} KiB heap+external and ${
        (simRssBytesPerNode / 1024).toFixed(0)
      } KiB RSS per node`,
  );
  print(`refusals: ${JSON.stringify(refusals)}`);
  for (const i of liveIds) sim.router(i).stop();
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const cpuTotal = cpuSeconds();
  print(
    `wall time ${wallSeconds.toFixed(1)} s (${cpuTotal.toFixed(1)} s CPU), ` +
      `${sim.clock.eventsRun} simulated events, ` +
      `${sim.messagesDelivered} messages delivered\n`,
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
    announcementBytesAvg: Math.round(announcementBytesAvg),
    stateWireBytesPerNode: wire,
    realNodeHeapBytes,
    simHeapBytesPerNode: Math.round(simHeapBytesPerNode),
    simRssBytesPerNode: Math.round(simRssBytesPerNode),
    refusals,
    routeProblemsInSample,
    events: sim.clock.eventsRun,
    messagesDelivered: sim.messagesDelivered,
    convergeWallSeconds: Math.round(convergeWallSeconds * 10) / 10,
    convergeCpuSeconds: Math.round(convergeCpuSeconds * 10) / 10,
    wallSeconds: Math.round(wallSeconds * 10) / 10,
    cpuSeconds: Math.round(cpuTotal * 10) / 10,
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

const { sizes, steadyMin, seed, budgetSeconds } = parseArgs();
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
  last = await benchOne(n, steadyMin, seed);
  results.push(last);
}
print(JSON.stringify({
  bench: "routing",
  hopDelayMs: HOP_DELAY_MS,
  refreshMs: 600_000,
  lifetimeMs: 3_600_000,
  limits: DEFAULT_ORIGIN_LIMITS,
  minAnnounceIntervalMs: 1000,
  results,
}));
