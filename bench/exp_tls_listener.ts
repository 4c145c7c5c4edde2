/**
 * Experiment behind docs/PERF_NOTES.md (branch `tlsprobe`, run by hand): could
 * the node's listener (lib/wss/server.ts) move to Deno's own TLS?
 *
 *   deno run -A bench/exp_tls_listener.ts [rounds=2] [conns=2000] [waitMs=250]
 *   deno run -A bench/exp_tls_listener.ts --lazy      (part 1 alone)
 *
 * 1. "lazy": does `Deno.listenTls`'s `accept()` return before the TLS
 *    handshake, does the server answer a ClientHello nobody asked it to, and
 *    what does a close right after accept leave (the peer's view, descriptors)?
 * 2. "flood": CPU of a listening process (its own child) per connection it
 *    accepts and closes at once (an admission refusing it), for four
 *    listeners: `Deno.listenTls`, `Deno.listen` (plain), net.createServer
 *    with pauseOnConnect (lib/wss/server.ts today) and a node:tls `tls.Server`.
 *    A child process floods each with `conns` plain TCP connections, 64 at a
 *    time, that send a real ClientHello or nothing, and wait for the server's
 *    close at most `waitMs` before closing themselves. The listener reports
 *    the most descriptors it held (sampled every 50 ms).
 * 3. "write": CPU per write on the ACCEPTING side (sockwrite measured the
 *    dialling side): 600 B per event-loop iteration and 256 KiB writes (at
 *    most 1 MiB unwritten), node:tls server socket against a `Deno.TlsConn`
 *    from `Deno.listenTls`, and node:tls again with GLIBC_TUNABLES set to keep a
 *    4 MiB pad at the top of glibc's heaps (without it, a fresh process that
 *    writes 256 KiB over and over takes ~95 page faults per write). The
 *    reader is a child process.
 * 4. "api": what a Deno.TlsConn does for the connection's needs: how much a
 *    server takes in when it stops reading (TCP pushback), half close.
 *
 * Every loop is bounded in count and time; loopback only. JSON line per case,
 * a summary JSON line last.
 */
// deno-lint-ignore-file no-console
import net from "node:net";
import tls from "node:tls";
import process from "node:process";
import { setImmediate } from "node:timers";
import { createCertificate } from "../lib/tls.ts";
import { denoTlsWriter, nodeTlsWriter, type Writer } from "./_tls_writers.ts";

const SELF = new URL(import.meta.url).pathname;
const HOST = "127.0.0.1";
const WARM = 200;
const UNSENT_MAX = 1 << 20;
const IN_FLIGHT = 64;
const TOP_PAD = "glibc.malloc.top_pad=4194304";

interface Material {
  cert: string;
  key: string;
}

const cpuUs = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => new Uint8Array((s.match(/../g) ?? []).map((h) => parseInt(h, 16)));

function readMaterial(path: string): Material {
  return JSON.parse(Deno.readTextFileSync(path));
}

/** With a deadline: resolves to the value, or to `fallback` after `ms`. */
function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let t: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((r) => (t = setTimeout(() => r(fallback), ms))),
  ]);
}

