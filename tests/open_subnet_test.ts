/**
 * Strangers from one network at an open node (`[Federation] open = true`): an
 * attacker who holds many addresses of an IPv4 /24 (cheap at any cloud) links
 * from each of them, within every per-address budget, and keeps its links up.
 * Real node on loopback; the strangers are hand-driven peers
 * (tests/_helpers/raw_peer.ts) dialling from sources across 127.0.0.0/8
 * (Linux routes all of it to lo), one /24 standing for one network.
 */
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { startConnFlood } from "./_helpers/conn_flood.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";
import { type RawPeer, rawPeer } from "./_helpers/raw_peer.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

interface Status {
  links: Array<{ peer: string; state: string }>;
  budgets: Record<string, { used: number; refusals: number; limit: number }>;
}

/** Links a stranger `id` from `source`, keeping it (up or not) in `peers`. */
async function stranger(
  peers: RawPeer[],
  id: string,
  source: string,
  port: number,
  waitMs = 3000,
): Promise<string> {
  const p = await rawPeer(id, undefined, source);
  peers.push(p);
  return await p.connect("alice", port, waitMs);
}

/**
 * Runs `fn` against a node alice (open unless `open` is false) with `limits` (`[Limits]`
 * lines); stops all after.
 */
async function withAlice(
  tag: string,
  limits: string,
  fn: (a: NodeProc, peers: RawPeer[]) => Promise<void>,
  open = true,
): Promise<void> {
  const root = await tempRoot(tag);
  const peers: RawPeer[] = [];
  let a: NodeProc | undefined;
  try {
    a = await NodeProc.create({ id: "alice", root, open, extra: `[Limits]\n${limits}` });
    await fn(a, peers);
  } finally {
    for (const p of peers) p.stop();
    await a?.stop();
  }
}

/** Strangers linked from each network (peer ids are `n<network>a<address>s<index>`). */
function perNetwork(status: Status): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of status.links) {
    const m = /^n(\d+)a/.exec(l.peer);
    if (m) out[m[1]] = (out[m[1]] ?? 0) + 1;
  }
  return out;
}

Deno.test({
  name: "open node: strangers from four /24s, four addresses each, all kept up, " +
    "cannot fill open_links_total against strangers from other networks: each /24 " +
    "holds at most its network budget, and an honest stranger from another network " +
    "links at the total (the fullest network's oldest gives way) and stays",
  ...opts,
  // 4 per address, 32 in all: a /24's 256 addresses could hold 1,024.
  fn: () =>
    withAlice("open-subnet", "open_links_per_address = 4\nopen_links_total = 32\n", async (
      a,
      peers,
    ) => {
      const startedAt = Date.now();
      let up = 0;
      // Networks 127.5.5.0/24 … 127.5.8.0/24; addresses .1 to .4 of each; 4 strangers each.
      for (let n = 5; n <= 8; n++) {
        for (let h = 1; h <= 4; h++) {
          for (let s = 0; s < 4 && Date.now() - startedAt < 120_000; s++) {
            const state = await stranger(peers, `n${n}a${h}s${s}`, `127.5.${n}.${h}`, a.port);
            if (state === "up") up++;
          }
        }
      }
      const before = (await a.admin("status")) as Status;
      const held = perNetwork(before);
      const honest = await stranger(peers, "honest1", "127.9.9.9", a.port);
      const second = await stranger(peers, "honest2", "127.9.10.9", a.port);
      // Evicted strangers redial on their own; the honest ones must stay.
      await new Promise((r) => setTimeout(r, 2000));
      const after = (await a.admin("status")) as Status;
      const state = (id: string) => after.links.find((l) => l.peer === id)?.state ?? "none";
      const figures = `${up} of 64 attackers linked; before the honest ones, per /24: ` +
        `${JSON.stringify(held)}; honest1 ${honest} then ${state("honest1")}, ` +
        `honest2 ${second} then ${state("honest2")}; after, per /24: ` +
        `${JSON.stringify(perNetwork(after))}, ${after.links.length} linked`;
      // deno-lint-ignore no-console -- a figure for the report
      console.log(figures);
      assert.equal(honest, "up", figures);
      assert.equal(second, "up", figures);
      assert.equal(state("honest1"), "up", figures);
      assert.equal(state("honest2"), "up", figures);
      for (const n of Object.values(held)) assert.ok(n <= 8, figures);
      assert.ok(after.links.length <= 32, figures);
    }),
});

/** Whether a TLS handshake from `source` to the node completes (false: closed before). */
function handshake(port: number, source: string): Promise<boolean> {
  return new Promise((resolve) => {
    const raw = net.connect({ host: "127.0.0.1", port, localAddress: source });
    raw.on("error", () => {});
    const t = tls.connect({ socket: raw, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] });
    const timer = setTimeout(() => done(false), 3000);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      t.destroy();
      raw.destroy();
      resolve(ok);
    };
    t.once("secureConnect", () => done(true));
    t.once("error", () => done(false));
    t.once("close", () => done(false));
  });
}

