/**
 * `deno task soak hostile [--minutes=10] [--nofile=1024]`: a node N ("nina")
 * under every attack of the hostile-peers issue at once, with real node
 * processes on loopback and real TLS, for `--minutes`:
 *
 * - a linked peer floods malformed frames, fake origins, forged requests and
 *   huge file offers (bench/_soak_attackers.ts);
 * - a linked peer stops reading and pings, pinning N's writes;
 * - 5,000 connections from 50 loopback addresses hold N's port in thirds (a
 *   header byte every 10 s; TLS done then silent; WebSocket upgraded then
 *   silent), and during the middle third of the run the same flood holds N's
 *   UI port;
 * - meanwhile an honest pair (alice@alice and bob@bob, on nodes linked only
 *   through N) chats, one message a second, and a known peer ("kim", which only
 *   it can dial) is stopped and re-links every two minutes.
 *
 * It samples N every 5 s (process id, RSS, open descriptors, node.db size),
 * prints a summary against the issue's targets, and a JSON line last. With
 * `--nofile=N`, N runs under `ulimit -n N`. A soak prints figures; it asserts
 * nothing.
 */
// deno-lint-ignore-file no-console
import { join } from "node:path";
import { startConnFlood } from "../tests/_helpers/conn_flood.ts";
import { history, link, type Msg, startChat } from "../tests/_helpers/chat.ts";
import { freePort, NodeProc, tempRoot, waitLink, waitUntil } from "../tests/_helpers/node_proc.ts";
import { runHostilePeer, runSilentReader } from "./_soak_attackers.ts";

const flag = (name: string, fallback: number) => {
  const a = Deno.args.find((x) => x.startsWith(`--${name}=`));
  const v = a ? Number(a.slice(name.length + 3)) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`Cannot soak: bad --${name}`);
  return v;
};
const MINUTES = flag("minutes", 10);
const NOFILE = Deno.args.some((a) => a.startsWith("--nofile=")) ? flag("nofile", 0) : undefined;
const CONNECTIONS = flag("connections", 5000);
const ADDRESSES = flag("addresses", 50);
const SAMPLE_MS = 5000;
const ATTACK_MS = Math.round(MINUTES * 60_000);
const RELINKS = Math.max(1, Math.floor(MINUTES / 2));
const DELIVERY_MS = 10_000;
const AFTER_MS = 60_000;
/** For finding what costs what, by hand: `--attacks=flood,ui,peer,reader` (default all four). */
const ATTACKS = new Set(
  (Deno.args.find((a) => a.startsWith("--attacks="))?.slice(10) ?? "flood,ui,peer,reader")
    .split(","),
);
/** Extra environment for N, by hand: `--env=MALLOC_ARENA_MAX=2` (repeatable). */
const N_ENV = Object.fromEntries(
  Deno.args.filter((a) => a.startsWith("--env=")).map((a) => {
    const [k, ...v] = a.slice(6).split("=");
    return [k, v.join("=")];
  }),
);