/** A real ClientHello as node:tls sends it, caught by a plain TCP listener. */
async function captureClientHello(): Promise<Uint8Array> {
  const l = Deno.listen({ hostname: HOST, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  const s = tls.connect({ host: HOST, port, servername: "localhost", rejectUnauthorized: false });
  s.on("error", () => {});
  const c = await l.accept();
  const b = new Uint8Array(8192);
  const n = await within(c.read(b), 2000, null);
  c.close();
  s.destroy();
  l.close();
  if (!n) throw new Error("no ClientHello");
  return b.slice(0, n);
}

// ---- 1. lazy handshake ----------------------------------------------------

async function lazy(m: Material, hello: Uint8Array): Promise<Record<string, unknown>> {
  const l = Deno.listenTls({ hostname: HOST, port: 0, cert: m.cert, key: m.key });
  const port = (l.addr as Deno.NetAddr).port;
  const out: Record<string, unknown> = {};
  // (a) A client that connects and sends nothing: does accept() return?
  {
    const client = await Deno.connect({ hostname: HOST, port });
    const t0 = performance.now();
    const c = await within(l.accept(), 2000, null);
    out.acceptWithoutClientHelloMs = c ? +(performance.now() - t0).toFixed(2) : "did not return";
    out.remoteAddrAtAccept = c ? `${c.remoteAddr.hostname}:${c.remoteAddr.port}` : null;
    c?.close();
    client.close();
  }
  // (b) A client that sends a ClientHello; the server neither reads nor calls
  // handshake(): does a ServerHello come back anyway (the handshake is driven
  // in the background from accept)?
  {
    const client = await Deno.connect({ hostname: HOST, port });
    await client.write(hello);
    const c = await within(l.accept(), 2000, null);
    const b = new Uint8Array(16384);
    const n = await within(client.read(b), 500, -1);
    out.serverHelloWithoutReadOrHandshake = n === -1 ? "none in 500 ms" : `${n} bytes`;
    // (c) The same server conn, now asked: handshake() with a client that
    // never finishes (it stops after its ClientHello) must be bounded by the caller.
    if (c) {
      const t0 = performance.now();
      const h = await within(
        c.handshake().then(() => "done", (e) => `error: ${e}`),
        1000,
        "pending",
      );
      out.handshakeWithStalledClient = `${h} after ${(performance.now() - t0).toFixed(0)} ms`;
      c.close();
    }
    client.close();
  }
  // (d) The admission's refusal: the server closes right after accept. How
  // long until the client sees the connection end, with and without a ClientHello?
  for (const withHello of [false, true]) {
    const client = await Deno.connect({ hostname: HOST, port });
    if (withHello) await client.write(hello);
    const c = await within(l.accept(), 2000, null);
    const t0 = performance.now();
    c?.close();
    const b = new Uint8Array(16384);
    let got = 0;
    let end = "no end in 10 s";
    for (let i = 0; i < 20 && performance.now() - t0 < 10_000; i++) {
      const r = await within(client.read(b).catch(() => null), 10_000, -1);
      if (r === -1) break;
      if (r === null) {
        end = "EOF";
        break;
      }
      got += r;
    }
    out[`closeAtAccept${withHello ? "+hello" : ""}`] = `${end} after ${
      (performance.now() - t0).toFixed(0)
    } ms, ${got} bytes before it`;
    client.close();
  }
  // (e) Held descriptors: 100 clients connect (silent, or sending a
  // ClientHello and then nothing) and stay; the server closes each at
  // accept. Descriptors of this process before, 1 s and 12 s later, and 1 s
  // after the clients close.
  const fdCount = () => {
    let k = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) k++;
    return k;
  };
  for (const withHello of [false, true]) {
    const before = fdCount();
    const clients: Deno.Conn[] = [];
    for (let i = 0; i < 100; i++) {
      const client = await Deno.connect({ hostname: HOST, port });
      if (withHello) await client.write(hello);
      clients.push(client);
      const c = await within(l.accept(), 2000, null);
      c?.close();
    }
    await sleep(1000);
    const at1 = fdCount() - before - clients.length;
    await sleep(11_000);
    const at12 = fdCount() - before - clients.length;
    for (const c of clients) c.close();
    await sleep(1000);
    const after = fdCount() - before;
    out[`heldFdsOf100ClosedAtAccept${withHello ? "+hello" : ""}`] =
      `${at1} at 1 s, ${at12} at 12 s, ${after} 1 s after the clients closed`;
  }
  l.close();
  return out;
}

// ---- 2. flood: CPU of the listener per connection closed at accept ---------

type ListenerKind = "deno-tls" | "deno-tcp" | "node-net" | "node-tls";

async function listener(kind: ListenerKind, n: number, materialPath: string): Promise<void> {
  const m = readMaterial(materialPath);
  let accepted = 0;
  let c0 = 0;
  let t0 = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));
  const counted = () => {
    accepted++;
    if (accepted === WARM) {
      c0 = cpuUs();
      t0 = performance.now();
    }
    if (accepted === n) finish();
  };
  let port: number;
  let stop: () => void;
  if (kind === "deno-tls" || kind === "deno-tcp") {
    const l = kind === "deno-tls"
      ? Deno.listenTls({ hostname: HOST, port: 0, cert: m.cert, key: m.key })
      : Deno.listen({ hostname: HOST, port: 0 });
    port = (l.addr as Deno.NetAddr).port;
    stop = () => l.close();
    (async () => {
      for (let i = 0; i < n; i++) {
        let c: Deno.Conn;
        try {
          c = await l.accept();
        } catch {
          return;
        }
        void (c.remoteAddr as Deno.NetAddr).hostname; // what admission reads
        c.close();
        counted();
      }
    })();
  } else {
    const s = kind === "node-net"
      ? net.createServer({ pauseOnConnect: true })
      : tls.createServer({ cert: m.cert, key: m.key });
    s.on("connection", (raw: net.Socket) => {
      raw.on("error", () => {});
      void raw.remoteAddress;
      raw.destroy();
      counted();
    });
    s.on("tlsClientError", () => {});
    s.on("error", () => {});
    await new Promise<void>((r) => s.listen(0, HOST, () => r()));
    port = (s.address() as net.AddressInfo).port;
    stop = () => s.close();
  }
  console.log(JSON.stringify({ port }));
  let maxFds = 0;
  const fds = setInterval(() => {
    let k = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) k++;
    maxFds = Math.max(maxFds, k);
  }, 50);
  await within(finished, 90_000, undefined);
  clearInterval(fds);
  // Let work the runtime does after the close (a background handshake) land.
  await sleep(300);
  const cpu = cpuUs() - c0;
  const measured = Math.max(0, accepted - WARM);
  console.log(JSON.stringify({
    accepted,
    measured,
    usPerConn: measured ? +(cpu / measured).toFixed(1) : null,
    wallMs: +(performance.now() - t0).toFixed(0),
    maxFds,
  }));
  stop();
  Deno.exit(0);
}

