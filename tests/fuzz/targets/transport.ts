/**
 * Fuzz targets owned by other areas: the channel handshake (lib/channel), the
 * WebSocket frame parser and HTTP head parser (lib/wss), and routing
 * announcements (lib/federation/routing). Bugs here are reported, not fixed.
 */
import {
  AuthError,
  initiatorFinish,
  initiatorHello,
  type LinkSelf,
  ProtocolError,
  responderHello,
} from "../../../lib/channel/mod.ts";
import { responderFinish } from "../../../lib/channel/handshake.ts";
import { splitRecord } from "../../../lib/channel/secure_channel.ts";
import { CONFIG_DEFAULTS } from "../../../lib/config.ts";
import { type NodeId, toNodeId, toUserName } from "../../../lib/ids.ts";
import {
  decodeAnnouncement,
  decodeAnnouncementFrame,
  encodeAnnouncementBody,
  encodeAnnouncementFrame,
  joinAnnouncement,
  peekAnnouncement,
} from "../../../lib/federation/routing/announcement_codec.ts";
import type {
  AnnouncementFrame,
  SignedAnnouncement,
} from "../../../lib/federation/routing/announcement.ts";
import {
  decodeAnnouncementBatch,
  encodeAnnouncementBatch,
} from "../../../lib/federation/routing/announcement_batch.ts";
import { AnnouncementDecodeError } from "../../../lib/federation/routing/errors.ts";
import { encodeFrame, FrameError, FrameParser, OPCODE } from "../../../lib/wss/frame.ts";
import { checkUpgradeRequest, HttpHeadError, parseHead } from "../../../lib/wss/http_head.ts";
import { type FuzzTarget, InputRefused, rejects } from "../harness.ts";
import { once } from "./_fixtures.ts";

const te = new TextEncoder();

