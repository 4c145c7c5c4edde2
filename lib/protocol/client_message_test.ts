import assert from "node:assert/strict";
import { ByteWriter, CodecError } from "../e2e/mod.ts";
import {
  type ClientMessage,
  decodeClientMessage,
  encodeChunkDeliverHead,
  encodeChunkSubmitHead,
  encodeChunkSubmitParts,
  encodeClientMessage,
  MAX_CLIENT_MESSAGE_BYTES,
} from "./client_message.ts";
import { decodeEnvelope, encodeEnvelope, encodeEnvelopeParts } from "./envelope.ts";
import { chunkBodyParts, decodeChunkBody, encodeChunkBodyParts } from "./file_chunk.ts";

const env = new Uint8Array(300).map((_, i) => i & 0xff);

/** One of every type, with and without its optional fields. */
const SAMPLES: ClientMessage[] = [
  { type: "hello" },
  { type: "hello", enrollCode: "K7Q2-9XWD" },
  { type: "submit", req: 1, envelope: env },
  { type: "submit", req: Number.MAX_SAFE_INTEGER, envelope: new Uint8Array(0) },
  { type: "ack", ids: [] },
  { type: "ack", ids: ["a1", "ü".repeat(80)] },
  { type: "policy", address: "bob@nodeb", policy: "allow" },
  { type: "policy", address: "bob@nodeb", policy: "block" },
  { type: "policy", address: "bob@nodeb", policy: "none" },
  { type: "publish", bundle: new Uint8Array([1, 2, 3]) },
  { type: "fetch", req: 7, address: "carol@nodec" },
  { type: "directory", req: 8 },
  { type: "welcome", user: "alice", node: "nodea", nowMs: 1_764_000_000_000 },
  { type: "submitted", req: 9 },
  { type: "submitted", req: 9, id: "ab".repeat(16), state: "sent" },
  { type: "submitted", req: 9, state: "delivered" },
  { type: "submitted", req: 10, error: "Cannot send: no route to nodeb" },
  { type: "deliver", seq: 11, id: "in-11", envelope: env },
  { type: "notice", seq: 12, id: "in-12", ref: "cd".repeat(16), state: "delivered" },
  { type: "notice", seq: 13, id: "in-13", ref: "ef".repeat(16), state: "failed", reason: "x" },
  { type: "notice", seq: 14, id: "in-14", ref: "ef".repeat(16), state: "held", reason: "nodem" },
  { type: "notice", seq: 15, id: "in-15", ref: "ef".repeat(16), state: "kept" },
  { type: "bundle", req: 14, bundle: new Uint8Array([9]) },
  { type: "bundle", req: 15, error: "Cannot find bob@nodeb" },
  { type: "bundle", req: 16 },
  { type: "entries", req: 17, entries: [] },
  {
    type: "entries",
    req: 18,
    entries: [{ address: "a@n", presence: "online", node: "n" }, {
      address: "b@m",
      presence: "offline",
      node: "m",
    }],
  },
  { type: "error", message: "Cannot read client message: unknown type" },
  { type: "chunkSubmit", envelope: env },
  {
    type: "chunkResult",
    results: [{ id: "c1", state: "stored" }, { id: "c2", state: "failed", reason: "too-large" }, {
      id: "c3",
      state: "retry",
    }],
  },
  { type: "chunkDeliver", id: "c4", envelope: env },
  { type: "chunkAck", ids: ["c4", "c5"] },
  { type: "condition", resources: {} },
  {
    type: "condition",
    resources: {
      disk: { state: "disk-full", message: "the disk is full", sinceMs: 5 },
      spool: { state: "ok" },
    },
  },
  // groups
  {
    type: "submitted",
    req: 19,
    id: "ab".repeat(16),
    state: "delivered",
    users: { "b@b": "stored" },
  },
  { type: "submitted", req: 20, id: "ab".repeat(16), state: "delivered", users: {} },
  {
    type: "notice",
    seq: 16,
    id: "in-16",
    ref: "ef".repeat(16),
    state: "delivered",
    users: { "b@nodeb": "stored", "c@nodeb": "quota-full", "d@nodeb": "not-served" },
  },
  {
    type: "notice",
    seq: 17,
    id: "in-17",
    ref: "ef".repeat(16),
    state: "held",
    reason: "m",
    users: {},
  },
  { type: "keyPackages", packages: new Uint8Array([1, 2, 3]) },
  { type: "keyPackageCount", count: 0, lastResort: false },
  { type: "keyPackageCount", count: 1000, lastResort: true },
  { type: "keyPackageFetch", req: 21, address: "bob@nodeb" },
  { type: "keyPackage", req: 22, keyPackage: env },
  { type: "keyPackage", req: 23, error: "Cannot invite bob@nodeb: none published" },
  { type: "keyPackage", req: 24 },
  { type: "groupPolicy", group: "ab".repeat(16) + "@nodea", state: "joined" },
  { type: "groupPolicy", group: "ab".repeat(16) + "@nodea", state: "none" },
];

