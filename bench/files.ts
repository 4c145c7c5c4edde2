/**
 * File transfer (run by hand: `deno task bench files`): 1 GiB from alice@A
 * to bob@C through relay B, three real node processes on loopback (A and C
 * with their owners' clients in process, B headless). Prints MB/s end to end
 * (offer with its digest pass, acceptance, transfer, check and save) and for
 * the transfer alone (acceptance to saved), the peak RSS of each process
 * (VmHWM), and, as the physical reference in the same run, the same file
 * copied over plain HTTPS on loopback (Deno.serve with TLS → fetch → file).
 * CPU seconds per process, also per GiB so runs of different sizes compare,
 * and where each process's main thread (its event loop) spent the transfer:
 * on a CPU, runnable but waiting for one, or asleep.
 * JSON line last. Targets (issue 14): ≥ 100 MB/s end to end, at least half
 * of the plain-HTTPS figure, peak RSS ≤ 100 MiB per process (flat in file
 * size), CPU per GiB under half of alice 19.7 / relay 10.4 / bob 23.7 s.
 * `MB` = 10^6 bytes.
 */
// deno-lint-ignore-file no-console
import { join } from "node:path";
import { link, startChat } from "../tests/_helpers/chat.ts";
import { sha256File, transfer, writeTestFile } from "../tests/_helpers/files.ts";
import { NodeProc, tempRoot, waitUntil } from "../tests/_helpers/node_proc.ts";
import type { FileTransfer } from "../lib/client/mod.ts";
import { sample } from "./_proc.ts";

const BYTES = Number(Deno.env.get("BYTES") ?? 1024 ** 3);
/**
 * For experiments: extra environment for a process, `ALICE_ENV` / `RELAY_ENV` / `BOB_ENV` =
 * "K=V K=V" (glibc's MALLOC_ARENA_MAX, DENO_V8_FLAGS=...).
 */
function envOf(name: string): Record<string, string> {
  return Object.fromEntries(
    (Deno.env.get(name) ?? "").split(/\s+/).filter((kv) => kv.includes("=")).map((kv) => {
      const i = kv.indexOf("=");
      return [kv.slice(0, i), kv.slice(i + 1)];
    }),
  );
}
const ENVS = [envOf("ALICE_ENV"), envOf("RELAY_ENV"), envOf("BOB_ENV")];

/** With `--expose-gc` in a process's DENO_V8_FLAGS, its `memory` answer also gives what a forced collection leaves. */
const GC_EXPOSED = ENVS.map((env) => env.DENO_V8_FLAGS?.includes("--expose-gc") ?? false);

// Reading another process's /proc entry needs --allow-all in Deno; `cat` needs only --allow-run.
async function proc(pid: number | undefined, file: string): Promise<string> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/${file}`], stdout: "piped" })
    .output().catch(() => null);
  return out ? new TextDecoder().decode(out.stdout) : "";
}

/** CPU seconds (user + system) a process has used. */
async function cpuSeconds(pid: number | undefined): Promise<number> {
  return (await sample([pid!])).procs.get(pid!)?.cpuS ?? 0;
}

/**
 * A process's main thread (the event loop): ms on a CPU and ms runnable but waiting for one
 * (`/proc/PID/task/PID/schedstat`); the rest of the wall time it was asleep (nothing to do).
 */
async function mainThreadMs(pid: number | undefined): Promise<{ onCpu: number; waiting: number }> {
  const [run, wait] = (await proc(pid, `task/${pid}/schedstat`)).split(" ").map(Number);
  return { onCpu: (run || 0) / 1e6, waiting: (wait || 0) / 1e6 };
}

async function peakMiB(pid: number | undefined): Promise<number> {
  return Math.round(((await sample([pid!])).procs.get(pid!)?.hwmKiB ?? 0) / 1024);
}

async function httpsReference(root: string, src: string, certDir: string): Promise<number> {
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      new URL("./_https_file_server.ts", import.meta.url).pathname,
      join(certDir, "server.crt"),
      join(certDir, "server.key"),
      src,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!/port (\d+)/.test(out)) out += (await reader.read()).value ?? "";
    const port = Number(/port (\d+)/.exec(out)![1]);
    const client = Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(join(certDir, "server.crt"))],
    });
    const dest = join(root, "https-copy.bin");
    const started = performance.now();
    // The certificate names 127.0.0.1 (lib/tls.ts puts the host in its SANs).
    // With the DOM typings in deno.json, RequestInit lacks Deno's `client`.
    const res = await fetch(`https://127.0.0.1:${port}/`, { client } as RequestInit);
    using f = await Deno.open(dest, { write: true, create: true, truncate: true });
    await res.body!.pipeTo(f.writable);
    const seconds = (performance.now() - started) / 1000;
    client.close();
    await Deno.remove(dest);
    return BYTES / 1e6 / seconds;
  } finally {
    server.kill("SIGKILL");
    await server.status;
  }
}

