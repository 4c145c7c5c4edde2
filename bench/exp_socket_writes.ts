/**
 * Experiment behind docs/PERF_NOTES.md (branch `sockwrite`, run by hand): the
 * CPU of one socket write over loopback TLS, node:tls (what lib/wss writes
 * through) against Deno's own `Deno.connectTls`, for one small write per
 * iteration of the event loop, the same bytes gathered 16 to a write, small
 * writes 1 ms apart (as at a steady 1,000 msg/s), and 256 KiB writes (file
 * chunks, at most 1 MiB unwritten, as a sender respecting backpressure).
 *
 *   deno run -A bench/exp_socket_writes.ts [rounds=3]
 *
 * A TLS sink (Deno.listenTls, reads and drops) runs in a child process; each
 * case runs in a fresh child process, whose CPU (user + system, all threads)
 * is measured around the writes only. "idle" is the 1 ms timer loop without
 * writes, to subtract from the spaced cases. JSON line per case.
 */
// deno-lint-ignore-file no-console
import tls from "node:tls";
import process from "node:process";
import { setImmediate } from "node:timers";
import { createCertificate, type TlsMaterial } from "../lib/tls.ts";
import { denoTlsWriter, nodeTlsWriter, type Writer } from "./_tls_writers.ts";

const SELF = new URL(import.meta.url).pathname;
const UNSENT_MAX = 1 << 20;

async function sink(): Promise<void> {
  const m = await createCertificate(["127.0.0.1"], Date.now());
  const l = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: m.cert, key: m.key });
  console.log(JSON.stringify({ port: (l.addr as Deno.NetAddr).port, cert: m.cert }));
  for await (const c of l) {
    (async () => {
      const b = new Uint8Array(1 << 20);
      try {
        while ((await c.read(b)) !== null) { /* dropped */ }
      } catch { /* the writer went away */ }
    })();
  }
}

async function nodeWriter(port: number): Promise<Writer> {
  const s = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false });
  s.setNoDelay(true);
  await new Promise((r) => s.once("secureConnect", r));
  return nodeTlsWriter(s, UNSENT_MAX);
}

async function denoWriter(port: number, cert: string): Promise<Writer> {
  const c = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [cert] });
  await c.handshake();
  return denoTlsWriter(c, UNSENT_MAX);
}

async function runCase(
  args: {
    port: number;
    cert: string;
    mode: string;
    size: number;
    per: number;
    n: number;
    gapMs: number;
  },
): Promise<void> {
  const { mode, size, per, n, gapMs } = args;
  const w = mode === "node"
    ? await nodeWriter(args.port)
    : mode === "deno"
    ? await denoWriter(args.port, args.cert)
    : { write() {}, room: () => Promise.resolve(), end: () => Promise.resolve() };
  const next = () => new Promise<void>((r) => gapMs > 0 ? setTimeout(r, gapMs) : setImmediate(r));
  const buf = new Uint8Array(size * per).fill(7);
  for (let i = 0; i < 500; i++) {
    w.write(buf);
    await next();
    await w.room();
  }
  const writes = Math.ceil(n / per);
  const c0 = process.cpuUsage();
  for (let i = 0; i < writes; i++) {
    w.write(buf);
    await next();
    await w.room();
  }
  await w.end();
  const c = process.cpuUsage(c0);
  const cpu = c.user + c.system;
  console.log(JSON.stringify({
    mode,
    size,
    per,
    gapMs,
    writes,
    usPerWrite: +(cpu / writes).toFixed(1),
    usPerMessage: +(cpu / n).toFixed(2),
    mbPerCpuS: +((writes * buf.length) / cpu).toFixed(1),
    sysShare: +(c.system / cpu).toFixed(2),
  }));
}

async function main(): Promise<void> {
  const rounds = Number(Deno.args[0] ?? 3);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SELF, "--sink"],
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let first = "";
  while (!first.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("Cannot start the TLS sink");
    first += value;
  }
  const { port, cert } = JSON.parse(first) as { port: number } & Pick<TlsMaterial, "cert">;
  const cases = [
    { size: 600, per: 1, n: 20_000, gapMs: 0 },
    { size: 600, per: 16, n: 20_000, gapMs: 0 },
    { size: 600, per: 1, n: 3_000, gapMs: 1 },
    { size: 256 * 1024, per: 1, n: 1_000, gapMs: 0 },
  ];
  try {
    for (let r = 0; r < rounds; r++) {
      for (const mode of ["node", "deno"]) {
        for (const c of cases) {
          const arg = JSON.stringify({ port, cert, mode, ...c });
          const out = await new Deno.Command(Deno.execPath(), {
            args: ["run", "-A", SELF, "--case", arg],
          }).output();
          Deno.stdout.writeSync(out.stdout);
        }
      }
      const idle = JSON.stringify({
        port,
        cert,
        mode: "idle",
        size: 600,
        per: 1,
        n: 3_000,
        gapMs: 1,
      });
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", SELF, "--case", idle],
      }).output();
      Deno.stdout.writeSync(out.stdout);
    }
  } finally {
    child.kill();
    await child.status;
  }
}

if (Deno.args[0] === "--sink") await sink();
else if (Deno.args[0] === "--case") {
  await runCase(JSON.parse(Deno.args[1]));
  Deno.exit(0);
} else await main();
