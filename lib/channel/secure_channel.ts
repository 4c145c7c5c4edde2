/**
 * The link's own encryption over a WebSocket: AES-256-GCM per message with a
 * per-direction counter as nonce (never sent: the channel is ordered, so a
 * dropped, replayed, reordered or spliced message fails to decrypt and ends
 * the link).
 *
 * Small messages are sealed with node:crypto's AES-GCM, synchronously: a
 * WebCrypto call costs 40–80 µs of thread hand-off per message, which
 * dominated small-message relaying (190k vs ~12k seals/s here). Large ones
 * (file chunks) go to WebCrypto, which is faster per byte (about 440 vs 170
 * MB/s here). While any asynchronous seal or open is pending, later messages
 * queue behind it, so order is kept either way.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import type { WsConnection } from "../wss/mod.ts";
import type { LinkKeys } from "./handshake.ts";

/** AES-GCM tag length in bytes. */
export const TAG_BYTES = 16;
/** Messages below this size are sealed synchronously. */
const SYNC_MAX_BYTES = 32 * 1024;

function nonce(counter: number): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(4, BigInt(counter));
  return n;
}

function seal(key: Uint8Array, counter: number, plaintext: Uint8Array): Uint8Array {
  const c = createCipheriv("aes-256-gcm", key, nonce(counter));
  const head = c.update(plaintext);
  const tail = c.final();
  const tag = c.getAuthTag();
  const out = new Uint8Array(head.length + tail.length + TAG_BYTES);
  out.set(head, 0);
  out.set(tail, head.length);
  out.set(tag, head.length + tail.length);
  return out;
}

function open(key: Uint8Array, counter: number, sealed: Uint8Array): Uint8Array | null {
  try {
    const d = createDecipheriv("aes-256-gcm", key, nonce(counter));
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const head = d.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    const tail = d.final();
    if (tail.length === 0) return new Uint8Array(head.buffer, head.byteOffset, head.length);
    const out = new Uint8Array(head.length + tail.length);
    out.set(head, 0);
    out.set(tail, head.length);
    return out;
  } catch {
    return null;
  }
}

/** Receives one decrypted message; if it returns a promise that rejects, the channel closes. */
export type ChannelHandler = (plaintext: Uint8Array) => unknown;

/**
 * Messages kept while no handler is set (during a handshake or a policy check), by count and
 * by bytes. A peer sends its first burst (a routing table: hundreds of announcements) as soon
 * as it has accepted the link, so what one read of the socket holds may arrive in the few
 * microtasks between the first message and the next handler: 64 messages closed honest links
 * once a federation knew more than 64 origins.
 */
const MAX_QUEUED = 4096;
const MAX_QUEUED_BYTES = 256 * 1024;
/** A sealed message's overhead on the wire: tag and the largest frame header. */
const WIRE_OVERHEAD = TAG_BYTES + 14;

/**
 * An encrypted, ordered message channel over one WebSocket.
 *
 * Backpressure (same marks as the connection's, write_limits.ts): `send()`
 * returns whether the message was queued; `writable` turns false once the
 * bytes not yet on the wire (messages still being sealed, plus the
 * connection's unsent bytes) reach the high-water mark, and `onDrain` is
 * called when they are down to the low-water mark. Handlers run under the
 * connection's guard: one that throws, or whose promise rejects, closes this
 * channel's connection (1011) and nothing else.
 */
export class SecureChannel {
  /** Called once when the channel is gone, with why. */
  onClose: (reason: string) => void = () => {};
  /** Called when `writable` turns true again after being false. */
  onDrain: () => void = () => {};

  #ws: WsConnection;
  #keys: LinkKeys;
  #sendCounter = 0;
  #receiveCounter = 0;
  #closed = false;
  #handler: ChannelHandler | null = null;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #sendTail: Promise<void> | null = null;
  #receiveTail: Promise<void> | null = null;
  #webKeys: Promise<{ send: CryptoKey; receive: CryptoKey }> | null = null;
  /** Plaintext bytes handed to `send()` and not yet handed to the connection. */
  #sealingBytes = 0;
  #congested = false;
  #reportedWritable = true;

