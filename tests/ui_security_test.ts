/**
 * The UI server's gate, on every route and on the event WebSocket: a wrong
 * Host, a foreign Origin or a cross-site fetch are refused with a 4xx and no
 * data; every data route needs the session header (a token in the URL, a
 * cookie, a wrong or ended session are all refused); the page shell is the
 * same data-free bytes for everyone; the sign-in proof is bound to the
 * origin and a fresh nonce; nothing ever sets a cookie; the headers are
 * strict; bodies are capped and checked; and the port answers on loopback
 * only. Requests are written by hand on a raw socket, so the Host and
 * Origin headers are exactly what a hostile page or rebound DNS name would
 * send.
 */
import assert from "node:assert/strict";
import { MAX_MESSAGE_CHARS } from "../lib/client/mod.ts";
import { MANIFEST } from "../routes/mod.ts";
import { sessionProof } from "../lib/ui/mod.ts";
import type { UiServer } from "../lib/web/mod.ts";
import { type FakeClient, FakeNetwork } from "./_helpers/fake_client.ts";
import { startTestUi } from "./_helpers/ui_server.ts";

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
    return parse(new TextDecoder().decode(concat(chunks)));
  } finally {
    conn.close();
  }
}

function parse(text: string): RawResponse {
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

/** Signs in the way the page does: a challenge, then the proof for it. */
async function signIn(port: number, token: string, origin = `http://127.0.0.1:${port}`) {
  const host = { host: `127.0.0.1:${port}` };
  const challenge = await raw(port, "GET", "/api/session", host);
  const { nonce } = JSON.parse(challenge.body) as { nonce: string };
  const proof = await sessionProof(token, origin, nonce);
  const answer = await raw(port, "POST", "/api/session", {
    ...host,
    origin: `http://127.0.0.1:${port}`,
    "content-type": "application/json",
  }, JSON.stringify({ nonce, proof }));
  return { nonce, proof, answer };
}

interface Setup {
  ui: UiServer;
  client: FakeClient;
  port: number;
  token: string;
  session: string;
  tmp: string;
}

async function setup(): Promise<Setup> {
  const net = new FakeNetwork();
  const alice = net.client("alice@alice");
  net.client("bob@bob");
  await Deno.mkdir(".tmp", { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: ".tmp", prefix: "ui-security-" });
  const ui = await startTestUi({ client: alice, tokenFile: `${tmp}/ui.token` });
  const token = new URL(ui.url).searchParams.get("token")!;
  const { answer } = await signIn(ui.port, token);
  assert.equal(answer.status, 200, answer.body);
  const session = JSON.parse(answer.body).session as string;
  return { ui, client: alice, port: ui.port, token, session, tmp };
}

interface Route {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** A page URL: the shell, public and data-free. */
  shell?: boolean;
  /** The status with a good session, when not 200 (101 for the WebSocket). */
  expect?: number;
}

/** A group's id (the fake client has no groups). */
const GROUP = `${"ab".repeat(16)}@bob`;

/** Every route, as a request a browser would make. */
function routes(port: number): Route[] {
  const origin = { origin: `http://127.0.0.1:${port}` };
  return [
    { method: "GET", path: "/", headers: {}, shell: true },
    { method: "GET", path: "/?chat=bob@bob", headers: {}, shell: true },
    { method: "GET", path: "/directory", headers: {}, shell: true },
    { method: "GET", path: "/federation", headers: {}, shell: true },
    { method: "GET", path: "/node", headers: {}, shell: true },
    { method: "GET", path: "/chat/bob@bob", headers: {}, shell: true },
    { method: "GET", path: `/group/${GROUP}`, headers: {}, shell: true },
    { method: "GET", path: "/static/app.js", headers: {}, shell: true },
    { method: "GET", path: "/static/app.css", headers: {}, shell: true },
    { method: "GET", path: "/api/state", headers: {} },
    { method: "GET", path: "/api/page?path=%2Fchat%2Fbob%40bob", headers: {} },
    { method: "GET", path: "/api/history/bob@bob", headers: {} },
    { method: "GET", path: "/api/safety/bob@bob", headers: {} },
    // Reaches the route, which finds no such group at the fake client: 404 with the reason.
    { method: "GET", path: `/api/groups/${GROUP}`, headers: {}, expect: 404 },
    {
      method: "POST",
      path: "/api/command",
      headers: { ...origin, "content-type": "application/json" },
      body: JSON.stringify({ kind: "request", address: "bob@bob", intro: "" }),
    },
    {
      // Reaches the route, which the fake client refuses (it has no files): 422.
      method: "POST",
      path: "/api/upload/bob@bob?name=a.txt",
      headers: { ...origin, "content-type": "application/octet-stream" },
      body: "hello",
      expect: 422,
    },
    {
      method: "GET",
      path: "/api/events",
      headers: { ...origin, ...WS_HEADERS, "sec-websocket-protocol": "fedchat" },
    },
  ];
}

/** The credential of a route's request: a header, or a subprotocol for the WebSocket. */
function withSession(r: Route, session: string): Record<string, string> {
  return r.path === "/api/events"
    ? { "sec-websocket-protocol": `fedchat, fedchat-session.${session}` }
    : { "x-fedchat-session": session };
}

function assertRefused(res: RawResponse, what: string): void {
  assert.ok(res.status >= 400 && res.status < 500, `${what}: status ${res.status}`);
  assert.equal(res.body, "", `${what}: no data`);
  assert.equal(res.headers.has("set-cookie"), false, `${what}: no cookie`);
  assert.equal([...res.headers.keys()].some((k) => k.startsWith("access-control-")), false);
}

function assertNoData(res: RawResponse, what: string): void {
  for (const secret of ["alice@alice", "bob@bob", "fedchat://"]) {
    assert.equal(res.body.includes(secret), false, `${what}: shows ${secret}`);
  }
}

Deno.test("UI security: data routes all live under /api/ (the guard's rule), and the list above covers them", () => {
  for (const path of Object.keys(MANIFEST.api)) assert.ok(path.startsWith("/api/"), path);
  const listed = routes(1).map((r) =>
    r.path.split("?")[0].replace(/bob@bob/, ":address").replace(GROUP, ":group")
  );
  for (const path of [...Object.keys(MANIFEST.api), ...Object.keys(MANIFEST.pages)]) {
    assert.ok(listed.includes(path), `${path} is checked`);
  }
});

Deno.test("UI security: a good session reaches every route (the baseline the refusals differ from)", async () => {
  const s = await setup();
  try {
    for (const r of routes(s.port)) {
      const res = await raw(s.port, r.method, r.path, {
        host: `127.0.0.1:${s.port}`,
        ...r.headers,
        ...withSession(r, s.session),
      }, r.body);
      const ok = r.expect ?? (r.path === "/api/events" ? 101 : 200);
      assert.equal(res.status, ok, `${r.method} ${r.path}`);
      if (ok === 200) assert.ok(res.body.length > 0, `${r.path} has data`);
      if (r.path === "/api/state") assert.match(res.body, /alice@alice/, r.path);
      if (ok === 101) assert.equal(res.headers.get("sec-websocket-protocol")?.[0], "fedchat");
    }
    for (const host of [`localhost:${s.port}`, `[::1]:${s.port}`]) {
      const res = await raw(s.port, "GET", "/api/state", { host, "x-fedchat-session": s.session });
      assert.equal(res.status, 200, host);
    }
  } finally {
    await s.ui.close();
  }
});

Deno.test("UI security: wrong Host, foreign Origin, no or wrong credential are refused everywhere", async () => {
  const s = await setup();
  try {
    const wrongSession = s.session.slice(0, -2) + (s.session.endsWith("AA") ? "BB" : "AA");
    for (const r of routes(s.port)) {
      const good = { host: `127.0.0.1:${s.port}`, ...r.headers, ...withSession(r, s.session) };
      const hostile: [string, Record<string, string>][] = [
        ["Host attacker.example", { ...good, host: "attacker.example" }],
        ["Host localhost.attacker.example", {
          ...good,
          host: `localhost.attacker.example:${s.port}`,
        }],
        ["Host on another port", { ...good, host: `127.0.0.1:${s.port + 1}` }],
        ["Origin evil.localhost", { ...good, origin: "http://evil.localhost:9999" }],
        ["Origin null", { ...good, origin: "null" }],
        ["Origin of another loopback port", { ...good, origin: `http://127.0.0.1:${s.port + 1}` }],
        ["cross-site fetch", { ...good, "sec-fetch-site": "cross-site" }],
      ];
      for (const [what, headers] of hostile) {
        assertRefused(await raw(s.port, r.method, r.path, headers, r.body), `${r.path}: ${what}`);
      }
      const bare = { host: `127.0.0.1:${s.port}`, ...r.headers };
      const unsigned: [string, Record<string, string>, string][] = [
        ["no credential", bare, r.path],
        ["a wrong session", { ...bare, ...withSession(r, wrongSession) }, r.path],
        [
          "the token in the URL",
          bare,
          r.path + (r.path.includes("?") ? "&" : "?") +
          `token=${s.token}`,
        ],
        ["the token as a cookie", { ...bare, cookie: `fedchat_${s.port}=${s.token}` }, r.path],
        ["the session as a cookie", { ...bare, cookie: `fedchat_${s.port}=${s.session}` }, r.path],
      ];
      for (const [what, headers, path] of unsigned) {
        const res = await raw(s.port, r.method, path, headers, r.body);
        if (r.shell) {
          // The shell and the bundles are public: the same bytes with a session or without.
          assert.equal(res.status, 200, `${r.path} with ${what}`);
          const signedIn = await raw(s.port, r.method, r.path, good, r.body);
          assert.equal(res.body, signedIn.body, `${r.path} with ${what}`);
          if (!r.path.startsWith("/static/")) assertNoData(res, `${r.path} with ${what}`);
        } else {
          assertRefused(res, `${r.path} with ${what}`);
          assert.equal(res.status, 401, `${r.path} with ${what}`);
        }
      }
    }
    // A WebSocket upgrade and a POST need an Origin; a missing one is refused.
    const noOrigin = await raw(s.port, "GET", "/api/events", {
      host: `127.0.0.1:${s.port}`,
      ...WS_HEADERS,
      "sec-websocket-protocol": `fedchat, fedchat-session.${s.session}`,
    });
    assertRefused(noOrigin, "WebSocket without Origin");
    const postNoOrigin = await raw(s.port, "POST", "/api/command", {
      host: `127.0.0.1:${s.port}`,
      "x-fedchat-session": s.session,
      "content-type": "application/json",
    }, JSON.stringify({ kind: "accept", address: "bob@bob" }));
    assertRefused(postNoOrigin, "POST without Origin");
    // Spellings of a data path that a router might read as /api/...: refused, no data.
    for (
      const path of [
        "/%61pi/state",
        "/%61%70%69/state",
        "/API/state",
        "//api/state",
        "/static/../api/state",
        "/api//state",
        "/x/..%2fapi/state",
      ]
    ) {
      assertRefused(await raw(s.port, "GET", path, { host: `127.0.0.1:${s.port}` }), path);
    }
    for (const method of ["PUT", "DELETE", "OPTIONS", "PATCH"]) {
      assertRefused(
        await raw(s.port, method, "/api/state", {
          host: `127.0.0.1:${s.port}`,
          "x-fedchat-session": s.session,
        }),
        method,
      );
    }
  } finally {
    await s.ui.close();
  }
});

Deno.test("UI security: the sign-in proof is bound to the origin and a fresh nonce, and sets no cookie", async () => {
  const s = await setup();
  try {
    // The baseline: a right proof gets a session, in the body, never as a cookie.
    const good = await signIn(s.port, s.token);
    assert.equal(good.answer.status, 200);
    assert.equal(good.answer.headers.has("set-cookie"), false);
    assert.match(JSON.parse(good.answer.body).session, /^[A-Za-z0-9_-]{43}$/);
    // The same answer again (replay) is refused.
    const replay = await raw(s.port, "POST", "/api/session", {
      host: `127.0.0.1:${s.port}`,
      origin: `http://127.0.0.1:${s.port}`,
      "content-type": "application/json",
    }, JSON.stringify({ nonce: good.nonce, proof: good.proof }));
    assert.equal(replay.status, 401);
    // A proof made for another port's origin, or with a wrong token, is refused.
    assert.equal(
      (await signIn(s.port, s.token, `http://127.0.0.1:${s.port + 1}`)).answer.status,
      401,
    );
    const wrongToken = s.token.slice(0, -2) + (s.token.endsWith("AA") ? "BB" : "AA");
    assert.equal((await signIn(s.port, wrongToken)).answer.status, 401);
    // A nonce the server did not make is refused, even with a proof that matches it.
    const forged = `${Date.now().toString(36)}.${"A".repeat(22)}.${"B".repeat(22)}`;
    const forgedAnswer = await raw(
      s.port,
      "POST",
      "/api/session",
      {
        host: `127.0.0.1:${s.port}`,
        origin: `http://127.0.0.1:${s.port}`,
        "content-type": "application/json",
      },
      JSON.stringify({
        nonce: forged,
        proof: await sessionProof(s.token, `http://127.0.0.1:${s.port}`, forged),
      }),
    );
    assert.equal(forgedAnswer.status, 401);
    // Signing every browser out ends the sessions and the token.
    const out = await s.ui.signOut(null);
    assert.ok(out.signedOut >= 2);
    const after = await raw(s.port, "GET", "/api/state", {
      host: `127.0.0.1:${s.port}`,
      "x-fedchat-session": s.session,
    });
    assert.equal(after.status, 401);
    assert.equal((await signIn(s.port, s.token)).answer.status, 401, "the old token is refused");
    assert.equal((await signIn(s.port, out.token)).answer.status, 200, "the new one works");
    assert.equal((await Deno.readTextFile(`${s.tmp}/ui.token`)).trim(), out.token);
  } finally {
    await s.ui.close();
  }
});

Deno.test("UI security: the token file is 0600, headers are strict, nothing is external", async () => {
  const s = await setup();
  try {
    const info = await Deno.stat(`${s.tmp}/ui.token`);
    assert.equal(info.mode! & 0o777, 0o600);
    assert.equal((await Deno.readTextFile(`${s.tmp}/ui.token`)).trim(), s.token);
    assert.match(s.token, /^[A-Za-z0-9_-]{43}$/, "32 bytes, base64url");

    const page = await raw(s.port, "GET", `/?token=${s.token}`, { host: `127.0.0.1:${s.port}` });
    assert.equal(page.status, 200);
    assert.equal(page.headers.has("set-cookie"), false, "the token URL sets no cookie");
    assert.equal(page.body.includes(s.token), false, "the shell does not echo the token");
    assertNoData(page, "the shell");
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
    const css = await raw(s.port, "GET", "/static/app.css", { host: `127.0.0.1:${s.port}` });
    assert.equal(/@import|url\(\s*["']?(https?:)?\/\//i.test(css.body), false, "no external CSS");
    const refused = await raw(s.port, "GET", "/", { host: "attacker.example" });
    assert.equal(refused.headers.get("x-content-type-options")?.[0], "nosniff");

    // Scripts holding the token file may use it as a bearer credential.
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
        "x-fedchat-session": s.session,
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
      JSON.stringify({ kind: "send", address: "bob@bob", text: "x".repeat(MAX_MESSAGE_CHARS + 1) }),
      JSON.stringify({ kind: "connect", host: "h", port: 70000, nodeId: "bob" }),
      JSON.stringify({ kind: "connect", host: "h", port: "1", nodeId: "bob" }),
      JSON.stringify({ kind: "connect", host: "a b", port: 1, nodeId: "bob" }),
      JSON.stringify({ kind: "approveLink", nodeId: "../x" }),
      JSON.stringify({ kind: "request", address: "bob@bob", intro: "x".repeat(501) }),
      JSON.stringify({ kind: "addMailbox", nodeId: "M!" }),
      JSON.stringify({ kind: "serveMailbox", nodeId: "bob", quotaBytes: 1024 }),
      JSON.stringify({ kind: "serveMailbox", nodeId: "bob", quotaBytes: "64M" }),
    ];
    for (const body of bad) {
      const res = await post(body);
      assert.equal(res.status, 400, body.slice(0, 80));
      assert.equal(JSON.parse(res.body).kind, "error");
    }
    assert.equal(
      (await post(JSON.stringify({ kind: "accept", address: "bob@bob" }), "text/plain")).status,
      400,
    );
    // The longest message the client core takes fits the body cap, even if every character
    // needs escaping; a body over the cap is 413.
    const longest = JSON.stringify({
      kind: "send",
      address: "bob@bob",
      text: "\u0001".repeat(MAX_MESSAGE_CHARS),
    });
    assert.equal((await post(longest)).status, 422, "read, parsed, refused by the core");
    const huge = JSON.stringify({ kind: "send", address: "bob@bob", text: "x".repeat(200_000) });
    assert.equal((await post(huge)).status, 413);
    // A valid command the client core refuses: 422 with its message.
    const refused = await post(JSON.stringify({ kind: "send", address: "bob@bob", text: "hi" }));
    assert.equal(refused.status, 422);
    assert.match(JSON.parse(refused.body).error, /not accepted/);
    const ok = await post(JSON.stringify({ kind: "request", address: "bob@bob", intro: "hi" }));
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { kind: "ok" });
    const notOne = await post(JSON.stringify({ kind: "removeMailbox", nodeId: "zz" }));
    assert.equal(notOne.status, 422);
    assert.match(JSON.parse(notOne.body).error, /not one of this node's mailboxes/);
  } finally {
    await s.ui.close();
  }
});

Deno.test("UI security: the snapshot carries the client core's message limit", async () => {
  const s = await setup();
  try {
    const res = await raw(s.port, "GET", "/api/state", {
      host: `127.0.0.1:${s.port}`,
      "x-fedchat-session": s.session,
    });
    assert.deepEqual(JSON.parse(res.body).limits, { maxMessageChars: MAX_MESSAGE_CHARS });
  } finally {
    await s.ui.close();
  }
});

Deno.test("UI security: the event socket carries events, needs a session, and drops oversized frames", async () => {
  const s = await setup();
  try {
    const origin = `http://127.0.0.1:${s.port}`;
    // Deno's WebSocket sends no Origin: the header is added the way a browser would.
    const open = (protocols: string[]) =>
      new WebSocket(`ws://127.0.0.1:${s.port}/api/events`, {
        protocols,
        headers: { origin },
      } as unknown as string[]);
    const refusedWs = open(["fedchat", "fedchat-session.nope"]);
    const refusal = await new Promise<string>((resolve) => {
      refusedWs.onopen = () => resolve("open");
      refusedWs.onerror = () => resolve("error");
    });
    assert.equal(refusal, "error", "a socket without a good session does not open");
    const ws = open(["fedchat", `fedchat-session.${s.session}`]);
    const first = new Promise<string>((resolve, reject) => {
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => reject(new Error("socket failed"));
    });
    await new Promise((resolve) => (ws.onopen = resolve));
    assert.equal(ws.protocol, "fedchat");
    await s.client.request("bob@bob", "hello");
    assert.equal(JSON.parse(await first).kind, "contact");
    const closed = new Promise<number>((resolve) => (ws.onclose = (e) => resolve(e.code)));
    ws.send("x".repeat(10_000));
    assert.equal(await closed, 1009);
  } finally {
    await s.ui.close();
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
