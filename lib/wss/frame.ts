/**
 * RFC 6455 WebSocket framing: an encoder and an incremental parser that caps
 * every size before allocating and refuses what we never send (extensions,
 * unknown opcodes, unmasked client frames, oversized control frames).
 */

/** RFC 6455 §5.2 opcodes. */
export const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** A whole frame as parsed. */
export interface Frame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

/** A violation of RFC 6455 or of our limits; the connection must close. */
export class FrameError extends Error {
  /** RFC 6455 §7.4.1 close code to send. */
  readonly code: number;
  constructor(message: string, code = 1002) {
    super(message);
    this.name = "FrameError";
    this.code = code;
  }
}

/**
 * A WebAssembly module (SIMD) that XORs the first `n` bytes of its one 64 KiB
 * page with a 32-bit mask, 16 bytes at a time; `n` a multiple of 16. As text:
 *
 *   (module (memory (export "m") 1)
 *     (func (export "x") (param $n i32) (param $m i32) (local $i i32) (local $v v128)
 *       (local.set $v (i32x4.splat (local.get $m)))
 *       (block (loop
 *         (br_if 1 (i32.ge_u (local.get $i) (local.get $n)))
 *         (v128.store (local.get $i) (v128.xor (v128.load (local.get $i)) (local.get $v)))
 *         (local.set $i (i32.add (local.get $i) (i32.const 16)))
 *         (br 0)))))
 */
// deno-fmt-ignore
const MASK_WASM = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x06, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x00, // type: (i32, i32) -> ()
  0x03, 0x02, 0x01, 0x00, // function 0 of type 0
  0x05, 0x03, 0x01, 0x00, 0x01, // memory: one page
  0x07, 0x09, 0x02, 0x01, 0x6d, 0x02, 0x00, 0x01, 0x78, 0x00, 0x00, // exports "m", "x"
  0x0a, 0x34, 0x01, 0x32, 0x02, 0x01, 0x7f, 0x01, 0x7b, // code: locals i32, v128
  0x20, 0x01, 0xfd, 0x11, 0x21, 0x03, 0x02, 0x40, 0x03, 0x40, // v = splat(m); block; loop
  0x20, 0x02, 0x20, 0x00, 0x4f, 0x0d, 0x01, // br_if 1 (i >= n)
  0x20, 0x02, 0x20, 0x02, 0xfd, 0x00, 0x04, 0x00, 0x20, 0x03, 0xfd, 0x51, 0xfd, 0x0b, 0x04, 0x00,
  0x20, 0x02, 0x41, 0x10, 0x6a, 0x21, 0x02, 0x0c, 0x00, 0x0b, 0x0b, 0x0b, // i += 16; br 0; ends
]);

/**
 * Payloads from this size on (file chunks) are masked through {@linkcode MASK_WASM}. The module
 * is made at the first such payload: a process that only carries messages never loads
 * V8's WebAssembly compiler (about 1-3 MiB of resident memory).
 */
const WASM_MASK_MIN_BYTES = 64 * 1024;

type WasmMask = { page: Uint8Array; xor: (n: number, m: number) => void };
/** The module's page and its XOR; null where WebAssembly SIMD is not available; undefined until made. */
let wasmMask: WasmMask | null | undefined;

function makeWasmMask(): WasmMask | null {
  try {
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(MASK_WASM));
    return {
      page: new Uint8Array((exports.m as WebAssembly.Memory).buffer),
      xor: exports.x as (n: number, m: number) => void,
    };
  } catch {
    return null;
  }
}

/**
 * XORs `data` in place with the 4-byte `mask` (RFC 6455 §5.3). A large
 * payload goes through WebAssembly SIMD in 64 KiB blocks (copied in and out:
 * about a third of the word-wise loop's time for a 256 KiB chunk, PERF_NOTES
 * branch `relayfiles`); the rest a word at a time from the first 4-byte
 * boundary (views into a socket chunk are rarely aligned).
 */
