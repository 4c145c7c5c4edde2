/**
 * Experiment behind docs/PERF_NOTES.md (branch `relaycpu`, run by hand): a
 * relay's per-chunk transport path in one process, the way a link carries a
 * file chunk through node B: TLS in, WebSocket frame parsing (masked: the
 * source dials), the channel's open into its lent buffer, the channel's seal
 * onto the next link, WebSocket framing (masked: the relay dials the next
 * hop), TLS out; and a small message back per chunk (the destination's
 * receipt), as on a real relay. No provenance check and no routing.
 *
 *   deno run -A bench/exp_relay_chunk.ts [rounds=6] [chunks=512]
 *   PLAIN=1 deno run -A bench/exp_relay_chunk.ts   # plain records (branch `tlsbind`)
 *   PLAIN=1 HANDOVER=1 deno run -A bench/exp_relay_chunk.ts   # forwarded as it arrived (`relayfiles`)
 *
 * A child process is both ends: a source that sends sealed 256 KiB messages
 * over a real lib/wss + lib/channel link while it is writable, and a sink
 * that reads and drops. The relay process counts what it forwards and
 * measures, per round of `chunks` messages: CPU (user + system, all threads)
 * per chunk, page faults (minor) per chunk and V8 heap bytes allocated per
 * chunk. JSON line per round, the minimum last.
 */
// deno-lint-ignore-file no-console
import process from "node:process";
import v8 from "node:v8";
import { createCertificate } from "../lib/tls.ts";
import { SILENT_LOGGER } from "../lib/log.ts";
import { dialWss, startWssServer, type WsConnection } from "../lib/wss/mod.ts";
import { SecureChannel } from "../lib/channel/mod.ts";

const SELF = new URL(import.meta.url).pathname;
const CHUNK = 256 * 1024 + 200;
const RECEIPT = 160;
const MAX = 1 << 20;
const KEYS = [1, 2, 3, 4].map((k) => new Uint8Array(32).fill(k));
/** Plain records, as after a handshake in which both ends proved their TLS session. */
const PLAIN = Deno.env.get("PLAIN") === "1";
/** Chunks handed over as they arrived (a relay's forward, LinkManager.forward), not copied. */
const HANDOVER = Deno.env.get("HANDOVER") === "1";

/** A channel's keys: `send`, `receive`, and with PLAIN the connection's own TLS binding. */
function keys(ws: WsConnection, send: number, receive: number) {
  return { send: KEYS[send], receive: KEYS[receive], binding: PLAIN ? ws.tlsBinding : null };
}

/** A lib/wss listener on 127.0.0.1 whose first connection is handed to `got`. */
async function listen(got: (ws: WsConnection) => void) {
  return await startWssServer({
    host: "127.0.0.1",
    port: 0,
    ...(await createCertificate(["127.0.0.1"], Date.now())),
    maxConnections: 8,
    maxConnectionsPerAddress: 8,
    handshakeTimeoutMs: 10_000,
    maxMessageBytes: MAX,
    routes: {
      "/l": ({ ws, authenticated }) => {
        authenticated();
        got(ws);
      },
    },
    log: SILENT_LOGGER,
  });
}

function dial(port: number): Promise<WsConnection> {
  return dialWss({ host: "127.0.0.1", port, path: "/l", timeoutMs: 10_000, maxMessageBytes: MAX });
}

function minorFaults(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
}

/** The child: a sink (reads and drops) and a source dialling the relay. */
async function peer(relayPort: number, total: number): Promise<void> {
  // The sink opens each chunk and answers with a small message (as a destination's receipt),
  // which the relay forwards back to the source.
  const receipt = new Uint8Array(RECEIPT).fill(9);
  const sink = await listen((ws) => {
    ws.lendLargeMessages();
    const ch = new SecureChannel(ws, keys(ws, 3, 2));
    ch.lendLargeRecords();
    ch.onMessage = () => void ch.send(receipt);
  });
  console.log(JSON.stringify({ sinkPort: sink.port }));
  const ws = await dial(relayPort);
  const ch = new SecureChannel(ws, keys(ws, 0, 1));
  const msg = new Uint8Array(CHUNK).fill(7);
  let sent = 0;
  await new Promise<void>((done) => {
    let flushing = false;
    const pump = () => {
      while (sent < total && ch.writable) {
        ch.send(msg);
        sent++;
      }
      if (sent >= total && !flushing) {
        flushing = true;
        ch.flushed().then(() => done());
      }
    };
    // The relay's first message says it is ready. Receipts pump too: main's channel could miss
    // an onDrain when its handler sent until full.
    ch.onDrain = pump;
    ch.onMessage = pump;
  });
  // Stay until the relay ends us.
  await new Promise((r) => ws.onClose = r);
  await sink.close();
}

