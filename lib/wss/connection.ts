/**
 * A WebSocket connection over a node TLS socket: messages in and out,
 * ping/pong, close handshake, fragment reassembly under a size cap, and an
 * idle deadline so a silent peer is noticed.
 *
 * Two protections live here, in the one layer every caller goes through:
 *
 * - **The guard.** Everything that handles bytes from the peer (frame
 *   parsing, the `onMessage` handler, its rejected promise, `onDrain`,
 *   `onClose`) runs under {@linkcode WsConnection.guard}: an error closes this
 *   connection (1011) with a logged, counted reason and never reaches the
 *   socket's event handler, which would end the process.
 * - **Write backpressure** (see write_limits.ts). `send()` says whether the
 *   message was queued; `writable` and `onDrain` say when to send more; a
 *   connection whose unsent bytes pass the pause mark stops being read from
 *   (TCP then pushes back on the peer), and one that passes the hard limit
 *   or stays not writable too long is closed. Pongs are rate-limited, so a
 *   peer cannot make us write by pinging.
 */
import type { Socket } from "node:net";
import { setImmediate } from "node:timers";
import { type Clock, SYSTEM_CLOCK } from "../clock.ts";
import { ConnectionMonitor } from "./connection_monitor.ts";
import {
  encodeFrame,
  encodeFrameHeadFor,
  encodeFrameParts,
  type Frame,
  FrameError,
  frameInRoom,
  FrameParser,
  LEND_MIN_BYTES,
  OPCODE,
  takeLentFrame,
} from "./frame.ts";
import { readIntoBuffer, startReading, stopReading } from "./socket_reading.ts";
import {
  flowAfterChange,
  type FlowVerdict,
  overflows,
  type WriteLimits,
  writeLimits,
} from "./write_limits.ts";

/** Pongs (control replies) a peer may draw at once, and per second after that. */
export const PONG_BURST = 16;
export const PONGS_PER_SECOND = 4;
/** Pings in a row over the rate after which the peer is closed (1008): it is flooding. */
export const PING_FLOOD_LIMIT = 64;
/** Messages kept while no handler is set (during a handshake). */
const MAX_HELD = 16;
/**
 * Frames queued in one iteration of the event loop are joined into one write up to this many
 * bytes (larger ones leave in one corked, vectored write).
 */
const COALESCE_MAX_BYTES = 64 * 1024;

/** Receives one whole message; if it returns a promise that rejects, the connection closes. */
export type MessageHandler = (data: Uint8Array, isText: boolean) => unknown;

/** Options of {@linkcode WsConnection}. */
export interface WsConnectionOptions {
  /** `server`: peer frames must be masked, ours are not; `client`: the reverse. */
  role: "server" | "client";
  /** Largest message (after reassembly). */
  maxMessageBytes: number;
  /** Bytes already read past the HTTP head. */
  initial?: Uint8Array;
  /** Remote address, for logs and caps. */
  remoteAddress?: string;
  /** Limits on unsent bytes; defaults in write_limits.ts. */
  write?: Partial<WriteLimits>;
  /** Counts and logs faults, stalls and pauses (default: one of its own). */
  monitor?: ConnectionMonitor;
  clock?: Clock;
  /** The TLS session's channel binding (tls_binding.ts), null when it has none. */
  tlsBinding?: Uint8Array | null;
}

/** Why a connection ended. */
export interface CloseInfo {
  code: number;
  reason: string;
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof (x as { then?: unknown } | null)?.then === "function";
}

/** One WebSocket connection. Set the `on*` callbacks before bytes arrive. */
export class WsConnection {
  /** Called once when the connection is gone. */
  onClose: (info: CloseInfo) => void = () => {};
  /** Called when `writable` turns true again after being false. */
  onDrain: () => void = () => {};

