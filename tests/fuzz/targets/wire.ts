/**
 * Fuzz targets of node-to-node and client-to-node wire types: link messages,
 * envelopes and their provenance proofs, probe replies, receipts, client
 * messages, chunk bodies, and the client's envelope payloads.
 */
import { CONFIG_DEFAULTS } from "../../../lib/config.ts";
import { ProtocolError } from "../../../lib/federation/errors.ts";
import {
  decodeLinkMessage,
  encodeLinkMessage,
  type LinkMessage,
} from "../../../lib/federation/link_message.ts";
import { testProvenances } from "../../../lib/federation/_test_nodes.ts";
import {
  decodeProbeHop,
  encodeProbeHop,
  type ProbeHop,
} from "../../../lib/federation/probe_hop.ts";
import { toNodeId } from "../../../lib/ids.ts";
import { decodeReceipt, encodeReceipt, type ReceiptEntries } from "../../../lib/node/receipt.ts";
import {
  decodeReceiptEntries,
  encodeReceiptEntries,
  type ReceiptEntry,
} from "../../../lib/node/group_receipt.ts";
import * as protocol from "../../../lib/protocol/mod.ts";
import {
  decodeInner,
  decodePayload,
  encodeInner,
  encodePayload,
  type Inner,
} from "../../../lib/client/payload.ts";
import {
  decodeGroupInner,
  encodeGroupInner,
  type GroupFileInner,
  type GroupInner,
} from "../../../lib/client/group_payload.ts";
import { type FuzzTarget, rejects } from "../harness.ts";
import { CodecError } from "../../../lib/e2e/mod.ts";
import { chat, once } from "./_fixtures.ts";

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

const envelope = (over: Partial<protocol.EnvelopeInit>): protocol.EnvelopeInit => ({
  id: fill(16, 9),
  kind: "message",
  ttl: 32,
  createdAtMs: 1_700_000_000_000,
  expiresAtMs: 1_700_000_600_000,
  from: "alice@nodea",
  to: "bob@nodeb",
  body: Uint8Array.of(1, 2, 3),
  ...over,
});

// A provenance proof's shape (lib/federation/provenance.ts checks it; the codec only reads it).
const AUTH: protocol.EnvelopeAuth = {
  index: 2,
  size: 5,
  path: new Uint8Array([...fill(32, 1), ...fill(32, 2), ...fill(32, 3)]),
  signature: fill(64, 4),
};

const ENVELOPES = once(async () => {
  const { request, messages } = await chat();
  const plain = [
    envelope({ kind: "request", body: request }),
    envelope({ body: messages[0] }),
    envelope({ kind: "receipt", from: "nodeb", to: "nodea", body: new Uint8Array(0) }),
    envelope({ kind: "probe", from: "nodea", to: "nodec", body: new Uint8Array(0) }),
    envelope({ kind: "bundleRequest", from: "nodea", to: "nodeb", ttl: 1 }),
    envelope({
      kind: "chunk",
      body: protocol.encodeChunkBody({
        fileId: fill(16, 4),
        index: 3,
        fileBytes: 1_000_000,
        sealed: fill(300, 5),
      }),
    }),
  ].map((e) => protocol.encodeEnvelope(e));
  // Between nodes every envelope carries its origin's proof; a stored version 1 has none.
  const legacy = plain[1].slice();
  legacy[0] = 1;
  return [...plain, ...plain.slice(0, 3).map((b) => protocol.encodeEnvelopeAuth(b, AUTH)), legacy];
});

