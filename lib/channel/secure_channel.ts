/**
 * The link's own encryption over a WebSocket: AES-256-GCM per message with a
 * per-direction counter as nonce (never sent: the channel is ordered, so a
 * dropped, replayed, reordered or spliced message fails to decrypt and ends
 * the link). Encryption runs concurrently; delivery keeps the order.
 */
import type { WsConnection } from "../wss/mod.ts";
import type { LinkKeys } from "./handshake.ts";

/** AES-GCM tag length in bytes. */
export const TAG_BYTES = 16;

function nonce(counter: number): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(4, BigInt(counter));
  return n;
}

/** An encrypted, ordered message channel over one WebSocket. */
export class SecureChannel {
  #handler: ((plaintext: Uint8Array) => void) | null = null;
  #queue: Uint8Array[] = [];

  /**
   * Receives each decrypted message, in order. Messages that arrive while no
   * handler is set are kept and handed to the next one set.
   */
  set onMessage(handler: ((plaintext: Uint8Array) => void) | null) {
    this.#handler = handler;
    while (this.#handler === handler && handler && this.#queue.length > 0) {
      handler(this.#queue.shift()!);
    }
  }
  /** Called once when the channel is gone, with why. */
  onClose: (reason: string) => void = () => {};

  #ws: WsConnection;
  #keys: LinkKeys;
  #sendCounter = 0;
  #receiveCounter = 0;
  #sendTail: Promise<void> = Promise.resolve();
  #receiveTail: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(ws: WsConnection, keys: LinkKeys) {
    this.#ws = ws;
    this.#keys = keys;
    ws.onMessage = (data) => this.#receive(data);
    // Deliver what already arrived before reporting the close.
    ws.onClose = (info) =>
      void this.#receiveTail.then(() => this.#finish(info.reason || `closed (${info.code})`));
  }

  /** The underlying connection (for liveness and address). */
  get ws(): WsConnection {
    return this.#ws;
  }

  /** True until the channel has ended. */
  get open(): boolean {
    return !this.#closed;
  }

  /** Encrypts and sends; messages go out in call order. */
  send(plaintext: Uint8Array): void {
    if (this.#closed) return;
    const sealed = crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce(this.#sendCounter++) as BufferSource },
      this.#keys.send,
      plaintext as BufferSource,
    );
    sealed.catch(() => {}); // handled in order below; avoids an unhandled rejection meanwhile
    this.#sendTail = this.#sendTail.then(async () => {
      const ct = new Uint8Array(await sealed);
      if (!this.#closed) this.#ws.sendCoalesced(ct);
    }).catch(() => this.close("encrypt failed"));
  }

  /** Resolves when everything sent so far is handed to the socket and drained. */
  async flushed(): Promise<void> {
    await this.#sendTail;
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
    this.onClose(reason);
  }

  #receive(data: Uint8Array): void {
    if (this.#closed) return;
    if (data.length < TAG_BYTES) return this.close("short message", 1002);
    const opened = crypto.subtle.decrypt(
      { name: "AES-GCM", iv: nonce(this.#receiveCounter++) as BufferSource },
      this.#keys.receive,
      data as BufferSource,
    );
    opened.catch(() => {}); // handled in order below; avoids an unhandled rejection meanwhile
    this.#receiveTail = this.#receiveTail.then(async () => {
      let pt: Uint8Array;
      try {
        pt = new Uint8Array(await opened);
      } catch {
        return this.close("message failed to authenticate", 1002);
      }
      if (this.#closed) return;
      if (this.#handler) this.#handler(pt);
      else this.#queue.push(pt);
    });
  }
}
