import assert from "node:assert/strict";
import { toNodeId, toUserName } from "../../ids.ts";
import type { AnnouncementBody } from "./announcement.ts";
import { MAX_ANNOUNCEMENT_BYTES } from "./announcement.ts";
import {
  decodeAnnouncement,
  decodeAnnouncementFrame,
  encodeAnnouncementBody,
  encodeAnnouncementFrame,
  joinAnnouncement,
  peekAnnouncement,
} from "./announcement_codec.ts";
import { AnnouncementDecodeError } from "./errors.ts";

const SIG = new Uint8Array(64).fill(7);

function body(over: Partial<AnnouncementBody> = {}): AnnouncementBody {
  return {
    origin: toNodeId("alice"),
    publicKey: new Uint8Array(32).fill(1),
    seq: 123_456,
    lifetimeMs: 3_600_000,
    listed: true,
    endpoint: { host: "chat.example.org", port: 8443 },
    links: [toNodeId("carol"), toNodeId("bob")],
    users: [
      { name: toUserName("zed"), presence: "offline" },
      { name: toUserName("alice"), presence: "online" },
    ],
    ...over,
  };
}

function wire(over: Partial<AnnouncementBody> = {}): Uint8Array {
  return joinAnnouncement(encodeAnnouncementBody(body(over)), SIG);
}

/** Rewrites one byte of valid wire bytes. */
function patched(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[at] = value;
  return copy;
}

Deno.test("decodeAnnouncement() round-trips every field, sorted canonically", () => {
  const bytes = wire();
  const a = decodeAnnouncement(bytes);
  assert.equal(a.version, 2);
  assert.equal(a.origin, "alice");
  assert.deepEqual(a.publicKey, new Uint8Array(32).fill(1));
  assert.equal(a.seq, 123_456);
  assert.equal(a.lifetimeMs, 3_600_000);
  assert.equal(a.listed, true);
  assert.deepEqual(a.endpoint, { host: "chat.example.org", port: 8443 });
  assert.deepEqual(a.links, ["bob", "carol"]);
  assert.deepEqual(a.users, [
    { name: "alice", presence: "online" },
    { name: "zed", presence: "offline" },
  ]);
  assert.deepEqual(a.signature, SIG);
  assert.deepEqual(a.bytes, bytes);
  assert.deepEqual(joinAnnouncement(a.body, a.signature), bytes);
  assert.deepEqual(encodeAnnouncementBody(a), a.body);
});

Deno.test("decodeAnnouncementFrame() round-trips the signed bytes and the unsigned age", () => {
  const a = decodeAnnouncement(wire());
  const frame = encodeAnnouncementFrame({ announcement: a, ageMs: 61_000 });
  assert.equal(frame.length, a.bytes.length + 4);
  const back = decodeAnnouncementFrame(frame);
  assert.equal(back.ageMs, 61_000);
  assert.deepEqual(back.announcement.bytes, a.bytes);
  assert.deepEqual(peekAnnouncement(frame), { origin: "alice", seq: 123_456 });
  // The age is outside the signature: another age, the same signed bytes.
  const older = decodeAnnouncementFrame(encodeAnnouncementFrame({ announcement: a, ageMs: 1 }));
  assert.deepEqual(older.announcement.body, back.announcement.body);
  assert.throws(() => encodeAnnouncementFrame({ announcement: a, ageMs: -1 }), RangeError);
  assert.throws(
    () => decodeAnnouncementFrame(frame.subarray(0, frame.length - 5)),
    AnnouncementDecodeError,
  );
  assert.throws(() => decodeAnnouncementFrame(new Uint8Array(3)), AnnouncementDecodeError);
});

Deno.test("decodeAnnouncement() round-trips an unlisted node without endpoint or links", () => {
  const a = decodeAnnouncement(wire({ listed: false, users: [], links: [], endpoint: undefined }));
  assert.equal(a.listed, false);
  assert.equal(a.endpoint, undefined);
  assert.deepEqual(a.links, []);
  assert.deepEqual(a.users, []);
});

Deno.test("decodeAnnouncement() rejects every truncation", () => {
  const bytes = wire();
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(
      () => decodeAnnouncement(bytes.subarray(0, n)),
      AnnouncementDecodeError,
      `len ${n}`,
    );
  }
});

Deno.test("decodeAnnouncement() rejects trailing bytes and oversized input", () => {
  const bytes = wire();
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  assert.throws(() => decodeAnnouncement(longer), /trailing bytes/);
  assert.throws(() => decodeAnnouncement(new Uint8Array(MAX_ANNOUNCEMENT_BYTES + 1)), /over 65536/);
});

Deno.test("decodeAnnouncement() rejects an unknown version, version 1 included", () => {
  assert.throws(() => decodeAnnouncement(patched(wire(), 0, 3)), /unknown version 3/);
  assert.throws(() => decodeAnnouncement(patched(wire(), 0, 1)), /unknown version 1/);
  assert.throws(() => decodeAnnouncement(patched(wire(), 0, 0)), AnnouncementDecodeError);
});

