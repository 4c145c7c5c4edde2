/**
 * The destination node's store path alone, in one process (run by hand, in a
 * tree and in a "before" copy of it): delivery, the group committer and the
 * client hub on a real store (fdatasync included), the network faked, one
 * client attached in process that acknowledges what it is pushed the way the
 * client core does (gathered, at most 20 ms later, at once when 64 wait).
 * Envelopes arrive one per timer tick at RATE msg/s for SECONDS, then N as
 * fast as the node takes them (64 per turn, at most WINDOW unanswered).
 * Prints this process's CPU µs per message in each phase (user + system, all
 * threads: the fdatasyncs of the blocking pool too) and whether every
 * envelope was answered `stored` once. Without TLS, links, provenance or
 * another process, it shows what the store path costs, less disturbed by the
 * scheduling of four processes on a shared machine than the messaging bench.
 *
 *   deno run -A bench/exp_destination.ts   (env RATE 1000, SECONDS 10, N 20000, WINDOW 512)
 */
// deno-lint-ignore-file no-console
import { join } from "node:path";
import process from "node:process";
import type { LinkSelf } from "../lib/channel/mod.ts";
import { SYSTEM_CLOCK } from "../lib/clock.ts";
import type { Federation } from "../lib/federation/mod.ts";
import { toAddress, toNodeId, type UserName } from "../lib/ids.ts";
import { SILENT_LOGGER } from "../lib/log.ts";
import type { BundleService } from "../lib/node/bundle_service.ts";
import { ClientHub } from "../lib/node/client_hub.ts";
import { Committer } from "../lib/node/committer.ts";
import { decodeReceiptEntries } from "../lib/node/group_receipt.ts";
import { ResourceState } from "../lib/node/resource_state.ts";
import {
  decodeClientMessage,
  encodeClientMessage,
  encodeEnvelope,
  type Envelope,
} from "../lib/protocol/mod.ts";
import { openSqliteNodeStore } from "../lib/store/mod.ts";
import { fakedDelivery } from "../tests/_helpers/faked_delivery.ts";

const RATE = Number(Deno.env.get("RATE") ?? 1000);
const SECONDS = Number(Deno.env.get("SECONDS") ?? 10);
const N = Number(Deno.env.get("N") ?? 20_000);
const WINDOW = Number(Deno.env.get("WINDOW") ?? 512);
const ACK_DELAY_MS = 20;
const ACK_AT_ONCE = 64;

const root = join(new URL("..", import.meta.url).pathname, ".tmp");
await Deno.mkdir(root, { recursive: true });
const dir = await Deno.makeTempDir({ dir: root, prefix: "exp-destination-" });
const NB = toNodeId("nb");
const NA = toNodeId("na");
const BOB = "bob" as UserName;
const store = openSqliteNodeStore(join(dir, "node.db"));
store.putAccount({
  name: BOB,
  publicKey: null,
  enrollHash: null,
  bundle: null,
  listed: true,
  createdAtMs: 0,
});
store.setContactPolicy(BOB, "alice@na", "allow");
const resources = new ResourceState(SYSTEM_CLOCK, SILENT_LOGGER);
const committer = new Committer(store, SILENT_LOGGER, resources);
const answered = new Map<string, string>();
let duplicates = 0;
const { delivery, spool } = await fakedDelivery({
  dir,
  self: NB,
  store,
  committer,
  clock: SYSTEM_CLOCK,
  hop: NA,
  send: (e) => {
    for (const r of decodeReceiptEntries(e.body)) {
      const id = r.id.toHex();
      if (answered.has(id)) duplicates++;
      answered.set(id, r.status);
    }
    return "forwarded";
  },
});
const hub = new ClientHub({
  self: { nodeId: NB } as unknown as LinkSelf,
  store,
  committer,
  federation: { setUsers: () => {}, router: { directory: () => [] } } as unknown as Federation,
  bundles: {} as BundleService,
  delivery,
  resources,
  spool,
  clock: SYSTEM_CLOCK,
  log: SILENT_LOGGER,
  handshakeTimeoutMs: 1000,
});
// Bob's client: acknowledges what it is pushed, gathered as lib/client/node_connection.ts does.
let acks: string[] = [];
let ackTimer: ReturnType<typeof setTimeout> | undefined;
const seen = new Set<string>();
const link = {
  send: (b: Uint8Array) => {
    const m = decodeClientMessage(b);
    if (m.type !== "deliver") return;
    seen.add(m.id);
    acks.push(m.id);
    if (acks.length >= ACK_AT_ONCE) return flushAcks();
    ackTimer ??= setTimeout(flushAcks, ACK_DELAY_MS);
  },
  close: () => {},
  onMessage: null as ((b: Uint8Array) => void) | null,
  onClose: (_r: string) => {},
};
function flushAcks(): void {
  clearTimeout(ackTimer);
  ackTimer = undefined;
  const ids = acks;
  acks = [];
  if (ids.length > 0) link.onMessage?.(encodeClientMessage({ type: "ack", ids }));
}
hub.attach(BOB, link);

