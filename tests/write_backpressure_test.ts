/**
 * Peers that never read cannot make a node buffer without bound: an
 * unauthenticated socket sending pings, and a linked peer sending pings while
 * its end of the link is not read (a stalled proxy in between). The send()
 * side (writable, onDrain, pause, stall, overflow) is tested with real
 * sockets in lib/wss/backpressure_test.ts and lib/channel/secure_channel_test.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CERT_FILE } from "../lib/tls.ts";
import { encodeFrame, OPCODE } from "../lib/wss/mod.ts";
import { LINK_PATH } from "../lib/federation/mod.ts";
import { linkSilentReader } from "./_helpers/silent_reader.ts";
import { startStallProxy } from "./_helpers/stall_proxy.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const MIB = 1024 * 1024;

/** Samples a node's RSS every 100 ms until stopped; resolves with the largest seen. */
function watchRss(node: NodeProc): { stop(): Promise<number> } {
  let max = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      max = Math.max(max, await node.rssBytes().catch(() => 0));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return max;
    },
  };
}

/** `count` masked ping frames with 125-byte payloads, back to back. */
function pingBatch(count: number): Uint8Array {
  const one = encodeFrame(OPCODE.ping, new Uint8Array(125).fill(0x70), true);
  const out = new Uint8Array(one.length * count);
  for (let i = 0; i < count; i++) out.set(one, i * one.length);
  return out;
}

Deno.test({
  name:
    "an unauthenticated socket sending pings and never reading: RSS stays bounded, it is closed",
  ...opts,
  fn: async () => {
    const root = await tempRoot("pinger");
    // A long handshake deadline: what closes the pinger must be its own pinging.
    const extra = "[Limits]\nhandshake_timeout_ms = 60000\n";
    const a = await NodeProc.create({ id: "alice", root, extra });
    try {
      const pid = a.pid;
      const cert = await Deno.readTextFile(join(a.dataDir, CERT_FILE));
      const conn = await Deno.connectTls({ hostname: "127.0.0.1", port: a.port, caCerts: [cert] });
      await conn.write(
        new TextEncoder().encode(
          `GET ${LINK_PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        ),
      );
      const head = new Uint8Array(1024);
      const n = await conn.read(head);
      assert.match(new TextDecoder().decode(head.subarray(0, n ?? 0)), /^HTTP\/1\.1 101/);

      const rss0 = await a.rssBytes();
      const watch = watchRss(a);
      const batch = pingBatch(512);
      const PINGS = 1_000_000; // 131 MB of pings, whose pongs would be 127 MB
      let sent = 0;
      let closed = false;
      const end = Date.now() + 15_000;
      while (sent < PINGS && Date.now() < end) {
        try {
          // A write that waits means TCP pushes back: the node stopped reading us.
          await Promise.race([
            conn.write(batch),
            new Promise((r) => setTimeout(r, 1000)),
          ]);
          sent += 512;
        } catch {
          closed = true; // reset by the node
          break;
        }
      }
      // The node closes it: now read to see the end.
      const buf = new Uint8Array(65536);
      const readEnd = Date.now() + 15_000;
      while (!closed && Date.now() < readEnd) {
        try {
          const r = await Promise.race([
            conn.read(buf),
            new Promise<"t">((r) => setTimeout(() => r("t"), readEnd - Date.now())),
          ]);
          if (r === null) closed = true;
        } catch {
          closed = true;
        }
      }
      const maxRss = await watch.stop();
      try {
        conn.close();
      } catch { /* closed */ }
      const growth = maxRss - rss0;
      // deno-lint-ignore no-console -- a figure for the report
      console.log(`pings sent ${sent}; RSS ${rss0 / MIB | 0} → max ${maxRss / MIB | 0} MiB`);
      assert.ok(growth < 24 * MIB, `RSS grew ${(growth / MIB).toFixed(1)} MiB`);
      assert.ok(closed, "the node closed the connection");
      assert.equal(a.pid, pid);
      assert.ok(a.running);
    } finally {
      await a.stop();
    }
  },
});

Deno.test({
  name: "a linked peer pinging while not reading its end: RSS stays bounded, it is closed",
  ...opts,
  fn: async () => {
    const root = await tempRoot("pinger-linked");
    const a = await NodeProc.create({ id: "alice", root, open: true });
    await using proxy = await startStallProxy(a.port);
    try {
      const reader = await linkSilentReader({ port: proxy.port, nodeId: "alice", self: "mallory" });
      assert.equal(reader.status, "accepted");
      await waitUntil(
        "alice shows mallory up",
        async () => (await a.link("mallory"))?.state === "up",
      );

      proxy.stall(); // from here on, nothing alice writes to mallory is read
      const rss0 = await a.rssBytes();
      const watch = watchRss(a);
      const sent = await reader.pingWhileOpen({ pings: 300_000, maxMs: 15_000 });
      const maxRss = await watch.stop();
      const growth = maxRss - rss0;
      // deno-lint-ignore no-console -- a figure for the report
      console.log(`pings sent ${sent}; RSS ${rss0 / MIB | 0} → max ${maxRss / MIB | 0} MiB`);
      assert.ok(growth < 64 * MIB, `RSS grew ${(growth / MIB).toFixed(1)} MiB`);
      // Pinging far over the rate is flooding: alice closes the link.
      await waitUntil("alice drops mallory", async () => (await a.link("mallory"))?.state !== "up");
      assert.ok(a.running);
      reader.close();
    } finally {
      await a.stop();
    }
  },
});