export function applyMask(data: Uint8Array, mask: Uint8Array): void {
  const n = data.length;
  let i = 0;
  if (n >= WASM_MASK_MIN_BYTES && (wasmMask ??= makeWasmMask())) {
    const { page, xor } = wasmMask;
    // Blocks start at multiples of 16 in the payload, so the mask lines up as at byte 0.
    const m = mask[0] | (mask[1] << 8) | (mask[2] << 16) | (mask[3] << 24);
    for (
      let len = Math.min(page.length, n & ~15);
      len > 0;
      len = Math.min(page.length, (n - i) & ~15)
    ) {
      page.set(data.subarray(i, i + len));
      xor(len, m);
      data.set(page.subarray(0, len), i);
      i += len;
    }
    for (; i < n; i++) data[i] ^= mask[i & 3];
    return;
  }
  const head = Math.min(n, (4 - (data.byteOffset & 3)) & 3);
  for (; i < head; i++) data[i] ^= mask[i & 3];
  const words = (n - i) >>> 2;
  if (words >= 4) {
    // The mask as it lines up from byte i, read in the platform's byte order.
    const rotated = new Uint8Array(4);
    for (let k = 0; k < 4; k++) rotated[k] = mask[(i + k) & 3];
    const m = new Uint32Array(rotated.buffer)[0];
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] ^= m;
    i += words * 4;
  }
  for (; i < n; i++) data[i] ^= mask[i & 3];
}

/**
 * Encodes one frame. With `masked`, a random mask is drawn and the payload is
 * copied and masked (clients must mask, RFC 6455 §5.1).
 */
export function encodeFrame(opcode: number, payload: Uint8Array, masked: boolean): Uint8Array {
  return encodeFrameParts(opcode, [payload], masked);
}

/**
 * Encodes one frame whose payload is `parts` one after another, into one
 * buffer: each part is copied once, and masked there in place.
 */
export function encodeFrameParts(
  opcode: number,
  parts: readonly Uint8Array[],
  masked: boolean,
): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const headerLen = frameHeadBytes(len, masked);
  const out = new Uint8Array(headerLen + len);
  writeFrameHead(out, opcode, len, masked);
  let at = headerLen;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  if (masked) applyMask(out.subarray(headerLen), out.subarray(headerLen - 4, headerLen));
  return out;
}

/**
 * Encodes the head of a frame whose payload of `len` bytes is written after
 * it as it is: with `masked`, a random mask is drawn (the head's last four
 * bytes) and `parts`, the payload, are masked in place with it. For payloads
 * the caller gives up (freshly sealed records): no copy of the payload.
 */
export function encodeFrameHeadFor(
  opcode: number,
  parts: readonly Uint8Array[],
  masked: boolean,
): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const head = new Uint8Array(frameHeadBytes(len, masked));
  writeFrameHead(head, opcode, len, masked);
  if (masked) {
    const mask = head.subarray(head.length - 4);
    const shifted = new Uint8Array(4);
    let at = 0;
    for (const p of parts) {
      // The mask as it lines up at this part's offset in the payload (RFC 6455 §5.3).
      for (let k = 0; k < 4; k++) shifted[k] = mask[(at + k) & 3];
      applyMask(p, shifted);
      at += p.length;
    }
  }
  return head;
}

function frameHeadBytes(len: number, masked: boolean): number {
  return 2 + (len < 126 ? 0 : len < 65536 ? 2 : 8) + (masked ? 4 : 0);
}

/** Writes a frame head at the start of `out`; draws the mask when `masked`. */
function writeFrameHead(
  out: Uint8Array<ArrayBuffer>,
  opcode: number,
  len: number,
  masked: boolean,
): void {
  const extra = len < 126 ? 0 : len < 65536 ? 2 : 8;
  out[0] = 0x80 | opcode;
  out[1] = (masked ? 0x80 : 0) | (extra === 0 ? len : extra === 2 ? 126 : 127);
  const view = new DataView(out.buffer, out.byteOffset);
  if (extra === 2) view.setUint16(2, len);
  if (extra === 8) view.setBigUint64(2, BigInt(len));
  if (masked) crypto.getRandomValues(out.subarray(2 + extra, 2 + extra + 4));
}

