/**
 * Recognising "out of file descriptors": EMFILE for this process, ENFILE for
 * the system. Both node:net errors and Deno's own carry the code (Deno 2.9.6:
 * `listener.accept()` rejects with `code: "EMFILE"` and works again once
 * descriptors return).
 */

/** Whether `error` says the process or the system has no file descriptor left. */
export function isOutOfDescriptors(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EMFILE" || code === "ENFILE";
}