Deno.test({
  name: "listener: 16 addresses of one /24, each within handshakes_per_address_per_minute, " +
    "get at most the network's handshakes before TLS; another network still handshakes",
  ...opts,
  fn: () =>
    withAlice("open-subnet-hs", "handshakes_per_address_per_minute = 20\n", async (a) => {
      const startedAt = Date.now();
      let done = 0;
      let attempts = 0;
      for (let h = 1; h <= 16; h++) {
        // Eight at a time from one address (max_connections_per_address is 16).
        for (let batch = 0; batch < 20 && Date.now() - startedAt < 60_000; batch += 8) {
          const n = Math.min(8, 20 - batch);
          attempts += n;
          const ok = await Promise.all(
            Array.from({ length: n }, () => handshake(a.port, `127.5.5.${h}`)),
          );
          done += ok.filter(Boolean).length;
        }
      }
      const seconds = Math.ceil((Date.now() - startedAt) / 1000);
      const honest = await handshake(a.port, "127.9.9.9");
      const status = (await a.admin("status")) as Status;
      const figures = `${done} of ${attempts} handshakes from 127.5.5.0/24 in ${seconds} s; ` +
        `127.9.9.9: ${honest}; budgets ${
          JSON.stringify(
            Object.fromEntries(
              Object.entries(status.budgets).filter(([k]) => k.startsWith("listener.handshakes")),
            ),
          )
        }`;
      // deno-lint-ignore no-console -- a figure for the report
      console.log(figures);
      assert.equal(honest, true, figures);
      // The network's burst (4 × 20), then 80 a minute.
      assert.ok(done <= 80 + Math.ceil((80 * seconds) / 60), figures);
    }),
});

Deno.test({
  name: "listener: a flood of connections that never authenticate, from 50 addresses of one " +
    "/24, holds at most the network's share of the unauthenticated pool: strangers from " +
    "other networks still link to the open node meanwhile",
  ...opts,
  fn: () =>
    withAlice("open-subnet-flood", "", async (a, peers) => {
      const port = a.port;
      // 127.0.0.2 … 127.0.0.51: one /24, 16 connections each at most (800 > the pool's 128).
      await using flood = startConnFlood({
        port,
        connections: 800,
        addresses: 50,
        opensPerSecond: 400,
        shapes: ["tls-silent", "ws-silent"],
        maxDurationMs: 60_000,
      });
      await waitUntil("the flood is refused", () => /connections? refused/.test(a.output), 30_000);
      const states: string[] = [];
      for (let i = 0; i < 5; i++) {
        states.push(await stranger(peers, `honest${i}`, `127.9.${i}.9`, port, 3000));
      }
      const status = (await a.admin("status")) as {
        budgets: Record<string, { used: number; refusals: number }>;
      };
      const pool = status.budgets["listener.unauthenticated"];
      const stats = flood.stats();
      const figures = `honest strangers: ${states.join(" ")}; unauthenticated pool ` +
        `${JSON.stringify(pool)}, of one network ` +
        `${JSON.stringify(status.budgets["listener.unauthenticated_network"])}; ` +
        `flood ${JSON.stringify(stats)}`;
      // deno-lint-ignore no-console -- a figure for the report
      console.log(figures);
      assert.ok(stats.closedByTarget > 0, figures);
      assert.deepEqual(states, ["up", "up", "up", "up", "up"], figures);
    }),
});

Deno.test({
  name: "closed node: link requests from 16 addresses of one /24 (4 each) cannot fill " +
    "pending_links_total against requests from other networks; at the total, a network " +
    "below its equal share takes the place of the fullest network's oldest request",
  ...opts,
  fn: () =>
    withAlice("closed-subnet", "", async (a, peers) => {
      const states: string[] = [];
      // 127.5.5.1 … 127.5.5.16, 4 requests each: 64, the default total.
      for (let h = 1; h <= 16; h++) {
        for (let s = 0; s < 4; s++) {
          states.push(await stranger(peers, `n5a${h}s${s}`, `127.5.5.${h}`, a.port, 1000));
        }
      }
      const waiting = async () =>
        ((await a.admin("status")) as Status).links.filter((l) => l.state === "awaiting-owner");
      const fromAttacker = (await waiting()).length;
      // Three more /24s fill the rest (16 each), then honest requests from two other networks.
      for (let n = 6; n <= 8; n++) {
        for (let h = 1; h <= 4; h++) {
          for (let s = 0; s < 4; s++) {
            await stranger(peers, `n${n}a${h}s${s}`, `127.5.${n}.${h}`, a.port, 1000);
          }
        }
      }
      await stranger(peers, "honest1", "127.9.9.9", a.port, 1000);
      await stranger(peers, "honest2", "127.9.10.9", a.port, 1000);
      const after = await waiting();
      const figures = `from 127.5.5.0/24: ${fromAttacker} of 64 waiting; after three more /24s ` +
        `and two honest requests: ${after.length} waiting, ` +
        `honest: ${after.filter((l) => l.peer.startsWith("honest")).length}`;
      // deno-lint-ignore no-console -- a figure for the report
      console.log(figures);
      assert.ok(fromAttacker <= 16, figures);
      assert.equal(after.filter((l) => l.peer.startsWith("honest")).length, 2, figures);
      assert.ok(after.length <= 64, figures);
    }, false),
});
