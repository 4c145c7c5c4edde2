/**
 * Helpers of the file transfer tests (private to lib/client): apply an inner
 * message as the client core does, and poll for a condition, bounded.
 */
import type { ClientStore } from "./client_store.ts";
import type { FileTransfers } from "./file_transfers.ts";
import type { FileInner } from "./payload.ts";

/** Applies an inner message as the client core does: its write in a transaction, then after. */
export function apply(
  store: ClientStore,
  files: FileTransfers,
  peer: string,
  inner: FileInner,
): void {
  const step = files.receive(peer, inner);
  store.transaction(() => step.write());
  step.after();
}

/** Polls `check` every 10 ms for at most 5 s. */
export async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}