  readonly remoteAddress: string;
  /**
   * The channel binding of the TLS session under this connection (tls_binding.ts): equal at
   * both ends of one TLS session, different across anything that terminates TLS; null when
   * the session gives none (then the channel handshake keeps the link sealed).
   */
  readonly tlsBinding: Uint8Array | null;
  #handler: MessageHandler | null = null;
  #held: Array<[Uint8Array, boolean]> = [];
  #socket: Socket;
  #parser: FrameParser;
  #masked: boolean;
  #max: number;
  #limits: WriteLimits;
  #monitor: ConnectionMonitor;
  #clock: Clock;
  #fragments: Uint8Array[] = [];
  #fragmentBytes = 0;
  #fragmentText = false;
  #closed = false;
  #closeSent = false;
  #lastSeenMs: number;
  #pending: Uint8Array[] = [];
  /**
   * Parts of #pending sent where they lie (a lent buffer's frame, takeLentFrame; an owned
   * message's last part): what gives them back, once written.
   */
  #lentFrames = new Map<Uint8Array, () => void>();
  /** Large messages may arrive in a reused buffer (lendLargeMessages()). */
  #lending = false;
  #pendingBytes = 0;
  #flow: FlowVerdict = { writable: true, readingPaused: false };
  #callerPaused = false;
  #readingStopped = false;
  #stallTimer: number | null = null;
  #pongTokens = PONG_BURST;
  #pongAtMs: number;
  #pongsRefused = 0;

