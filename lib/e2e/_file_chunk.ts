/**
 * What the file encryptor and decryptor share: per-chunk nonce and associated data,
 * the whole-file digest, and re-chunking of a byte stream. Private to lib/e2e.
 *
 *   nonce_i = 0x00000000 | u64 i                      (unique: the key is fresh per file)
 *   ad_i    = "fedchat/vN/file/chunk\0" | fileId [16] | chunkBytes u32 | u64 i | final u8
 *   digest  = SHA-256("fedchat/vN/file/digest\0" | chunkBytes u32
 *                     | SHA-256(chunk_0) | ... | SHA-256(chunk_last) | u64 byteLength)
 *
 * N is the manifest's version (1: AES-256-GCM, 2: ChaCha20-Poly1305), so a chunk or a
 * digest of one version never passes for the other.
 *
 * The digest is a hash list: each chunk's SHA-256 comes from WebCrypto (fast, native,
 * run beside the AES-GCM work), and only 32 bytes per chunk go through the incremental
 * hash here. It depends on the plaintext and chunk size only, not on the key or file id.
 */
import { ByteWriter } from "./byte_codec.ts";
import { utf8 } from "./_bytes.ts";
import { Sha256 } from "./_sha256.ts";

const AD_LABEL = [utf8("fedchat/v1/file/chunk\0"), utf8("fedchat/v2/file/chunk\0")];
const DIGEST_LABEL = [utf8("fedchat/v1/file/digest\0"), utf8("fedchat/v2/file/digest\0")];

/** A manifest version (see file_manifest.ts). */
export type FileVersion = 1 | 2;

/** The AEAD nonce of chunk `index`. */
export function chunkNonce(index: number): Uint8Array {
  return new ByteWriter().u32(0).u64(index).finish();
}

/** The associated data of chunk `index`. */
export function chunkAd(
  version: FileVersion,
  fileId: Uint8Array,
  chunkBytes: number,
  index: number,
  final: boolean,
): Uint8Array {
  return new ByteWriter(64).raw(AD_LABEL[version - 1]).raw(fileId).u32(chunkBytes).u64(index)
    .u8(final ? 1 : 0).finish();
}

/** SHA-256 of one chunk, through WebCrypto. */
export async function chunkDigest(chunk: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", chunk as BufferSource));
}

/** Folds chunk digests, in order, into the whole-file digest. */
export class FileDigest {
  #hash: Sha256;

  constructor(chunkBytes: number, version: FileVersion = 1) {
    this.#hash = new Sha256().update(
      new ByteWriter().raw(DIGEST_LABEL[version - 1]).u32(chunkBytes).finish(),
    );
  }

  add(chunkDigestBytes: Uint8Array): void {
    this.#hash.update(chunkDigestBytes);
  }

  finish(byteLength: number): Uint8Array {
    return this.#hash.update(new ByteWriter().u64(byteLength).finish()).digest();
  }
}

/** Runs `tasks` with at most `window` in flight, yielding results in order. */
export async function* inOrder<T>(
  tasks: AsyncIterable<() => Promise<T>>,
  window: number,
): AsyncGenerator<T> {
  const queue: Promise<T>[] = [];
  try {
    for await (const task of tasks) {
      const p = task();
      // Attached now so a rejection waiting in the queue is not reported as unhandled.
      p.catch(() => {});
      queue.push(p);
      if (queue.length >= window) yield await queue.shift()!;
    }
    while (queue.length > 0) yield await queue.shift()!;
  } finally {
    queue.length = 0;
  }
}

/** Cuts a byte stream into pieces of the given sizes; `sizeOf(i)` is null past the end. */
export async function* cutStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  sizeOf: (index: number) => number | null,
  onExtra: () => never,
): AsyncGenerator<Uint8Array> {
  let index = 0;
  let want = sizeOf(0);
  let buf = want === null ? new Uint8Array(0) : new Uint8Array(want);
  let fill = 0;
  for await (const piece of source) {
    let off = 0;
    while (off < piece.length) {
      if (want === null) onExtra();
      const take = Math.min(want - fill, piece.length - off);
      buf.set(piece.subarray(off, off + take), fill);
      fill += take;
      off += take;
      if (fill === want) {
        yield buf;
        want = sizeOf(++index);
        buf = new Uint8Array(want ?? 0);
        fill = 0;
      }
    }
  }
  // Short input: the caller gets a piece smaller than it expected and reports truncation.
  if (want !== null) yield buf.subarray(0, fill);
}