async function flood(port: number, n: number, helloHex: string, waitMs: number): Promise<void> {
  const hello = unhex(helloHex);
  let next = 0;
  let failed = 0;
  let answered = 0;
  const t0 = performance.now();
  const one = async () => {
    let c: Deno.Conn;
    try {
      c = await Deno.connect({ hostname: HOST, port });
    } catch {
      failed++;
      return;
    }
    try {
      if (hello.length) await c.write(hello);
      const b = new Uint8Array(16384);
      // Until the server closes (EOF or reset), at most waitMs.
      const t = performance.now();
      for (let i = 0; i < 20; i++) {
        const left = waitMs - (performance.now() - t);
        if (left <= 0) break;
        const r = await within(c.read(b), left, -1);
        if (r === null || r === -1) break;
        answered += r;
      }
    } catch { /* reset by the server */ }
    try {
      c.close();
    } catch { /* closed */ }
  };
  const worker = async () => {
    while (next < n && performance.now() - t0 < 80_000) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  console.log(JSON.stringify({ sent: next, failed, bytesAnswered: answered }));
}

async function spawnWithPort(
  args: string[],
): Promise<
  { child: Deno.ChildProcess; port: number; rest: ReadableStreamDefaultReader<string>; buf: string }
> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SELF, ...args],
    stdout: "piped",
  }).spawn();
  const rest = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const t0 = performance.now();
  while (!buf.includes("\n") && performance.now() - t0 < 20_000) {
    const { value, done } = await rest.read();
    if (done) break;
    buf += value;
  }
  const line = buf.slice(0, buf.indexOf("\n"));
  return {
    child,
    port: (JSON.parse(line) as { port: number }).port,
    rest,
    buf: buf.slice(line.length + 1),
  };
}

async function readAll(rest: ReadableStreamDefaultReader<string>, buf: string): Promise<string> {
  for (let i = 0; i < 1000; i++) {
    const { value, done } = await rest.read();
    if (done) break;
    buf += value;
  }
  return buf;
}

async function floodCase(
  kind: ListenerKind,
  conns: number,
  hello: Uint8Array | null,
  waitMs: number,
  materialPath: string,
): Promise<Record<string, unknown>> {
  const l = await spawnWithPort(["--listener", kind, String(conns), materialPath]);
  const f = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      SELF,
      "--flood",
      String(l.port),
      String(conns),
      hello ? hex(hello) : "",
      String(waitMs),
    ],
  }).output();
  const fl = JSON.parse(new TextDecoder().decode(f.stdout).trim().split("\n").pop()!);
  const out = (await readAll(l.rest, l.buf)).trim().split("\n").pop()!;
  await l.child.status;
  const r = {
    case: "flood",
    listener: kind,
    clientHello: !!hello,
    clientWaitsMs: waitMs,
    ...JSON.parse(out),
    ...fl,
  };
  console.log(JSON.stringify(r));
  return r;
}

// ---- 3. writes on the accepting side --------------------------------------

