import assert from "node:assert/strict";
import { checkRequestHead, findRequestHead, MAX_HEAD_BYTES } from "./http_request_head.ts";
import { WebError } from "./web_error.ts";

const te = new TextEncoder();

function check(text: string) {
  const found = findRequestHead(te.encode(text));
  if (!found) throw new Error("incomplete");
  return checkRequestHead(found.head);
}

function status(text: string): number {
  try {
    check(text);
    return 0;
  } catch (err) {
    if (err instanceof WebError) return err.status;
    throw err;
  }
}

Deno.test("checkRequestHead() reads a browser's request: length, keep-alive, upgrade", () => {
  const post = check("POST /api/command HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n");
  assert.equal(post.method, "POST");
  assert.equal(post.target, "/api/command");
  assert.equal(post.contentLength, 12);
  assert.equal(post.keepAlive, true);
  const ws = check(
    "GET /api/events HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n",
  );
  assert.equal(ws.upgrade, true);
  assert.equal(check("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keepAlive, false);
  assert.equal(check("GET / HTTP/1.0\r\n\r\n").keepAlive, false);
  assert.equal(findRequestHead(te.encode("GET / HTTP/1.1\r\nHost: h\r\n")), null, "not yet whole");
  assert.equal(
    check("GET /chat/bob%40bob?chat=a%40b HTTP/1.1\r\n\r\n").target,
    "/chat/bob%40bob?chat=a%40b",
  );
  assert.equal(check("GET /x%C3%A9%20y HTTP/1.1\r\n\r\n").method, "GET");
});

Deno.test("checkRequestHead() refuses escapes that a router would decode into a plain path", () => {
  // `/%61pi/state` is `/api/state` to the router but not to a check on the raw path.
  for (
    const path of [
      "/%61pi/state",
      "/%41pi",
      "/api%2Fstate",
      "/%2e%2e/api",
      "/a%7e",
      "/%5f",
      "/%25",
      "/%3",
      "/%zz",
    ]
  ) {
    assert.equal(status(`GET ${path} HTTP/1.1\r\n\r\n`), 400, path);
  }
});

Deno.test("checkRequestHead() refuses what only an attacker sends", () => {
  assert.equal(status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 501);
  assert.equal(status("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"), 400);
  assert.equal(status("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
  assert.equal(status("GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\n"), 400);
  assert.equal(status("GET http://evil/ HTTP/1.1\r\n\r\n"), 400);
  assert.equal(status("GET / HTTP/2.0\r\n\r\n"), 505);
  assert.equal(status("GET /a b HTTP/1.1\r\n\r\n"), 400);
  assert.equal(status("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"), 400);
  assert.equal(status("GET / HTTP/1.1\r\nX: caf\u00e9\r\n\r\n"), 400);
  assert.throws(
    () => findRequestHead(te.encode("GET / HTTP/1.1\r\nX: " + "a".repeat(MAX_HEAD_BYTES))),
    (e: unknown) => e instanceof WebError && e.status === 431,
  );
});
