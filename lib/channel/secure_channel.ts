/**
 * The link's own encryption over a WebSocket: ChaCha20-Poly1305 (RFC 8439)
 * per message with a per-direction counter as nonce (never sent: the channel
 * is ordered, so a dropped, replayed, reordered or spliced message fails to
 * authenticate and ends the link).
 *
 * Every message is sealed and opened synchronously through node:crypto's
 * native ChaCha20-Poly1305, in call order. Measured here (Deno 2.9.6, per
 * CPU second): about 1,050 MB/s, against 90–160 MB/s for AES-256-GCM through
 * node:crypto or WebCrypto, which do not use the CPU's AES instructions in
 * this runtime; a relay opens and seals every byte it forwards, so the cipher
 * was most of its CPU. The ciphertext and tag are given up to the WebSocket
 * connection (`WsConnection.sendParts` with `owned`): a large record is framed
 * without a copy, masked in place; small ones are copied into one frame.
 *
 * Records carry several messages: the small messages sent in one iteration of
 * the event loop (until its end, `atTurnEnd` in lib/turn_end.ts, or up to {@linkcode RECORD_MAX_BYTES})
 * are sealed together, as `n × (u32 length | message)`, and go out as one
 * WebSocket frame. One seal and one frame per record instead of per message
 * is most of a relay's channel cost for small messages (PERF_NOTES.md §5,
 * item 2); the nonce counter counts records.
 *
 * Plain records: when the handshake proved that both nodes hold the two ends
 * of this connection's TLS session (`LinkKeys.binding`, handshake.ts version 4,
 * equal to the connection's own `tlsBinding`), TLS alone already hides,
 * authenticates and orders every byte between them, and a second cipher would
 * only double the work of every hop. Records are then the same
 * `n × (u32 length | message)` without cipher or tag: a large one is copied
 * once into its WebSocket frame (masked there when this end masks; the caller
 * may reuse its bytes once `send` returns, so they cannot go to the socket as
 * they are) unless the caller gives them up (`send`'s `release`, a client's
 * file chunk; a relay's `handOver`), and a received one is handed over as it arrived (no open, no
 * copy). Every check of a record's structure runs in both modes. A proxy or
 * anyone else terminating TLS makes the bindings differ: sealed, as before.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { decipherInto } from "../cipher_slices.ts";
import { atTurnEnd } from "../turn_end.ts";
import { constantTimeEqual } from "../e2e/base.ts";
import { FRAME_ROOM_BYTES, LEND_MIN_BYTES, type WsConnection } from "../wss/mod.ts";
import type { LinkKeys } from "./handshake.ts";

/** Poly1305 tag length in bytes. */
export const TAG_BYTES = 16;
const CIPHER = "chacha20-poly1305";

function nonce(counter: number): Uint8Array {
  const n = new Uint8Array(12);
  // The counter as a 64-bit big-endian integer after four zero bytes, in two halves (no BigInt).
  const view = new DataView(n.buffer);
  view.setUint32(4, Math.floor(counter / 2 ** 32));
  view.setUint32(8, counter >>> 0);
  return n;
}

/** Seals a record given in parts; returns the ciphertext of each part, then the tag. */
function seal(key: Uint8Array, counter: number, parts: readonly Uint8Array[]): Uint8Array[] {
  const c = createCipheriv(CIPHER, key, nonce(counter), { authTagLength: TAG_BYTES });
  const out: Uint8Array[] = parts.map((p) => c.update(p));
  const tail = c.final();
  // A stream cipher: `final()` adds nothing, so the ciphertext is the parts' as they are.
  if (tail.length !== 0) throw new Error("Cannot seal: unexpected cipher output");
  out.push(c.getAuthTag());
  return out;
}

/** A record of several small messages is sealed once it would pass this size. */
export const RECORD_MAX_BYTES = 32 * 1024;
/** Each message's length in front of it inside a record. */
const LENGTH_BYTES = 4;

