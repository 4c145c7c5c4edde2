import assert from "node:assert/strict";
import type { Socket } from "node:net";
import tls from "node:tls";
import { dialWss } from "../lib/wss/mod.ts";
import { NodeProc, tempRoot, waitLink, waitUntil } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const LINK = "/fedchat/v1/link";

function closedWithin(sock: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    sock.on("close", () => {
      clearTimeout(t);
      resolve(true);
    });
    sock.on("error", () => {});
    sock.resume(); // a paused stream never reads the server's EOF
  });
}

/** Resolves true when the server closes a native TCP connection within `ms`. */
async function tcpClosedWithin(conn: Deno.TcpConn, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  const buf = new Uint8Array(65536);
  try {
    while (Date.now() < deadline) {
      const n = await Promise.race([
        conn.read(buf),
        new Promise<"t">((r) => setTimeout(() => r("t"), deadline - Date.now())),
      ]);
      if (n === "t") return false;
      if (n === null) return true;
    }
    return false;
  } catch {
    return true; // reset by the server
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

function tlsSocket(port: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false });
    s.once("secureConnect", () => resolve(s));
    s.once("error", reject);
  });
}

Deno.test({
  name: "hostile traffic on the node port: garbage, oversized, unauthenticated, half-open",
  ...opts,
  fn: async () => {
    const root = await tempRoot("hostile");
    const nodes: NodeProc[] = [];
    const extra = "[Limits]\nhandshake_timeout_ms = 1000\nmax_connections_per_address = 12\n" +
      "max_frame_bytes = 65536\n";
    try {
      const a = await NodeProc.create({ id: "alice", root, extra });
      const b = await NodeProc.create({ id: "bob", root, open: true });
      nodes.push(a, b);
      await b.admin("connect", { host: "127.0.0.1", port: a.port, nodeId: "alice" });
      await a.admin("approve", { nodeId: "bob" });
      await waitLink(a, "bob", "up");
      const since = (await a.link("bob"))!.sinceMs;

      // 1. Plain TCP garbage instead of TLS.
      const s1 = await Deno.connect({ hostname: "127.0.0.1", port: a.port });
      await s1.write(crypto.getRandomValues(new Uint8Array(4096))).catch(() => 0);
      assert.ok(await tcpClosedWithin(s1, 3000), "garbage TCP closed");

      // 2. TLS, then HTTP garbage.
      const s2 = await tlsSocket(a.port);
      s2.write("BREW /coffee HTCPCP/1.0\r\n\x01\x02\r\n\r\n");
      assert.ok(await closedWithin(s2, 3000), "garbage HTTP closed");

      // 3. A head larger than the cap.
      const s3 = await tlsSocket(a.port);
      s3.write("GET / HTTP/1.1\r\nX: " + "a".repeat(20_000));
      assert.ok(await closedWithin(s3, 3000), "oversized head closed");

      // 4. Upgrade, then a frame that is not a handshake message.
      const w4 = await dialWss({
        host: "127.0.0.1",
        port: a.port,
        path: LINK,
        timeoutMs: 3000,
        maxMessageBytes: 1 << 20,
      });
      const c4 = new Promise<number>((r) => (w4.onClose = (i) => r(i.code)));
      w4.send(new TextEncoder().encode("hello, I am definitely a node"));
      assert.equal(await c4, 1008);

      // 5. Upgrade, then a frame larger than max_frame_bytes.
      const w5 = await dialWss({
        host: "127.0.0.1",
        port: a.port,
        path: LINK,
        timeoutMs: 3000,
        maxMessageBytes: 1 << 20,
      });
      const c5 = new Promise<number>((r) => (w5.onClose = (i) => r(i.code)));
      w5.send(new Uint8Array(200_000));
      assert.equal(await c5, 1009);

      // 6. Upgrade and say nothing: closed by the deadline.
      const w6 = await dialWss({
        host: "127.0.0.1",
        port: a.port,
        path: LINK,
        timeoutMs: 3000,
        maxMessageBytes: 1 << 20,
      });
      const t6 = Date.now();
      await new Promise<void>((r) => (w6.onClose = () => r()));
      assert.ok(Date.now() - t6 < 4000, "silent connection closed by the deadline");

      // 7. An unmasked client frame after a valid upgrade.
      const s7 = await tlsSocket(a.port);
      s7.write(
        `GET ${LINK} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      await new Promise((r) => s7.once("data", r));
      s7.write(new Uint8Array([0x82, 0x03, 1, 2, 3]));
      assert.ok(await closedWithin(s7, 3000), "unmasked frame closed");

      // 8. Half-open flood: more idle TCP connections than the per-address cap.
      const idle: Deno.TcpConn[] = [];
      for (let i = 0; i < 30; i++) {
        idle.push(await Deno.connect({ hostname: "127.0.0.1", port: a.port }));
      }
      const closedAll = await Promise.all(idle.map((s) => tcpClosedWithin(s, 4000)));
      assert.ok(closedAll.every(Boolean), "every idle connection was closed by cap or deadline");

      // The node is alive, the B link never dropped, and a new node can link.
      const row = (await a.link("bob"))!;
      assert.equal(row.state, "up");
      assert.equal(row.sinceMs, since, "the existing link was not disturbed");
      const c = await NodeProc.create({ id: "carol", root, open: true });
      nodes.push(c);
      await c.admin("connect", { host: "127.0.0.1", port: a.port, nodeId: "alice" });
      await a.admin("approve", { nodeId: "carol" });
      await waitLink(a, "carol", "up");
      await waitUntil("a logged the refusals", () => /incoming link refused/.test(a.output));
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
