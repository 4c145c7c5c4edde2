/**
 * The UI port's connection rules, in process with short limits: a request
 * head must be whole by its deadline (silent and byte-by-byte connections
 * are closed), a refusal closes the connection (no "403 then kept open"), a
 * body that stalls is dropped, an upload over the cap is refused before it
 * is read, the caps push out connections that never signed in, and a
 * signed-in browser's connection is kept alive across requests.
 */
import assert from "node:assert/strict";
import { sessionProof } from "../lib/ui/mod.ts";
import type { UiServer } from "../lib/web/mod.ts";
import { FakeNetwork } from "./_helpers/fake_client.ts";
import { startTestUi } from "./_helpers/ui_server.ts";

const te = new TextEncoder();
const td = new TextDecoder();

const LIMITS = {
  maxConnections: 16,
  maxConnectionsPerAddress: 8,
  headTimeoutMs: 600,
  idleTimeoutMs: 1_000,
  maxUploadBytes: 4096,
};

async function start(): Promise<{ ui: UiServer; session: string; port: number }> {
  const net = new FakeNetwork();
  const alice = net.client("alice@alice");
  net.client("bob@bob");
  await Deno.mkdir(".tmp", { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: ".tmp", prefix: "ui-http-" });
  const ui = await startTestUi({ client: alice, tokenFile: `${tmp}/t`, limits: LIMITS });
  const base = `http://127.0.0.1:${ui.port}`;
  const token = new URL(ui.url).searchParams.get("token")!;
  const { nonce } = await (await fetch(`${base}/api/session`)).json();
  const res = await fetch(`${base}/api/session`, {
    method: "POST",
    headers: { origin: base, "content-type": "application/json" },
    body: JSON.stringify({ nonce, proof: await sessionProof(token, base, nonce) }),
  });
  const { session } = await res.json();
  return { ui, session, port: ui.port };
}

/** Reads until the server closes the connection (or `limitMs` passes); what it sent. */
async function readToEnd(
  conn: Deno.Conn,
  limitMs = 5_000,
): Promise<{ text: string; closed: boolean }> {
  let text = "";
  const buf = new Uint8Array(65536);
  const timer = setTimeout(() => conn.close(), limitMs);
  let closed = false;
  try {
    for (let i = 0; i < 1000; i++) {
      const n = await conn.read(buf);
      if (n === null) {
        closed = true;
        break;
      }
      text += td.decode(buf.subarray(0, n));
    }
  } catch {
    // Closed by our own timer: the server kept it open.
  } finally {
    clearTimeout(timer);
  }
  try {
    conn.close();
  } catch { /* closed already */ }
  return { text, closed };
}

const connect = (port: number) => Deno.connect({ hostname: "127.0.0.1", port });

Deno.test("UI HTTP: a silent connection and a byte-by-byte head are closed by the head deadline", async () => {
  const { ui, port } = await start();
  try {
    const silent = await connect(port);
    const slow = await connect(port);
    const head = `GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Pad: ${"a".repeat(500)}`;
    let at = 0;
    const drip = setInterval(() => {
      if (at < head.length) slow.write(te.encode(head[at++])).catch(() => {});
    }, 50);
    try {
      const [a, b] = await Promise.all([readToEnd(silent), readToEnd(slow)]);
      assert.equal(a.closed, true, "silent: closed by the server");
      assert.equal(b.closed, true, "slow head: closed by the server");
      assert.ok(at < head.length, "closed before the head was whole");
    } finally {
      clearInterval(drip);
    }
  } finally {
    await ui.close();
  }
});

Deno.test("UI HTTP: a refused upgrade is answered and closed, not kept open", async () => {
  const { ui, port } = await start();
  try {
    const conn = await connect(port);
    await conn.write(te.encode(
      `GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: http://127.0.0.1:${port}\r\n` +
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    ));
    const { text, closed } = await readToEnd(conn);
    assert.match(text, /^HTTP\/1\.1 401 /);
    assert.equal(closed, true);
  } finally {
    await ui.close();
  }
});

