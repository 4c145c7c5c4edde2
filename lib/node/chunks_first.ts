/**
 * File chunks pushed to their user's client before they are spooled
 * (docs/PROTOCOL.md §13, "Pushed first"): the chunks a destination node holds
 * in memory, each until its client acknowledges it (the client wrote it and
 * committed its progress before it did) or until it has waited
 * {@linkcode CHUNK_ACK_WAIT_MS}, when it goes to the spool the usual way.
 * Nothing here is answered to the chunk's origin: the caller answers
 * "stored" at the acknowledgement, or once the spool made it durable.
 */
import type { NodeId, UserName } from "../ids.ts";
import type { ReceiptStatus } from "./receipt.ts";

/**
 * How long a chunk pushed first waits for its client's acknowledgement before
 * it is spooled. A client that keeps up acknowledges within a few ms of its
 * write (every 8 chunks, _file_receiving.ts); one that does not read makes
 * the node hold a chunk this long at most (its window's worth).
 */
export const CHUNK_ACK_WAIT_MS = 1_000;

/** One chunk pushed first. */
export interface ChunkFirst {
  id: string;
  owner: UserName;
  origin: NodeId;
  /** The envelope (the node's own copy, a view into the pushed message) until `release`. */
  bytes: Uint8Array;
  /** Gives `bytes` back (called once, when the chunk leaves this list). */
  release: () => void;
  /** What the spool needs to admit it (the chunk's header). */
  fileId: string;
  index: number;
  fileBytes: number;
  /** Bytes held against the origin's `commit_bytes` share (0 from this node). */
  held: number;
  keepUntilMs: number;
  pushedAtMs: number;
  /** Its first answer and those of copies that came while it was held. */
  answers: Array<(status: ReceiptStatus) => void>;
}

/** The chunks pushed first and held, by envelope id. */
export class ChunksFirst {
  #m = new Map<string, ChunkFirst>();
  #bytes = 0;
  #pushed = 0;

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Chunks held now. */
  get size(): number {
    return this.#m.size;
  }

  /** Chunks pushed first since start. */
  get pushed(): number {
    return this.#pushed;
  }

  get(id: string): ChunkFirst | undefined {
    return this.#m.get(id);
  }

  add(c: ChunkFirst): void {
    this.#m.set(c.id, c);
    this.#bytes += c.bytes.length;
    this.#pushed++;
  }

  /** Takes `id` off the list (its bytes are the caller's until it calls `release`). */
  take(id: string): ChunkFirst | undefined {
    const c = this.#m.get(id);
    if (!c) return undefined;
    this.#m.delete(id);
    this.#bytes -= c.bytes.length;
    return c;
  }

  /** Takes off the chunks that waited `waitMs` or more (oldest first: the list is in push order). */
  due(nowMs: number, waitMs = CHUNK_ACK_WAIT_MS): ChunkFirst[] {
    const out: ChunkFirst[] = [];
    for (const c of this.#m.values()) {
      if (nowMs - c.pushedAtMs < waitMs) break;
      out.push(c);
    }
    for (const c of out) this.take(c.id);
    return out;
  }
}