/**
 * Bytes a large message given up to {@linkcode SecureChannel.send} (with
 * `release`) may have free before it in its buffer: its record's length and
 * its frame's head are then written there, and it goes out as one buffer.
 */
export const SEND_ROOM_BYTES = LENGTH_BYTES + FRAME_ROOM_BYTES;

/**
 * A message waiting for this iteration's record: whole, or in parts (a link message's header and
 * the envelope it carries), joined only in the record.
 */
type Waiting = Uint8Array | readonly Uint8Array[];

/** One record's plaintext: each message with its length in front (`framed` bytes in all). */
function frameRecord(messages: readonly Waiting[], framed: number): Uint8Array {
  const out = new Uint8Array(framed);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const m of messages) {
    if (m instanceof Uint8Array) {
      view.setUint32(at, m.length);
      out.set(m, at + LENGTH_BYTES);
      at += LENGTH_BYTES + m.length;
      continue;
    }
    const lengthAt = at;
    at += LENGTH_BYTES;
    for (const p of m) {
      out.set(p, at);
      at += p.length;
    }
    view.setUint32(lengthAt, at - lengthAt - LENGTH_BYTES);
  }
  return out;
}

/** The messages of a record's plaintext (views), or null when it is malformed. */
export function splitRecord(record: Uint8Array): Uint8Array[] | null {
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < record.length) {
    if (record.length - at < LENGTH_BYTES) return null;
    const n = view.getUint32(at);
    at += LENGTH_BYTES;
    if (n > record.length - at) return null;
    out.push(record.subarray(at, at + n));
    at += n;
  }
  return out.length > 0 ? out : null;
}

function open(key: Uint8Array, counter: number, sealed: Uint8Array): Uint8Array | null {
  try {
    const d = createDecipheriv(CIPHER, key, nonce(counter), { authTagLength: TAG_BYTES });
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const head = d.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    // Throws unless the tag verifies; nothing from `head` is used before.
    d.final();
    return new Uint8Array(head.buffer, head.byteOffset, head.length);
  } catch {
    return null;
  }
}

/**
 * Opens a large record in slices (lib/cipher_slices.ts) into `into` (the caller keeps it;
 * sealing stays whole: its output goes to the socket as it is, and slices would be as many
 * socket writes), or returns null when it does not authenticate.
 */
function openInto(
  key: Uint8Array,
  counter: number,
  sealed: Uint8Array,
  into: Uint8Array,
): Uint8Array | null {
  try {
    const n = sealed.length - TAG_BYTES;
    const d = createDecipheriv(CIPHER, key, nonce(counter), { authTagLength: TAG_BYTES });
    d.setAuthTag(sealed.subarray(n));
    decipherInto(d, sealed, n, into);
    // Throws unless the tag verifies; nothing from `into` is used before.
    d.final();
    return into.subarray(0, n);
  } catch {
    return null;
  }
}

/**
 * Records from this size on are opened into a kept buffer after `lendLargeRecords()` (sealed),
 * or handed over in the connection's reused buffer (plain: the connection's own threshold).
 */
export const LEND_RECORD_MIN_BYTES = LEND_MIN_BYTES;

/**
 * Receives one decrypted message; if it returns a promise that rejects, the channel closes.
 * `lent` (only after {@linkcode SecureChannel.lendLargeRecords}): the bytes are valid only
 * until the handler returns; what is kept longer must be copied.
 */