const root = await tempRoot("bench-files");
const nodes: NodeProc[] = [];
try {
  const src = join(root, "one-gib.bin");
  await writeTestFile(src, BYTES, 42);
  const [a, b, c] = await Promise.all([
    NodeProc.create({ id: "alice", root, withClient: true, env: ENVS[0] }),
    NodeProc.create({ id: "relay", root, open: true, env: ENVS[1] }),
    NodeProc.create({ id: "bob", root, withClient: true, open: true, env: ENVS[2] }),
  ]);
  nodes.push(a, b, c);
  await link(a, b);
  await link(b, c);
  await startChat(a, "alice@alice", c, "bob@bob");

  // The relay's resident memory split before the file and at its peak during it (/proc/PID/status:
  // anonymous pages, i.e. heaps and buffers, against the binary's file pages): what the file adds.
  const rssSplit = async (pid = b.pid!) => {
    const p = (await sample([pid])).procs.get(pid)!;
    const m = (kib: number) => Math.round(kib / 1024);
    return { rss: m(p.rssKiB), anon: m(p.anonKiB), file: m(p.fileKiB) };
  };
  const usage = (await b.admin("memory")) as Record<string, number>;
  const relayBefore = {
    ...(await rssSplit()),
    heapUsed: Math.round(usage.heapUsed / 1024 ** 2),
    external: Math.round(usage.external / 1024 ** 2),
  };
  const relayPeak = { rss: 0, anon: 0, file: 0 };
  // Each process's RSS split at its sampled peak (alice, relay, bob).
  const peaks = [a, b, c].map(() => ({ rss: 0, anon: 0, file: 0 }));
  const cpu0 = await Promise.all([a, b, c].map((n) => cpuSeconds(n.pid)));
  const main0 = await Promise.all([a, b, c].map((n) => mainThreadMs(n.pid)));
  const started = performance.now();
  const t = (await a.admin("send-file", { address: "bob@bob", path: src })) as FileTransfer;
  const offeredMs = performance.now() - started;
  await waitUntil("offer at bob", async () => (await transfer(c, t.id)) !== undefined, 60_000);
  const acceptedAt = performance.now();
  await c.admin("accept-file", { target: t.id });
  let got: FileTransfer | undefined;
  // Where the memory is, as V8 sees it: the peak of each figure while the file moves.
  const mem = [a, b, c].map(() => ({
    heapTotal: 0,
    heapUsed: 0,
    external: 0,
    rss: 0,
    liveExternal: 0,
    liveHeap: 0,
  }));
  const sampleMemory = async () => {
    const split = await rssSplit();
    if (split.rss > relayPeak.rss) Object.assign(relayPeak, split);
    for (const [i, n] of [a, b, c].entries()) {
      const s = await rssSplit(n.pid!);
      if (s.rss > peaks[i].rss) Object.assign(peaks[i], s);
    }
    const now = await Promise.all([a, b, c].map((n) => n.admin("memory").catch(() => null)));
    now.forEach((m, i) => {
      if (!m) return;
      const peak = mem[i] as Record<string, number>;
      for (const [k, v] of Object.entries(m as Record<string, number>)) {
        if (k in peak) peak[k] = Math.max(peak[k], v);
      }
    });
  };
  await waitUntil("saved at bob", async () => {
    await sampleMemory();
    got = await transfer(c, t.id);
    if (got?.state === "failed") throw new Error(got.reason);
    return got?.state === "complete";
  }, 600_000);
  const done = performance.now();
  const cpu1 = await Promise.all([a, b, c].map((n) => cpuSeconds(n.pid)));
  const main1 = await Promise.all([a, b, c].map((n) => mainThreadMs(n.pid)));
  const wallMs = done - started;
  // Where each event loop's wall time went: a loop runnable nearly all the time and still slow is
  // short of CPU (its own work, or a core taken by another process); one often asleep waits for
  // something else (its input, a full window).
  const mainThreads = Object.fromEntries(["alice", "relay", "bob"].map((n, i) => {
    const onCpu = (main1[i].onCpu - main0[i].onCpu) / wallMs;
    const waiting = (main1[i].waiting - main0[i].waiting) / wallMs;
    const pct = (x: number) => Math.round(x * 100);
    return [n, {
      onCpu: pct(onCpu),
      waitingForCpu: pct(waiting),
      asleep: pct(1 - onCpu - waiting),
    }];
  }));
  const cpu = {
    alice: Math.round((cpu1[0] - cpu0[0]) * 10) / 10,
    relay: Math.round((cpu1[1] - cpu0[1]) * 10) / 10,
    bob: Math.round((cpu1[2] - cpu0[2]) * 10) / 10,
  };
  const rss = {
    alice: await peakMiB(a.pid),
    relay: await peakMiB(b.pid),
    bob: await peakMiB(c.pid),
  };
  const endToEnd = BYTES / 1e6 / ((done - started) / 1000);
  const transferOnly = BYTES / 1e6 / ((done - acceptedAt) / 1000);
  // How bob's node kept the chunks: pushed to the client before they were spooled, or spooled.
  const bobDelivery = ((await c.admin("status")) as { delivery?: Record<string, number> })
    .delivery;
  const chunks = Math.max(1, Math.ceil(BYTES / (256 * 1024)));
  const pushedFirstChunks = bobDelivery?.pushedFirstChunks ?? 0;
  const same = (await sha256File(got!.path!)) === (await sha256File(src));
  await Deno.remove(got!.path!);
  const https = await httpsReference(root, src, join(root, "relay-data"));
  console.log(
    `${(BYTES / 1024 ** 3).toFixed(2)} GiB alice@A → relay B → bob@C: ` +
      `${endToEnd.toFixed(1)} MB/s end to end (offer with digest pass ${
        Math.round(offeredMs)
      } ms), ${transferOnly.toFixed(1)} MB/s from acceptance to saved; digest ${
        same ? "matches" : "DIFFERS"
      }`,
  );
  console.log(
    `relay's memory before the file (MiB): ${JSON.stringify(relayBefore)}; at its sampled peak: ${
      JSON.stringify(relayPeak)
    }`,
  );
  console.log(
    `RSS split at each sampled peak (MiB, anonymous + file pages): ` +
      ["alice", "relay", "bob"].map((n, i) =>
        `${n} ${peaks[i].rss} = ${peaks[i].anon} + ${peaks[i].file}`
      ).join(", "),
  );
  console.log(
    `bob's node pushed ${pushedFirstChunks} of ${chunks} chunks to the client before spooling them`,
  );
  console.log(`peak RSS: alice ${rss.alice} MiB, relay ${rss.relay} MiB, bob ${rss.bob} MiB`);
  const mib = (x: number) => Math.round(x / 1024 ** 2);
  const memory = Object.fromEntries(["alice", "relay", "bob"].map((n, i) => [n, {
    heapTotal: mib(mem[i].heapTotal),
    heapUsed: mib(mem[i].heapUsed),
    external: mib(mem[i].external),
    rss: mib(mem[i].rss),
    liveExternal: mib(mem[i].liveExternal),
    liveHeap: mib(mem[i].liveHeap),
  }]));
  console.log(
    `peaks sampled during the transfer (MiB, Deno.memoryUsage): ` +
      Object.entries(memory).map(([n, m]) =>
        `${n} heap ${m.heapUsed}/${m.heapTotal}, external ${m.external}${
          GC_EXPOSED[["alice", "relay", "bob"].indexOf(n)]
            ? ` (live after a forced gc: heap ${m.liveHeap}, external ${m.liveExternal})`
            : ""
        }, rss ${m.rss}`
      ).join("; "),
  );
  const gib = BYTES / 1024 ** 3;
  const perGib = {
    alice: Math.round(cpu.alice / gib * 10) / 10,
    relay: Math.round(cpu.relay / gib * 10) / 10,
    bob: Math.round(cpu.bob / gib * 10) / 10,
  };
  console.log(
    `CPU seconds during the transfer (2 cores): alice ${cpu.alice}, relay ${cpu.relay}, bob ${cpu.bob}` +
      ` over ${
        ((done - started) / 1000).toFixed(1)
      } s of wall time; per GiB: alice ${perGib.alice}, ` +
      `relay ${perGib.relay}, bob ${perGib.bob}`,
  );
  console.log(
    `main threads, % of the wall time on a CPU / runnable waiting for one / asleep: ` +
      Object.entries(mainThreads).map(([n, m]) => `${n} ${m.onCpu}/${m.waitingForCpu}/${m.asleep}`)
        .join(", "),
  );
  console.log(
    `plain HTTPS on loopback (Deno.serve TLS → fetch → file): ${https.toFixed(1)} MB/s; ` +
      `fedchat reaches ${(endToEnd / https * 100).toFixed(0)}% of it`,
  );
  console.log(JSON.stringify({
    bench: "files",
    bytes: BYTES,
    mbPerSec: Math.round(endToEnd * 10) / 10,
    transferMbPerSec: Math.round(transferOnly * 10) / 10,
    offerMs: Math.round(offeredMs),
    pushedFirstChunks,
    digestMatches: same,
    peakRssMiB: rss,
    memoryMiB: memory,
    cpuSeconds: cpu,
    cpuSecondsPerGiB: perGib,
    mainThreadPct: mainThreads,
    httpsMbPerSec: Math.round(https * 10) / 10,
    ratioToHttps: Math.round((endToEnd / https) * 100) / 100,
    targets: {
      mbPerSec: 100,
      peakRssMiB: 100,
      ratioToHttps: 0.5,
      cpuSecondsPerGiB: { alice: 9.85, relay: 5.2, bob: 11.85 },
    },
  }));
} finally {
  await Promise.all(nodes.map((n) => n.stop()));
  await Deno.remove(root, { recursive: true }).catch(() => {});
}