  #web(): Promise<{ send: CryptoKey; receive: CryptoKey }> {
    const imp = (k: Uint8Array) =>
      crypto.subtle.importKey("raw", k as BufferSource, "AES-GCM", false, ["encrypt", "decrypt"]);
    this.#webKeys ??= Promise.all([imp(this.#keys.send), imp(this.#keys.receive)]).then((
      [send, receive],
    ) => ({ send, receive }));
    return this.#webKeys;
  }

  constructor(ws: WsConnection, keys: LinkKeys) {
    this.#ws = ws;
    this.#keys = keys;
    // A connection that ended during the handshake makes a channel that is closed from the start.
    if (!ws.open) this.#closed = true;
    ws.onMessage = (data) => this.#receive(data);
    ws.onDrain = () => this.#flowCheck();
    // Deliver what already arrived before reporting the close.
    ws.onClose = (info) => {
      const why = info.reason || `closed (${info.code})`;
      if (this.#receiveTail) void this.#receiveTail.then(() => this.#finish(why));
      else this.#finish(why);
    };
  }

  /**
   * Receives each decrypted message, in order. Messages that arrive while no
   * handler is set are kept (a few: more closes the channel) and handed to
   * the next one set.
   */
  set onMessage(handler: ChannelHandler | null) {
    this.#handler = handler;
    while (this.#handler === handler && handler && this.#queue.length > 0 && !this.#closed) {
      const pt = this.#queue.shift()!;
      this.#queuedBytes -= pt.length;
      this.#ws.guard(() => handler(pt));
    }
  }

  /** The underlying connection (for liveness, address and reading control). */
  get ws(): WsConnection {
    return this.#ws;
  }

  /** True until the channel has ended. */
  get open(): boolean {
    return !this.#closed;
  }

  /** Bytes sent and not yet taken by the kernel (still sealing, or unsent on the connection). */
  get bufferedBytes(): number {
    return this.#sealingBytes + this.#ws.bufferedBytes;
  }

  /** False from the high-water mark until the low-water mark (then `onDrain`), and once closed. */
  get writable(): boolean {
    return !this.#closed && !this.#congested && this.#ws.writable;
  }

  /**
   * Encrypts and sends; messages go out in call order. Returns false when
   * the message was not queued: the channel is closed, or it would pass the
   * connection's hard limit on unsent bytes (the peer is not reading; the
   * channel is then closed). True does not mean "send more": check
   * `writable`, or wait for `onDrain`.
   */
  send(plaintext: Uint8Array): boolean {
    if (this.#closed) return false;
    if (!this.#ws.checkRoom(this.#sealingBytes + plaintext.length + WIRE_OVERHEAD)) {
      this.close("send buffer full: peer not reading", 1008);
      return false;
    }
    const counter = this.#sendCounter++;
    const small = plaintext.length < SYNC_MAX_BYTES;
    if (small && this.#sendTail === null) {
      const queued = this.#ws.sendCoalesced(seal(this.#keys.send, counter, plaintext));
      this.#flowCheck();
      return queued;
    }
    const bytes = plaintext.length;
    this.#sealingBytes += bytes;
    const sealed = small
      ? Promise.resolve(seal(this.#keys.send, counter, plaintext))
      : this.#web().then(async (k) =>
        new Uint8Array(
          await crypto.subtle.encrypt(
            { name: "AES-GCM", iv: nonce(counter) as BufferSource },
            k.send,
            plaintext as BufferSource,
          ),
        )
      );
    sealed.catch(() => {}); // handled in order below
    const tail: Promise<void> = (this.#sendTail ?? Promise.resolve()).then(async () => {
      let ct: Uint8Array;
      try {
        ct = await sealed;
      } finally {
        this.#sealingBytes -= bytes;
      }
      if (!this.#closed && !this.#ws.sendCoalesced(ct)) this.close("connection closed");
      this.#flowCheck();
    });
    this.#sendTail = tail;
    tail.then(
      () => {
        if (this.#sendTail === tail) this.#sendTail = null;
      },
      () => this.close("encrypt failed"),
    );
    this.#flowCheck();
    return true;
  }

  /** Resolves when everything sent so far has drained to the socket. */
  async flushed(): Promise<void> {
    await this.#sendTail;
    await new Promise<void>((r) => queueMicrotask(r));
    await this.#ws.drained();
  }

  /** Ends the channel and its connection. */
  close(reason: string, code = 1000): void {
    if (this.#closed) return;
    this.#ws.close(code, reason);
    this.#finish(reason);
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#ws.guard(() => this.onClose(reason));
  }

  /** Updates `writable` after the unsent bytes changed; calls `onDrain` when it turns true. */
  #flowCheck(): void {
    if (this.#closed) return;
    const limits = this.#ws.writeLimits;
    const b = this.bufferedBytes;
    this.#congested = this.#congested ? b > limits.lowWaterBytes : b >= limits.highWaterBytes;
    const writable = this.writable;
    if (writable && !this.#reportedWritable) this.#ws.guard(() => this.onDrain());
    this.#reportedWritable = writable;
  }

  #deliver(pt: Uint8Array | null): void {
    if (this.#closed) return;
    if (pt === null) return this.close("message failed to authenticate", 1002);
    const handler = this.#handler;
    if (handler) return this.#ws.guard(() => handler(pt));
    if (this.#queue.length >= MAX_QUEUED || this.#queuedBytes + pt.length > MAX_QUEUED_BYTES) {
      return this.close("too many messages before the channel was ready", 1008);
    }
    this.#queue.push(pt);
    this.#queuedBytes += pt.length;
  }

  #receive(data: Uint8Array): void {
    if (this.#closed) return;
    if (data.length < TAG_BYTES) return this.close("short message", 1002);
    const counter = this.#receiveCounter++;
    const small = data.length < SYNC_MAX_BYTES;
    if (small && this.#receiveTail === null) {
      return this.#deliver(open(this.#keys.receive, counter, data));
    }
    const opened: Promise<Uint8Array | null> = small
      ? Promise.resolve(open(this.#keys.receive, counter, data))
      : this.#web().then((k) =>
        crypto.subtle.decrypt(
          { name: "AES-GCM", iv: nonce(counter) as BufferSource },
          k.receive,
          data as BufferSource,
        )
      ).then((b) => new Uint8Array(b), () => null);
    // Never rejects: a failure in delivery goes to the connection's guard.
    const tail: Promise<void> = (this.#receiveTail ?? Promise.resolve()).then(async () => {
      const pt = await opened;
      this.#ws.guard(() => this.#deliver(pt));
    });
    this.#receiveTail = tail;
    void tail.then(() => {
      if (this.#receiveTail === tail) this.#receiveTail = null;
    });
  }
}
