/**
 * One accepted UI connection's bytes: reads (with bytes pushed back when a
 * parser read too far), whole writes, one deadline at a time that closes
 * the connection when it fires, and a bounded lingering close.
 */
import type { Clock } from "../clock.ts";

/** Bytes read at once unless the caller asks for more (a flood's idle connections stay small). */
const READ_CHUNK_BYTES = 4 * 1024;
/** How long a closing connection waits for the peer's end before it is dropped. */
const LINGER_MS = 2_000;
/** Most bytes read and dropped while lingering. */
const LINGER_MAX_BYTES = 64 * 1024;

/** Options of {@linkcode ConnIo}. */
export interface ConnIoOptions {
  clock: Clock;
  /** The peer's address as the kernel reported it. */
  remoteAddress: string;
}

/** The reads, writes and deadline of one connection. */
export class ConnIo {
  readonly remoteAddress: string;
  #conn: Deno.Conn;
  #clock: Clock;
  #pushedBack: Uint8Array | null = null;
  #timer: number | null = null;
  #closed = false;
  #closeReason = "";
  #onClose: Array<(reason: string) => void> = [];

  constructor(conn: Deno.Conn, options: ConnIoOptions) {
    this.#conn = conn;
    this.#clock = options.clock;
    this.remoteAddress = options.remoteAddress;
  }

  /** True once the connection is closed (by us, the peer or a deadline). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Why the connection was closed (`"deadline: head"`, `"peer"`, ...), once it is. */
  get closeReason(): string {
    return this.#closeReason;
  }

  /** Calls `fn` once when the connection closes (at once when it already has). */
  onClose(fn: (reason: string) => void): void {
    if (this.#closed) fn(this.#closeReason);
    else this.#onClose.push(fn);
  }

  /**
   * The next bytes (at most `maxBytes`; pushed-back ones first, whole); null
   * at the peer's end or once closed.
   */
  async read(maxBytes = READ_CHUNK_BYTES): Promise<Uint8Array | null> {
    if (this.#pushedBack) {
      const bytes = this.#pushedBack;
      this.#pushedBack = null;
      return bytes;
    }
    if (this.#closed) return null;
    const buf = new Uint8Array(maxBytes);
    try {
      const n = await this.#conn.read(buf);
      if (n === null) {
        this.close("peer");
        return null;
      }
      return buf.subarray(0, n);
    } catch {
      // Reset by the peer, or closed under us by a deadline.
      this.close(this.#closed ? this.#closeReason : "read failed");
      return null;
    }
  }

  /** Puts `bytes` back in front of what {@linkcode read} returns next. */
  unread(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (!this.#pushedBack) {
      this.#pushedBack = bytes;
      return;
    }
    const both = new Uint8Array(bytes.length + this.#pushedBack.length);
    both.set(bytes);
    both.set(this.#pushedBack, bytes.length);
    this.#pushedBack = both;
  }

  /** Writes all of `bytes`; false when the connection is (or gets) closed. */
  async write(bytes: Uint8Array): Promise<boolean> {
    let rest = bytes;
    while (rest.length > 0) {
      if (this.#closed) return false;
      try {
        rest = rest.subarray(await this.#conn.write(rest));
      } catch {
        this.close(this.#closed ? this.#closeReason : "write failed");
        return false;
      }
    }
    return !this.#closed;
  }

  /** Arms the one deadline: the connection closes after `ms` unless cleared or re-armed. */
  deadline(ms: number, what: string): void {
    this.clearDeadline();
    if (this.#closed) return;
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = null;
      this.close(`deadline: ${what}`);
    }, ms);
  }

  /** Disarms the deadline. */
  clearDeadline(): void {
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer);
    this.#timer = null;
  }

  /** Sends TCP_NODELAY (small event frames must not wait for delayed ACKs). */
  setNoDelay(): void {
    try {
      (this.#conn as Deno.TcpConn).setNoDelay?.(true);
    } catch {
      // Not a TCP connection, or already closed: nothing to tune.
    }
  }

  /**
   * Ends our side, then waits (bounded in time and bytes) for the peer to end
   * its side before closing, so the peer reads our last answer in full.
   */
  async finish(): Promise<void> {
    if (this.#closed) return;
    try {
      await (this.#conn as Deno.TcpConn).closeWrite?.();
    } catch {
      this.close("peer");
      return;
    }
    this.#pushedBack = null;
    this.deadline(LINGER_MS, "linger");
    let dropped = 0;
    while (!this.#closed && dropped <= LINGER_MAX_BYTES) {
      const bytes = await this.read();
      if (bytes === null) break;
      dropped += bytes.length;
    }
    this.close("finished");
  }

  /** Closes the connection now; the first reason given is kept. */
  close(reason = "closed"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    this.clearDeadline();
    try {
      this.#conn.close();
    } catch {
      // Already closed by the runtime.
    }
    for (const fn of this.#onClose.splice(0)) fn(reason);
  }
}
