/**
 * The attackers of the hostile soak (bench/soak_hostile.ts), each a loop
 * bounded by a deadline and a count, built on the test helpers: a linked
 * peer that lies and floods (tests/_helpers/mallory.ts), and a linked peer
 * that stops reading while it pings (tests/_helpers/silent_reader.ts behind
 * tests/_helpers/stall_proxy.ts).
 */
import { toNodeId, toUserName } from "../lib/ids.ts";
import { encodeChunkBody } from "../lib/protocol/mod.ts";
import { envelope, Mallory } from "../tests/_helpers/mallory.ts";
import { linkSilentReader } from "../tests/_helpers/silent_reader.ts";
import { startStallProxy } from "../tests/_helpers/stall_proxy.ts";

/** What the hostile peer did. */
export interface HostileCounts {
  links: number;
  linkFailures: number;
  malformed: number;
  fakeOrigins: number;
  forged: number;
  requests: number;
  ghosts: number;
  hugeOffers: number;
  bytes: number;
}

/** What the silent reader did. */
export interface ReaderCounts {
  links: number;
  linkFailures: number;
  pings: number;
  /** Times the node closed the stalled link. */
  closedByNode: number;
}

const TICK_MS = 100;
const SEALED = new Uint8Array(256 * 1024);
/** 1 TiB: an offer far over any node's max_file_bytes. */
const HUGE_FILE_BYTES = 2 ** 40;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One linked peer "mallory" that, until `untilMs`, links to `node` again
 * whenever it is cut off, and each 100 ms sends what its link takes: a chunk
 * of a 1 TiB file offer to `victim`, an envelope for a user who does not
 * exist, a chat request of 16 KiB from one of its own users, a request
 * forged as from `honest` (signed with mallory's key), a fake origin's
 * announcement (300 of them, and one claiming `honestNode`), and every 30 s
 * a malformed envelope or announcement.
 */
export async function runHostilePeer(
  node: { id: string; port: number },
  o: { victim: string; honest: string; honestNode: string; untilMs: number },
): Promise<HostileCounts> {
  const c: HostileCounts = {
    links: 0,
    linkFailures: 0,
    malformed: 0,
    fakeOrigins: 0,
    forged: 0,
    requests: 0,
    ghosts: 0,
    hugeOffers: 0,
    bytes: 0,
  };
  const m = await Mallory.create("mallory");
  const users = Array.from({ length: 16 }, (_, i) => ({
    name: toUserName(`u${i}`),
    presence: "online" as const,
  }));
  const fakes = Array.from({ length: 300 }, (_, i) => toNodeId(`fake${i}`));
  const frames: Uint8Array[] = [];
  for (const f of fakes) frames.push(await m.frame({ origin: f, links: [m.peer.id], users }));
  frames.push(
    await m.frame({ origin: toNodeId(o.honestNode), seq: 999_999, links: [m.peer.id] }),
  );
  const own = await m.frame({ seq: 2, links: [toNodeId(node.id), ...fakes], users });
  const ghostTo = `ghost@${node.id}`;
  const send = (bytes: Uint8Array, kind: "envelope" | "announce" = "envelope") => {
    if (!m.peer.send(node.id, { kind, bytes })) return false;
    c.bytes += bytes.length;
    return true;
  };
  try {
    for (let tick = 0; Date.now() < o.untilMs && tick < 10_000_000; tick++) {
      if (!m.peer.up(node.id)) {
        const state = await m.peer.connect(node.id, node.port, 5000).catch(() => "failed");
        if (state !== "up") {
          c.linkFailures++;
          await sleep(500);
          continue;
        }
        c.links++;
        send(own, "announce");
      }
      const sendIfWritable = (
        what: keyof HostileCounts,
        make: () => Uint8Array,
        k = "envelope",
      ) => {
        if (!m.peer.writable(node.id)) return;
        if (send(make(), k as "envelope")) c[what]++;
      };
      sendIfWritable("hugeOffers", () =>
        m.peer.sign([envelope({
          kind: "chunk",
          from: "u0@mallory",
          to: o.victim,
          body: encodeChunkBody({
            fileId: crypto.getRandomValues(new Uint8Array(16)),
            index: 0,
            fileBytes: HUGE_FILE_BYTES,
            sealed: SEALED,
          }),
        })])[0]);
      sendIfWritable(
        "ghosts",
        () => m.peer.sign([envelope({ kind: "message", from: "u1@mallory", to: ghostTo })])[0],
      );
      sendIfWritable("requests", () =>
        m.peer.sign([
          envelope({
            from: `u${tick % 16}@mallory`,
            to: o.victim,
            body: new Uint8Array(16 * 1024),
          }),
        ])[0]);
      if (tick % 5 === 0) {
        sendIfWritable(
          "forged",
          () => m.peer.sign([envelope({ from: o.honest, to: o.victim })])[0],
        );
      }
      if (tick % 10 === 0) {
        sendIfWritable("fakeOrigins", () => frames[(tick / 10) % frames.length], "announce");
      }
      if (tick % 300 === 299) {
        sendIfWritable(
          "malformed",
          () =>
            tick % 600 === 299 ? new Uint8Array([1, 2, 3]) : crypto.getRandomValues(
              new Uint8Array(300),
            ),
          tick % 600 === 299 ? "envelope" : "announce",
        );
      }
      await sleep(TICK_MS);
    }
  } finally {
    m.stop();
  }
  return c;
}

/**
 * One linked peer "sloth" that, until `untilMs`, links to `node` through a
 * stall proxy, stops reading, and pings until the node closes the link; then
 * links again (the same key: a peer the node knows).
 */
export async function runSilentReader(
  node: { id: string; port: number },
  o: { untilMs: number },
): Promise<ReaderCounts> {
  const c: ReaderCounts = { links: 0, linkFailures: 0, pings: 0, closedByNode: 0 };
  const keyPair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  await using proxy = await startStallProxy(node.port);
  for (let round = 0; Date.now() < o.untilMs && round < 100_000; round++) {
    proxy.resume();
    let reader;
    try {
      reader = await linkSilentReader({
        port: proxy.port,
        nodeId: node.id,
        self: "sloth",
        keyPair,
      });
    } catch {
      c.linkFailures++;
      await sleep(1000);
      continue;
    }
    if (reader.status !== "accepted") {
      c.linkFailures++;
      reader.close();
      await sleep(1000);
      continue;
    }
    c.links++;
    proxy.stall();
    c.pings += await reader.pingWhileOpen({ pings: 10_000_000, maxMs: o.untilMs - Date.now() });
    if (!reader.open) c.closedByNode++;
    reader.close();
    await sleep(500);
  }
  return c;
}