// Nodes a and b trusting each other's keys; a's envelopes (batches of 1 and 3) for b to prove.
const PROVENANCE = once(() => {
  const prov = testProvenances(["nodea", "nodeb"].map(toNodeId));
  const a = prov.get(toNodeId("nodea"))!;
  const mine = (n: number) =>
    protocol.encodeEnvelope(
      envelope({ kind: "bundleRequest", from: "nodea", to: "nodeb", body: fill(n, n) }),
    );
  const user = protocol.encodeEnvelope(envelope({ from: "alice@nodea", to: "bob@nodeb" }));
  const seeds = [...a.signBatch([mine(1)]), ...a.signBatch([mine(2), user, mine(3)])];
  for (const b of seeds) {
    SIGNED.add(withoutTtl(b.subarray(0, protocol.decodeEnvelopeWithAuth(b).signedLength)));
  }
  return Promise.resolve({ verifier: prov.get(toNodeId("nodeb"))!, seeds });
});
// The signed parts of what nodea signed: the only envelope contents that may prove "ok". The
// ttl is outside the proof, and so is the rest once a path meets a Merkle node already verified.
const SIGNED = new Set<string>();
const withoutTtl = (b: Uint8Array) => {
  const c = b.slice();
  if (c.length > protocol.TTL_OFFSET) c[protocol.TTL_OFFSET] = 0;
  return c.toHex();
};

const CLIENT_MESSAGES: protocol.ClientMessage[] = [
  { type: "hello", enrollCode: "abcd-efgh" },
  { type: "hello" },
  { type: "submit", req: 7, envelope: fill(40, 1) },
  { type: "ack", ids: ["00ff", "aa"] },
  { type: "policy", address: "bob@nodeb", policy: "block" },
  { type: "publish", bundle: fill(129, 1) },
  { type: "fetch", req: 1, address: "bob@nodeb" },
  { type: "directory", req: 2 },
  { type: "welcome", user: "alice", node: "nodea", nowMs: 1_700_000_000_000 },
  { type: "submitted", req: 7, id: "ab", state: "sent" },
  { type: "deliver", seq: 4, id: "ab", envelope: fill(50, 2) },
  { type: "notice", seq: 5, id: "cd", ref: "ab", state: "failed", reason: "expired" },
  { type: "bundle", req: 1, bundle: fill(129, 3) },
  { type: "bundle", req: 1, error: "no such user" },
  { type: "entries", req: 2, entries: [{ address: "bob@nodeb", presence: "online", node: "b" }] },
  { type: "error", message: "Cannot do that" },
  { type: "chunkSubmit", envelope: fill(60, 4) },
  { type: "chunkResult", results: [{ id: "ab", state: "retry" }, { id: "cd", state: "stored" }] },
  { type: "chunkDeliver", id: "ab", envelope: fill(20, 5) },
  { type: "chunkAck", ids: ["ab"] },
  { type: "condition", resources: { disk: { state: "disk-full", message: "full", sinceMs: 3 } } },
  { type: "submitted", req: 8, id: "ab", state: "delivered", users: { "b@b": "stored" } },
  {
    type: "notice",
    seq: 6,
    id: "ce",
    ref: "ab",
    state: "delivered",
    users: { "b@b": "stored", "c@b": "quota-full" },
  },
  { type: "notice", seq: 7, id: "cf", ref: "ab", state: "held", reason: "nodem" },
  { type: "keyPackages", packages: fill(90, 6) },
  { type: "keyPackageCount", count: 3, lastResort: true },
  { type: "keyPackageFetch", req: 9, address: "bob@nodeb" },
  { type: "keyPackage", req: 9, keyPackage: fill(70, 7) },
  { type: "keyPackage", req: 10, error: "none" },
  { type: "groupPolicy", group: "ab@nodea", state: "joined" },
];

const PAYLOAD_FIELDS: Record<string, string> = {
  submit: "envelope",
  deliver: "envelope",
  publish: "bundle",
  bundle: "bundle",
  chunkSubmit: "envelope",
  chunkDeliver: "envelope",
  keyPackages: "packages",
  keyPackage: "keyPackage",
};

const INNERS: Inner[] = [
  { t: "text", seq: 1, at: 1_700_000_000_000, text: "hello" },
  { t: "read", upTo: 3 },
  { t: "hi" },
  {
    t: "file-offer",
    id: "0123456789abcdef0123456789abcdef",
    name: "a.txt",
    size: 10,
    type: "text/plain",
    manifest: "AQ==",
  },
  { t: "file-accept", id: "0123456789abcdef0123456789abcdef" },
  { t: "file-cancel", id: "0123456789abcdef0123456789abcdef", reason: "no" },
  { t: "file-resend", id: "0123456789abcdef0123456789abcdef", index: 2, attempt: 1 },
  { t: "file-push", id: "0123456789abcdef0123456789abcdef" },
  { t: "file-digest", id: "0123456789abcdef0123456789abcdef", digest: "5a".repeat(32) },
  { t: "file-digest-ask", id: "0123456789abcdef0123456789abcdef", attempt: 1 },
];