Deno.test("decodeAnnouncement() rejects bad fields", () => {
  const bytes = wire();
  // Layout: version 0, origin length 1..2, "alice" 3..7, key 8..39, seq 40..43,
  // lifetime 44..47, flags 48.
  assert.throws(() => decodeAnnouncement(patched(bytes, 3, 0x41)), /bad origin/); // "Alice"
  assert.throws(() => decodeAnnouncement(patched(bytes, 48, 0x0b)), /unknown flags/);
  const seqZero = bytes.slice();
  seqZero.fill(0, 40, 44);
  assert.throws(() => decodeAnnouncement(seqZero), /seq is 0/);
  const lifeZero = bytes.slice();
  lifeZero.fill(0, 44, 48);
  assert.throws(() => decodeAnnouncement(lifeZero), /lifetime is 0/);
  const unlisted = wire({ listed: true });
  assert.throws(() => decodeAnnouncement(patched(unlisted, 48, 0x02)), /unlisted node lists users/);
  const presenceAt = bytes.length - 64 - 1;
  assert.throws(() => decodeAnnouncement(patched(bytes, presenceAt, 2)), /bad presence/);
  assert.throws(() => decodeAnnouncement(patched(bytes, 1, 0xff)), AnnouncementDecodeError);
});

Deno.test("decodeAnnouncement() rejects unsorted or duplicate links and links to itself", () => {
  const head = wire({ links: [], users: [], endpoint: undefined }).subarray(0, 49);
  const id = (s: string) => [0, s.length, ...new TextEncoder().encode(s)];
  const twoSame = new Uint8Array([...head, 0, 2, ...id("bob"), ...id("bob"), 0, 0, ...SIG]);
  assert.throws(() => decodeAnnouncement(twoSame), /links not ascending/);
  const toSelf = new Uint8Array([...head, 0, 1, ...id("alice"), 0, 0, ...SIG]);
  assert.throws(() => decodeAnnouncement(toSelf), /link to itself/);
  const ok = new Uint8Array([...head, 0, 1, ...id("bob"), 0, 0, ...SIG]);
  assert.deepEqual(decodeAnnouncement(ok).links, ["bob"]);
  const lengthLie = new Uint8Array([...head, 0xff, 0xff, ...SIG]);
  assert.throws(() => decodeAnnouncement(lengthLie), AnnouncementDecodeError);
});

Deno.test("encodeAnnouncementBody() refuses out-of-range fields", () => {
  assert.throws(() => encodeAnnouncementBody(body({ seq: 0 })), RangeError);
  assert.throws(() => encodeAnnouncementBody(body({ seq: 2 ** 32 })), RangeError);
  assert.throws(() => encodeAnnouncementBody(body({ lifetimeMs: 0 })), RangeError);
  assert.throws(() => encodeAnnouncementBody(body({ publicKey: new Uint8Array(31) })), RangeError);
  assert.throws(() => encodeAnnouncementBody(body({ listed: false })), /unlisted node lists users/);
  assert.throws(() => encodeAnnouncementBody(body({ links: [toNodeId("alice")] })), RangeError);
  assert.throws(
    () => encodeAnnouncementBody(body({ endpoint: { host: "a b", port: 1 } })),
    RangeError,
  );
  assert.throws(
    () => encodeAnnouncementBody(body({ endpoint: { host: "a", port: 70000 } })),
    RangeError,
  );
});

Deno.test("peekAnnouncement() reads origin and seq, and nothing from garbage", () => {
  assert.deepEqual(peekAnnouncement(wire()), { origin: "alice", seq: 123_456 });
  assert.equal(peekAnnouncement(new Uint8Array([2, 0, 5, 97])), undefined);
  assert.equal(peekAnnouncement(new Uint8Array([9, 0, 1, 97])), undefined);
});

Deno.test("announcements carry the origin's mailboxes, sorted; bad lists are refused", () => {
  const m = (id: string) => toNodeId(id);
  const a = decodeAnnouncement(wire({ mailboxes: [m("zeta"), m("mb")] }));
  assert.deepEqual(a.mailboxes, ["mb", "zeta"]);
  assert.deepEqual(encodeAnnouncementBody(a), a.body);
  assert.equal(decodeAnnouncement(wire()).mailboxes, undefined);
  assert.throws(() => encodeAnnouncementBody(body({ mailboxes: [m("alice")] })), RangeError);
  assert.throws(
    () =>
      encodeAnnouncementBody(body({ mailboxes: Array.from({ length: 9 }, (_, i) => m(`m${i}`)) })),
    RangeError,
  );
  // A duplicate (not strictly ascending) in the wire bytes is refused.
  const one = wire({ mailboxes: [m("mb")] });
  const at = one.indexOf(0x6d, 60); // "m" of "mb" after the endpoint
  const twice = new Uint8Array([
    ...one.subarray(0, at - 3),
    2,
    0,
    2,
    0x6d,
    0x62,
    ...one.subarray(at - 2),
  ]);
  assert.throws(() => decodeAnnouncement(twice), AnnouncementDecodeError);
});
