/**
 * Routing benchmark, simulated (fake signatures, simulated clock, 20 ms per hop):
 * random connected meshes (average degree 4) of 1,000 and 10,000 nodes. Measures time to
 * converge from a cold start, time to re-converge after 1 % of nodes die (from failure
 * detection), announcement bytes per link per minute at steady state, and routing state
 * per node. Prints human lines, then one JSON line.
 *
 *   deno run -A bench/routing.ts [--sizes=1000,2000,10000] [--steady-min=30] [--seed=1] [--budget=480]
 */
import { type NodeId, toNodeId, toUserName } from "../lib/ids.ts";
import { decodeAnnouncement, Simulation } from "../lib/federation/routing/mod.ts";

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
  steadyBytesPerLinkPerSecOneWay: number;
  steadyWindowMin: number;
  presenceBytesPerLinkPerMin: number;
  announcementBytesAvg: number;
  stateWireBytesPerNode: number;
  stateHeapBytesPerNode: number;
  routeProblemsInSample: number;
  events: number;
  wallSeconds: number;
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
    budgetSeconds: Number(get("budget") ?? 480),
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
  const sim = new Simulation({
    hopDelayMs: HOP_DELAY_MS,
    routerOptions: { random, purgeIntervalMs: 10 * 60_000 },
    observer: {
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
  print(
    `${n} nodes, ${edges.length} links: converged from cold start in ${convergeMs} ms simulated`,
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

  // Steady state: refreshes only (10 min ± 10 %), then with presence changes.
  const liveLinks = edges.filter(([a, b]) => !dead.has(a) && !dead.has(b)).length;
  sim.clock.runUntil(sim.clock.nowMs() + 15 * 60_000); // past the start-up wave of refreshes
  let bytes0 = sim.bytesSent;
  sim.clock.runUntil(sim.clock.nowMs() + steadyMin * 60_000);
  const steadyBytesPerLinkPerMin = (sim.bytesSent - bytes0) / liveLinks / steadyMin;
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
  const presenceBytesPerLinkPerMin = (sim.bytesSent - bytes0) / liveLinks / presenceMin;
  print(
    `with presence changes (one per node per 10 min, ${presenceMin} min): ` +
      `${presenceBytesPerLinkPerMin.toFixed(0)} B per link per minute`,
  );

  // State per node: wire bytes held, and heap per decoded announcement (measured).
  const sample = sim.router(liveIds[0]);
  let wire = 0;
  let count = 0;
  for (const row of sample.table()) {
    wire += sample.announcementOf(row.node)!.bytes.length;
    count++;
  }
  const copies = sample.table().slice(0, 2000).map((r) =>
    sample.announcementOf(r.node)!.bytes.slice()
  );
  const heap0 = Deno.memoryUsage().heapUsed;
  const decoded = copies.map((b) => ({
    state: { key: undefined, seq: 0, announcement: decodeAnnouncement(b) },
  }));
  const perEntry = (Deno.memoryUsage().heapUsed - heap0) / decoded.length + 48; // + map entry
  const announcementBytesAvg = wire / count;
  print(
    `routing state per node: ${count} announcements, ${
      (wire / 1024).toFixed(0)
    } KiB on the wire, ` +
      `about ${((perEntry * count) / 1024).toFixed(0)} KiB in memory (${
        announcementBytesAvg.toFixed(0)
      } B average announcement)`,
  );
  for (const i of liveIds) sim.router(i).stop();
  const wallSeconds = (performance.now() - wallStart) / 1000;
  print(`wall time ${wallSeconds.toFixed(1)} s, ${sim.clock.eventsRun} simulated events\n`);
  return {
    nodes: n,
    links: edges.length,
    diameterSample,
    convergeMs,
    reconvergeMs,
    killed: k,
    steadyBytesPerLinkPerMin: Math.round(steadyBytesPerLinkPerMin),
    steadyBytesPerLinkPerSecOneWay: Math.round(steadyBytesPerLinkPerMin / 120),
    steadyWindowMin: steadyMin,
    presenceBytesPerLinkPerMin: Math.round(presenceBytesPerLinkPerMin),
    announcementBytesAvg: Math.round(announcementBytesAvg),
    stateWireBytesPerNode: wire,
    stateHeapBytesPerNode: Math.round(perEntry * count),
    routeProblemsInSample,
    events: sim.clock.eventsRun,
    wallSeconds: Math.round(wallSeconds * 10) / 10,
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
    estimatedStateHeapBytesPerNode: Math.round(last.stateHeapBytesPerNode * perNode),
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
  minAnnounceIntervalMs: 1000,
  results,
}));
