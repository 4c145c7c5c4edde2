/**
 * The UI's sign-in against a real process in Chromium: what another loopback
 * port can get from the owner's browser, what survives a restart, and
 * signing browsers out (the Node screen's button and `fedchat ui-signout`).
 *
 * The attack on main: cookies ignore ports, so a page on any other
 * 127.0.0.1 port received the UI cookie (an HMAC of the token, the same
 * after restarts), and replaying it gave `GET /api/state` 200 and
 * `POST /api/command {connect}` 200. Here the other port is a server of the
 * test's own; everything it receives or can read in the browser is replayed
 * to the UI, which must refuse it all.
 *
 * Playwright needs more than the test run's permissions (it probes /proc),
 * so the test re-runs this file as a driver with --allow-all.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { browserTest, launchChromium, newContext, openUi } from "./_helpers/browser.ts";
import { freePort, NodeProc, runCli, tempRoot } from "./_helpers/node_proc.ts";

/** One request to the UI port; its status. */
async function statusOf(url: string, init: RequestInit = {}): Promise<number> {
  const res = await fetch(url, init);
  await res.body?.cancel();
  return res.status;
}

/** What a page on another loopback port got from the owner's browser. */
interface OtherPortHaul {
  /** Every request header value the other port's server received. */
  headers: string[];
  /** What its page could read: cookies and both storages of its own origin. */
  readable: string[];
}

