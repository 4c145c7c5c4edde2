import assert from "node:assert/strict";
import { toNodeId } from "../../ids.ts";
import type { AnnouncementFrame, SignedAnnouncement } from "./announcement.ts";
import {
  batchWireBytes,
  decodeAnnouncementBatch,
  encodeAnnouncementBatch,
  MAX_BATCH_ANNOUNCEMENTS,
} from "./announcement_batch.ts";
import { decodeAnnouncementFrame, encodeAnnouncementFrame } from "./announcement_codec.ts";
import { AnnouncementDecodeError } from "./errors.ts";
import { FakeAnnouncementSigner } from "./fake_signature.ts";
import { signAnnouncement } from "./signatures.ts";

function frame(origin: string, seq: number, ageMs: number): AnnouncementFrame {
  const signer = FakeAnnouncementSigner.forNode(origin);
  const announcement = signAnnouncement({
    origin: toNodeId(origin),
    publicKey: signer.publicKey,
    seq,
    lifetimeMs: 3_600_000,
    listed: true,
    links: [],
    users: [],
  }, signer) as SignedAnnouncement;
  return { announcement, ageMs };
}

Deno.test("decodeAnnouncementBatch() round-trips frames, each decodable alone", () => {
  const frames = [frame("a", 1, 0), frame("b", 7, 1_000), frame("c", 3, 2_500)];
  const bytes = encodeAnnouncementBatch(frames);
  const signed = frames.reduce((n, f) => n + f.announcement.bytes.length, 0);
  assert.equal(bytes.length, batchWireBytes(frames.length, signed));
  const decoded = decodeAnnouncementBatch(bytes);
  assert.equal(decoded.length, 3);
  for (const [i, f] of frames.entries()) {
    assert.deepEqual(decoded[i], encodeAnnouncementFrame(f));
    const back = decodeAnnouncementFrame(decoded[i]);
    assert.equal(back.announcement.origin, f.announcement.origin);
    assert.equal(back.announcement.seq, f.announcement.seq);
    assert.equal(back.ageMs, f.ageMs);
  }
});

Deno.test("batchWireBytes() counts a lone announcement as a plain frame", () => {
  assert.equal(batchWireBytes(1, 170), 174);
  assert.equal(batchWireBytes(2, 340), 2 + 2 * 2 + 340 + 2 * 4);
});

Deno.test("decodeAnnouncementBatch() refuses a bad count, truncation and trailing bytes", () => {
  const good = encodeAnnouncementBatch([frame("a", 1, 0), frame("b", 2, 0)]);
  const refuses = (bytes: Uint8Array) =>
    assert.throws(() => decodeAnnouncementBatch(bytes), AnnouncementDecodeError);
  refuses(new Uint8Array([0, 0])); // no frames
  refuses(
    new Uint8Array([(MAX_BATCH_ANNOUNCEMENTS + 1) >> 8, (MAX_BATCH_ANNOUNCEMENTS + 1) & 0xff]),
  );
  refuses(new Uint8Array([0]));
  for (let n = 1; n < good.length; n++) refuses(good.subarray(0, n));
  const trailing = new Uint8Array(good.length + 1);
  trailing.set(good);
  refuses(trailing);
  const more = good.slice();
  more[1] = 3; // claims a third frame that is not there
  refuses(more);
});

Deno.test("encodeAnnouncementBatch() refuses no frames or too many", () => {
  assert.throws(() => encodeAnnouncementBatch([]), RangeError);
  const one = frame("a", 1, 0);
  assert.throws(
    () => encodeAnnouncementBatch(new Array(MAX_BATCH_ANNOUNCEMENTS + 1).fill(one)),
    RangeError,
  );
});