/** Payloads from this size on are reassembled into a reused buffer after `lendLarge()`. */
export const LEND_MIN_BYTES = 64 * 1024;

/** Bytes kept free before a lent payload: room for the longest frame head (64-bit length, mask). */
const HEAD_ROOM = 14;

/** Bytes a payload needs free before it in its buffer to be framed where it lies. */
export const FRAME_ROOM_BYTES = HEAD_ROOM;

/**
 * Frames `payload` where it lies: its head is written into the bytes before it
 * in its buffer (the caller gives those up with the payload), and the payload
 * is masked in place when `masked` (a fresh random mask, RFC 6455 §5.3). One
 * contiguous frame, no copy and no fresh buffer. Null when fewer than
 * {@linkcode FRAME_ROOM_BYTES} lie before it (or fewer than its head needs).
 */
export function frameInRoom(
  opcode: number,
  payload: Uint8Array,
  masked: boolean,
): Uint8Array | null {
  const headLen = frameHeadBytes(payload.length, masked);
  if (payload.byteOffset < headLen) return null;
  const frame = new Uint8Array(
    payload.buffer as ArrayBuffer,
    payload.byteOffset - headLen,
    headLen + payload.length,
  );
  writeFrameHead(frame, opcode, payload.length, masked);
  if (masked) applyMask(frame.subarray(headLen), frame.subarray(headLen - 4, headLen));
  return frame;
}

/**
 * Bytes of written buffers a parser keeps for its next spares (see
 * {@linkcode FrameParser.giveBack}): a relay's outgoing link holds about its
 * high-water mark (1 MiB) unwritten: four 256 KiB chunks with their heads.
 * A peer sending larger messages makes it keep fewer, not more bytes.
 */
const KEPT_RETURNED_BYTES = 5 << 18;

/** The parser that lent each reassembly buffer (see {@linkcode takeLentFrame}). */
const lenders = new WeakMap<ArrayBufferLike, FrameParser>();

/** A frame sent from a parser's lent buffer, and how to give that buffer back once written. */
export interface LentFrame {
  frame: Uint8Array;
  release: () => void;
}

/**
 * For a relay forwarding what it received: when `parts` are exactly the start
 * of the payload a {@linkcode FrameParser} lent for the message being handled
 * now (its last part a view into that buffer, the parts before it equal to the
 * bytes before it there), takes that buffer from the parser (which reassembles
 * later frames elsewhere) and writes the frame head into the room kept before
 * the payload: the frame is sent from there, masked in place when `masked`
 * (a fresh random mask, RFC 6455 §5.3), with no copy and no fresh buffer.
 * `release` gives the buffer back once the socket has written it. Null when
 * the parts are anything else (then the caller copies, as before). The
 * caller gives the parts up: with `masked`, they no longer read as before.
 */
export function takeLentFrame(
  opcode: number,
  parts: readonly Uint8Array[],
  masked: boolean,
): LentFrame | null {
  const last = parts[parts.length - 1];
  const parser = last && lenders.get(last.buffer);
  if (!parser) return null;
  let before = 0;
  for (let k = 0; k < parts.length - 1; k++) before += parts[k].length;
  const len = before + last.length;
  // The frame's payload must start where the lent payload starts: the head then lies wholly in
  // the room before it, and nothing the caller may still read is overwritten by it.
  if (last.byteOffset - before !== HEAD_ROOM) return null;
  const buffer = new Uint8Array(last.buffer);
  let at = HEAD_ROOM;
  for (let k = 0; k < parts.length - 1; k++) {
    const p = parts[k];
    for (let j = 0; j < p.length; j++) if (buffer[at + j] !== p[j]) return null;
    at += p.length;
  }
  if (!parser.takeLent(buffer, len)) return null;
  const frame = frameInRoom(opcode, buffer.subarray(HEAD_ROOM, HEAD_ROOM + len), masked)!;
  return { frame, release: () => parser.giveBack(buffer) };
}

