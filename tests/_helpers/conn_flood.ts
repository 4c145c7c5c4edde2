/**
 * A connection flood for tests and the hostile soak: N connections to one
 * port from M loopback source addresses (127.0.0.2, 127.0.0.3, ...: Linux
 * routes all of 127.0.0.0/8 to lo, so the source can be chosen), each in one
 * of three shapes that hold a connection open without ever authenticating:
 *
 * - `slow-header`: TCP, then one byte of a TLS record every 10 s;
 * - `tls-silent`: TLS done, then nothing;
 * - `ws-silent`: TLS and the WebSocket upgrade done, then nothing.
 *
 * Against a plain-HTTP port (the UI's), with `tls: false`, the same thirds
 * are: `slow-header` drips an HTTP request head one byte every 10 s,
 * `tls-silent` holds a bare TCP connection and says nothing, and `ws-silent`
 * asks for a WebSocket upgrade (refused without a session) and says nothing
 * after the answer.
 *
 * Connections the target closes are opened again (at most `opensPerSecond`),
 * so the pressure lasts while the flood runs. Bounded in count (≤ 10,000
 * connections, ≤ 250 addresses), in rate, and in time (`maxDurationMs`, at most an hour, after
 * which it stops by itself). `dispose()` closes everything.
 *
 * ```ts
 * await using flood = startConnFlood({ port, connections: 5000, addresses: 50 });
 * await flood.waitOpen(200);
 * ```
 */
import net from "node:net";
import tls from "node:tls";

/** How a flood connection holds its slot. */
export type FloodShape = "slow-header" | "tls-silent" | "ws-silent";

/** Every shape, in the order connections are given them. */
export const FLOOD_SHAPES: readonly FloodShape[] = ["slow-header", "tls-silent", "ws-silent"];

/** Options of {@linkcode startConnFlood}. */
export interface ConnFloodOptions {
  port: number;
  host?: string;
  /** Connections to keep open (≤ 10,000). */
  connections: number;
  /** Source addresses 127.0.0.2 ... 127.0.0.(1 + addresses) (≤ 250). */
  addresses: number;
  /** Shapes, given round-robin. Default: all three. */
  shapes?: readonly FloodShape[];
  /** Path of the WebSocket upgrade for `ws-silent`. */
  path?: string;
  /** Speak TLS (default true); false for a plain-HTTP target such as the UI port. */
  tls?: boolean;
  /** Most connections opened per second (default 400). */
  opensPerSecond?: number;
  /** Open again what the target closes (default true). */
  reopen?: boolean;
  /** The flood stops by itself after this long (default 120 s, at most 3,600 s: a soak's length). */
  maxDurationMs?: number;
}

/** Counts of a running flood. */
export interface FloodStats {
  /** Connections now holding their shape (TCP up, TLS done, or upgraded). */
  open: number;
  /** Connections started and not yet in their shape or closed. */
  opening: number;
  /** Connections started since the flood began. */
  started: number;
  /** Connections that reached their shape since the flood began. */
  established: number;
  /** Connections the target closed (before or after reaching their shape). */
  closedByTarget: number;
  byShape: Record<FloodShape, number>;
}

/** A running flood; dispose it (or `await using`) to close every connection. */
export interface ConnFlood extends AsyncDisposable {
  stats(): FloodStats;
  /** Resolves once `n` connections hold their shape at once; rejects after `timeoutMs`. */
  waitOpen(n: number, timeoutMs?: number): Promise<void>;
  dispose(): Promise<void>;
}

const MAX_CONNECTIONS = 10_000;
const MAX_ADDRESSES = 250;
const TICK_MS = 20;
const TRICKLE_MS = 10_000;
/** A TLS handshake record header announcing 512 bytes, then zeros: never a whole ClientHello. */
const TRICKLE = new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, ...new Uint8Array(59)]);
/** An HTTP request head that never ends, for plain targets. */
const HTTP_TRICKLE = new TextEncoder().encode(
  `GET /api/state HTTP/1.1\r\nX-Slow: ${"a".repeat(64)}`,
);

interface Slot {
  shape: FloodShape;
  source: string;
  socket: net.Socket | null;
  state: "idle" | "opening" | "open";
  timer: ReturnType<typeof setTimeout> | null;
  /** Opened at least once (without `reopen`, never again). */
  used: boolean;
}