interface Sample {
  atS: number;
  pid: number | undefined;
  rssMiB: number;
  fds: number;
  dbBytes: number;
  walBytes: number;
  floodOpen: number;
  uiFloodOpen: number;
  /** Round trip of an admin `status` call: how long N's event loop takes to answer. */
  adminMs: number;
  /** N's JS heap in use and its memory outside the heap (ArrayBuffers, native), from status. */
  heapMiB: number;
  /** The JS heap V8 holds (used or not): resident too. */
  heapTotalMiB: number;
  externalMiB: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (b: number) => Math.round((b / 1048576) * 10) / 10;
const size = async (path: string) => (await Deno.stat(path).catch(() => ({ size: 0 }))).size;
const quantile = (xs: number[], q: number) =>
  xs.length === 0
    ? NaN
    : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

const root = await tempRoot("soak-hostile");
const uiPort = freePort();
const nodes: NodeProc[] = [];
const log = (s: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
try {
  log(`setting up in ${root} (minutes=${MINUTES}, nofile=${NOFILE ?? "default"})`);
  const nina = await NodeProc.create({
    id: "nina",
    root,
    open: true,
    withClient: true,
    logLevel: "info",
    maxOpenFiles: NOFILE,
    env: N_ENV,
    extra: `[UI]\nport = ${uiPort}\n`,
  });
  nodes.push(nina);
  const [alice, bob] = await Promise.all(
    ["alice", "bob"].map((id) =>
      NodeProc.create({ id, root, open: true, withClient: true, logLevel: "info" })
    ),
  );
  // Kim gives an endpoint nobody listens on (as behind NAT): only kim can make the link.
  const kim = await NodeProc.create({
    id: "kim",
    root,
    open: true,
    logLevel: "info",
    extra: `[Network]\npublic_host = 127.0.0.1\npublic_port = ${freePort()}\n`,
  });
  nodes.push(alice, bob, kim);
  await link(alice, nina);
  await link(bob, nina);
  await link(kim, nina);
  await startChat(alice, "alice@alice", bob, "bob@bob");
  const path = (await alice.admin("ping", { nodeId: "bob" })) as { path: string[] };
  log(`honest path ${path.path.join(" → ")}`);
  const pid = nina.pid;
  const dbPath = join(nina.dataDir, "node.db");

  const samples: Sample[] = [];
  let floodOpen = () => 0;
  let uiFloodOpen = () => 0;
  const t0 = Date.now();
  const sample = async (): Promise<Sample> => {
    const a0 = Date.now();
    const status = await nina.status().catch(() => null) as
      | { memory?: { heapUsed: number; heapTotal: number; external: number } }
      | null;
    const adminMs = status ? Date.now() - a0 : -1;
    const s = {
      atS: Math.round((Date.now() - t0) / 1000),
      pid: nina.pid,
      rssMiB: mib(await nina.rssBytes().catch(() => 0)),
      fds: await nina.openFiles().catch(() => 0),
      dbBytes: await size(dbPath),
      walBytes: await size(`${dbPath}-wal`),
      floodOpen: floodOpen(),
      uiFloodOpen: uiFloodOpen(),
      adminMs,
      heapMiB: mib(status?.memory?.heapUsed ?? 0),
      heapTotalMiB: mib(status?.memory?.heapTotal ?? 0),
      externalMiB: mib(status?.memory?.external ?? 0),
    };
    samples.push(s);
    return s;
  };

  // Idle baseline: the honest links up, nothing else, for 15 s.
  await sleep(5000);
  const idle: Sample[] = [];
  for (let i = 0; i < 3; i++) {
    idle.push(await sample());
    await sleep(SAMPLE_MS);
  }
  const idleRss = Math.max(...idle.map((s) => s.rssMiB));
  const idleFds = Math.round(idle.reduce((a, s) => a + s.fds, 0) / idle.length);
  log(`idle: RSS ${idleRss} MiB, ${idleFds} fds, node.db ${mib(idle[2].dbBytes)} MiB`);

  // The attack.
  const attackStart = Date.now();
  const untilMs = attackStart + ATTACK_MS;
  log(`attack for ${MINUTES} min`);
  const flood = startConnFlood({
    port: nina.port,
    connections: CONNECTIONS,
    addresses: ADDRESSES,
    maxDurationMs: ATTACKS.has("flood") ? ATTACK_MS : 1,
  });
  floodOpen = () => flood.stats().open;
  const hostile = runHostilePeer(nina, {
    victim: "nina@nina",
    honest: "bob@bob",
    honestNode: "bob",
    untilMs: ATTACKS.has("peer") ? untilMs : 0,
  });
  const reader = runSilentReader(nina, { untilMs: ATTACKS.has("reader") ? untilMs : 0 });

  const uiPhase = (async () => {
    await sleep(ATTACK_MS / 3);
    if (!ATTACKS.has("ui")) return null;
    log("UI-port flood starts");
    const ui = startConnFlood({
      port: uiPort,
      tls: false,
      path: "/api/events",
      connections: CONNECTIONS,
      addresses: ADDRESSES,
      maxDurationMs: ATTACK_MS / 3,
    });
    uiFloodOpen = () => ui.stats().open;
    await sleep(ATTACK_MS / 3);
    const stats = ui.stats();
    await ui.dispose();
    uiFloodOpen = () => 0;
    log(`UI-port flood ends: ${JSON.stringify(stats)}`);
    return stats;
  })();

  // The honest pair: one message a second, alternating directions.
  const sent: Array<{ from: NodeProc; to: string; text: string; atS: number; error?: string }> = [];
  const chat = (async () => {
    const run = crypto.randomUUID().slice(0, 8);
    for (let i = 0; Date.now() < untilMs && i < 100_000; i++) {
      const next = attackStart + (i + 1) * 1000;
      const [from, to] = i % 2 === 0 ? [alice, "bob@bob"] : [bob, "alice@alice"];
      const text = `soak ${run} ${i}`;
      const row: (typeof sent)[number] = { from, to, text, atS: i };
      sent.push(row);
      try {
        await from.admin("send", { address: to, text });
      } catch (e) {
        row.error = String(e);
      }
      await sleep(Math.max(0, next - Date.now()));
    }
  })();

  // The known peer re-links, spread over the attack.
  const relinks: Array<{ atS: number; ms: number | null; stable: boolean }> = [];
  const relinker = (async () => {
    for (let i = 0; i < RELINKS; i++) {
      const at = attackStart + ((i + 0.5) * ATTACK_MS) / RELINKS;
      await sleep(Math.max(0, at - Date.now()));
      await kim.stop();
      await waitLink(nina, "kim", "down", 30_000).catch(() => {});
      await kim.start();
      const t = Date.now();
      let ms: number | null = null;
      try {
        // Up at both ends: an end that shows "up" alone can be a link that is flapping.
        await waitUntil(
          "kim and nina both up",
          async () =>
            (await nina.link("kim"))?.state === "up" && (await kim.link("nina"))?.state === "up",
          60_000,
        );
        ms = Date.now() - t;
      } catch { /* null: not within 60 s */ }
      // Still the same link 5 s later?
      const since = ms === null ? undefined : (await kim.link("nina"))?.sinceMs;
      await sleep(5000);
      const stable = since !== undefined && (await kim.link("nina"))?.sinceMs === since;
      relinks.push({ atS: Math.round((t - attackStart) / 1000), ms, stable });
      log(
        `kim re-linked: ${ms === null ? "NOT within 60 s" : `${ms} ms`}${
          stable ? "" : ", NOT stable for 5 s"
        }`,
      );
    }
  })();

  // Samples until the attack ends.
  let lastPrint = 0;
  while (Date.now() < untilMs) {
    const s = await sample();
    if (Date.now() - lastPrint >= 30_000) {
      lastPrint = Date.now();
      log(
        `admin ${s.adminMs} ms, pid ${s.pid} RSS ${s.rssMiB} MiB (heap ${s.heapMiB} of ${s.heapTotalMiB}, external ${s.externalMiB}), ${s.fds} fds, db ${
          mib(s.dbBytes)
        }+${
          mib(s.walBytes)
        } MiB wal, flood open ${s.floodOpen}, UI flood open ${s.uiFloodOpen}, sent ${sent.length}`,
      );
    }
    await sleep(Math.max(0, Math.min(SAMPLE_MS, untilMs - Date.now())));
  }
  const floodStats = flood.stats();
  await flood.dispose();
  const [hostileCounts, readerCounts, uiStats] = await Promise.all([
    hostile,
    reader,
    uiPhase,
    chat,
    relinker,
  ]);
  const attackEnd = Date.now();
  log("attack over; waiting 60 s");
  while (Date.now() < attackEnd + AFTER_MS) {
    await sample();
    await sleep(Math.max(0, Math.min(SAMPLE_MS, attackEnd + AFTER_MS - Date.now())));
  }
  const after = await sample();

  // Honest messages: delivered within 10 s of being sent (the sender's clock, same machine)?
  const inbox = new Map<string, Msg>();
  for (const [n, peer] of [[bob, "alice@alice"], [alice, "bob@bob"]] as const) {
    for (const m of await history(n, peer)) if (m.direction === "in") inbox.set(m.text, m);
  }
  const latencies: number[] = [];
  const messages: Array<{ atS: number; to: string; ms: number | null }> = [];
  let late = 0;
  let missing = 0;
  for (const s of sent) {
    const m = inbox.get(s.text);
    if (!m || m.receivedAtMs === null) {
      missing++;
      messages.push({ atS: s.atS, to: s.to, ms: null });
    } else {
      const ms = m.receivedAtMs - m.sentAtMs;
      latencies.push(ms);
      messages.push({ atS: s.atS, to: s.to, ms });
      if (ms > DELIVERY_MS) late++;
    }
  }
  const within = sent.length - late - missing;
  const peakRss = Math.max(
    ...samples.filter((s) => s.atS * 1000 >= attackStart - t0).map((s) => s.rssMiB),
  );
  const relinkMs = relinks.map((r) => r.stable ? r.ms ?? Infinity : Infinity);
  const result = {
    soak: "hostile",
    attacks: [...ATTACKS],
    env: N_ENV,
    minutes: MINUTES,
    nofile: NOFILE ?? null,
    pidUnchanged: samples.every((s) => s.pid === pid) && nina.running,
    idleRssMiB: idleRss,
    peakRssMiB: peakRss,
    peakHeapMiB: Math.max(...samples.map((s) => s.heapMiB)),
    peakHeapTotalMiB: Math.max(...samples.map((s) => s.heapTotalMiB)),
    idleHeapMiB: idle[2].heapMiB,
    rssRatio: Math.round((peakRss / idleRss) * 100) / 100,
    honest: {
      sent: sent.length,
      within10s: within,
      late,
      missing,
      sendErrors: sent.filter((s) => s.error).length,
      ratio: Math.round((within / sent.length) * 10000) / 10000,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
      maxMs: latencies.length ? Math.max(...latencies) : null,
    },
    relinkMs: relinks.map((r) => r.ms),
    relinksStable: relinks.every((r) => r.stable),
    relinkMaxMs: Math.max(...relinkMs),
    idleFds,
    fdsAfter60s: after.fds,
    fdsPeak: Math.max(...samples.map((s) => s.fds)),
    adminMaxMs: Math.max(...samples.map((s) => s.adminMs)),
    fdsDeltaPct: Math.round(((after.fds - idleFds) / idleFds) * 1000) / 10,
    dbBytes: after.dbBytes,
    walBytes: after.walBytes,
    dbIdleBytes: idle[2].dbBytes,
    flood: floodStats,
    uiFlood: uiStats,
    hostilePeer: hostileCounts,
    silentReader: readerCounts,
  };
  const ok = (b: boolean) => b ? "met" : "MISSED";
  console.log(`
== hostile soak: ${MINUTES} min${NOFILE ? `, ulimit -n ${NOFILE}` : ""}
PID unchanged:            ${result.pidUnchanged ? "yes" : "NO"} (${pid})
RSS peak / idle:          ${peakRss} / ${idleRss} MiB = ${result.rssRatio}× (target ≤ 2×: ${
    ok(result.rssRatio <= 2)
  }); JS heap used: idle ${result.idleHeapMiB}, peak ${result.peakHeapMiB} MiB (held at most ${result.peakHeapTotalMiB})
honest within 10 s:       ${within} of ${sent.length} = ${
    (result.honest.ratio * 100).toFixed(2)
  }% (target ≥ 99%: ${
    ok(result.honest.ratio >= 0.99)
  }); late ${late}, missing ${missing}, send errors ${result.honest.sendErrors}; p50 ${result.honest.p50Ms} ms, p99 ${result.honest.p99Ms} ms, max ${result.honest.maxMs} ms
known peer re-link:       ${
    relinks.map((r) => r.ms === null ? "none in 60 s" : `${r.ms} ms${r.stable ? "" : " (flapped)"}`)
      .join(", ")
  } (target ≤ 10 s: ${ok(result.relinkMaxMs <= 10_000)})
fds 60 s after / idle:    ${after.fds} / ${idleFds} (${result.fdsDeltaPct}%; target ±10%: ${
    ok(Math.abs(result.fdsDeltaPct) <= 10)
  }); peak ${result.fdsPeak}
admin answer, slowest:    ${result.adminMaxMs} ms (N's event loop, sampled every 5 s)
node.db:                  ${mib(after.dbBytes)} MiB (+ WAL ${mib(after.walBytes)} MiB; idle ${
    mib(idle[2].dbBytes)
  } MiB)
node-port flood:          ${JSON.stringify(floodStats)}
UI-port flood:            ${JSON.stringify(uiStats)}
hostile peer:             ${JSON.stringify(hostileCounts)}
silent reader:            ${JSON.stringify(readerCounts)}
`);
  const samplesPath = join(root, "samples.json");
  await Deno.writeTextFile(samplesPath, JSON.stringify({ result, relinks, samples, messages }));
  for (const n of nodes) await Deno.writeTextFile(join(root, `${n.id}.log`), n.output);
  console.log(`samples: ${samplesPath}`);
  console.log(JSON.stringify(result));
} finally {
  await Promise.all(nodes.map((n) => n.stop()));
}
