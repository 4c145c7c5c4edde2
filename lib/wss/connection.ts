/**
 * A WebSocket connection over a node TLS socket: messages in and out,
 * ping/pong, close handshake, fragment reassembly under a size cap, and an
 * idle deadline so a silent peer is noticed.
 */
import type { Socket } from "node:net";
import { encodeFrame, type Frame, FrameError, FrameParser, OPCODE } from "./frame.ts";

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
}

/** Why a connection ended. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** One WebSocket connection. Set the `on*` callbacks before bytes arrive. */
export class WsConnection {
  #handler: ((data: Uint8Array, isText: boolean) => void) | null = null;
  #held: Array<[Uint8Array, boolean]> = [];

  /**
   * Receives each whole message (binary or text as bytes). Messages that
   * arrive while no handler is set wait for the next one set (during a
   * handshake, the next step's handler is set a little later).
   */
  get onMessage(): ((data: Uint8Array, isText: boolean) => void) | null {
    return this.#handler;
  }

  set onMessage(handler: ((data: Uint8Array, isText: boolean) => void) | null) {
    this.#handler = handler;
    while (handler && this.#handler === handler && this.#held.length > 0 && !this.#closed) {
      const [d, t] = this.#held.shift()!;
      handler(d, t);
    }
  }
  /** Called once when the connection is gone. */
  onClose: (info: CloseInfo) => void = () => {};

  readonly remoteAddress: string;
  #socket: Socket;
  #parser: FrameParser;
  #masked: boolean;
  #max: number;
  #fragments: Uint8Array[] = [];
  #fragmentBytes = 0;
  #fragmentText = false;
  #closed = false;
  #closeSent = false;
  #lastSeenMs = Date.now();
  #pending: Uint8Array[] = [];

  constructor(socket: Socket, options: WsConnectionOptions) {
    this.#socket = socket;
    this.#masked = options.role === "client";
    this.#max = options.maxMessageBytes;
    this.remoteAddress = options.remoteAddress ?? socket.remoteAddress ?? "?";
    this.#parser = new FrameParser({
      expectMasked: options.role === "server",
      maxFrameBytes: options.maxMessageBytes,
    });
    socket.on("data", (chunk: Uint8Array) => this.#receive(chunk));
    socket.on("close", () => this.#finish({ code: 1006, reason: "connection lost" }));
    socket.on("error", () => this.#finish({ code: 1006, reason: "socket error" }));
    if (options.initial && options.initial.length > 0) {
      const initial = options.initial;
      queueMicrotask(() => this.#receive(initial));
    }
  }

  /** Milliseconds since the Unix epoch when the peer last sent anything. */
  get lastSeenMs(): number {
    return this.#lastSeenMs;
  }

  /** True until the connection has ended. */
  get open(): boolean {
    return !this.#closed;
  }

  /** Sends a binary message; returns false when the socket buffer is full. */
  send(data: Uint8Array): boolean {
    if (this.#closed || this.#closeSent) return false;
    return this.#socket.write(encodeFrame(OPCODE.binary, data, this.#masked));
  }

  /** Queues a message and writes everything queued in this turn as one socket write. */
  sendCoalesced(data: Uint8Array): void {
    if (this.#closed || this.#closeSent) return;
    this.#pending.push(encodeFrame(OPCODE.binary, data, this.#masked));
    if (this.#pending.length === 1) queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    const parts = this.#pending;
    this.#pending = [];
    if (this.#closed || parts.length === 0) return;
    if (parts.length === 1) {
      this.#socket.write(parts[0]);
      return;
    }
    let total = 0;
    for (const p of parts) total += p.length;
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    this.#socket.write(out);
  }

  /** Resolves when the socket's write buffer has drained (or the connection ended). */
  drained(): Promise<void> {
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

  /** Sends a ping (the peer answers with a pong, which refreshes `lastSeenMs`). */
  ping(): void {
    if (!this.#closed && !this.#closeSent) {
      this.#socket.write(encodeFrame(OPCODE.ping, new Uint8Array(0), this.#masked));
    }
  }

  /** Starts the close handshake; the socket is destroyed shortly after. */
  close(code = 1000, reason = ""): void {
    if (this.#closed) return;
    if (!this.#closeSent) {
      this.#closeSent = true;
      const r = new TextEncoder().encode(reason.slice(0, 100));
      const payload = new Uint8Array(2 + r.length);
      new DataView(payload.buffer).setUint16(0, code);
      payload.set(r, 2);
      this.#socket.end(encodeFrame(OPCODE.close, payload, this.#masked));
    }
    const timer = setTimeout(() => this.#socket.destroy(), 1000);
    this.#socket.once("close", () => clearTimeout(timer));
    this.#finish({ code, reason });
  }

  /** Drops the connection at once. */
  destroy(reason = "destroyed"): void {
    this.#socket.destroy();
    this.#finish({ code: 1006, reason });
  }

  #finish(info: CloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose(info);
  }

  #receive(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#lastSeenMs = Date.now();
    let frames: Frame[];
    try {
      frames = this.#parser.push(chunk);
    } catch (e) {
      const err = e as FrameError;
      this.close(err.code ?? 1002, err.message);
      return;
    }
    for (const f of frames) {
      if (this.#closed) return;
      this.#handle(f);
    }
  }

  #handle(f: Frame): void {
    switch (f.opcode) {
      case OPCODE.ping:
        if (!this.#closeSent) this.#socket.write(encodeFrame(OPCODE.pong, f.payload, this.#masked));
        return;
      case OPCODE.pong:
        return;
      case OPCODE.close: {
        const code = f.payload.length >= 2 ? new DataView(f.payload.buffer).getUint16(0) : 1005;
        const reason = new TextDecoder().decode(f.payload.subarray(2));
        if (!this.#closeSent) {
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
    this.#fragments.push(f.payload);
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
    if (this.#handler) return this.#handler(data, isText);
    // Bounded: a peer cannot make us hold more than a few messages before a handler exists.
    if (this.#held.length >= 16) return this.close(1008, "too many messages during the handshake");
    this.#held.push([data, isText]);
  }
}