export type ChannelHandler = (plaintext: Uint8Array, lent: boolean) => unknown;

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
 * bytes not yet on the wire (this iteration's unsealed messages and the
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
  /** Records without cipher: the handshake proved this connection's TLS binding. */
  #plain: boolean;
  /** Large records are handed over lent (lendLargeRecords()). */
  #lend = false;
  #sendCounter = 0;
  #receiveCounter = 0;
  #closed = false;
  #handler: ChannelHandler | null = null;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #congested = false;
  #reportedWritable = true;
  /** Small messages waiting to be sealed together at the end of this iteration. */
  #batch: Waiting[] = [];
  #batchBytes = 0;
  /** Large records are opened into this buffer (lendLargeRecords()), null until then. */
  #opened: Uint8Array | null = null;

  /**
   * @throws {TypeError} when `keys` carry a proven binding that is not this connection's (a
   *   caller's mix-up: the peer would send plain records that this end would try to open)
   */
  constructor(ws: WsConnection, keys: LinkKeys) {
    const proven = keys.binding ?? null;
    if (proven !== null && (ws.tlsBinding === null || !constantTimeEqual(proven, ws.tlsBinding))) {
      throw new TypeError("Cannot open a plain channel: the binding is not this connection's");
    }
    this.#ws = ws;
    this.#keys = keys;
    this.#plain = proven !== null;
    // Sealed, each record is opened into new bytes (or the kept buffer) at once: the connection
    // may hand large ones over in a buffer it reuses. Plain, only once the handler may be lent
    // them too (lendLargeRecords()): the record's bytes are the messages.
    if (!this.#plain) ws.lendLargeMessages();
    // A connection that ended during the handshake makes a channel that is closed from the start.
    if (!ws.open) this.#closed = true;
    ws.onMessage = (data) => this.#receive(data);
    ws.onDrain = () => this.#flowCheck();
    ws.onClose = (info) => this.#finish(info.reason || `closed (${info.code})`);
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
      this.#ws.guard(() => handler(pt, false));
    }
  }

  /**
   * From now on, a record of {@linkcode LEND_RECORD_MIN_BYTES} or more (a file
   * chunk) is opened into one buffer kept by the channel and its messages are
   * handed over with `lent` true: valid until the handler returns, since the
   * next large record is opened into the same buffer (a message queued
   * meanwhile, with no handler, is copied). Saves a fresh buffer per chunk;
   * costs one buffer of the largest record for the channel's life.
   */
  lendLargeRecords(): void {
    this.#lend = true;
    if (this.#plain) this.#ws.lendLargeMessages();
    else this.#opened ??= new Uint8Array(0);
  }

  /**
   * True when records go without the channel's cipher: the handshake proved that both ends
   * hold this connection's TLS session (see the module comment); false when they are sealed.
   */
  get plain(): boolean {
    return this.#plain;
  }

  /** The underlying connection (for liveness, address and reading control). */
  get ws(): WsConnection {
    return this.#ws;
  }

  /** True until the channel has ended. */
  get open(): boolean {
    return !this.#closed;
  }

  /** Bytes sent and not yet taken by the kernel (including this iteration's, not sealed yet). */
  get bufferedBytes(): number {
    return this.#batchBytes + this.#ws.bufferedBytes;
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
   * `writable`, or wait for `onDrain`. A message of {@linkcode RECORD_MAX_BYTES}
   * or more is sealed before this returns (nothing refers to it afterwards);
   * smaller ones are sealed together when this iteration of the event loop ends.
   *
   * `release`: the caller gives a large message's bytes up until it is called
   * (a client's file chunk, in a buffer it reuses). On a plain channel the
   * record is then framed where it lies, masked in place when this end masks,
   * not copied, and `release` runs once the socket has written it; sealed, once
   * it is sealed. Never for a smaller message (batched: its bytes are simply
   * not reused), nor when the connection closes first. When the
   * {@linkcode SEND_ROOM_BYTES} before it in its buffer are given up too (the
   * caller kept them free), the record's length and the frame's head are
   * written there: one frame in one buffer, one socket write.
   */
  send(plaintext: Uint8Array, release?: () => void): boolean {
    if (this.#closed) return false;
    const framed = LENGTH_BYTES + plaintext.length;
    if (!this.#ws.checkRoom(this.#batchBytes + framed + WIRE_OVERHEAD)) {
      this.close("send buffer full: peer not reading", 1008);
      return false;
    }
    if (framed < RECORD_MAX_BYTES) return this.#wait(plaintext, framed);
    // A large message (a file chunk) is a record of its own, sealed without a copy.
    this.#sealBatch();
    if (release && this.#plain && plaintext.byteOffset >= SEND_ROOM_BYTES) {
      // The length goes into the room before the message, the frame's head before that.
      const record = new Uint8Array(plaintext.buffer, plaintext.byteOffset - LENGTH_BYTES, framed);
      new DataView(record.buffer, record.byteOffset).setUint32(0, plaintext.length);
      return this.#sendRecord([record], { release, room: true });
    }
    const length = new Uint8Array(LENGTH_BYTES);
    new DataView(length.buffer).setUint32(0, plaintext.length);
    return this.#sendRecord([length, plaintext], { release });
  }

  /**
   * Like {@linkcode send}, for a message given in parts (a link message's
   * header and the envelope it carries): the parts are joined only where the
   * record is framed (a small message) or sealed (a large one), not first
   * into a message of their own. As for `send`, a small message's parts are
   * read when this iteration of the event loop ends: they must not change before.
   *
   * `handOver`: the last part is a large message as this process received it
   * in a lent record (a relay forwarding a file chunk) and the caller gives the
   * parts up; on a plain channel its record is then sent from where it arrived
   * (`WsConnection.sendParts`' `handOver`), not copied. The caller must not read
   * the parts once this returns (they may be masked in place).
   */
  sendParts(
    parts: readonly Uint8Array[],
    { handOver = false }: { handOver?: boolean } = {},
  ): boolean {
    if (parts.length === 1 && !handOver) return this.send(parts[0]);
    if (this.#closed) return false;
    let bytes = 0;
    for (const p of parts) bytes += p.length;
    const framed = LENGTH_BYTES + bytes;
    if (!this.#ws.checkRoom(this.#batchBytes + framed + WIRE_OVERHEAD)) {
      this.close("send buffer full: peer not reading", 1008);
      return false;
    }
    if (framed < RECORD_MAX_BYTES) return this.#wait(parts, framed);
    this.#sealBatch();
    const length = new Uint8Array(LENGTH_BYTES);
    new DataView(length.buffer).setUint32(0, bytes);
    return this.#sendRecord([length, ...parts], { handOver });
  }

  /** Adds a small message to this iteration's record. */
  #wait(message: Waiting, framed: number): boolean {
    if (this.#batchBytes + framed > RECORD_MAX_BYTES) this.#sealBatch();
    // Sealed when this iteration of the event loop is over, where the connection writes too: a
    // relay forwards the envelopes of several incoming records in one record and one write.
    if (this.#batch.length === 0) atTurnEnd(this.#sealAtTurnEnd);
    this.#batch.push(message);
    this.#batchBytes += framed;
    this.#flowCheck();
    return true;
  }

  /**
   * Seals the messages gathered this iteration as one record. `now`: at the
   * iteration's end, the connection writes it at once, with whatever else waits
   * for this iteration's write (`WsConnection.sendParts`).
   */
  #sealBatch = (now = false): void => {
    if (this.#batch.length === 0) return;
    const record = frameRecord(this.#batch, this.#batchBytes);
    this.#batch = [];
    this.#batchBytes = 0;
    if (!this.#closed) this.#sendRecord([record], { now });
  };

  #sealAtTurnEnd = (): void => this.#sealBatch(true);

  /** Sends a record given in parts: sealed, or plain (see the module comment). */
  #sendRecord(
    parts: readonly Uint8Array[],
    { handOver = false, release, room = false, now = false }: {
      handOver?: boolean;
      release?: () => void;
      room?: boolean;
      now?: boolean;
    } = {},
  ): boolean {
    // The sealed parts are fresh cipher output: given up to the connection, which frames a
    // large record without copying it. Plain parts are the caller's (a relay's are lent, and
    // a link message's header is a shared constant): copied once into the frame, unless handed
    // over as they arrived or given up until `release` (then framed where they lie).
    let queued: boolean;
    if (this.#plain) {
      queued = this.#ws.sendParts(parts, {
        handOver,
        owned: release !== undefined,
        release,
        room,
        now,
      });
    } else {
      queued = this.#ws.sendParts(seal(this.#keys.send, this.#sendCounter++, parts), {
        owned: true,
        now,
      });
      release?.();
    }
    if (!queued) this.close("connection closed");
    this.#flowCheck();
    return queued;
  }

  /** Resolves when everything sent so far has drained to the socket. */
  async flushed(): Promise<void> {
    this.#sealBatch();
    await this.#ws.drained();
  }

  /**
   * Ends the channel and its connection. A normal close (1000) first sends
   * what waits for this iteration's record.
   */
  close(reason: string, code = 1000): void {
    if (this.#closed) return;
    if (code === 1000) this.#sealBatch();
    this.#ws.close(code, reason);
    this.#finish(reason);
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#batch = [];
    this.#batchBytes = 0;
    this.#ws.guard(() => this.onClose(reason));
  }

  /** Updates `writable` after the unsent bytes changed; calls `onDrain` when it turns true. */
  #flowCheck(): void {
    if (this.#closed) return;
    const limits = this.#ws.writeLimits;
    const b = this.bufferedBytes;
    this.#congested = this.#congested ? b > limits.lowWaterBytes : b >= limits.highWaterBytes;
    const writable = this.writable;
    const drained = writable && !this.#reportedWritable;
    // Recorded before `onDrain` runs: a handler that sends until `writable` is false again is
    // told of the next drain too (recorded after, its send's "not writable" was overwritten
    // and no later drain was reported).
    this.#reportedWritable = writable;
    if (drained) this.#ws.guard(() => this.onDrain());
  }

  #deliver(pt: Uint8Array, lent: boolean): void {
    const handler = this.#handler;
    if (handler) return this.#ws.guard(() => handler(pt, lent));
    if (this.#queue.length >= MAX_QUEUED || this.#queuedBytes + pt.length > MAX_QUEUED_BYTES) {
      return this.close("too many messages before the channel was ready", 1008);
    }
    this.#queue.push(lent ? pt.slice() : pt);
    this.#queuedBytes += pt.length;
  }

  #receive(data: Uint8Array): void {
    if (this.#closed) return;
    if (this.#plain) return this.#receivePlain(data);
    if (data.length < TAG_BYTES) return this.close("short message", 1002);
    const lent = this.#lend && data.length >= LEND_RECORD_MIN_BYTES;
    let record: Uint8Array | null;
    if (lent) {
      if (this.#opened!.length < data.length) this.#opened = new Uint8Array(data.length);
      record = openInto(this.#keys.receive, this.#receiveCounter++, data, this.#opened!);
    } else record = open(this.#keys.receive, this.#receiveCounter++, data);
    if (record === null) return this.close("message failed to authenticate", 1002);
    const messages = splitRecord(record);
    if (messages === null) return this.close("malformed record", 1002);
    for (const m of messages) {
      if (this.#closed || !this.#ws.open) return;
      this.#deliver(m, lent);
    }
  }

  /** A plain record: its messages as they arrived (lent when the connection lent them). */
  #receivePlain(data: Uint8Array): void {
    let record = data;
    let lent = false;
    if (this.#ws.mayLend(data.length)) {
      // In the connection's reused buffer: lent on, or copied for a handler that keeps it.
      if (this.#lend) lent = true;
      else record = data.slice();
    }
    const messages = splitRecord(record);
    if (messages === null) return this.close("malformed record", 1002);
    for (const m of messages) {
      if (this.#closed || !this.#ws.open) return;
      this.#deliver(m, lent);
    }
  }
}