/** Serves a page on another loopback port that reports everything it can see. */
function startOtherPort(): { url: string; haul: OtherPortHaul; stop(): Promise<void> } {
  const haul: OtherPortHaul = { headers: [], readable: [] };
  const page = `<!doctype html><body><script>
    const seen = [document.cookie];
    for (const s of [localStorage, sessionStorage]) {
      for (let i = 0; i < s.length; i++) seen.push(s.key(i), s.getItem(s.key(i)));
    }
    fetch("/report", { method: "POST", body: JSON.stringify(seen) })
      .then(() => document.body.dataset.reported = "yes");
  </script></body>`;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    for (const [k, v] of req.headers) haul.headers.push(`${k}: ${v}`);
    if (req.method === "POST") {
      haul.readable.push(...(await req.json() as string[]).filter((x) => x));
      return new Response("ok");
    }
    return new Response(page, { headers: { "content-type": "text/html" } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    haul,
    stop: () => server.shutdown(),
  };
}

async function credentials(page: Page): Promise<{ session: string | null; token: string | null }> {
  return await page.evaluate(() => ({
    session: localStorage.getItem("fedchat.session"),
    token: sessionStorage.getItem("fedchat.token"),
  }));
}

async function live(page: Page): Promise<void> {
  await page.getByRole("status", { name: "Connection: live" }).waitFor({ timeout: 20_000 });
}

async function sessionScenario(browser: Browser): Promise<void> {
  const root = await tempRoot("ui-session");
  const uiPort = freePort();
  const alice = await NodeProc.create({
    id: "alice",
    root,
    withClient: true,
    extra: `[UI]\nport = ${uiPort}\n`,
  });
  const other = startOtherPort();
  try {
    const ui = `http://127.0.0.1:${uiPort}`;
    const url = alice.uiUrl();
    const context = await newContext(browser);
    const page = await openUi(context, url);
    await live(page);
    assert.equal(new URL(page.url()).searchParams.has("token"), false, "the token left the URL");
    const held = await credentials(page);
    assert.ok(held.session && held.token, "the page holds a session and the tab holds the token");

    // 1. A page on another loopback port, in the same browser, gets nothing to replay.
    const spy = await context.newPage();
    await spy.goto(other.url);
    await spy.waitForSelector("body[data-reported]", { state: "attached" });
    const haul = [...other.haul.headers, ...other.haul.readable];
    for (const secret of [held.session!, held.token!]) {
      assert.equal(haul.some((h) => h.includes(secret)), false, "a credential reached the port");
    }
    const cookies = other.haul.headers.filter((h) => h.startsWith("cookie: ")).map((h) =>
      h.slice(8)
    );
    const candidates = [...cookies, ...haul.flatMap((h) => h.split(/[;=:,\s]+/))]
      .filter((x) => x.length >= 20);
    for (const c of [...cookies, ...candidates]) {
      const as: Record<string, string>[] = [
        { cookie: c },
        { "x-fedchat-session": c },
        { authorization: `Bearer ${c}` },
      ];
      for (const headers of as) {
        assert.equal(await statusOf(`${ui}/api/state`, { headers }), 401, "replayed: refused");
        assert.equal(
          await statusOf(`${ui}/api/command`, {
            method: "POST",
            headers: { ...headers, origin: ui, "content-type": "application/json" },
            body: JSON.stringify({ kind: "connect", host: "127.0.0.1", port: 9, nodeId: "evil" }),
          }),
          401,
          "replayed connect: refused",
        );
      }
    }
    // The baseline those refusals differ from: the page's own session is accepted.
    const mine = { "x-fedchat-session": held.session! };
    assert.equal(await statusOf(`${ui}/api/state`, { headers: mine }), 200);

    // A tab opened by hand on the bare address shares the session while the process runs.
    const tab = await context.newPage();
    await tab.goto(`${ui}/directory`);
    await tab.waitForSelector("html[data-hydrated]");
    await tab.close();

    // 2. Sessions die with the process; the open page signs in again by itself.
    await alice.stop();
    await alice.start();
    assert.equal(await statusOf(`${ui}/api/state`, { headers: mine }), 401, "old session dead");
    await live(page);
    const renewed = await credentials(page);
    assert.ok(renewed.session && renewed.session !== held.session);
    assert.equal(
      await statusOf(`${ui}/api/state`, { headers: { "x-fedchat-session": renewed.session! } }),
      200,
    );

    // 3. The Node screen signs the other browsers out; this one stays in.
    const second = await openUi(await newContext(browser), url);
    await live(second);
    await page.goto(`${ui}/node`);
    await page.waitForSelector("html[data-hydrated]");
    await page.getByRole("button", { name: "Sign out other browsers" }).click();
    await second.waitForSelector("html[data-signed-out]", { timeout: 20_000 });
    await second.getByRole("status", { name: "Connection: signed out" }).waitFor();
    await page.goto(`${ui}/`);
    await page.waitForSelector("html[data-hydrated]");
    await live(page);
    const stale = await (await newContext(browser)).newPage();
    await stale.goto(url);
    await stale.waitForSelector("html[data-signed-out]");
    assert.equal(await stale.locator("html[data-hydrated]").count(), 0, "old address: no data");

    // 4. `fedchat ui-signout` signs every browser out and prints a new address that works.
    const before = (await credentials(page)).session!;
    const out = await runCli(["ui-signout", "--config", alice.configPath]);
    assert.equal(out.code, 0, out.stdout + out.stderr);
    const fresh = /open (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(out.stdout)?.[1];
    assert.ok(fresh, out.stdout);
    await page.waitForSelector("html[data-signed-out]", { timeout: 20_000 });
    assert.equal(
      await statusOf(`${ui}/api/state`, { headers: { "x-fedchat-session": before } }),
      401,
    );
    const again = await openUi(await newContext(browser), fresh);
    await live(again);
    const printed = await runCli(["ui-url", "--config", alice.configPath]);
    assert.equal(printed.stdout.trim(), fresh);
  } finally {
    await other.stop();
    await alice.stop();
  }
}

browserTest({
  name: "UI sessions: nothing for other loopback ports, dead after a restart, signed out on demand",
  file: import.meta.url,
  drive: async () => {
    const browser = await launchChromium();
    try {
      await sessionScenario(browser);
    } finally {
      await browser.close();
    }
  },
});