async function writerCase(
  kind: "node" | "deno",
  size: number,
  n: number,
  materialPath: string,
): Promise<void> {
  const m = readMaterial(materialPath);

  let stop: () => void;
  let port: number;
  let accepted: Promise<Writer>;
  if (kind === "deno") {
    const l = Deno.listenTls({ hostname: HOST, port: 0, cert: m.cert, key: m.key });
    port = (l.addr as Deno.NetAddr).port;
    stop = () => l.close();
    accepted = l.accept().then(async (c) => {
      await c.handshake();
      return denoTlsWriter(c, UNSENT_MAX);
    });
  } else {
    const s = tls.createServer({ cert: m.cert, key: m.key });
    await new Promise<void>((r) => s.listen(0, HOST, () => r()));
    port = (s.address() as net.AddressInfo).port;
    stop = () => s.close();
    accepted = new Promise((resolve) =>
      s.once("secureConnection", (sock: tls.TLSSocket) => {
        sock.setNoDelay(true);
        sock.resume();
        resolve(nodeTlsWriter(sock, UNSENT_MAX));
      })
    );
  }
  const reader = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SELF, "--reader", String(port), materialPath],
  }).spawn();
  const w = await within(accepted, 10_000, null as unknown as Writer);
  if (!w) throw new Error("no reader");
  const buf = new Uint8Array(size).fill(7);
  const warm = Math.min(500, n);
  for (let i = 0; i < warm; i++) {
    w.write(buf);
    await new Promise((r) => setImmediate(r));
    await w.room();
  }
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    w.write(buf);
    await new Promise((r) => setImmediate(r));
    await w.room();
  }
  await w.end();
  const c = process.cpuUsage(c0);
  const cpu = c.user + c.system;
  console.log(JSON.stringify({
    case: "write",
    side: "accepting",
    mode: kind,
    size,
    writes: n,
    usPerWrite: +(cpu / n).toFixed(1),
    mbPerCpuS: +((n * size) / cpu).toFixed(1),
    sysShare: +(c.system / cpu).toFixed(2),
  }));
  stop();
  await within(reader.status, 5000, undefined);
  try {
    reader.kill();
  } catch { /* gone */ }
  Deno.exit(0);
}

async function reader(port: number, materialPath: string): Promise<void> {
  const m = readMaterial(materialPath);
  const c = await Deno.connectTls({ hostname: HOST, port, caCerts: [m.cert] });
  const b = new Uint8Array(1 << 20);
  const t0 = performance.now();
  try {
    while (performance.now() - t0 < 120_000 && (await c.read(b)) !== null) { /* dropped */ }
  } catch { /* the writer went away */ }
  Deno.exit(0);
}

// ---- 4. the connection's needs on a Deno.TlsConn ---------------------------

