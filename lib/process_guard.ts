/**
 * The last resort: an error nothing caught, or a promise rejection nothing
 * handled, would end the process and with it every link and client of the
 * node. This guard logs it loudly and keeps serving.
 *
 * It is not how errors are handled: input from a connection is contained by
 * the connection layer's guard (lib/wss), which closes that connection.
 * Anything that reaches this one is a bug to fix, and is logged as such,
 * with a count.
 *
 * ```ts
 * const guard = installProcessGuard({ log });
 * // ... run the node ...
 * guard.uninstall();
 * ```
 */
import type { Logger } from "./log.ts";

/** Where the guard listens (globalThis in a process; a plain EventTarget in tests). */
export type GuardTarget = Pick<EventTarget, "addEventListener" | "removeEventListener">;

/** Options of {@linkcode installProcessGuard}. */
export interface ProcessGuardOptions {
  log: Logger;
  /** Default: globalThis. */
  target?: GuardTarget;
}

/** An installed guard. */
export interface ProcessGuard {
  /** Errors and rejections caught since install. */
  readonly caught: number;
  uninstall(): void;
}

function describe(reason: unknown): { error: string; why: string; at?: string } {
  if (reason instanceof Error) {
    const at = reason.stack?.split("\n").find((l) => /^\s+at /.test(l))?.trim();
    return { error: reason.name, why: reason.message.slice(0, 300), at };
  }
  return { error: typeof reason, why: String(reason).slice(0, 300) };
}

/** Installs the last-resort handlers for uncaught errors and unhandled rejections. */
export function installProcessGuard(options: ProcessGuardOptions): ProcessGuard {
  const { log, target = globalThis } = options;
  let caught = 0;
  const onError = (event: Event) => {
    event.preventDefault();
    caught++;
    const e = event as ErrorEvent;
    log.error("BUG: uncaught error, kept serving", { ...describe(e.error ?? e.message), caught });
  };
  const onRejection = (event: Event) => {
    event.preventDefault();
    caught++;
    const e = event as PromiseRejectionEvent;
    log.error("BUG: unhandled promise rejection, kept serving", { ...describe(e.reason), caught });
  };
  target.addEventListener("error", onError);
  target.addEventListener("unhandledrejection", onRejection);
  return {
    get caught() {
      return caught;
    },
    uninstall: () => {
      target.removeEventListener("error", onError);
      target.removeEventListener("unhandledrejection", onRejection);
    },
  };
}