Deno.test("decodeClientMessage() reads back every type encodeClientMessage() writes", () => {
  for (const m of SAMPLES) assert.deepEqual(decodeClientMessage(encodeClientMessage(m)), m);
});

Deno.test("a deliver is binary: fields and envelope with no JSON, version 2", () => {
  const bytes = encodeClientMessage({ type: "deliver", seq: 1, id: "i", envelope: env });
  assert.equal(bytes[0], 2);
  // version, type, u64 seq, str16 id, u32 length, envelope: nothing else.
  assert.equal(bytes.length, 2 + 8 + 2 + 1 + 4 + env.length);
});

function refuses(bytes: Uint8Array, why: RegExp) {
  assert.throws(
    () => decodeClientMessage(bytes),
    (e) => e instanceof CodecError && why.test(e.message),
  );
}

const head = (type: number) => new ByteWriter().u8(2).u8(type);

Deno.test("decodeClientMessage() refuses an unknown version, type, or trailing bytes", () => {
  const ok = encodeClientMessage({ type: "directory", req: 1 });
  refuses(Uint8Array.of(1, ...ok.subarray(1)), /unknown version/);
  refuses(Uint8Array.of(1, 6, 0, 0), /unknown version/); // a version 1 (JSON fields) message
  refuses(Uint8Array.of(2, 24), /unknown type/);
  refuses(Uint8Array.of(2, 255), /unknown type/);
  refuses(Uint8Array.of(...ok, 0), /trailing/);
  refuses(new Uint8Array(0), /truncated/);
});

Deno.test("decodeClientMessage() refuses every truncation of every type", () => {
  for (const m of SAMPLES) {
    const bytes = encodeClientMessage(m);
    for (let n = 0; n < bytes.length; n++) {
      assert.throws(
        () => decodeClientMessage(bytes.subarray(0, n)),
        CodecError,
        `${m.type} at ${n}`,
      );
    }
  }
});

Deno.test("decodeClientMessage() checks fields: enums, flags, lengths, counts, sizes", () => {
  refuses(head(3).str16("bob@nodeb").u8(3).finish(), /unknown policy/);
  refuses(head(10).u64(1).str16("i").str16("r").u8(4).u8(0).finish(), /unknown state/);
  refuses(head(0).u8(2).finish(), /unknown flags/);
  refuses(head(8).u64(1).u8(16).finish(), /unknown flags/);
  refuses(head(0).u8(1).str16("x".repeat(101)).finish(), /longer than 100/);
  // The cap is in characters, as before: 100 three-byte characters pass, 101 do not.
  assert.deepEqual(
    decodeClientMessage(head(0).u8(1).str16("€".repeat(100)).finish()),
    { type: "hello", enrollCode: "€".repeat(100) },
  );
  refuses(head(0).u8(1).str16("€".repeat(101)).finish(), /enrollCode/);
  refuses(head(13).str16("x".repeat(2001)).finish(), /longer than 2000/);
  refuses(head(2).u16(4097).finish(), /more than 4096/);
  refuses(head(12).u64(1).u32(100_001).finish(), /more than 100000/);
  refuses(head(18).u8(17).finish(), /more than 16/);
  refuses(head(1).u64(1).u32(MAX_CLIENT_MESSAGE_BYTES + 1).finish(), /envelope/);
  refuses(head(1).u32(0x20_0000).u32(0).bytes32(env).finish(), /req is too large/); // 2^53
  refuses(new Uint8Array(MAX_CLIENT_MESSAGE_BYTES + 1), /too large/);
  refuses(head(13).u16(2).raw(Uint8Array.of(0xc3, 0x28)).finish(), /not UTF-8/);
  const twice = head(18).u8(2).str16("disk").str16("ok").u8(0).str16("disk").str16("ok").u8(0);
  refuses(twice.finish(), /twice/);
  assert.throws(() => decodeClientMessage("{}" as unknown as Uint8Array), CodecError);
});

