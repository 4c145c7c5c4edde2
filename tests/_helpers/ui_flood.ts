/**
 * Hostile connections against a UI port, as a local attacker would open
 * them, and what the server process holds meanwhile (its socket descriptors,
 * read from /proc). Every loop is bounded in count and time.
 */

/**
 * How each connection misbehaves:
 * - `silent`: connects and sends nothing;
 * - `slowloris`: sends one byte of a request head now and one every `slowByteEveryMs`;
 * - `refused-upgrade`: a WebSocket upgrade with no credential, then keeps the socket open
 *   after the refusal.
 */
export type FloodMode = "silent" | "slowloris" | "refused-upgrade";

/** Options of {@linkcode startFlood}. */
export interface FloodOptions {
  port: number;
  count: number;
  mode: FloodMode;
  /** Default 10 s, as in the report of the attack. */
  slowByteEveryMs?: number;
  /** Connections opened at once. */
  batch?: number;
}

/** A running flood. */
export interface Flood {
  /** Connections the kernel completed (accepted or queued). */
  opened: number;
  /** Connection attempts that failed outright. */
  failed: number;
  /** Connections the server has not closed yet. */
  stillOpen(): number;
  /** Status lines the server answered with, by status. */
  answers: Map<string, number>;
  /** Closes every connection still open. */
  stop(): void;
}

const te = new TextEncoder();

/** Opens `count` hostile connections from 127.0.0.1 and keeps them as the mode says. */
export async function startFlood(options: FloodOptions): Promise<Flood> {
  const { port, count, mode, slowByteEveryMs = 10_000, batch = 250 } = options;
  const open = new Set<Deno.TcpConn>();
  const timers = new Set<ReturnType<typeof setInterval>>();
  const answers = new Map<string, number>();
  let failed = 0;
  let opened = 0;
  const head = `GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: ${"a".repeat(2000)}`;
  const upgrade = `GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
    `Origin: http://127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  const watch = (conn: Deno.TcpConn) => {
    (async () => {
      const buf = new Uint8Array(4096);
      let first = true;
      try {
        for (let i = 0; i < 10_000; i++) {
          const n = await conn.read(buf);
          if (n === null) break;
          if (first) {
            first = false;
            const line = new TextDecoder().decode(buf.subarray(0, Math.min(n, 12)));
            answers.set(line, (answers.get(line) ?? 0) + 1);
          }
        }
      } catch {
        // Reset by the server: closed all the same.
      }
      open.delete(conn);
      try {
        conn.close();
      } catch { /* closed by stop() */ }
    })();
  };
  const one = async () => {
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      failed++;
      return;
    }
    opened++;
    open.add(conn);
    watch(conn);
    try {
      if (mode === "refused-upgrade") await conn.write(te.encode(upgrade));
      if (mode === "slowloris") {
        let at = 0;
        await conn.write(te.encode(head[at++]));
        const timer = setInterval(() => {
          if (!open.has(conn) || at >= head.length) {
            clearInterval(timer);
            timers.delete(timer);
            return;
          }
          conn.write(te.encode(head[at++])).catch(() => {});
        }, slowByteEveryMs);
        timers.add(timer);
      }
    } catch {
      // Closed by the server before we wrote: that is a refusal, counted by stillOpen().
    }
  };
  for (let i = 0; i < count; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, count - i) }, one));
  }
  return {
    get opened() {
      return opened;
    },
    get failed() {
      return failed;
    },
    stillOpen: () => open.size,
    answers,
    stop() {
      for (const t of timers) clearInterval(t);
      timers.clear();
      for (const c of open) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      open.clear();
    },
  };
}

/**
 * Descriptor names of `pid`, or none when the process is gone. Reading
 * another process's /proc needs --allow-all (run the test as a driver).
 */
function fds(pid: number): string[] {
  try {
    return [...Deno.readDirSync(`/proc/${pid}/fd`)].map((e) => e.name);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

/** Sockets (TCP and Unix) the process `pid` holds now, from /proc; 0 when it is gone. */
export function socketCount(pid: number): number {
  let n = 0;
  for (const name of fds(pid)) {
    try {
      if (Deno.readLinkSync(`/proc/${pid}/fd/${name}`).startsWith("socket:")) n++;
    } catch {
      // The descriptor closed while we read the list.
    }
  }
  return n;
}

/** Open descriptors of the process `pid`, from /proc; 0 when it is gone. */
export function fdCount(pid: number): number {
  return fds(pid).length;
}

/** Resident memory of `pid` in MiB, from /proc. */
export function rssMiB(pid: number): number {
  let status = "";
  try {
    status = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}

/** Whether `pid` is alive. */
export function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}