const GROUP_INNERS: GroupInner[] = [
  { t: "text", id: "ab".repeat(16), seq: 2, at: 1_700_000_000_000, text: "hello, group" },
  { t: "read", upTo: { "alice@nodea": 3, "bob@nodeb": 1 } },
  { t: "joined" },
  { ...INNERS[3] as GroupFileInner, to: "bob@nodeb" },
  { t: "file-push", id: "0123456789abcdef0123456789abcdef", to: "bob@nodeb" },
];

/** The wire targets. */
export const WIRE_TARGETS: FuzzTarget[] = [
  {
    name: "link-message",
    owner: "fuzz",
    errors: "ProtocolError",
    decode: (b) => decodeLinkMessage(b, CONFIG_DEFAULTS.maxFrameBytes),
    allowed: rejects(ProtocolError),
    seeds: async () =>
      ([
        { kind: "result", status: "accepted", reason: "" },
        { kind: "result", status: "refused", reason: "not approved" },
        { kind: "heartbeat" },
        { kind: "announce", bytes: fill(200, 1) },
        { kind: "envelope", bytes: (await ENVELOPES())[1] },
        { kind: "bye", reason: "shutting down" },
      ] as LinkMessage[]).map(encodeLinkMessage),
    reencode: (v) => encodeLinkMessage(v as LinkMessage),
  },
  {
    name: "envelope",
    owner: "fuzz",
    errors: "EnvelopeError",
    decode: protocol.decodeEnvelopeWithAuth,
    allowed: rejects(protocol.EnvelopeError),
    seeds: ENVELOPES,
    // Re-encoded with its proof, in the version it came in (1 is read for old stores).
    reencode: (v, input) => {
      const { envelope, auth } = v as protocol.DecodedEnvelope;
      const plain = protocol.encodeEnvelope(envelope);
      const bytes = auth ? protocol.encodeEnvelopeAuth(plain, auth) : plain;
      if (input[0] === 1) bytes[0] = 1;
      return bytes;
    },
    check: (v, input) => {
      const { auth, signedLength } = v as protocol.DecodedEnvelope;
      if (input[0] === 1 && auth) return "a version 1 envelope came with a proof";
      if (signedLength > input.length) return `signedLength ${signedLength} past the input`;
      return null;
    },
  },
  {
    // What a node runs on every envelope from a link: decode, then prove its origin.
    name: "provenance",
    owner: "federation",
    errors: "EnvelopeError (decoding); verify() returns a verdict, never throws",
    decode: async (b) => {
      const { verifier } = await PROVENANCE();
      const decoded = protocol.decodeEnvelopeWithAuth(b);
      return { verdict: verifier.verify(b, decoded), signedLength: decoded.signedLength };
    },
    allowed: rejects(protocol.EnvelopeError),
    seeds: async () => (await PROVENANCE()).seeds,
    check: (v, input) => {
      const { verdict, signedLength } = v as { verdict: string; signedLength: number };
      return verdict === "ok" && !SIGNED.has(withoutTtl(input.subarray(0, signedLength)))
        ? "an envelope nodea never signed proved ok"
        : null;
    },
  },
  {
    name: "probe-hop",
    owner: "fuzz",
    errors: "CodecError",
    decode: decodeProbeHop,
    allowed: rejects(CodecError),
    seeds: () =>
      [
        { probe: fill(16, 1), hop: 1, node: toNodeId("nodeb"), final: false },
        { probe: fill(16, 2), hop: 31, node: toNodeId("n_1-x"), final: true },
      ].map(encodeProbeHop),
    reencode: (v) => encodeProbeHop(v as ProbeHop),
  },
  {
    name: "receipt",
    owner: "fuzz",
    errors: "CodecError",
    decode: decodeReceipt,
    allowed: rejects(CodecError),
    seeds: () =>
      ([
        [],
        [{ id: fill(16, 1), status: "stored" }, { id: fill(16, 2), status: "quota-full" }],
        Array.from({ length: 40 }, (_, i) => ({ id: fill(16, i), status: "busy" })),
      ] as ReceiptEntries[]).map(encodeReceipt),
    reencode: (v) => encodeReceipt(v as ReceiptEntries),
    // Each 17-byte entry becomes an object holding a 16-byte copy: about 150 bytes.
    allocation: { perByte: 12, fixed: 64 * 1024 },
  },
  {
    name: "held-envelope",
    owner: "fuzz",
    errors: "CodecError",
    decode: protocol.decodeHeldEnvelope,
    allowed: rejects(CodecError),
    seeds: () => [fill(0, 0), fill(300, 7)].map(protocol.encodeHeldEnvelope),
    reencode: (v) => protocol.encodeHeldEnvelope(v as Uint8Array),
  },
  {
    name: "receipt-query",
    owner: "fuzz",
    errors: "CodecError",
    decode: protocol.decodeReceiptQuery,
    allowed: rejects(CodecError),
    seeds: () =>
      [[], [fill(16, 1)], Array.from({ length: 40 }, (_, i) => fill(16, i))].map(
        protocol.encodeReceiptQuery,
      ),
    reencode: (v) => protocol.encodeReceiptQuery(v as Uint8Array[]),
    // Each 16-byte id becomes its own copy.
    allocation: { perByte: 12, fixed: 64 * 1024 },
  },
  {
    name: "client-message",
    owner: "fuzz",
    errors: "CodecError",
    decode: protocol.decodeClientMessage,
    allowed: rejects(CodecError),
    seeds: () => CLIENT_MESSAGES.map(protocol.encodeClientMessage),
    // Reads a well-framed message as another type (version 2: the fields follow the type byte),
    // or as version 1 (the JSON fields layout, no longer read).
    mutate: (input, ctx) => {
      const out = input.slice();
      if (out.length < 2) return out;
      if (ctx.rng.chance(0.8)) out[1] = ctx.rng.int(25);
      else out[0] = ctx.rng.int(3);
      return out;
    },
    // The payload field (envelope or bundle) holds bytes or is absent, whatever the fields say.
    check: (v) => {
      const m = v as Record<string, unknown>;
      const field = PAYLOAD_FIELDS[m.type as string];
      if (!field || m[field] === undefined || m[field] instanceof Uint8Array) return null;
      return `${m.type}.${field} is ${JSON.stringify(m[field])?.slice(0, 40)}, not bytes`;
    },
  },
  {
    name: "file-chunk",
    owner: "fuzz",
    errors: "CodecError",
    decode: protocol.decodeChunkBody,
    allowed: rejects(CodecError),
    seeds: () =>
      [0, 1, 300].map((n) =>
        protocol.encodeChunkBody({
          fileId: fill(16, n),
          index: n,
          fileBytes: n * 7,
          sealed: fill(n, 6),
        })
      ),
    reencode: (v) => protocol.encodeChunkBody(v as protocol.ChunkBody),
  },
  {
    name: "client-payload",
    owner: "client",
    errors: "CodecError, RangeError",
    decode: decodePayload,
    allowed: rejects(CodecError, RangeError),
    seeds: async () => {
      const { request, acceptance, messages } = await chat();
      return [
        encodePayload({ kind: "request", request }),
        encodePayload({ kind: "acceptance", acceptance }),
        encodePayload({ kind: "ratchet", message: messages[0] }),
      ];
    },
    reencode: (v) => encodePayload(v as Parameters<typeof encodePayload>[0]),
  },
  {
    name: "client-inner",
    owner: "client",
    errors: "CodecError",
    decode: decodeInner,
    allowed: rejects(CodecError),
    seeds: () => INNERS.map(encodeInner),
  },
  {
    name: "receipt-entries",
    owner: "fuzz",
    errors: "CodecError",
    decode: decodeReceiptEntries,
    allowed: rejects(CodecError),
    seeds: () =>
      ([
        [{ id: fill(16, 1), status: "stored", users: [{ name: "bob", status: "stored" }] }],
        [
          { id: fill(16, 2), status: "busy", users: [] },
          { id: fill(16, 3), status: "refused" },
        ],
      ] as ReceiptEntry[][]).map(encodeReceiptEntries),
    // Each short entry or name becomes an object or a string of its own (20,000 cases: ×7.5).
    allocation: { perByte: 16, fixed: 64 * 1024 },
  },
  {
    name: "group-delivery",
    owner: "fuzz",
    errors: "CodecError",
    decode: protocol.decodeGroupDelivery,
    allowed: rejects(CodecError),
    seeds: () => [
      protocol.encodeGroupDelivery({
        home: "nodeh",
        groupId: fill(16, 1),
        names: ["bob", "carol"],
        message: fill(200, 2),
      }),
    ],
  },
  {
    name: "hub-submission",
    owner: "fuzz",
    errors: "CodecError",
    decode: protocol.decodeHubSubmission,
    allowed: rejects(CodecError),
    seeds: () =>
      ([
        { home: "nodeh", groupId: fill(16, 1), epoch: 0, op: "create", hubInfo: fill(90, 3) },
        {
          home: "nodeh",
          groupId: fill(16, 1),
          epoch: 4,
          op: "commit",
          commit: fill(120, 4),
          hubInfo: fill(90, 3),
          welcome: fill(60, 5),
          invitations: [{ invitee: "dave@noded", invitation: fill(40, 6) }],
        },
        { home: "nodeh", groupId: fill(16, 1), epoch: 4, op: "proposal", proposal: fill(50, 7) },
        { home: "nodeh", groupId: fill(16, 1), epoch: 4, op: "decline" },
      ] as protocol.HubSubmission[]).map(protocol.encodeHubSubmission),
  },
  {
    name: "hub-fanout",
    owner: "fuzz",
    errors: "CodecError",
    decode: protocol.decodeHubFanout,
    allowed: rejects(CodecError),
    seeds: () =>
      ([
        {
          home: "nodeh",
          groupId: fill(16, 1),
          epoch: 4,
          members: ["alice@nodeh", "bob@nodeb"],
          recipients: ["bob"],
          actor: "alice@nodeh",
          op: "commit",
          commit: fill(120, 4),
        },
        {
          home: "nodeh",
          groupId: fill(16, 1),
          epoch: 5,
          members: ["alice@nodeh"],
          recipients: ["dave"],
          actor: "alice@nodeh",
          op: "invite",
          welcome: fill(60, 5),
          invitations: [{ invitee: "dave", invitation: fill(40, 6) }],
        },
        {
          home: "nodeh",
          groupId: fill(16, 1),
          epoch: 5,
          members: ["alice@nodeh"],
          recipients: ["alice"],
          actor: "dave@noded",
          op: "declined",
        },
      ] as protocol.HubFanout[]).map(protocol.encodeHubFanout),
    // Each short entry or name becomes an object or a string of its own (20,000 cases: ×7.5).
    allocation: { perByte: 16, fixed: 64 * 1024 },
  },
  ...([
    ["key-package-request", protocol.decodeKeyPackageRequest, [
      protocol.encodeKeyPackageRequest("bob"),
    ]],
    ["key-package-reply", protocol.decodeKeyPackageReply, [
      protocol.encodeKeyPackageReply({ status: "ok", keyPackage: fill(300, 8) }),
      protocol.encodeKeyPackageReply({ status: "none" }),
    ]],
    ["key-package-list", (b: Uint8Array) => protocol.decodeKeyPackageList(b), [
      protocol.encodeKeyPackageList([fill(300, 8), fill(200, 9)]),
      protocol.encodeKeyPackageList([]),
    ]],
  ] as const).map(([name, decode, seeds]): FuzzTarget => ({
    name,
    owner: "fuzz",
    errors: "CodecError",
    decode,
    allowed: rejects(CodecError),
    seeds: () => [...seeds],
  })),
  {
    name: "group-inner",
    owner: "client",
    errors: "CodecError",
    decode: decodeGroupInner,
    allowed: rejects(CodecError),
    seeds: () => GROUP_INNERS.map(encodeGroupInner),
  },
];