let next = 1;
function envelope(): { e: Envelope; bytes: Uint8Array } {
  const n = next++;
  const now = Date.now();
  const id = new Uint8Array(16);
  new DataView(id.buffer).setUint32(0, n);
  id[15] = 7;
  const e = {
    id,
    kind: "message",
    ttl: 32,
    createdAtMs: now,
    expiresAtMs: now + 600_000,
    from: toAddress("alice@na"),
    to: toAddress("bob@nb"),
    body: new Uint8Array(200).fill(n & 255),
  } as Envelope;
  return { e, bytes: encodeEnvelope(e) };
}
const arrive = () => {
  const m = envelope();
  delivery.receiveLocal(m.e, m.bytes, NA);
};
const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function settled(total: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (answered.size < total && Date.now() < deadline) await sleep(5);
}

// Warm-up.
for (let i = 0; i < 500; i++) arrive();
await settled(500);
await sleep(300);

// At RATE: one envelope per tick, as many ticks as the clock allows (catching up when late).
const rateTotal = RATE * SECONDS;
let c0 = cpuUs();
let t0 = performance.now();
const base = answered.size;
await new Promise<void>((done) => {
  let sent = 0;
  const tick = () => {
    const due = Math.min(rateTotal, Math.floor((performance.now() - t0) * RATE / 1000));
    while (sent < due) {
      arrive();
      sent++;
    }
    if (sent < rateTotal) setTimeout(tick, Math.max(0, 1000 / RATE - 0.2));
    else done();
  };
  tick();
});
await settled(base + rateTotal);
const rate = {
  usPerMsg: Math.round((cpuUs() - c0) / rateTotal),
  seconds: +((performance.now() - t0) / 1000).toFixed(2),
};
await sleep(300);

// As fast as it goes: 64 per turn, at most WINDOW unanswered.
c0 = cpuUs();
t0 = performance.now();
const base2 = answered.size;
let sent = 0;
while (sent < N) {
  if (sent - (answered.size - base2) < WINDOW) {
    for (let i = 0; i < 64 && sent < N; i++, sent++) arrive();
  }
  await new Promise((r) => setTimeout(r, 0));
}
await settled(base2 + N);
const max = {
  usPerMsg: Math.round((cpuUs() - c0) / N),
  msgPerS: Math.round(N / ((performance.now() - t0) / 1000)),
};
const total = 500 + rateTotal + N;
const notStored = [...answered.values()].filter((s) => s !== "stored").length;
const load = Deno.loadavg()[0];
console.log(JSON.stringify({
  bench: "exp_destination",
  rate: { offered: RATE, ...rate },
  max,
  answered: answered.size,
  of: total,
  notStored,
  duplicateAnswers: duplicates,
  pushed: seen.size,
  inboxLeft: store.inboxCount(BOB),
  load,
}));
hub.stop();
delivery.stop();
committer.close();
store.close();
await Deno.remove(dir, { recursive: true });
Deno.exit(0);
