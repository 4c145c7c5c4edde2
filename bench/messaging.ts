/**
 * End-to-end messaging (run by hand: `deno task bench messaging`): real node
 * processes on loopback (headless, durable queues), alice's and bob's client
 * cores in this process connected over the client protocol. Prints sustained
 * messages/s across 1 and 3 hops, p50/p99 latency at 1,000 msg/s offered, and
 * each node's RSS; JSON line last. Targets: ≥ 10,000 msg/s across 1 hop;
 * p99 ≤ 5 ms (1 hop) and ≤ 10 ms (3 hops) at 1,000 msg/s.
 */
// deno-lint-ignore-file no-console
import { join } from "node:path";
import { openClient, remoteLink } from "../lib/client/mod.ts";
import { SYSTEM_CLOCK } from "../lib/clock.ts";
import { type NodeId, toAddress, toNodeId, toUserName } from "../lib/ids.ts";
import { SILENT_LOGGER } from "../lib/log.ts";
import { link } from "../tests/_helpers/chat.ts";
import { NodeProc, tempRoot, waitUntil } from "../tests/_helpers/node_proc.ts";

const THROUGHPUT_N = Number(Deno.env.get("N") ?? 20_000);
const WINDOW = 512;
const LATENCY_SECONDS = 5;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 100) / 100;
}

async function rssMiB(pid: number | undefined): Promise<{ rss: number; peak: number }> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
  return { rss: Math.round(kb("VmRSS") / 1024), peak: Math.round(kb("VmHWM") / 1024) };
}

async function clientFor(root: string, node: NodeProc, name: string) {
  const added = await node.addUser(name);
  return await openClient({
    dir: join(root, `${name}-client`),
    address: toAddress(`${name}@${node.id}`),
    clock: SYSTEM_CLOCK,
    log: SILENT_LOGGER,
    open: remoteLink({
      host: "127.0.0.1",
      port: node.port,
      nodeId: toNodeId(node.id) as NodeId,
      user: toUserName(name),
      enrollCode: added.code,
    }),
  });
}

async function scenario(hops: 1 | 3) {
  const root = await tempRoot(`bench-msg-${hops}`);
  const ids = hops === 1 ? ["na", "nb"] : ["na", "r1", "r2", "nd"];
  const nodes = await Promise.all(ids.map((id) => NodeProc.create({ id, root, open: true })));
  try {
    for (let i = 0; i + 1 < nodes.length; i++) await link(nodes[i], nodes[i + 1]);
    const first = nodes[0];
    const last = nodes[nodes.length - 1];
    const alice = await clientFor(root, first, "alice");
    const bob = await clientFor(root, last, "bob");
    const bobAddr = `bob@${last.id}`;
    const aliceAddr = `alice@${first.id}`;
    const received = new Map<string, number>();
    bob.core.subscribe((e) => {
      if (e.kind === "message" && e.message.direction === "in") {
        received.set(e.message.text, performance.now());
      }
    });
    await waitUntil("bob reachable", async () => {
      try {
        await alice.core.request(bobAddr, "bench");
        return true;
      } catch {
        return false;
      }
    }, 30_000);
    await waitUntil("request at bob", async () => (await bob.core.requests()).length > 0);
    await bob.core.accept(aliceAddr);
    await waitUntil(
      "accepted",
      async () => (await alice.core.contacts()).some((c) => c.state === "accepted"),
    );

    // Sustained throughput: a window of sends in flight.
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < THROUGHPUT_N) {
        const i = next++;
        await alice.core.send(bobAddr, `t${i} ${"x".repeat(90)}`);
      }
    };
    await Promise.all(Array.from({ length: WINDOW }, worker));
    await waitUntil(
      "all received",
      () => [...received.keys()].filter((k) => k.startsWith("t")).length >= THROUGHPUT_N,
      600_000,
    );
    const seconds = (Math.max(...received.values()) - t0) / 1000;
    const throughput = Math.round(THROUGHPUT_N / seconds);

    // Latency at 1,000 msg/s offered.
    const sentAt = new Map<string, number>();
    const start = performance.now();
    const total = LATENCY_SECONDS * 1000;
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      const due = start + i;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const text = `l${i}`;
      sentAt.set(text, performance.now());
      pending.push(alice.core.send(bobAddr, text));
    }
    await Promise.all(pending);
    await waitUntil(
      "latency run received",
      () => [...sentAt.keys()].every((k) => received.has(k)),
      120_000,
    );
    const lat = [...sentAt].map(([k, t]) => received.get(k)! - t);
    const rss = await Promise.all(
      nodes.map(async (n) => ({ node: n.id, ...(await rssMiB(n.pid)) })),
    );
    alice.close();
    bob.close();
    return {
      hops,
      messages: THROUGHPUT_N,
      throughput,
      p50Ms: pct(lat, 0.5),
      p99Ms: pct(lat, 0.99),
      rssMiB: rss,
    };
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

const results = [];
for (const hops of [1, 3] as const) {
  const r = await scenario(hops);
  console.log(
    `${hops} hop(s): ${r.throughput} msg/s sustained (${r.messages} messages); at 1,000 msg/s p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms; ` +
      `node RSS ${r.rssMiB.map((x) => `${x.node} ${x.rss} MiB (peak ${x.peak})`).join(", ")}`,
  );
  results.push(r);
}
console.log(
  JSON.stringify({
    bench: "messaging",
    results,
    targets: { msgPerSec1Hop: 10_000, p99Ms1Hop: 5, p99Ms3Hops: 10 },
  }),
);
