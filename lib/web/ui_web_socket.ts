/**
 * The server side of the event WebSocket (RFC 6455) on a UI connection: text
 * frames out through one write queue with a byte cap (a page that stops
 * reading is dropped), masked frames in under a small size cap, pings every
 * half idle period, and a close when the browser stays silent for the whole
 * idle period (browsers answer pings by themselves).
 */
import type { Clock } from "../clock.ts";
import { encodeFrame, FrameError, FrameParser, OPCODE } from "../wss/mod.ts";
import type { ConnIo } from "./conn_io.ts";

/** Options of {@linkcode UiWebSocket}. */
export interface UiWebSocketOptions {
  /** Largest frame the browser may send; larger closes with 1009. */
  maxIncomingBytes: number;
  /** Bytes queued for a page before it counts as too slow (closes with 1008). */
  maxBufferedBytes: number;
  idleTimeoutMs: number;
  clock: Clock;
}

const te = new TextEncoder();

/** One open event socket. */
export class UiWebSocket {
  /** Called once when the socket is gone, with the close code. */
  onClose: (code: number) => void = () => {};
  #io: ConnIo;
  #o: UiWebSocketOptions;
  #parser: FrameParser;
  #queue: Promise<void> = Promise.resolve();
  #buffered = 0;
  #lastSeenMs: number;
  #timer: number | null = null;
  #closing = false;
  #code = 1006;

  constructor(io: ConnIo, options: UiWebSocketOptions) {
    this.#io = io;
    this.#o = options;
    this.#parser = new FrameParser({ expectMasked: true, maxFrameBytes: options.maxIncomingBytes });
    this.#lastSeenMs = options.clock.nowMs();
    io.onClose(() => this.#finish());
    this.#tick();
    void this.#readLoop();
  }

  /** True until the socket starts closing. */
  get open(): boolean {
    return !this.#closing && !this.#io.closed;
  }

  /** Bytes waiting to be written. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Queues a text message; false (and the socket closes) when the page is too slow. */
  send(text: string): boolean {
    if (!this.open) return false;
    const frame = encodeFrame(OPCODE.text, te.encode(text), false);
    if (this.#buffered + frame.length > this.#o.maxBufferedBytes) {
      this.close(1008, "too slow");
      return false;
    }
    this.#write(frame);
    return true;
  }

  /** Sends a close frame and ends the connection (bounded wait for the browser's). */
  close(code = 1000, reason = ""): void {
    if (this.#closing || this.#io.closed) return;
    this.#closing = true;
    this.#code = code;
    const r = te.encode(reason.slice(0, 100));
    const payload = new Uint8Array(2 + r.length);
    new DataView(payload.buffer).setUint16(0, code);
    payload.set(r, 2);
    this.#write(encodeFrame(OPCODE.close, payload, false));
    this.#queue = this.#queue.then(() => this.#io.finish());
  }

  #write(frame: Uint8Array): void {
    this.#buffered += frame.length;
    this.#queue = this.#queue.then(async () => {
      await this.#io.write(frame);
      this.#buffered -= frame.length;
    });
  }

  #tick(): void {
    const half = Math.max(500, Math.floor(this.#o.idleTimeoutMs / 2));
    this.#timer = this.#o.clock.setTimer(() => {
      this.#timer = null;
      if (this.#io.closed) return;
      if (this.#o.clock.nowMs() - this.#lastSeenMs > this.#o.idleTimeoutMs) {
        this.#io.close("deadline: idle");
        return;
      }
      if (!this.#closing) this.#write(encodeFrame(OPCODE.ping, new Uint8Array(0), false));
      this.#tick();
    }, half);
  }

  async #readLoop(): Promise<void> {
    for (;;) {
      const bytes = await this.#io.read();
      if (bytes === null) return;
      this.#lastSeenMs = this.#o.clock.nowMs();
      let frames;
      try {
        frames = this.#parser.push(bytes);
      } catch (err) {
        this.close(err instanceof FrameError ? err.code : 1002, "bad frame");
        return;
      }
      for (const f of frames) {
        if (f.opcode === OPCODE.ping && !this.#closing) {
          this.#write(encodeFrame(OPCODE.pong, f.payload, false));
        } else if (f.opcode === OPCODE.close) {
          const p = f.payload;
          const code = p.length >= 2 ? new DataView(p.buffer, p.byteOffset, 2).getUint16(0) : 1005;
          this.close(code === 1005 ? 1000 : code);
          return;
        }
        // Data frames from the page carry nothing the server uses; small ones are ignored.
      }
    }
  }

  #finish(): void {
    if (this.#timer !== null) this.#o.clock.clearTimer(this.#timer);
    this.#timer = null;
    this.#closing = true;
    this.onClose(this.#code);
  }
}