/** Options of {@linkcode FrameParser}. */
export interface FrameParserOptions {
  /** Frames from the peer must be masked (we are the server) or unmasked (client). */
  expectMasked: boolean;
  /** Largest payload of one frame. */
  maxFrameBytes: number;
}

/**
 * Turns a byte stream into frames; throws {@linkcode FrameError} on anything
 * wrong. A frame that lies whole inside one chunk is returned as a view into
 * that chunk, unmasked in place (no copy): `push()` takes ownership of the
 * chunks it is given, unless told they are a reused read buffer. After {@linkcode FrameParser.lendLarge}, a large frame
 * reassembled from several chunks is returned in a buffer the parser reuses.
 */
export class FrameParser {
  #expectMasked: boolean;
  #max: number;
  #head = new Uint8Array(14);
  #headLen = 0;
  #need = 2;
  /** Length of the frame whose head is parsed, or -1 while reading a head. */
  #len = -1;
  #payload: Uint8Array | null = null;
  #filled = 0;
  #fin = false;
  #opcode = 0;
  #mask: Uint8Array | null = null;
  #lend = false;
  /**
   * Reassembly buffers lent out in turn (see lendLarge()), each with HEAD_ROOM bytes before the
   * payload; null where none is kept (not made yet, or taken by takeLentFrame()).
   */
  #spares: Array<Uint8Array | null> = [null, null];
  #nextSpare = 0;
  /** The spare holding the last frame returned, which its caller may take until the next push. */
  #lentSpare = -1;
  /** Buffers taken by takeLentFrame(), written and given back: the next spares. */
  #returned: Uint8Array[] = [];

  constructor(options: FrameParserOptions) {
    this.#expectMasked = options.expectMasked;
    this.#max = options.maxFrameBytes;
  }

