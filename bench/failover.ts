/**
 * Real-process failover (run by hand: `deno task bench failover`): a 2×3 mesh
 * of node processes on loopback; probes flow from a1 to a3 every 20 ms; the
 * relay a2 on the shortest path fails; the figure is the time from the failure
 * to the first probe that arrives over the other path. Target ≤ 3 s. Two kinds
 * of failure: SIGKILL (the OS closes its sockets, so links drop at once) and
 * SIGSTOP (a silent node: only heartbeats notice).
 */
// deno-lint-ignore-file no-console
import { NodeProc, tempRoot, waitLink, waitUntil } from "../tests/_helpers/node_proc.ts";

const RUNS = 3;
const ids = ["a1", "a2", "a3", "b1", "b2", "b3"];
const edges = [["a1", "a2"], ["a2", "a3"], ["b1", "b2"], ["b2", "b3"], ["a1", "b1"], ["a2", "b2"], [
  "a3",
  "b3",
]];
const root = await tempRoot("bench-failover");
const nodes = new Map<string, NodeProc>();
const results: Record<string, number[]> = { kill: [], silent: [] };
try {
  for (const n of await Promise.all(ids.map((id) => NodeProc.create({ id, root, open: true })))) {
    nodes.set(n.id, n);
  }
  for (const [a, b] of edges) {
    await nodes.get(a)!.admin("connect", {
      host: "127.0.0.1",
      port: nodes.get(b)!.port,
      nodeId: b,
    });
  }
  for (const [a, b] of edges) await waitLink(nodes.get(a)!, b, "up");
  const a1 = nodes.get("a1")!;
  const a2 = nodes.get("a2")!;
  const probe = async () =>
    ((await a1.admin("ping", { nodeId: "a3", waitMs: 1000 })) as { path: string[] }).path;
  for (let i = 0; i < RUNS * 2; i++) {
    const mode = i < RUNS ? "kill" : "silent";
    await waitUntil(
      "path through a2",
      async () => (await probe().catch((): string[] => [])).includes("a2"),
      30_000,
    );
    let firstAlt = 0;
    const killedAt = performance.now();
    if (mode === "kill") a2.stop(true);
    else a2.signal("SIGSTOP");
    const senders: Promise<void>[] = [];
    const deadline = killedAt + 15_000;
    // A probe every 20 ms until one arrives around a2.
    while (!firstAlt && performance.now() < deadline) {
      senders.push(
        probe().then((path) => {
          if (!path.includes("a2") && !firstAlt) firstAlt = performance.now();
        }, () => {}),
      );
      await new Promise((r) => setTimeout(r, 20));
    }
    await a2.stop(true);
    await Promise.all(senders);
    const ms = firstAlt ? Math.round(firstAlt - killedAt) : NaN;
    results[mode].push(ms);
    console.log(`${mode}: first probe over the other path ${ms} ms after the failure`);
    await a2.start();
  }
} finally {
  await Promise.all([...nodes.values()].map((n) => n.stop()));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(JSON.stringify({
  bench: "failover",
  killMs: results.kill,
  silentMs: results.silent,
  killMedianMs: median(results.kill),
  silentMedianMs: median(results.silent),
  targetMs: 3000,
}));
