/**
 * The UI server's gate, on every route and on the event WebSocket: a wrong
 * Host, a foreign Origin, no token or a wrong token are all refused with a
 * 4xx and no data; the token becomes an HttpOnly SameSite=Strict cookie; the
 * headers are strict; bodies are capped and checked; and the port answers on
 * loopback only. Requests are written by hand on a raw socket, so the Host
 * and Origin headers are exactly what a hostile page or rebound DNS name
 * would send.
 */
import assert from "node:assert/strict";
import { SILENT_LOGGER } from "../lib/log.ts";
import { startUiServer, type UiServer } from "../lib/web/mod.ts";
import { FakeNetwork } from "./_helpers/fake_client.ts";

interface RawResponse {
  status: number;
  headers: Map<string, string[]>;
  body: string;
}

/** One HTTP/1.1 request on a fresh connection, read to the end (or to the 101's headers). */
async function raw(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = "",
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    let head = `${method} ${path} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    if (body) head += `content-length: ${new TextEncoder().encode(body).length}\r\n`;
    head += "connection: close\r\n\r\n";
    await conn.write(new TextEncoder().encode(head + body));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      const text = new TextDecoder().decode(concat(chunks));
      if (text.startsWith("HTTP/1.1 101") && text.includes("\r\n\r\n")) break;
    }
    const text = new TextDecoder().decode(concat(chunks));
    const [top, ...rest] = text.split("\r\n\r\n");
    const lines = top.split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const map = new Map<string, string[]>();
    for (const l of lines.slice(1)) {
      const i = l.indexOf(":");
      const k = l.slice(0, i).trim().toLowerCase();
      map.set(k, [...(map.get(k) ?? []), l.slice(i + 1).trim()]);
    }
    let payload = rest.join("\r\n\r\n");
    if (map.get("transfer-encoding")?.[0] === "chunked") payload = dechunk(payload);
    return { status, headers: map, body: payload };
  } finally {
    conn.close();
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function dechunk(text: string): string {
  let out = "";
  let rest = text;
  while (rest.length > 0) {
    const i = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, i), 16);
    if (!size) break;
    out += rest.slice(i + 2, i + 2 + size);
    rest = rest.slice(i + 2 + size + 2);
  }
  return out;
}

const WS_HEADERS = {
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  "sec-websocket-version": "13",
};

interface Setup {
  ui: UiServer;
  port: number;
  token: string;
  cookie: string;
  tmp: string;
}

async function setup(): Promise<Setup> {
  const net = new FakeNetwork();
  const alice = net.client("alice@alice");
  net.client("bob@bob");
  await Deno.mkdir(".tmp", { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: ".tmp", prefix: "ui-security-" });
  const ui = await startUiServer({
    client: alice,
    port: 0,
    tokenFile: `${tmp}/ui.token`,
    log: SILENT_LOGGER,
  });
  const token = new URL(ui.url).searchParams.get("token")!;
  const res = await raw(ui.port, "GET", `/?token=${token}`, { host: `127.0.0.1:${ui.port}` });
  const cookie = res.headers.get("set-cookie")![0].split(";")[0];
  return { ui, port: ui.port, token, cookie, tmp };
}

/** Every route, as a request a browser would make. */
function routes(
  port: number,
): { method: string; path: string; headers: Record<string, string>; body?: string }[] {
  const origin = { origin: `http://127.0.0.1:${port}` };
  return [
    { method: "GET", path: "/", headers: {} },
    { method: "GET", path: "/?chat=bob@bob", headers: {} },
    { method: "GET", path: "/directory", headers: {} },
    { method: "GET", path: "/federation", headers: {} },
    { method: "GET", path: "/node", headers: {} },
    { method: "GET", path: "/chat/bob@bob", headers: {} },
    { method: "GET", path: "/static/app.js", headers: {} },
    { method: "GET", path: "/static/app.css", headers: {} },
    { method: "GET", path: "/api/state", headers: {} },
    { method: "GET", path: "/api/history/bob@bob", headers: {} },
    { method: "GET", path: "/api/safety/bob@bob", headers: {} },
    {
      method: "POST",
      path: "/api/command",
      headers: { ...origin, "content-type": "application/json" },
      body: JSON.stringify({ kind: "request", address: "bob@bob", intro: "" }),
    },
    { method: "GET", path: "/api/events", headers: { ...origin, ...WS_HEADERS } },
  ];
}

function assertRefused(res: RawResponse, what: string): void {
  assert.ok(res.status >= 400 && res.status < 500, `${what}: status ${res.status}`);
  assert.equal(res.body, "", `${what}: no data`);
  assert.equal(res.headers.has("set-cookie"), false, `${what}: no cookie`);
  assert.equal([...res.headers.keys()].some((k) => k.startsWith("access-control-")), false);
}