Deno.test("UI HTTP: a signed-in connection carries several requests (pipelined too); a stalled body is dropped", async () => {
  const { ui, session, port } = await start();
  try {
    const conn = await connect(port);
    const get =
      `GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Fedchat-Session: ${session}\r\n\r\n`;
    await conn.write(te.encode(get + get));
    let text = "";
    const buf = new Uint8Array(65536);
    for (let i = 0; i < 100 && (text.match(/HTTP\/1\.1 200/g) ?? []).length < 2; i++) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += td.decode(buf.subarray(0, n));
    }
    assert.equal((text.match(/HTTP\/1\.1 200/g) ?? []).length, 2, "two answers on one connection");
    // Now a body that never comes: the idle deadline ends the connection.
    await conn.write(te.encode(
      `POST /api/command HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: http://127.0.0.1:${port}\r\n` +
        `X-Fedchat-Session: ${session}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"k`,
    ));
    const rest = await readToEnd(conn);
    assert.equal(rest.closed, true);
  } finally {
    await ui.close();
  }
});

Deno.test("UI HTTP: an upload over max_upload_bytes is refused before it is read, and closed", async () => {
  const { ui, session, port } = await start();
  try {
    const conn = await connect(port);
    await conn.write(te.encode(
      `POST /api/upload/bob@bob?name=x HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
        `Origin: http://127.0.0.1:${port}\r\nX-Fedchat-Session: ${session}\r\n` +
        `Content-Type: application/octet-stream\r\nContent-Length: ${
          LIMITS.maxUploadBytes + 1
        }\r\n\r\n`,
    ));
    const { text, closed } = await readToEnd(conn);
    assert.match(text, /^HTTP\/1\.1 413 /);
    assert.equal(closed, true);
  } finally {
    await ui.close();
  }
});

Deno.test("UI HTTP: connections that never sign in are capped and pushed out; a signed-in request still gets through", async () => {
  const { ui, session, port } = await start();
  const flood: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 60; i++) flood.push(await connect(port));
    const res = await fetch(`http://127.0.0.1:${port}/api/state`, {
      headers: { "x-fedchat-session": session },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const status = ui.status();
    assert.ok(
      status.connections.used <= LIMITS.maxConnectionsPerAddress,
      `${status.connections.used}`,
    );
    assert.ok(status.connections.evicted >= 60 - LIMITS.maxConnectionsPerAddress);
    const closed = await Promise.all(flood.map((c) => readToEnd(c, 3_000)));
    assert.equal(closed.every((c) => c.closed), true, "every flood connection is closed");
  } finally {
    for (const c of flood) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await ui.close();
  }
});

Deno.test("UI HTTP: the event socket stays open for a page that answers pings, and closes a silent one", async () => {
  const { ui, session, port } = await start();
  try {
    const origin = `http://127.0.0.1:${port}`;
    // Deno's WebSocket answers pings by itself, as browsers do.
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/events`, {
      protocols: ["fedchat", `fedchat-session.${session}`],
      headers: { origin },
    } as unknown as string[]);
    let closedEarly = false;
    ws.onclose = () => (closedEarly = true);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    // A raw client that upgrades and then never sends a frame (no pong to our pings).
    const silent = await connect(port);
    await silent.write(te.encode(
      `GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${origin}\r\n` +
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        `Sec-WebSocket-Protocol: fedchat, fedchat-session.${session}\r\n\r\n`,
    ));
    const { text, closed } = await readToEnd(silent, 3 * LIMITS.idleTimeoutMs);
    assert.match(text, /^HTTP\/1\.1 101 /);
    assert.equal(closed, true, "the silent socket is closed by the idle deadline");
    assert.equal(closedEarly, false, "the answering socket outlived the idle period");
    assert.equal(ui.status().eventSockets, 1);
    ws.close();
  } finally {
    await ui.close();
  }
});
