/** Resolves at the first SIGINT or SIGTERM: how a running process is asked to stop. */
export function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    Deno.addSignalListener("SIGINT", () => resolve());
    Deno.addSignalListener("SIGTERM", () => resolve());
  });
}