Deno.test("UI security: a good session reaches every route (the baseline the refusals differ from)", async () => {
  const s = await setup();
  try {
    for (const r of routes(s.port)) {
      const res = await raw(s.port, r.method, r.path, {
        host: `127.0.0.1:${s.port}`,
        cookie: s.cookie,
        ...r.headers,
      }, r.body);
      const ok = r.path === "/api/events" ? 101 : 200;
      assert.equal(res.status, ok, `${r.method} ${r.path}`);
      if (ok === 200) assert.ok(res.body.length > 0, `${r.path} has data`);
    }
    for (const host of [`localhost:${s.port}`, `[::1]:${s.port}`]) {
      const res = await raw(s.port, "GET", "/api/state", { host, cookie: s.cookie });
      assert.equal(res.status, 200, host);
    }
  } finally {
    await s.ui.close();
  }
});

Deno.test("UI security: wrong Host, foreign Origin, no token, wrong token are refused everywhere", async () => {
  const s = await setup();
  try {
    const wrongToken = s.token.slice(0, -2) + (s.token.endsWith("AA") ? "BB" : "AA");
    for (const r of routes(s.port)) {
      const good = { host: `127.0.0.1:${s.port}`, cookie: s.cookie, ...r.headers };
      const cases: [string, Record<string, string>, string][] = [
        ["Host attacker.example", { ...good, host: "attacker.example" }, r.path],
        [
          "Host localhost.attacker.example",
          { ...good, host: `localhost.attacker.example:${s.port}` },
          r.path,
        ],
        ["Host on another port", { ...good, host: `127.0.0.1:${s.port + 1}` }, r.path],
        ["Origin evil.localhost", { ...good, origin: "http://evil.localhost:9999" }, r.path],
        ["Origin null", { ...good, origin: "null" }, r.path],
        [
          "Origin of another loopback port",
          { ...good, origin: `http://127.0.0.1:${s.port + 1}` },
          r.path,
        ],
        ["cross-site fetch", { ...good, "sec-fetch-site": "cross-site" }, r.path],
        ["no token", { ...r.headers, host: `127.0.0.1:${s.port}` }, r.path],
        [
          "wrong cookie",
          { ...r.headers, host: `127.0.0.1:${s.port}`, cookie: `${s.cookie}x` },
          r.path,
        ],
        [
          "wrong token",
          { ...r.headers, host: `127.0.0.1:${s.port}` },
          r.path + (r.path.includes("?") ? "&" : "?") + `token=${wrongToken}`,
        ],
      ];
      for (const [what, headers, path] of cases) {
        const res = await raw(s.port, r.method, path, headers, r.body);
        assertRefused(res, `${r.method} ${r.path} with ${what}`);
      }
    }
    // A WebSocket upgrade and a POST need an Origin; a missing one is refused.
    const noOrigin = await raw(s.port, "GET", "/api/events", {
      host: `127.0.0.1:${s.port}`,
      cookie: s.cookie,
      ...WS_HEADERS,
    });
    assertRefused(noOrigin, "WebSocket without Origin");
    const postNoOrigin = await raw(s.port, "POST", "/api/command", {
      host: `127.0.0.1:${s.port}`,
      cookie: s.cookie,
      "content-type": "application/json",
    }, JSON.stringify({ kind: "accept", address: "bob@bob" }));
    assertRefused(postNoOrigin, "POST without Origin");
    for (const method of ["PUT", "DELETE", "OPTIONS", "PATCH"]) {
      assertRefused(
        await raw(s.port, method, "/api/state", { host: `127.0.0.1:${s.port}`, cookie: s.cookie }),
        method,
      );
    }
  } finally {
    await s.ui.close();
  }
});