async function api(m: Material): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  // Pushback: the server accepts, finishes the handshake and stops reading;
  // how many bytes does the client get written before its writes stop?
  for (const kind of ["deno-tls", "deno-tcp"] as const) {
    const l = kind === "deno-tls"
      ? Deno.listenTls({ hostname: HOST, port: 0, cert: m.cert, key: m.key })
      : Deno.listen({ hostname: HOST, port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    const client: Deno.Conn = kind === "deno-tls"
      ? await Deno.connectTls({ hostname: HOST, port, caCerts: [m.cert] })
      : await Deno.connect({ hostname: HOST, port });
    const server = await l.accept();
    if (kind === "deno-tls") {
      await Promise.all([
        (server as Deno.TlsConn).handshake(),
        (client as Deno.TlsConn).handshake(),
      ]);
    }
    let written = 0;
    let stopped = false;
    const chunk = new Uint8Array(64 * 1024);
    const writing = (async () => {
      for (let i = 0; i < 100_000 && !stopped; i++) written += await client.write(chunk);
    })().catch(() => {});
    const marks: number[] = [];
    for (let s = 0; s < 3; s++) {
      await sleep(1000);
      marks.push(written);
    }
    out[`${kind}:bytesTakenWhileNotReadingAt1s2s3s`] = marks.map((x) =>
      `${(x / 1048576).toFixed(1)} MiB`
    );
    // Reading again drains it (the stop is not a loss).
    stopped = true;
    const b = new Uint8Array(1 << 20);
    let got = 0;
    const t0 = performance.now();
    while (got < marks[2] && performance.now() - t0 < 5000) {
      const r = await within(server.read(b), 2000, null);
      if (r === null) break;
      got += r;
    }
    out[`${kind}:readAfterResume`] = `${(got / 1048576).toFixed(1)} MiB`;
    server.close();
    client.close();
    await within(writing, 2000, undefined);
    l.close();
  }
  // Half close on a server TlsConn: closeWrite() ends the server's side (the
  // client reads EOF), and the client can still send.
  {
    const l = Deno.listenTls({ hostname: HOST, port: 0, cert: m.cert, key: m.key });
    const port = (l.addr as Deno.NetAddr).port;
    const client = await Deno.connectTls({ hostname: HOST, port, caCerts: [m.cert] });
    const server = await l.accept();
    await Promise.all([server.handshake(), client.handshake()]);
    await server.closeWrite();
    const b = new Uint8Array(64);
    const eof = await within(client.read(b), 2000, -1);
    let after: unknown = "n/a";
    try {
      await client.write(new Uint8Array([1, 2, 3]));
      after = await within(server.read(b), 2000, -1);
    } catch (e) {
      after = `error: ${(e as Error).message}`;
    }
    out.halfClose = `client read ${eof === null ? "EOF" : eof}; then client→server read ${after}`;
    out.tlsConnHasSetNoDelay = typeof (server as unknown as { setNoDelay?: unknown }).setNoDelay;
    client.close();
    server.close();
    l.close();
  }
  return out;
}

// ---- main -----------------------------------------------------------------

async function main(): Promise<void> {
  const rounds = Number(Deno.args[0] ?? 2);
  const conns = Number(Deno.args[1] ?? 2000);
  // How long a flooding client waits for the server's close before it closes itself.
  const waitMs = Number(Deno.args[2] ?? 250);
  const m = await createCertificate([HOST], Date.now());
  const materialPath = await Deno.makeTempFile({ suffix: ".json" });
  Deno.writeTextFileSync(materialPath, JSON.stringify({ cert: m.cert, key: m.key }));
  const summary: Record<string, unknown> = { rounds, conns, waitMs };
  try {
    const hello = await captureClientHello();
    summary.clientHelloBytes = hello.length;
    const lz = await lazy(m, hello);
    console.log(JSON.stringify({ case: "lazy", ...lz }));
    summary.lazy = lz;
    const ap = await api(m);
    console.log(JSON.stringify({ case: "api", ...ap }));
    summary.api = ap;
    const floods: Record<string, number[]> = {};
    const writes: Record<string, number[]> = {};
    const kinds: ListenerKind[] = ["node-net", "deno-tls", "node-tls", "deno-tcp"];
    for (let r = 0; r < rounds; r++) {
      for (const h of [null, hello]) {
        for (const k of kinds) {
          const f = await floodCase(k, conns, h, waitMs, materialPath);
          (floods[`${k}${h ? "+hello" : ""}`] ??= []).push(f.usPerConn as number);
        }
      }
      for (const [size, n] of [[600, 20_000], [256 * 1024, 1000]]) {
        for (const mode of ["node", "deno", "node+top_pad"]) {
          // glibc grows and shrinks the heap around each large write unless it keeps a pad.
          const env = mode === "node+top_pad" ? { GLIBC_TUNABLES: TOP_PAD } : undefined;
          const o = await new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "-A",
              SELF,
              "--writer",
              mode.split("+")[0],
              String(size),
              String(n),
              materialPath,
            ],
            env,
          }).output();
          const line = new TextDecoder().decode(o.stdout).trim().split("\n").pop()!;
          const j = { ...JSON.parse(line), mode, glibcTunables: env?.GLIBC_TUNABLES ?? "" };
          console.log(JSON.stringify(j));
          (writes[`${mode}:${size}`] ??= []).push(size > 1000 ? j.mbPerCpuS : j.usPerWrite);
        }
      }
    }
    summary.floodUsPerConn = floods;
    summary.writeUsPer600B_or_MBperCpuS256K = writes;
  } finally {
    await Deno.remove(materialPath).catch(() => {});
  }
  console.log(JSON.stringify(summary));
}

const [flag, a, b, c, d] = Deno.args;
if (flag === "--lazy") {
  const m = await createCertificate([HOST], Date.now());
  console.log(JSON.stringify({ case: "lazy", ...(await lazy(m, await captureClientHello())) }));
} else if (flag === "--listener") await listener(a as ListenerKind, Number(b), c);
else if (flag === "--flood") {
  await flood(Number(a), Number(b), c ?? "", Number(d));
  Deno.exit(0);
} else if (flag === "--writer") await writerCase(a as "node" | "deno", Number(b), Number(c), d);
else if (flag === "--reader") await reader(Number(a), b);
else await main();
