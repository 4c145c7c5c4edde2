/**
 * What a failed store operation means for the owner. node:sqlite reports
 * SQLite's own errors with one generic code and SQLite's message (SQLite's
 * result codes are not exposed in Deno), so this is the one place that reads
 * those messages; everything else decides on the returned kind.
 */

/** A store failure the owner should hear about by name. */
export type StoreFailure = "disk-full" | "io-error" | "read-only" | "busy" | "other";

/** Classifies an error thrown by the store (SQLite's messages, sqlite3.c `sqlite3ErrStr`). */
export function storeFailure(error: unknown): StoreFailure {
  const text = error instanceof Error ? error.message : String(error);
  if (/database or disk is full|SQLITE_FULL|No space left on device|ENOSPC/i.test(text)) {
    return "disk-full";
  }
  if (/disk I\/O error|SQLITE_IOERR|EIO\b/i.test(text)) return "io-error";
  if (/readonly database|read-only file system|EROFS/i.test(text)) return "read-only";
  if (/database is locked|SQLITE_BUSY/i.test(text)) return "busy";
  return "other";
}

/** A sentence for the owner naming the condition. */
export function describeStoreFailure(kind: StoreFailure): string {
  switch (kind) {
    case "disk-full":
      return "the disk is full: nothing new is accepted until there is room again";
    case "io-error":
      return "the disk reported an I/O error";
    case "read-only":
      return "the data directory is read-only";
    case "busy":
      return "the store is locked by another process";
    case "other":
      return "the store refused a write";
  }
}