Deno.test("decodeClientMessage() checks the group fields: users, key packages, group policy", () => {
  const notice = () => head(10).u64(1).str16("i").str16("r").u8(0);
  refuses(notice().u8(4).finish(), /unknown flags/);
  refuses(notice().u8(2).u16(257).finish(), /more than 256/);
  refuses(notice().u8(2).u16(1).str16("b@b").u8(9).finish(), /unknown user status/);
  refuses(notice().u8(2).u16(1).str16("x".repeat(81)).u8(0).finish(), /longer than 80/);
  refuses(notice().u8(2).u16(2).str16("b@b").u8(0).str16("b@b").u8(2).finish(), /twice/);
  refuses(head(8).u64(1).u8(16).finish(), /unknown flags/);
  refuses(head(8).u64(1).u8(8).u16(1).str16("b@b").u8(200).finish(), /unknown user status/);
  refuses(head(20).u16(1001).u8(0).finish(), /more than 1000/);
  refuses(head(20).u16(3).u8(2).finish(), /unknown lastResort/);
  refuses(head(22).u64(1).u8(4).finish(), /unknown flags/);
  refuses(head(22).u64(1).u8(1).u32(MAX_CLIENT_MESSAGE_BYTES + 1).finish(), /keyPackage/);
  refuses(head(22).u64(1).u8(2).str16("x".repeat(1001)).finish(), /longer than 1000/);
  refuses(head(23).str16("g").u8(2).finish(), /unknown state/);
  refuses(head(23).str16("g".repeat(121)).u8(1).finish(), /longer than 120/);
  refuses(head(21).u64(1).str16("x".repeat(201)).finish(), /longer than 200/);
  // A user named __proto__ is an own field, as JSON.parse made it.
  const proto = notice().u8(2).u16(1).str16("__proto__").u8(0).finish();
  const m = decodeClientMessage(proto) as Extract<ClientMessage, { type: "notice" }>;
  assert.deepEqual(Object.keys(m.users!), ["__proto__"]);
  assert.equal(Object.getPrototypeOf(m.users), Object.prototype);
});

Deno.test("encodeClientMessage() refuses user results it cannot carry", () => {
  const notice = (users: Record<string, string>): ClientMessage => ({
    type: "notice",
    seq: 1,
    id: "n1",
    ref: "e1",
    state: "delivered",
    users,
  });
  assert.throws(() => encodeClientMessage(notice({ "b@b": "lost" })), RangeError);
  const many = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`u${i}@b`, "stored"]));
  assert.throws(() => encodeClientMessage(notice(many)), RangeError);
  assert.throws(
    () => encodeClientMessage({ type: "groupPolicy", group: "g", state: "owner" as "joined" }),
    RangeError,
  );
});

Deno.test("a resource named __proto__ is an own field, not a prototype", () => {
  const bytes = head(18).u8(1).str16("__proto__").str16("disk-full").u8(0).finish();
  const m = decodeClientMessage(bytes) as Extract<ClientMessage, { type: "condition" }>;
  assert.equal(Object.getPrototypeOf(m.resources), Object.prototype);
  assert.deepEqual(Object.keys(m.resources), ["__proto__"]);
});

Deno.test("encodeClientMessage() refuses values its fields cannot hold", () => {
  assert.throws(() => encodeClientMessage({ type: "directory", req: -1 }), RangeError);
  assert.throws(
    () => encodeClientMessage({ type: "policy", address: "a@b", policy: "maybe" as "allow" }),
    RangeError,
  );
});