/** Starts a flood; see the module doc. */
export function startConnFlood(options: ConnFloodOptions): ConnFlood {
  const {
    port,
    host = "127.0.0.1",
    connections,
    addresses,
    shapes = FLOOD_SHAPES,
    path = "/fedchat/v1/link",
    tls: useTls = true,
    opensPerSecond = 400,
    reopen = true,
    maxDurationMs = 120_000,
  } = options;
  if (!(connections >= 1 && connections <= MAX_CONNECTIONS)) {
    throw new RangeError(`Cannot flood: connections must be 1 to ${MAX_CONNECTIONS}`);
  }
  if (!(addresses >= 1 && addresses <= MAX_ADDRESSES)) {
    throw new RangeError(`Cannot flood: addresses must be 1 to ${MAX_ADDRESSES}`);
  }
  if (shapes.length === 0) throw new RangeError("Cannot flood: no shapes");
  const slots: Slot[] = Array.from({ length: connections }, (_, i) => ({
    shape: shapes[i % shapes.length],
    source: `127.0.0.${2 + (i % addresses)}`,
    socket: null,
    state: "idle",
    timer: null,
    used: false,
  }));
  const counts = { started: 0, established: 0, closedByTarget: 0 };
  let stopped = false;
  let budget = 0;
  let cursor = 0;

  const upgrade = `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\n` +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n\r\n";

  const open = (slot: Slot) => {
    slot.state = "opening";
    counts.started++;
    const established = () => {
      if (slot.state !== "opening") return;
      slot.state = "open";
      counts.established++;
    };
    let sock: net.Socket;
    if (slot.shape === "slow-header") {
      sock = net.connect({ host, port, localAddress: slot.source });
      const trickle = useTls ? TRICKLE : HTTP_TRICKLE;
      let sent = 0;
      const drip = () => {
        if (slot.socket !== sock || sent >= trickle.length) return;
        sock.write(trickle.subarray(sent, sent + 1));
        sent++;
        slot.timer = setTimeout(drip, TRICKLE_MS);
      };
      sock.once("connect", () => {
        established();
        drip();
      });
    } else if (!useTls) {
      sock = net.connect({ host, port, localAddress: slot.source });
      sock.once("connect", () => {
        if (slot.shape === "tls-silent") return established();
        sock.write(upgrade);
        let head = "";
        const onData = (d: Uint8Array) => {
          head += new TextDecoder().decode(d);
          if (!head.includes("\r\n\r\n")) return;
          sock.off("data", onData);
          established(); // refused or not, the connection is held after the answer
        };
        sock.on("data", onData);
      });
    } else {
      const raw = net.connect({ host, port, localAddress: slot.source });
      raw.on("error", () => {});
      const t = tls.connect({
        socket: raw,
        rejectUnauthorized: false,
        ALPNProtocols: ["http/1.1"],
      });
      sock = t;
      t.once("secureConnect", () => {
        if (slot.shape === "tls-silent") return established();
        t.write(upgrade);
        let head = "";
        const onData = (d: Uint8Array) => {
          head += new TextDecoder().decode(d);
          if (!head.includes("\r\n\r\n")) return;
          t.off("data", onData);
          if (head.startsWith("HTTP/1.1 101")) established();
        };
        t.on("data", onData);
      });
    }
    slot.socket = sock;
    sock.on("error", () => {});
    sock.on("data", () => {}); // keep reading, so the target's close is seen
    sock.once("close", () => {
      if (slot.socket !== sock) return;
      if (slot.timer !== null) clearTimeout(slot.timer);
      slot.timer = null;
      slot.socket = null;
      slot.state = "idle";
      if (!stopped) counts.closedByTarget++;
    });
  };

  const pump = setInterval(() => {
    if (stopped) return;
    budget = Math.min(opensPerSecond, budget + (opensPerSecond * TICK_MS) / 1000);
    // Bounded: one pass over the slots at most per tick.
    for (let seen = 0; seen < slots.length && budget >= 1; seen++) {
      const slot = slots[cursor];
      cursor = (cursor + 1) % slots.length;
      if (slot.state !== "idle" || (!reopen && slot.used)) continue;
      slot.used = true;
      budget--;
      open(slot);
    }
  }, TICK_MS);
  const deadline = setTimeout(() => void dispose(), Math.min(maxDurationMs, 3_600_000));

  const stats = (): FloodStats => {
    const byShape = { "slow-header": 0, "tls-silent": 0, "ws-silent": 0 };
    let openNow = 0;
    let opening = 0;
    for (const s of slots) {
      if (s.state === "open") {
        openNow++;
        byShape[s.shape]++;
      } else if (s.state === "opening") opening++;
    }
    return { open: openNow, opening, ...counts, byShape };
  };

  let disposing: Promise<void> | null = null;
  const dispose = (): Promise<void> => {
    disposing ??= (async () => {
      stopped = true;
      clearInterval(pump);
      clearTimeout(deadline);
      const closing: Promise<void>[] = [];
      for (const slot of slots) {
        if (slot.timer !== null) clearTimeout(slot.timer);
        const sock = slot.socket;
        if (!sock) continue;
        closing.push(
          new Promise((resolve) => {
            if (sock.destroyed) return resolve();
            sock.once("close", () => resolve());
            sock.destroy();
          }),
        );
      }
      await Promise.race([
        Promise.all(closing),
        new Promise((r) => setTimeout(r, 5000)),
      ]);
    })();
    return disposing;
  };

  return {
    stats,
    async waitOpen(n: number, timeoutMs = 20_000): Promise<void> {
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        if (stats().open >= n) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`Flood: ${stats().open} of ${n} connections open after ${timeoutMs} ms`);
    },
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}