async function relay(rounds: number, chunks: number): Promise<void> {
  const warm = 64;
  const total = warm + rounds * chunks;
  let inbound!: (ws: WsConnection) => void;
  const arrived = new Promise<WsConnection>((r) => inbound = r);
  const server = await listen((ws) => {
    ws.lendLargeMessages();
    inbound(ws);
  });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SELF, "--peer", String(server.port), String(total)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("\n")) out += (await reader.read()).value ?? "";
  const { sinkPort } = JSON.parse(out.split("\n")[0]);

  const outWs = await dial(sinkPort);
  // As the link manager sets up a link, where the tree has it (main at e5e5622 has not).
  (outWs as { reuseLargeFrames?: () => void }).reuseLargeFrames?.();
  const outCh = new SecureChannel(outWs, keys(outWs, 2, 3));
  const inWs = await arrived;
  const inCh = new SecureChannel(inWs, keys(inWs, 1, 0));
  inCh.lendLargeRecords();

  let got = 0;
  let mark = { cpu: process.cpuUsage(), faults: minorFaults(), heap: 0, at: 0 };
  const heap = () =>
    (v8.getHeapStatistics() as unknown as { total_allocated_bytes: number }).total_allocated_bytes;
  const results: Array<Record<string, number>> = [];
  let finished!: () => void;
  const allDone = new Promise<void>((r) => finished = r);
  outCh.onDrain = () => inWs.resumeReading();
  outCh.onMessage = (bytes) => void inCh.send(bytes.slice());
  inCh.onMessage = (bytes) => {
    if (HANDOVER) outCh.sendParts([bytes], { handOver: true });
    else outCh.send(bytes);
    if (!outCh.writable) inWs.pauseReading();
    got++;
    if (got === warm || (got > warm && (got - warm) % chunks === 0)) {
      const now = { cpu: process.cpuUsage(), faults: minorFaults(), heap: heap(), at: got };
      if (got > warm) {
        const n = now.at - mark.at;
        const cpu = (now.cpu.user - mark.cpu.user + now.cpu.system - mark.cpu.system) / n;
        results.push({
          usPerChunk: Math.round(cpu),
          sysUsPerChunk: Math.round((now.cpu.system - mark.cpu.system) / n),
          faultsPerChunk: Math.round((now.faults - mark.faults) / n * 10) / 10,
          heapKiBPerChunk: Math.round((now.heap - mark.heap) / n / 1024 * 10) / 10,
        });
        console.log(JSON.stringify({ round: results.length, ...results.at(-1) }));
      }
      mark = now;
      if (got === total) finished();
    }
  };
  inCh.send(new Uint8Array(1)); // ready
  await allDone;
  await outCh.flushed();
  const min = (k: string) => Math.min(...results.map((r) => r[k]));
  console.log(JSON.stringify({
    exp: "relay_chunk",
    rounds: results.map((r) => r.usPerChunk),
    minUsPerChunk: min("usPerChunk"),
    minSysUsPerChunk: min("sysUsPerChunk"),
    minFaultsPerChunk: min("faultsPerChunk"),
    minHeapKiBPerChunk: min("heapKiBPerChunk"),
  }));
  inCh.close("done");
  outCh.close("done");
  await server.close();
  child.kill("SIGKILL");
  await child.status;
  Deno.exit(0);
}

if (import.meta.main) {
  if (Deno.args[0] === "--peer") await peer(Number(Deno.args[1]), Number(Deno.args[2]));
  else await relay(Number(Deno.args[0] ?? 6), Number(Deno.args[1] ?? 512));
}