Deno.test("UI security: the token becomes a strict cookie, the token file is 0600, headers are strict", async () => {
  const s = await setup();
  try {
    const res = await raw(s.port, "GET", `/directory?token=${s.token}`, {
      host: `localhost:${s.port}`,
    });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location")?.[0], "/directory");
    assert.equal(res.body, "");
    const cookie = res.headers.get("set-cookie")![0];
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Strict/);
    assert.match(cookie, /; Path=\//);
    assert.equal(cookie.includes(s.token), false, "the cookie is not the token");

    const info = await Deno.stat(`${s.tmp}/ui.token`);
    assert.equal(info.mode! & 0o777, 0o600);
    assert.equal((await Deno.readTextFile(`${s.tmp}/ui.token`)).trim(), s.token);
    assert.match(s.token, /^[A-Za-z0-9_-]{43}$/, "32 bytes, base64url");

    const page = await raw(s.port, "GET", "/", { host: `127.0.0.1:${s.port}`, cookie: s.cookie });
    assert.equal(
      page.headers.get("content-security-policy")?.[0],
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    assert.equal(page.headers.get("x-content-type-options")?.[0], "nosniff");
    assert.equal(page.headers.get("referrer-policy")?.[0], "no-referrer");
    assert.equal([...page.headers.keys()].some((k) => k.startsWith("access-control-")), false);
    assert.equal(
      /(src|href|action)=["']?(https?:)?\/\//i.test(page.body),
      false,
      "nothing external",
    );
    const css = await raw(s.port, "GET", "/static/app.css", {
      host: `127.0.0.1:${s.port}`,
      cookie: s.cookie,
    });
    assert.equal(/@import|url\(\s*["']?(https?:)?\/\//i.test(css.body), false, "no external CSS");
    const refused = await raw(s.port, "GET", "/", { host: "attacker.example" });
    assert.equal(refused.headers.get("x-content-type-options")?.[0], "nosniff");

    // The bearer token works for scripts; the session survives a restart with the same token file.
    const bearer = await raw(s.port, "GET", "/api/state", {
      host: `127.0.0.1:${s.port}`,
      authorization: `Bearer ${s.token}`,
    });
    assert.equal(bearer.status, 200);
  } finally {
    await s.ui.close();
  }
});

Deno.test("UI security: command bodies are capped and checked field by field", async () => {
  const s = await setup();
  try {
    const post = (body: string, type = "application/json") =>
      raw(s.port, "POST", "/api/command", {
        host: `127.0.0.1:${s.port}`,
        cookie: s.cookie,
        origin: `http://127.0.0.1:${s.port}`,
        "content-type": type,
      }, body);
    const bad = [
      "not json",
      "[]",
      "null",
      JSON.stringify({ kind: "nope" }),
      JSON.stringify({ kind: "send", address: "bob@bob" }),
      JSON.stringify({ kind: "send", address: "bob@bob", text: 5 }),
      JSON.stringify({ kind: "send", address: "Bob@Evil!", text: "x" }),
      JSON.stringify({ kind: "connect", host: "h", port: 70000, nodeId: "bob" }),
      JSON.stringify({ kind: "connect", host: "h", port: "1", nodeId: "bob" }),
      JSON.stringify({ kind: "connect", host: "a b", port: 1, nodeId: "bob" }),
      JSON.stringify({ kind: "approveLink", nodeId: "../x" }),
      JSON.stringify({ kind: "request", address: "bob@bob", intro: "x".repeat(501) }),
    ];
    for (const body of bad) {
      const res = await post(body);
      assert.equal(res.status, 400, body);
      assert.equal(JSON.parse(res.body).kind, "error");
    }
    assert.equal(
      (await post(JSON.stringify({ kind: "accept", address: "bob@bob" }), "text/plain")).status,
      400,
    );
    const huge = JSON.stringify({ kind: "send", address: "bob@bob", text: "x".repeat(40_000) });
    assert.equal((await post(huge)).status, 413);
    // A valid command the client core refuses: 422 with its message.
    const refused = await post(JSON.stringify({ kind: "send", address: "bob@bob", text: "hi" }));
    assert.equal(refused.status, 422);
    assert.match(JSON.parse(refused.body).error, /not accepted/);
    const ok = await post(JSON.stringify({ kind: "request", address: "bob@bob", intro: "hi" }));
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { kind: "ok" });
  } finally {
    await s.ui.close();
  }
});

Deno.test("UI security: the event socket carries events and drops oversized frames", async () => {
  const net = new FakeNetwork();
  const alice = net.client("alice@alice");
  net.client("bob@bob");
  const tmp = await Deno.makeTempDir({ dir: ".tmp", prefix: "ui-ws-" });
  const ui = await startUiServer({
    client: alice,
    port: 0,
    tokenFile: `${tmp}/t`,
    log: SILENT_LOGGER,
  });
  try {
    const token = new URL(ui.url).searchParams.get("token");
    // Deno's WebSocket sends no Origin: the header is added the way a browser would.
    const ws = new WebSocket(`ws://127.0.0.1:${ui.port}/api/events?token=${token}`, {
      headers: { origin: `http://127.0.0.1:${ui.port}` },
    } as unknown as string[]);
    const first = new Promise<string>((resolve, reject) => {
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => reject(new Error("socket failed"));
    });
    await new Promise((resolve) => (ws.onopen = resolve));
    await alice.request("bob@bob", "hello");
    assert.equal(JSON.parse(await first).kind, "contact");
    const closed = new Promise<number>((resolve) => (ws.onclose = (e) => resolve(e.code)));
    ws.send("x".repeat(10_000));
    assert.equal(await closed, 1009);
  } finally {
    await ui.close();
  }
});

Deno.test("UI security: the UI port is not reachable on a non-loopback address", async () => {
  const s = await setup();
  try {
    const addresses = Deno.networkInterfaces()
      .filter((i) => i.family === "IPv4" && !i.address.startsWith("127."))
      .map((i) => i.address);
    const v6 = Deno.networkInterfaces()
      .filter((i) => i.family === "IPv6" && i.address !== "::1" && !i.address.startsWith("fe80"))
      .map((i) => i.address);
    if (addresses.length === 0) {
      // deno-lint-ignore no-console -- a skipped check must be visible in the test output
      console.warn("no non-loopback IPv4 address on this machine: nothing to check");
    }
    for (const hostname of [...addresses, ...v6]) {
      await assert.rejects(
        Deno.connect({ hostname, port: s.port }),
        (err: unknown) => err instanceof Deno.errors.ConnectionRefused,
        `${hostname}:${s.port} must not answer`,
      );
    }
    const loop = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    loop.close();
  } finally {
    await s.ui.close();
  }
});
