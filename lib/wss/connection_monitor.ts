/**
 * What the connection layer did to protect the node, counted and logged in
 * one place: handler failures it contained, connections closed for not
 * reading, reads it paused, pongs it did not send. One monitor is shared by
 * a listener's (or a dialler's) connections; its counts are for
 * `status --json`. Log lines are throttled per kind and address, so a flood
 * cannot fill the disk.
 */
import { type Clock, SYSTEM_CLOCK } from "../clock.ts";
import { createLogger, type Logger } from "../log.ts";
import { ThrottledLog } from "../budget.ts";

/** Counts since start. */
export interface ConnectionCounts {
  /** Connections closed because a handler of their input threw or rejected. */
  handlerFaults: number;
  /** Connections closed because their unsent bytes passed the hard limit. */
  writeOverflows: number;
  /** Connections closed because they stayed not writable too long. */
  writeStalls: number;
  /** Times a connection stopped being read from because of its unsent bytes. */
  readPauses: number;
  /** Connections not being read from now. */
  readPausedNow: number;
  /** Pongs not sent because the peer pinged faster than the allowed rate. */
  pongsDropped: number;
  /** Times this process found itself out of file descriptors (accept, probe, dial). */
  descriptorShortages: number;
  /** Times the listener was found not accepting and replaced. */
  relistens: number;
}

/** Options of {@linkcode ConnectionMonitor}. */
export interface ConnectionMonitorOptions {
  log?: Logger;
  clock?: Clock;
  /** One log line per kind and address per interval (default 10 s). */
  logIntervalMs?: number;
}

/** Counts and logs what connections did to protect the node. */
export class ConnectionMonitor {
  #counts: ConnectionCounts = {
    handlerFaults: 0,
    writeOverflows: 0,
    writeStalls: 0,
    readPauses: 0,
    readPausedNow: 0,
    pongsDropped: 0,
    descriptorShortages: 0,
    relistens: 0,
  };
  #log: ThrottledLog;

  constructor(options: ConnectionMonitorOptions = {}) {
    const {
      log = createLogger({ component: "wss" }),
      clock = SYSTEM_CLOCK,
      logIntervalMs = 10_000,
    } = options;
    this.#log = new ThrottledLog(log, clock, { intervalMs: logIntervalMs });
  }

  /** A handler of `addr`'s input failed; its connection is being closed. */
  handlerFault(addr: string, error: unknown): void {
    this.#counts.handlerFaults++;
    const e = error instanceof Error ? error : new Error(String(error));
    this.#log.write("warn", `fault|${addr}`, "connection closed: a handler of its input failed", {
      addr,
      error: e.name,
      why: e.message.slice(0, 200),
    });
  }

  /** `addr`'s unsent bytes would pass the limit; its connection is being closed. */
  writeOverflow(addr: string, bufferedBytes: number, limitBytes: number): void {
    this.#counts.writeOverflows++;
    this.#log.write("warn", `overflow|${addr}`, "connection closed: peer not reading", {
      addr,
      bufferedBytes,
      limitBytes,
    });
  }

  /** `addr` stayed not writable for `ms`; its connection is being closed. */
  writeStall(addr: string, bufferedBytes: number, ms: number): void {
    this.#counts.writeStalls++;
    this.#log.write("warn", `stall|${addr}`, "connection closed: writes stalled", {
      addr,
      bufferedBytes,
      ms,
    });
  }

  /** Reading from `addr` stopped (`paused`) or resumed. */
  readPaused(addr: string, paused: boolean, bufferedBytes: number): void {
    if (paused) {
      this.#counts.readPauses++;
      this.#counts.readPausedNow++;
      this.#log.write("info", `pause|${addr}`, "stopped reading a connection: unsent bytes", {
        addr,
        bufferedBytes,
      });
    } else this.#counts.readPausedNow = Math.max(0, this.#counts.readPausedNow - 1);
  }

  /** A pong to `addr` was not sent (over the rate). */
  pongDropped(addr: string): void {
    this.#counts.pongsDropped++;
    this.#log.write("info", `pong|${addr}`, "pings over the rate: pongs not sent", { addr });
  }

  /** This process had no file descriptor for `where` (EMFILE / ENFILE). */
  descriptorShortage(where: string, detail: string): void {
    this.#counts.descriptorShortages++;
    this.#log.write("error", "descriptors", "out of file descriptors: refusing until some return", {
      where,
      detail: detail.slice(0, 200),
    });
  }

  /** The listener stopped accepting (`replaced` false) or was replaced (`true`). */
  listenerStuck(replaced: boolean, detail = ""): void {
    if (replaced) this.#counts.relistens++;
    this.#log.write(
      replaced ? "warn" : "error",
      replaced ? "relisten" : "stuck",
      replaced ? "listener replaced: accepting again" : "listener is not accepting connections",
      detail ? { detail: detail.slice(0, 200) } : {},
    );
  }

  /** Counts since start, for `status --json`. */
  counts(): ConnectionCounts {
    return { ...this.#counts };
  }
}