Deno.test("a chunkSubmit framed from parts is the same bytes as one encoded whole", () => {
  const fileId = new Uint8Array(16).fill(9);
  const sealed = [new Uint8Array(1000).fill(1), new Uint8Array(16).fill(2)];
  const chunk = { fileId, index: 3, fileBytes: 5000 };
  const head = {
    id: new Uint8Array(16).fill(4),
    kind: "chunk" as const,
    ttl: 16,
    createdAtMs: 1_764_000_000_000,
    expiresAtMs: 1_764_000_600_000,
    from: "alice@nodea",
    to: "bob@nodeb",
  };
  const body = encodeChunkBodyParts(chunk, sealed);
  assert.deepEqual(chunkBodyParts(chunk, sealed).flatMap((p) => [...p]), [...body]);
  const envelope = encodeEnvelope({ ...head, body });
  const parts = encodeEnvelopeParts(head, chunkBodyParts(chunk, sealed));
  assert.equal(parts[parts.length - 1], sealed[1], "the body parts are not copied");
  const framed = encodeChunkSubmitParts(parts);
  assert.deepEqual(framed, encodeClientMessage({ type: "chunkSubmit", envelope }));
  const m = decodeClientMessage(framed) as Extract<ClientMessage, { type: "chunkSubmit" }>;
  assert.deepEqual(m.envelope, envelope);
  assert.equal(m.envelope.buffer, framed.buffer, "the envelope is a view of the message");
  const c = decodeChunkBody(decodeEnvelope(m.envelope).body, { view: true });
  assert.deepEqual([c.index, c.fileBytes, c.sealed.length], [3, 5000, 1016]);
});

Deno.test("encodeEnvelopeParts() and chunkBodyParts() refuse oversized bodies", () => {
  const head = {
    id: new Uint8Array(16),
    kind: "chunk" as const,
    ttl: 16,
    createdAtMs: 0,
    expiresAtMs: 1,
    from: "a@b",
    to: "c@d",
  };
  assert.throws(() => encodeEnvelopeParts(head, [new Uint8Array(512 * 1024 + 1)]), RangeError);
  const chunk = { fileId: new Uint8Array(16), index: 0, fileBytes: 1 };
  assert.throws(() => chunkBodyParts(chunk, [new Uint8Array(256 * 1024 + 17)]), RangeError);
  assert.throws(() => chunkBodyParts({ ...chunk, fileId: new Uint8Array(15) }, []), RangeError);
  assert.throws(
    () => encodeChunkSubmitParts([new Uint8Array(MAX_CLIENT_MESSAGE_BYTES)]),
    RangeError,
  );
});

Deno.test("encodeChunkDeliverHead() then the envelope is encodeClientMessage's chunkDeliver", () => {
  for (const size of [0, 300, 262_000]) {
    const envelope = new Uint8Array(size).map((_, i) => (i * 7) & 0xff);
    const id = "ab".repeat(16);
    const head = encodeChunkDeliverHead(id, envelope.length);
    const joined = new Uint8Array([...head, ...envelope]);
    assert.deepEqual(joined, encodeClientMessage({ type: "chunkDeliver", id, envelope }));
    const m = decodeClientMessage(joined);
    assert.equal(m.type, "chunkDeliver");
    assert.deepEqual(m.type === "chunkDeliver" && m.envelope, envelope);
  }
  assert.throws(() => encodeChunkDeliverHead("x", MAX_CLIENT_MESSAGE_BYTES), RangeError);
});

Deno.test("encodeChunkSubmitHead() then the envelope is encodeClientMessage's chunkSubmit", () => {
  for (const size of [0, 300, 262_000]) {
    const envelope = new Uint8Array(size).map((_, i) => (i * 5) & 0xff);
    const joined = new Uint8Array([...encodeChunkSubmitHead(envelope.length), ...envelope]);
    assert.deepEqual(joined, encodeClientMessage({ type: "chunkSubmit", envelope }));
    assert.deepEqual(joined, encodeChunkSubmitParts([envelope]));
  }
  assert.throws(() => encodeChunkSubmitHead(MAX_CLIENT_MESSAGE_BYTES), RangeError);
});

Deno.test("encodeChunkSubmitParts() frames into a reused buffer only when it is large enough", () => {
  const big = new Uint8Array(2000).fill(7);
  const envelope = [new Uint8Array(300).fill(1), new Uint8Array(16).fill(2)];
  const whole = encodeClientMessage({
    type: "chunkSubmit",
    envelope: new Uint8Array([...envelope[0], ...envelope[1]]),
  });
  const framed = encodeChunkSubmitParts(envelope, big);
  assert.equal(framed.buffer, big.buffer, "framed in the given buffer");
  assert.equal(framed.byteOffset, 0);
  assert.deepEqual(framed, whole);
  const small = new Uint8Array(100).fill(7);
  const fresh = encodeChunkSubmitParts(envelope, small);
  assert.notEqual(fresh.buffer, small.buffer, "a buffer too small is left alone");
  assert.deepEqual(small, new Uint8Array(100).fill(7));
  assert.deepEqual(fresh, whole);
});
