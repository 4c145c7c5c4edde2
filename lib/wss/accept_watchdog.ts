/**
 * Notices a listener that stopped accepting, and has it replaced.
 *
 * Measured on Deno 2.9.6: when `accept()` fails with EMFILE (no file
 * descriptor left), a node:net/node:tls server stops accepting for good,
 * with no `error` event and `listening` still true; the port answers SYNs
 * from the kernel's backlog and nothing more, even after descriptors return.
 *
 * So the watchdog checks, every `intervalMs`, that the listener accepted
 * something since the last check; if not, it probes: opens a connection to
 * the listener itself and waits for the listener to see it. Two failed
 * checks in a row (or a probe that cannot get a descriptor) and the
 * listener is replaced (`relisten`), again at each check until that
 * succeeds: a node out of descriptors refuses while it is out, and takes
 * connections again once they return.
 */
import type { Clock } from "../clock.ts";

/** What one probe saw. */
export type ProbeOutcome =
  /** The listener accepted the probe (or anything else) in time. */
  | "accepted"
  /** Connected (or timed out) without the listener accepting. */
  | "not-accepted"
  /** This process had no descriptor for the probe (EMFILE / ENFILE). */
  | "no-descriptors";

/** Options of {@linkcode AcceptWatchdog}. */
export interface AcceptWatchdogOptions {
  clock: Clock;
  /**
   * Opens a connection to the listener and resolves with what happened
   * within its own timeout; `acceptedSince()` tells it whether the listener
   * saw a connection since a count taken before.
   */
  probe(): Promise<ProbeOutcome>;
  /** Replaces the listener; rejects when it cannot (then it is tried again later). */
  relisten(): Promise<void>;
  /** Told what happened, for logs and counts. */
  report(
    event: "no-descriptors" | "stuck" | "relistened" | "relisten-failed",
    error?: unknown,
  ): void;
  /** Default 2 s. */
  intervalMs?: number;
  /** Failed checks in a row before the listener is replaced (default 2). */
  failuresToRelisten?: number;
}

/** Watches one listener; call {@linkcode accepted} on every accepted connection. */
export class AcceptWatchdog {
  #o: Required<AcceptWatchdogOptions>;
  #accepts = 0;
  #seen = 0;
  #failures = 0;
  #timer: number | null = null;
  #stopped = false;
  #busy = false;

  constructor(options: AcceptWatchdogOptions) {
    this.#o = {
      ...options,
      intervalMs: options.intervalMs ?? 2000,
      failuresToRelisten: options.failuresToRelisten ?? 2,
    };
  }

  /** Starts checking. */
  start(): void {
    this.#schedule();
  }

  /** Stops checking. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.#o.clock.clearTimer(this.#timer);
    this.#timer = null;
  }

  /** The listener accepted a connection. */
  accepted(): void {
    this.#accepts++;
  }

  /** Connections accepted since start. */
  get accepts(): number {
    return this.#accepts;
  }

  /** Whether the listener accepted anything since `count` was read from {@linkcode accepts}. */
  acceptedSince(count: number): boolean {
    return this.#accepts > count;
  }

  /** Runs one check now (the timer calls this; tests may too). */
  async check(): Promise<void> {
    if (this.#busy || this.#stopped) return;
    this.#busy = true;
    try {
      if (this.#accepts !== this.#seen) {
        this.#seen = this.#accepts;
        this.#failures = 0;
        return;
      }
      const outcome = await this.#o.probe().catch((): ProbeOutcome => "not-accepted");
      this.#seen = this.#accepts;
      if (outcome === "accepted") {
        this.#failures = 0;
        return;
      }
      this.#o.report(outcome === "no-descriptors" ? "no-descriptors" : "stuck");
      this.#failures++;
      if (this.#failures < this.#o.failuresToRelisten || this.#stopped) return;
      try {
        await this.#o.relisten();
        this.#failures = 0;
        this.#o.report("relistened");
      } catch (e) {
        this.#o.report("relisten-failed", e);
      }
    } finally {
      this.#busy = false;
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimer(() => {
      this.#timer = null;
      void this.check().finally(() => this.#schedule());
    }, this.#o.intervalMs);
  }
}
