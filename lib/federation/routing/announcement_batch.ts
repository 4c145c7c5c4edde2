/**
 * Several announcement frames in one link message (kind 6, ANNOUNCE_BATCH): what a router
 * floods to one neighbour at one flush. Big-endian, through the project's byte codec:
 *
 * ```
 * u16 count (1 … 1024)
 * count × (u16 length | frame)     frame = signed announcement bytes | u32 ageMs
 * ```
 *
 * A sender keeps a batch within {@linkcode MAX_BATCH_BYTES} (so it fits the smallest
 * `max_frame_bytes` a node may configure, 64 KiB) and sends a lone announcement, or one too
 * large for a batch, as a plain ANNOUNCE (kind 3) frame. Each frame is judged on its own, as
 * if it had come alone; the container only saves a link message per announcement.
 */
import { ByteReader, ByteWriter, CodecError } from "../../e2e/base.ts";
import { ANNOUNCEMENT_AGE_BYTES, type AnnouncementFrame } from "./announcement.ts";
import { encodeAnnouncementFrame } from "./announcement_codec.ts";
import { AnnouncementDecodeError } from "./errors.ts";

/** Largest batch a router sends, in bytes. */
export const MAX_BATCH_BYTES = 60 * 1024;
/** Most frames one batch may carry. */
export const MAX_BATCH_ANNOUNCEMENTS = 1024;

const COUNT_BYTES = 2;
const LENGTH_BYTES = 2;

/**
 * Bytes on the wire of `count` announcements whose signed parts total `signedBytes`: a plain
 * frame for one, a batch for more.
 */
export function batchWireBytes(count: number, signedBytes: number): number {
  const frames = signedBytes + count * ANNOUNCEMENT_AGE_BYTES;
  return count === 1 ? frames : COUNT_BYTES + count * LENGTH_BYTES + frames;
}

/**
 * Encodes frames as one batch.
 * @throws {RangeError} no frames, too many, or a frame too long for a batch
 */
export function encodeAnnouncementBatch(frames: readonly AnnouncementFrame[]): Uint8Array {
  if (frames.length < 1 || frames.length > MAX_BATCH_ANNOUNCEMENTS) {
    throw new RangeError(
      `Cannot encode announcement batch: ${frames.length} frames, not 1 to ${MAX_BATCH_ANNOUNCEMENTS}`,
    );
  }
  const w = new ByteWriter(
    batchWireBytes(frames.length, frames.reduce((n, f) => n + f.announcement.bytes.length, 0)),
  );
  w.u16(frames.length);
  for (const frame of frames) w.bytes16(encodeAnnouncementFrame(frame));
  return w.finish();
}

/**
 * Splits a batch into its frames (views into `bytes`), each to be decoded and judged alone.
 * @throws {AnnouncementDecodeError} a bad count, length, or trailing bytes
 */
export function decodeAnnouncementBatch(bytes: Uint8Array): Uint8Array[] {
  try {
    const r = new ByteReader(bytes, "announcement batch");
    const count = r.u16("count");
    if (count < 1 || count > MAX_BATCH_ANNOUNCEMENTS) {
      throw new CodecError(`Cannot decode announcement batch: ${count} frames`);
    }
    const frames: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      frames.push(r.rawView(r.u16("frame length"), "frame"));
    }
    r.end();
    return frames;
  } catch (cause) {
    if (!(cause instanceof CodecError)) throw cause;
    throw new AnnouncementDecodeError(cause.message, { cause });
  }
}
