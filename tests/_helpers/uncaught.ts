/**
 * Runs `fn` with uncaught errors (thrown from timers, immediates, microtasks)
 * collected in `errors` instead of failing the test, and stops collecting after.
 */
export async function collectingUncaught<T>(fn: (errors: unknown[]) => Promise<T>): Promise<T> {
  const errors: unknown[] = [];
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    errors.push(e.error);
  };
  globalThis.addEventListener("error", onError);
  try {
    return await fn(errors);
  } finally {
    globalThis.removeEventListener("error", onError);
  }
}