  /**
   * Feeds bytes; returns the frames they complete. With `reused` (a read
   * buffer the caller fills again once this returns), nothing returned refers
   * to `bytes`: where a frame lies whole inside them, the rest of `bytes` is
   * copied once and parsed from the copy; bytes that only continue a large
   * frame's payload are copied into its reassembly buffer, as always.
   */
  push(bytes: Uint8Array, reused = false): Frame[] {
    // What the last push lent is valid no longer: it can no longer be taken.
    this.#lentSpare = -1;
    // Plain views (not node Buffers, whose slice() does not copy) over the same memory.
    let chunk = Object.getPrototypeOf(bytes) === Uint8Array.prototype
      ? bytes
      : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    const frames: Frame[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.#len < 0) {
        const take = Math.min(this.#need - this.#headLen, chunk.length - i);
        this.#head.set(chunk.subarray(i, i + take), this.#headLen);
        this.#headLen += take;
        i += take;
        if (this.#headLen < this.#need) break;
        if (this.#parseHead() === "more") continue;
      }
      const len = this.#len;
      if (this.#payload === null) {
        if (chunk.length - i >= len) {
          if (reused && len > 0) {
            // One copy for every frame left in this read, not one per frame.
            chunk = chunk.slice(i);
            i = 0;
            reused = false;
          }
          frames.push(this.#finish(chunk.subarray(i, i + len)));
          i += len;
          continue;
        }
        this.#payload = this.#reassembly(len);
        this.#filled = 0;
      }
      const take = Math.min(len - this.#filled, chunk.length - i);
      this.#payload.set(chunk.subarray(i, i + take), this.#filled);
      this.#filled += take;
      i += take;
      if (this.#filled === len) {
        if (this.#lend && len >= LEND_MIN_BYTES) this.#lentSpare = this.#nextSpare ^ 1;
        frames.push(this.#finish(this.#payload));
      }
    }
    // A frame with an empty payload completes with its head.
    if (this.#len === 0) frames.push(this.#finish(new Uint8Array(0)));
    return frames;
  }

  /**
   * From now on, a payload above {@linkcode LEND_MIN_BYTES} that spans
   * several chunks is reassembled into one of two buffers kept by the parser,
   * used in turn (a push completes at most one reassembled frame and starts at
   * most one): such a frame's payload is valid only until the next `push()`.
   * For a caller that consumes each frame at once (a secure channel decrypts
   * it into a new buffer): no fresh buffer per large message. Costs up to two
   * buffers of the largest such frame, for the parser's lifetime.
   */
  lendLarge(): void {
    this.#lend = true;
  }

  /**
   * Takes the buffer of the frame this parser returned last (valid until the next push) away
   * from it, for {@linkcode takeLentFrame}: later frames are reassembled elsewhere, so no read
   * can change it. False when `buffer` is not that frame's, or `len` bytes do not fit there.
   */
  takeLent(buffer: Uint8Array, len: number): boolean {
    const i = this.#lentSpare;
    const spare = i < 0 ? null : this.#spares[i];
    if (!spare || spare.buffer !== buffer.buffer || HEAD_ROOM + len > spare.length) return false;
    this.#spares[i] = null;
    this.#lentSpare = -1;
    return true;
  }

  /**
   * A buffer taken with `takeLent`, written and free again: kept for the next spare that is
   * missing (at most {@linkcode KEPT_RETURNED_BYTES} in all; more are left to the collector).
   */
  giveBack(buffer: Uint8Array): void {
    let kept = buffer.length;
    for (const b of this.#returned) kept += b.length;
    if (kept <= KEPT_RETURNED_BYTES) this.#returned.push(buffer);
  }

  #reassembly(len: number): Uint8Array {
    if (!this.#lend || len < LEND_MIN_BYTES) return new Uint8Array(len);
    const i = this.#nextSpare;
    this.#nextSpare ^= 1;
    let spare = this.#spares[i];
    if (!spare || spare.length < HEAD_ROOM + len) {
      spare = this.#returned.pop() ?? null;
      if (!spare || spare.length < HEAD_ROOM + len) {
        spare = new Uint8Array(HEAD_ROOM + len);
        lenders.set(spare.buffer, this);
      }
      this.#spares[i] = spare;
    }
    return spare.subarray(HEAD_ROOM, HEAD_ROOM + len);
  }

  #parseHead(): "more" | "ready" {
    const h = this.#head;
    const b0 = h[0];
    const b1 = h[1];
    if (b0 & 0x70) throw new FrameError("Cannot read frame: reserved bits set");
    const opcode = b0 & 0x0f;
    if (![0, 1, 2, 8, 9, 10].includes(opcode)) {
      throw new FrameError(`Cannot read frame: unknown opcode ${opcode}`);
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked !== this.#expectMasked) {
      throw new FrameError(`Cannot read frame: ${masked ? "masked" : "unmasked"} frame`);
    }
    const len7 = b1 & 0x7f;
    const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const need = 2 + extra + (masked ? 4 : 0);
    if (this.#headLen < need) {
      this.#need = need;
      return "more";
    }
    const view = new DataView(h.buffer);
    let len = len7;
    if (extra === 2) len = view.getUint16(2);
    if (extra === 8) {
      if (view.getUint32(2) !== 0) throw new FrameError("Cannot read frame: too large", 1009);
      len = view.getUint32(6);
    }
    if (opcode >= 8 && (len > 125 || !(b0 & 0x80))) {
      throw new FrameError("Cannot read frame: bad control frame");
    }
    if (len > this.#max) {
      throw new FrameError(`Cannot read frame: ${len} bytes exceeds ${this.#max}`, 1009);
    }
    this.#fin = (b0 & 0x80) !== 0;
    this.#opcode = opcode;
    this.#mask = masked ? h.slice(need - 4, need) : null;
    this.#len = len;
    return "ready";
  }

  #finish(payload: Uint8Array): Frame {
    if (this.#mask) applyMask(payload, this.#mask);
    const frame = { fin: this.#fin, opcode: this.#opcode, payload };
    this.#payload = null;
    this.#len = -1;
    this.#headLen = 0;
    this.#need = 2;
    return frame;
  }
}