  constructor(socket: Socket, options: WsConnectionOptions) {
    this.#socket = socket;
    this.#masked = options.role === "client";
    this.#max = options.maxMessageBytes;
    this.#limits = writeLimits(options.write);
    this.#monitor = options.monitor ?? new ConnectionMonitor();
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#lastSeenMs = this.#pongAtMs = this.#clock.nowMs();
    this.remoteAddress = options.remoteAddress ?? socket.remoteAddress ?? "?";
    this.tlsBinding = options.tlsBinding ?? null;
    this.#parser = new FrameParser({
      expectMasked: options.role === "server",
      maxFrameBytes: options.maxMessageBytes,
    });
    // Reads land in one buffer kept for the connection (what the stream had buffered before
    // still comes as `data`): no fresh 64 KiB buffer per read.
    readIntoBuffer(socket, (bytes) => this.guard(() => this.#receive(bytes, true)));
    socket.on("data", (chunk: Uint8Array) => this.guard(() => this.#receive(chunk)));
    socket.on("close", () => this.#finish({ code: 1006, reason: "connection lost" }));
    socket.on("error", () => this.#finish({ code: 1006, reason: "socket error" }));
    if (options.initial && options.initial.length > 0) {
      const initial = options.initial;
      queueMicrotask(() => this.guard(() => this.#receive(initial)));
    }
  }

  /**
   * Receives each whole message (binary or text as bytes). Messages that
   * arrive while no handler is set wait for the next one set (during a
   * handshake, the next step's handler is set a little later).
   */
  get onMessage(): MessageHandler | null {
    return this.#handler;
  }

  set onMessage(handler: MessageHandler | null) {
    this.#handler = handler;
    while (handler && this.#handler === handler && this.#held.length > 0 && !this.#closed) {
      const [d, t] = this.#held.shift()!;
      this.guard(() => handler(d, t));
    }
  }

  /**
   * From now on, a large message (above 64 KiB, arriving in several socket
   * reads) may be handed to `onMessage` in a buffer reused for a later one:
   * the handler must be set and must consume the bytes before it returns (a
   * secure channel opens each message into a new buffer at once). A message
   * kept meanwhile (no handler yet, or a fragment) is copied. Saves a fresh
   * buffer per file chunk received; costs up to two buffers of the largest
   * message for the connection's life (see FrameParser.lendLarge()).
   */
  lendLargeMessages(): void {
    this.#lending = true;
    this.#parser.lendLarge();
  }

  /**
   * Whether a message of `bytes` may arrive in a reused buffer: after
   * {@linkcode lendLargeMessages}, from {@linkcode LEND_MIN_BYTES} on.
   */
  mayLend(bytes: number): boolean {
    return this.#lending && bytes >= LEND_MIN_BYTES;
  }

  /**
   * Runs `fn`, which handles input from this connection, under its guard:
   * if it throws, or returns a promise that rejects, this connection is
   * closed (1011) and the failure logged and counted; nothing propagates.
   */
  guard(fn: () => unknown): void {
    try {
      const r = fn();
      if (isThenable(r)) r.then(undefined, (e: unknown) => this.fail(e));
    } catch (e) {
      this.fail(e);
    }
  }

  /**
   * Closes this connection (1011) because handling its input failed, with
   * the failure logged and counted: the guard's own path, for failures
   * caught elsewhere (a later step of a promise chain).
   */
  fail(error: unknown): void {
    this.#monitor.handlerFault(this.remoteAddress, error);
    if (!this.#closed) this.close(1011, "internal error");
  }

  /**
   * Checks that `bytes` more unsent bytes, held above this connection (a
   * channel's messages still being sealed), fit under `maxBufferedBytes`.
   * When they do not, the peer is not reading: the connection is closed
   * (logged, counted) and the answer is false.
   */
  checkRoom(bytes: number): boolean {
    if (this.#closed) return false;
    return this.#admit(bytes);
  }

  /** Milliseconds since the Unix epoch when the peer last sent anything. */
  get lastSeenMs(): number {
    return this.#lastSeenMs;
  }

  /** True until the connection has ended. */
  get open(): boolean {
    return !this.#closed;
  }

  /** Bytes queued and not yet taken by the kernel. */
  get bufferedBytes(): number {
    return this.#socket.writableLength + this.#pendingBytes;
  }

  /**
   * False from the high-water mark of unsent bytes until they fall to the
   * low-water mark (then `onDrain` is called), and once closed.
   */
  get writable(): boolean {
    return !this.#closed && !this.#closeSent && this.#flow.writable;
  }

  /** The limits on unsent bytes (a channel above applies the same ones). */
  get writeLimits(): Readonly<WriteLimits> {
    return this.#limits;
  }

  /**
   * Queues a binary message. Returns false when it was not queued: the
   * connection is closed or closing, or the message would pass
   * `maxBufferedBytes` (the peer is not reading; the connection is then
   * closed). True does not mean "send more": check `writable`.
   */
  send(data: Uint8Array): boolean {
    if (this.#closed || this.#closeSent) return false;
    if (this.#pending.length > 0) return this.sendParts([data]);
    const frame = encodeFrame(OPCODE.binary, data, this.#masked);
    if (!this.#admit(frame.length)) return false;
    this.#write(frame);
    return true;
  }

  /**
   * Like {@linkcode send}, but gathers the frames queued until the event loop's
   * next iteration (`setImmediate`, not a microtask: a relay forwards several
   * records per iteration) into one socket write. A write through node:tls
   * costs 15-20 µs of CPU here whatever its size up to a few KiB (PERF_NOTES,
   * branch `sockwrite`). {@linkcode drained} and {@linkcode close} write what
   * waits first; the bytes count as unsent from the start (backpressure).
   */
  sendCoalesced(data: Uint8Array): boolean {
    return this.sendParts([data]);
  }

  /**
   * Like {@linkcode sendCoalesced}, for a message given in parts (a sealed
   * message's ciphertext and tag): they are copied into one frame once. With
   * `owned` (the caller gives the parts up: a freshly sealed record), a large
   * message is not copied at all: a frame head, then the parts as they are,
   * masked in place when this end masks, go out in one corked write; `release`
   * is then called once the socket has written them (never after a failed
   * write, nor when the connection closes first), and at once when they were
   * copied (a small message): the parts are the caller's again. With `room`
   * too (one part, and the `FRAME_ROOM_BYTES` (frame.ts) before it in its buffer
   * are given up with it), the head is written there: one frame, one write.
   *
   * With `handOver` (a relay forwarding a message as it arrived: the parts are
   * its record's bytes, the last a view into the buffer another connection lent
   * for it, see {@linkcode lendLargeMessages}), a large message is framed where
   * it lies, masked in place when this end masks, and that buffer is not reused
   * for reading until the socket has written it (frame.ts, takeLentFrame); the
   * caller must not read the parts afterwards. Anything else is copied as above.
   *
   * With `now` (the caller runs at the end of an iteration already: its own
   * `setImmediate`), what waits is written at once: an immediate queued from
   * another one runs only in the next iteration, after that iteration's timers
   * and reads, so every record sealed at the end of an iteration (secure_channel.ts)
   * waited for the next batch of input to be handled before it left
   * (docs/PERF_NOTES.md, branch `pipeline`). Still one write per iteration.
   */
  sendParts(
    parts: readonly Uint8Array[],
    { owned = false, handOver = false, release, room = false, now = false }: {
      owned?: boolean;
      handOver?: boolean;
      release?: () => void;
      room?: boolean;
      now?: boolean;
    } = {},
  ): boolean {
    if (this.#closed || this.#closeSent) return false;
    let len = 0;
    for (const p of parts) len += p.length;
    const first = this.#pending.length === 0;
    const large = len > COALESCE_MAX_BYTES;
    const lent = handOver && large ? takeLentFrame(OPCODE.binary, parts, this.#masked) : null;
    const inRoom = owned && room && large && parts.length === 1
      ? frameInRoom(OPCODE.binary, parts[0], this.#masked)
      : null;
    if (inRoom) {
      if (!this.#admit(inRoom.length)) return false;
      this.#pending.push(inRoom);
      this.#pendingBytes += inRoom.length;
      if (release) this.#lentFrames.set(inRoom, release);
    } else if (lent) {
      const frame = lent.frame;
      // Not admitted: the connection is closed, and the buffer goes back to its reader.
      if (!this.#admit(frame.length)) return lent.release(), false;
      this.#pending.push(frame);
      this.#pendingBytes += frame.length;
      this.#lentFrames.set(frame, lent.release);
    } else if (owned && large) {
      const head = encodeFrameHeadFor(OPCODE.binary, parts, this.#masked);
      if (!this.#admit(head.length + len)) return false;
      this.#pending.push(head, ...parts);
      this.#pendingBytes += head.length + len;
      // Written in order: once the last part is, the socket refers to none of them.
      if (release) this.#lentFrames.set(parts[parts.length - 1], release);
    } else {
      const frame = encodeFrameParts(OPCODE.binary, parts, this.#masked);
      if (!this.#admit(frame.length)) return false;
      this.#pending.push(frame);
      this.#pendingBytes += frame.length;
      release?.();
    }
    if (now) this.#flush();
    else if (first) setImmediate(this.#flush);
    this.#flowChanged();
    return true;
  }

  /** Writes what waits (at most once per iteration: later calls find nothing). */
  #flush = (): void => {
    const parts = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    const lent = this.#lentFrames;
    if (lent.size > 0) this.#lentFrames = new Map();
    if (this.#closed || parts.length === 0) return;
    if (parts.length === 1) return this.#write(parts[0], lent.get(parts[0]));
    let total = 0;
    for (const p of parts) total += p.length;
    // Large frames (file chunks) go as they are: copying them together would cost more than a
    // write each.
    if (total > COALESCE_MAX_BYTES) {
      // Corked: the parts (frame heads and payloads) leave in one vectored write.
      this.#socket.cork();
      for (const p of parts) this.#socket.write(p, this.#writtenThen(lent.get(p)));
      this.#socket.uncork();
      this.#flowChanged();
      return;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    this.#write(out);
  };

  /**
   * Writes what waits for this iteration's write at once, then resolves when
   * the socket's write buffer has drained (or the connection ended).
   */
  drained(): Promise<void> {
    this.#flush();
    if (this.#closed || !this.#socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#socket.off("drain", done);
        this.#socket.off("close", done);
        resolve();
      };
      this.#socket.on("drain", done);
      this.#socket.on("close", done);
    });
  }

  /**
   * Sends a ping (the peer answers with a pong, which refreshes
   * `lastSeenMs`), with up to 125 bytes of application data.
   */
  ping(payload: Uint8Array = new Uint8Array(0)): void {
    if (payload.length > 125) throw new RangeError("Cannot ping: more than 125 bytes of data");
    if (this.#closed || this.#closeSent) return;
    const frame = encodeFrame(OPCODE.ping, payload, this.#masked);
    if (this.#admit(frame.length)) this.#write(frame);
  }

  /**
   * Stops reading from the peer (TCP then slows it down), for a caller
   * that cannot take more input now, e.g. a relay whose next hop is not
   * writable. Reading also stops by itself while this connection's own
   * unsent bytes are over the pause mark; it resumes when neither holds.
   */
  pauseReading(): void {
    this.#callerPaused = true;
    this.#applyReading();
  }

  /** Undoes {@linkcode pauseReading}. */
  resumeReading(): void {
    this.#callerPaused = false;
    this.#applyReading();
  }

  /**
   * Starts the close handshake; the socket is destroyed shortly after. For
   * any code but 1000 the peer is not read any more (what it sends now is
   * only cost).
   */
  close(code = 1000, reason = ""): void {
    if (this.#closed) return;
    // What was queued before the close goes first (a refusal's last message, a channel's records).
    if (!this.#closeSent) this.#flush();
    if (code !== 1000) {
      this.#readingStopped = true;
      stopReading(this.#socket);
    }
    if (!this.#closeSent) {
      this.#closeSent = true;
      const r = new TextEncoder().encode(reason.slice(0, 100));
      const payload = new Uint8Array(2 + r.length);
      new DataView(payload.buffer).setUint16(0, code);
      payload.set(r, 2);
      this.#socket.end(encodeFrame(OPCODE.close, payload, this.#masked));
    }
    const timer = this.#clock.setTimer(() => this.#socket.destroy(), 1000);
    this.#socket.once("close", () => this.#clock.clearTimer(timer));
    this.#finish({ code, reason });
  }

  /** Drops the connection at once. */
  destroy(reason = "destroyed"): void {
    this.#abort(1006, reason);
  }

  #abort(code: number, reason: string): void {
    this.#socket.destroy();
    this.#finish({ code, reason });
  }

  #finish(info: CloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#held = [];
    if (this.#stallTimer !== null) this.#clock.clearTimer(this.#stallTimer);
    this.#stallTimer = null;
    if (this.#flow.readingPaused) this.#monitor.readPaused(this.remoteAddress, false, 0);
    this.guard(() => this.onClose(info));
  }

  /** Whether `bytes` more fit; if not, the connection is closed (peer not reading). */
  #admit(bytes: number): boolean {
    const buffered = this.bufferedBytes;
    if (!overflows(buffered, bytes, this.#limits)) return true;
    this.#monitor.writeOverflow(
      this.remoteAddress,
      buffered + bytes,
      this.#limits.maxBufferedBytes,
    );
    this.#abort(1008, "send buffer full: peer not reading");
    return false;
  }

  /** Writes `bytes`; `release` (a lent frame's) runs once the socket has written them. */
  #write(bytes: Uint8Array, release?: () => void): void {
    this.#socket.write(bytes, this.#writtenThen(release));
    this.#flowChanged();
  }

  /** The write callback, giving a lent frame's buffer back first (not after a failed write). */
  #writtenThen(release: (() => void) | undefined): (error?: Error | null) => void {
    if (!release) return this.#written;
    return (error) => {
      if (!error) release();
      this.#written();
    };
  }

  /** Write callback: bytes left for the kernel; only matters while held back. */
  #written = (): void => {
    if (!this.#flow.writable || this.#flow.readingPaused) this.#flowChanged();
  };

  #flowChanged(): void {
    if (this.#closed) return;
    const before = this.#flow;
    const after = flowAfterChange(
      { bufferedBytes: this.bufferedBytes, maxMessageBytes: this.#max, previous: before },
      this.#limits,
    );
    this.#flow = after;
    if (before.readingPaused !== after.readingPaused) {
      this.#monitor.readPaused(this.remoteAddress, after.readingPaused, this.bufferedBytes);
      this.#applyReading();
    }
    if (before.writable && !after.writable) {
      this.#stallTimer = this.#clock.setTimer(() => this.#stalled(), this.#limits.stallMs);
    } else if (!before.writable && after.writable) {
      if (this.#stallTimer !== null) this.#clock.clearTimer(this.#stallTimer);
      this.#stallTimer = null;
      this.guard(() => this.onDrain());
    }
  }

  #stalled(): void {
    this.#stallTimer = null;
    if (this.#closed || this.#flow.writable) return;
    this.#monitor.writeStall(this.remoteAddress, this.bufferedBytes, this.#limits.stallMs);
    this.#abort(1008, "writes stalled: peer not reading");
  }

  #applyReading(): void {
    const stop = !this.#closed && (this.#callerPaused || this.#flow.readingPaused);
    if (stop === this.#readingStopped) return;
    this.#readingStopped = stop;
    if (stop) stopReading(this.#socket);
    else startReading(this.#socket);
  }

  #takePong(): boolean {
    const now = this.#clock.nowMs();
    const elapsed = Math.max(0, now - this.#pongAtMs);
    this.#pongAtMs = now;
    this.#pongTokens = Math.min(PONG_BURST, this.#pongTokens + (elapsed * PONGS_PER_SECOND) / 1000);
    if (this.#pongTokens < 1) return false;
    this.#pongTokens--;
    return true;
  }

  /** Bytes read; `reused`: in the connection's read buffer, refilled once this returns. */
  #receive(chunk: Uint8Array, reused = false): void {
    if (this.#closed) return;
    this.#lastSeenMs = this.#clock.nowMs();
    let frames: Frame[];
    try {
      frames = this.#parser.push(chunk, reused);
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      this.close(e.code, e.message);
      return;
    }
    for (const f of frames) {
      if (this.#closed) return;
      this.#handle(f);
    }
  }

  #handle(f: Frame): void {
    switch (f.opcode) {
      case OPCODE.ping: {
        if (this.#closeSent) return;
        if (!this.#takePong()) {
          this.#monitor.pongDropped(this.remoteAddress);
          if (++this.#pongsRefused >= PING_FLOOD_LIMIT) this.close(1008, "too many pings");
          return;
        }
        this.#pongsRefused = 0;
        const pong = encodeFrame(OPCODE.pong, f.payload, this.#masked);
        if (this.#admit(pong.length)) this.#write(pong);
        return;
      }
      case OPCODE.pong:
        return;
      case OPCODE.close: {
        const code = f.payload.length >= 2
          ? new DataView(f.payload.buffer, f.payload.byteOffset).getUint16(0)
          : 1005;
        const reason = new TextDecoder().decode(f.payload.subarray(2));
        if (!this.#closeSent) {
          this.#flush();
          this.#closeSent = true;
          this.#socket.end(encodeFrame(OPCODE.close, f.payload.subarray(0, 2), this.#masked));
        }
        this.#finish({ code, reason });
        return;
      }
      case OPCODE.continuation:
        if (this.#fragments.length === 0) return this.close(1002, "unexpected continuation");
        return this.#fragment(f);
      default:
        if (this.#fragments.length > 0) return this.close(1002, "interleaved message");
        if (f.fin) return this.#deliver(f.payload, f.opcode === OPCODE.text);
        this.#fragmentText = f.opcode === OPCODE.text;
        return this.#fragment(f);
    }
  }

  #fragment(f: Frame): void {
    this.#fragmentBytes += f.payload.length;
    if (this.#fragmentBytes > this.#max) return this.close(1009, "message too large");
    this.#fragments.push(this.#lending ? f.payload.slice() : f.payload);
    if (!f.fin) return;
    const out = new Uint8Array(this.#fragmentBytes);
    let at = 0;
    for (const p of this.#fragments) {
      out.set(p, at);
      at += p.length;
    }
    this.#fragments = [];
    this.#fragmentBytes = 0;
    this.#deliver(out, this.#fragmentText);
  }

  #deliver(data: Uint8Array, isText: boolean): void {
    const handler = this.#handler;
    if (handler) {
      // Called inside the guard of #receive; a promise's rejection is caught here.
      const r = handler(data, isText);
      if (isThenable(r)) r.then(undefined, (e: unknown) => this.fail(e));
      return;
    }
    // Bounded: a peer cannot make us hold more than a few messages before a handler exists.
    if (this.#held.length >= MAX_HELD) {
      return this.close(1008, "too many messages during the handshake");
    }
    this.#held.push([this.#lending ? data.slice() : data, isText]);
  }
}