async function nodeSelf(id: string): Promise<LinkSelf> {
  const pair = await crypto.subtle.generateKey("Ed25519", true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { nodeId: toNodeId(id), key: { privateKey: pair.privateKey, publicKey } };
}

/** One handshake run to the end: each message and the state that reads the next. */
const handshake = once(async () => {
  const alice = await nodeSelf("nodea");
  const bob = await nodeSelf("nodeb");
  const endpoint = { host: "chat.example.org", port: 8443 };
  const hi = await initiatorHello(alice, { expected: bob.nodeId, endpoint });
  // No endpoint, and a TLS binding (handshake version 4): the seed that reaches the binding field.
  const hiBare = await initiatorHello(alice, {
    expected: bob.nodeId,
    endpoint: null,
    binding: new Uint8Array(32).fill(7),
  });
  const hr = await responderHello(bob, hi.message);
  const fin = await initiatorFinish(hi.state, hr.message);
  return { bob, hi, hiBare, hr, fin };
});

const handshakeErrors = rejects(ProtocolError, AuthError);

// Split points drawn from the input itself, so a case stays a pure function of its bytes.
function chunks(input: Uint8Array): Uint8Array[] {
  let h = 0x811c9dc5;
  for (const b of input.subarray(0, 64)) h = Math.imul(h ^ b, 0x01000193);
  const a = (h >>> 0) % (input.length + 1);
  const b = (h >>> 12) % (input.length + 1);
  const [x, y] = a < b ? [a, b] : [b, a];
  return [input.subarray(0, x), input.subarray(x, y), input.subarray(y)];
}

function frames(expectMasked: boolean) {
  return (input: Uint8Array) => {
    const parser = new FrameParser({ expectMasked, maxFrameBytes: CONFIG_DEFAULTS.maxFrameBytes });
    return { frames: chunks(input).flatMap((c) => parser.push(c)), parser };
  };
}

function frameSeeds(masked: boolean): Uint8Array[] {
  const f = (op: number, n: number) => encodeFrame(op, new Uint8Array(n).fill(0x61), masked);
  const two = [...f(OPCODE.binary, 10), ...f(OPCODE.ping, 4)];
  return [
    f(OPCODE.binary, 0),
    f(OPCODE.binary, 125),
    f(OPCODE.binary, 126),
    f(OPCODE.text, 1000),
    f(OPCODE.close, 2),
    f(OPCODE.pong, 125),
    Uint8Array.from(two),
  ];
}

const HTTP_WORDS = [
  "GET / HTTP/1.1\r\n",
  "GET /fedchat/link HTTP/1.1\r\n",
  "HTTP/1.1 101 Switching Protocols\r\n",
  "Host: a\r\n",
  "Upgrade: websocket\r\n",
  "Connection: Upgrade\r\n",
  "Sec-WebSocket-Version: 13\r\n",
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
  "\r\n\r\n",
  ":",
  ", ",
];

function announcement(over: Partial<Parameters<typeof encodeAnnouncementBody>[0]>) {
  const body = encodeAnnouncementBody({
    origin: toNodeId("alice"),
    publicKey: new Uint8Array(32).fill(1),
    seq: 1_700_000_123,
    lifetimeMs: 3_600_000,
    listed: true,
    endpoint: { host: "chat.example.org", port: 8443 },
    links: ["carol", "bob"].map(toNodeId),
    users: [
      { name: toUserName("zed"), presence: "offline" },
      { name: toUserName("alice"), presence: "online" },
    ],
    ...over,
  });
  return joinAnnouncement(body, new Uint8Array(64).fill(7));
}

const ANNOUNCEMENTS = () => [
  announcement({}),
  announcement({ listed: false, users: [], endpoint: undefined, links: [] }),
  announcement({ mailboxes: ["mbox-1", "mbox-2"].map(toNodeId) }),
  announcement({
    links: Array.from({ length: 40 }, (_, i) => toNodeId(`n${i}`)) as NodeId[],
    users: Array.from({ length: 40 }, (_, i) => ({
      name: toUserName(`u${i}`),
      presence: "online" as const,
    })),
  }),
];

// What links carry: the signed bytes, then a u32 age.
const FRAMES = () => ANNOUNCEMENTS().map((b, i) => Uint8Array.of(...b, 0, 0, i, 7 * i));

/** Targets in lib/channel, lib/wss and lib/federation/routing. */
export const TRANSPORT_TARGETS: FuzzTarget[] = [
  {
    name: "hello-i",
    owner: "channel",
    errors: "ProtocolError, AuthError",
    decode: async (b) => responderHello((await handshake()).bob, b),
    allowed: handshakeErrors,
    seeds: async () => [(await handshake()).hi.message, (await handshake()).hiBare.message],
    share: 0.3,
    // The endpoint the initiator asks to be dialled at is stored and dialled: a host name
    // or address, as announcements and the UI require (HOST_PATTERN in lib/ids.ts).
    check: (v) => {
      const host = (v as Awaited<ReturnType<typeof responderHello>>).state.peer.endpoint?.host;
      return host === undefined || /^[A-Za-z0-9.:\-\[\]]{1,253}$/.test(host)
        ? null
        : `accepted endpoint host ${JSON.stringify(host)}`;
    },
  },
  {
    name: "hello-r",
    owner: "channel",
    errors: "ProtocolError, AuthError",
    decode: async (b) => initiatorFinish((await handshake()).hi.state, b),
    allowed: handshakeErrors,
    seeds: async () => [(await handshake()).hr.message],
    share: 0.3,
  },
  {
    name: "auth-i",
    owner: "channel",
    errors: "ProtocolError, AuthError",
    decode: async (b) => responderFinish((await handshake()).hr.state, b),
    allowed: handshakeErrors,
    seeds: async () => [(await handshake()).fin.message],
    share: 0.3,
  },
  {
    name: "channel-record",
    owner: "channel",
    errors: "InputRefused (splitRecord answers null)",
    decode: (b) => {
      const messages = splitRecord(b);
      if (messages === null) throw new InputRefused("malformed record");
      return messages;
    },
    allowed: rejects(),
    seeds: () => [Uint8Array.of(0, 0, 0, 2, 1, 2, 0, 0, 0, 0, 0, 0, 0, 1, 9)],
    // Messages are views of the record: nothing is copied.
    check: (v, input) => {
      const total = (v as Uint8Array[]).reduce((n, m) => n + 4 + m.length, 0);
      return total === input.length ? null : `messages cover ${total} of ${input.length} bytes`;
    },
  },
  {
    name: "ws-frame-server",
    owner: "wss",
    errors: "FrameError",
    decode: frames(true),
    allowed: rejects(FrameError),
    seeds: () => frameSeeds(true),
    known: [{ id: "wss-frame-prealloc", kind: "alloc" }],
  },
  {
    name: "ws-frame-client",
    owner: "wss",
    errors: "FrameError",
    decode: frames(false),
    allowed: rejects(FrameError),
    seeds: () => frameSeeds(false),
    known: [{ id: "wss-frame-prealloc", kind: "alloc" }],
  },
  {
    name: "http-head",
    owner: "wss",
    errors: "HttpHeadError",
    decode: (b) => {
      const parsed = parseHead(b);
      return parsed && { ...parsed, upgrade: checkUpgradeRequest(parsed.head) };
    },
    allowed: rejects(HttpHeadError),
    seeds: () =>
      [
        "GET /fedchat/link HTTP/1.1\r\nHost: a:1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        "GET / HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n" +
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\nrest",
      ].map((s) => te.encode(s)),
    format: "text",
    dictionary: HTTP_WORDS,
    maxBytes: 12_000,
  },
  {
    name: "announcement",
    owner: "routing",
    errors: "AnnouncementDecodeError",
    decode: decodeAnnouncement,
    allowed: rejects(AnnouncementDecodeError),
    seeds: ANNOUNCEMENTS,
    reencode: (v) => {
      const a = v as SignedAnnouncement;
      return joinAnnouncement(encodeAnnouncementBody(a), a.signature);
    },
  },
  {
    name: "announcement-frame",
    owner: "routing",
    errors: "AnnouncementDecodeError",
    decode: decodeAnnouncementFrame,
    allowed: rejects(AnnouncementDecodeError),
    seeds: FRAMES,
    reencode: (v) => encodeAnnouncementFrame(v as AnnouncementFrame),
  },
  {
    name: "announcement-batch",
    owner: "routing",
    errors: "AnnouncementDecodeError",
    decode: decodeAnnouncementBatch,
    allowed: rejects(AnnouncementDecodeError),
    seeds: () => {
      const frames = FRAMES().map((b) => decodeAnnouncementFrame(b));
      return [encodeAnnouncementBatch(frames.slice(0, 1)), encodeAnnouncementBatch(frames)];
    },
    // The frames are views into the input: nothing is copied.
    check: (v, input) => {
      const total = (v as Uint8Array[]).reduce((n, f) => n + 2 + f.length, 2);
      return total === input.length ? null : `frames cover ${total} of ${input.length} bytes`;
    },
  },
  {
    name: "announcement-peek",
    owner: "routing",
    errors: "none (undefined when unreadable)",
    decode: peekAnnouncement,
    allowed: () => false,
    seeds: () => [...ANNOUNCEMENTS(), ...FRAMES()],
  },
];
