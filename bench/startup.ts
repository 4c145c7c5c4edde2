/**
 * Start-up and link handshake (run by hand: `deno task bench startup`).
 * Prints figures, then one JSON line. Targets: ready < 300 ms after the first
 * start; link handshake < 20 ms on loopback.
 */
// deno-lint-ignore-file no-console
import { join, resolve } from "node:path";
import { SYSTEM_CLOCK } from "../lib/clock.ts";
import { parseConfig } from "../lib/config.ts";
import { SILENT_LOGGER } from "../lib/log.ts";
import { startNode } from "../lib/node/mod.ts";
import type { NodeId } from "../lib/ids.ts";

const REPO = resolve(new URL("..", import.meta.url).pathname);
const RUNS = 5;
const HANDSHAKES = 50;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 100) / 100;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

/** Spawns `main.ts server`, returns wall ms to the ready line and the node's own figure. */
async function startOnce(configPath: string): Promise<{ wallMs: number; selfMs: number }> {
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write=.tmp",
      "main.ts",
      "server",
      "--config",
      configPath,
    ],
    cwd: REPO,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let out = "";
  const d = new TextDecoder();
  for await (const c of child.stdout) {
    out += d.decode(c);
    const m = /ready on \S+ in (\d+) ms/.exec(out);
    if (m) {
      const wallMs = performance.now() - t0;
      child.kill("SIGTERM");
      await child.status;
      return { wallMs, selfMs: Number(m[1]) };
    }
  }
  throw new Error(`node did not start:\n${out}`);
}

const root = await Deno.makeTempDir({ dir: join(REPO, ".tmp"), prefix: "bench-startup-" });
const first: Array<{ wallMs: number; selfMs: number }> = [];
const again: Array<{ wallMs: number; selfMs: number }> = [];
for (let i = 0; i < RUNS; i++) {
  const cfg = join(root, `n${i}.conf`);
  await Deno.writeTextFile(
    cfg,
    `[Network]\nport = ${freePort()}\nclient_id = n${i}\n[Storage]\ndata_dir = n${i}-data\n`,
  );
  first.push(await startOnce(cfg));
  again.push(await startOnce(cfg));
}
console.log(
  `first start: ready in ${pct(first.map((r) => r.selfMs), 0.5)} ms in-process, ${
    pct(first.map((r) => r.wallMs), 0.5)
  } ms wall (process spawn included)`,
);
console.log(
  `later start: ready in ${pct(again.map((r) => r.selfMs), 0.5)} ms in-process, ${
    pct(again.map((r) => r.wallMs), 0.5)
  } ms wall`,
);

// Link handshakes between two in-process nodes: dial, TLS, upgrade, 3-message
// handshake, RESULT. Each round forgets the peer so every handshake is a first contact.
const mk = async (id: string, open: boolean) => {
  const text =
    `[Network]\nport = ${freePort()}\nclient_id = ${id}\n[Storage]\ndata_dir = ${id}-hs\n[Federation]\nopen = ${open}\n`;
  return await startNode({
    config: parseConfig(text, join(root, `${id}.conf`)),
    log: SILENT_LOGGER,
    clock: SYSTEM_CLOCK,
  });
};
const a = await mk("ha", false);
const b = await mk("hb", true);
const times: number[] = [];
try {
  for (let i = 0; i < HANDSHAKES; i++) {
    const t0 = performance.now();
    const link = await a.federation.links.connect({
      nodeId: "hb" as NodeId,
      host: "127.0.0.1",
      port: b.port,
    });
    const ms = performance.now() - t0;
    if (link.state !== "up") throw new Error(`link not up: ${link.state} ${link.lastError}`);
    times.push(ms);
    a.federation.links.forget("hb" as NodeId);
    b.federation.links.forget("ha" as NodeId);
    await new Promise((r) => setTimeout(r, 20));
  }
} finally {
  await a.stop();
  await b.stop();
}
console.log(
  `link handshake (connect → up, first contact): p50 ${pct(times, 0.5)} ms, p99 ${
    pct(times, 0.99)
  } ms over ${HANDSHAKES}`,
);
await Deno.remove(root, { recursive: true });
console.log(JSON.stringify({
  bench: "startup",
  firstStartReadyMs: pct(first.map((r) => r.selfMs), 0.5),
  firstStartWallMs: pct(first.map((r) => r.wallMs), 0.5),
  laterStartReadyMs: pct(again.map((r) => r.selfMs), 0.5),
  laterStartWallMs: pct(again.map((r) => r.wallMs), 0.5),
  handshakeP50Ms: pct(times, 0.5),
  handshakeP99Ms: pct(times, 0.99),
  targets: { readyMs: 300, handshakeMs: 20 },
}));
