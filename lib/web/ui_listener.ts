/**
 * The UI port's accept loop, on 127.0.0.1 (and ::1 on the same port when
 * there is one): each connection is admitted by {@linkcode UiConnections}
 * or closed at once. Running out of file descriptors (EMFILE) is survived:
 * the failure is logged (throttled), the oldest connection that has not
 * signed in is pushed out to free a descriptor, and accepting resumes after
 * a short, growing pause. `Deno.serve` (and node:net in Deno) cannot do
 * this: the first dies, the second stops accepting for good.
 */
import { type Clock, SYSTEM_CLOCK } from "../clock.ts";
import { ThrottledLog } from "../budget.ts";
import type { Logger } from "../log.ts";
import { ConnIo } from "./conn_io.ts";
import type { UiConnections } from "./ui_connections.ts";

/** What a new, admitted connection gets. */
export interface Admitted {
  io: ConnIo;
  /** Marks it as a signed-in browser's connection (never pushed out). */
  trust(): void;
}

/** Options of {@linkcode startUiListener}. */
export interface UiListenerOptions {
  /** 0 picks a free port (the same one on ::1). */
  port: number;
  connections: UiConnections;
  onConnection: (admitted: Admitted) => void;
  log: Logger;
  clock?: Clock;
}

/** A running listener. */
export interface UiListener {
  port: number;
  /** Whether ::1 is served too. */
  ipv6: boolean;
  /** Accept failures since start (EMFILE and the like). */
  acceptErrors(): number;
  /** Stops accepting and closes every connection. */
  close(): Promise<void>;
}

const FIRST_PAUSE_MS = 5;
const MAX_PAUSE_MS = 1_000;
/** Push-outs between two turns of the event loop in the accept loop (see there). */
const YIELD_EVERY_PUSHED_OUT = 8;

/** Binds the port and starts accepting. */
export function startUiListener(options: UiListenerOptions): UiListener {
  const { connections, onConnection, log, clock = SYSTEM_CLOCK } = options;
  const throttled = new ThrottledLog(log, clock, { intervalMs: 10_000 });
  const v4 = Deno.listen({ hostname: "127.0.0.1", port: options.port });
  const port = (v4.addr as Deno.NetAddr).port;
  const listeners: Deno.Listener[] = [v4];
  try {
    listeners.push(Deno.listen({ hostname: "::1", port }));
  } catch (err) {
    log.info("UI not on ::1", { reason: err instanceof Error ? err.name : "unknown" });
  }
  const live = new Set<ConnIo>();
  let stopped = false;
  let acceptErrors = 0;
  let pushedOut = 0;

  /** Admits `conn`; true when another connection was closed to make room. */
  const admit = (conn: Deno.Conn): boolean => {
    const address = (conn.remoteAddr as Deno.NetAddr).hostname;
    const io = new ConnIo(conn, { clock, remoteAddress: address });
    const admission = connections.admit(address, () => io.close("pushed out"));
    if (admission.kind === "refuse") {
      throttled.write("warn", `refuse|${address}`, "UI connection refused: cap reached", {
        addr: address,
        cap: admission.why,
        open: connections.size,
      });
      io.close("refused");
      return false;
    }
    live.add(io);
    io.onClose(() => {
      live.delete(io);
      connections.release(admission.id);
    });
    io.setNoDelay();
    onConnection({ io, trust: () => connections.trust(admission.id) });
    return admission.pushedOut;
  };

  const loop = async (listener: Deno.Listener) => {
    let pauseMs = FIRST_PAUSE_MS;
    while (!stopped) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (stopped || err instanceof Deno.errors.BadResource) return;
        acceptErrors++;
        const pushed = connections.evictOldestUntrusted();
        throttled.write("error", "accept", "UI accept failed; pausing", {
          error: err instanceof Error ? err.message : "unknown",
          pauseMs,
          open: connections.size,
          pushedOut: pushed,
        });
        await new Promise<void>((resolve) => clock.setTimer(resolve, pauseMs));
        pauseMs = Math.min(pauseMs * 2, MAX_PAUSE_MS);
        continue;
      }
      pauseMs = FIRST_PAUSE_MS;
      try {
        // A connection closed while its read is pending gives its descriptor back only when
        // the runtime next polls that read, and a newcomer's request head is read only when the
        // loop gets a turn: let one turn pass every few push-outs. Without it a flood kept up to
        // two caps' worth more descriptors, and pushed out an honest request before its head was
        // read (both measured).
        if (admit(conn) && ++pushedOut % YIELD_EVERY_PUSHED_OUT === 0) {
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      } catch (err) {
        log.warn("UI connection failed", { error: err instanceof Error ? err.name : "unknown" });
        try {
          conn.close();
        } catch { /* already closed */ }
      }
    }
  };
  const loops = listeners.map(loop);

  return {
    port,
    ipv6: listeners.length > 1,
    acceptErrors: () => acceptErrors,
    close: async () => {
      stopped = true;
      for (const l of listeners) {
        try {
          l.close();
        } catch { /* already closed */ }
      }
      for (const io of [...live]) io.close("server stopping");
      await Promise.all(loops);
    },
  };
}
