/**
 * The seed's example workflow clicked through in headless Chromium, two
 * browser contexts (Alice's and Bob's browsers): connect by host, port and
 * node id; see the other user in the directory; request; accept in the
 * dialog; chat both ways with timestamps; open a conversation in its own
 * window. Then what only a fake can stage: a link waiting for approval, a
 * key change that stops sending, and the event socket reconnecting after the
 * process restarts. Every screen is saved under .tmp/screenshots/.
 *
 * `chatWorkflow` takes two UI URLs, so the same scenario runs against real
 * nodes. Playwright needs more than the test run's permissions (it probes
 * /proc), so the test re-runs this file as a driver with --allow-all, like
 * tests/e2e_browser_test.ts.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { SILENT_LOGGER } from "../lib/log.ts";
import { startUiServer } from "../lib/web/mod.ts";
import { launchChromium, newContext, openUi, screenshot } from "./_helpers/browser.ts";
import { FakeNetwork } from "./_helpers/fake_client.ts";

/** One side of the workflow. */
export interface WorkflowUser {
  /** The UI's token URL. */
  url: string;
  /** `name@node`. */
  address: string;
  /** Where the other side's node listens, for the connect form. */
  connectTo?: { host: string; port: number; nodeId: string };
}

const TIME = /^\d{2}:\d{2}$/;

async function send(page: Page, text: string): Promise<void> {
  const box = page.locator(".composer textarea");
  await box.fill(text);
  await box.press("Enter");
}

/**
 * The seed's example workflow between `alice` and `bob`, each a UI URL.
 *
 * @returns the pages, for callers that continue the scenario
 */
export async function chatWorkflow(
  browser: Browser,
  alice: WorkflowUser,
  bob: WorkflowUser,
): Promise<{ alicePage: Page; bobPage: Page }> {
  const a = await openUi(await newContext(browser), alice.url);
  const b = await openUi(await newContext(browser), bob.url);

  // 1. Alice links her node to Bob's: host, port, node id.
  const target = alice.connectTo;
  if (target) {
    await a.goto(new URL("/federation", a.url()).href);
    await a.waitForSelector("html[data-hydrated]");
    await a.getByLabel("Host").fill(target.host);
    await a.getByLabel("Port").fill(String(target.port));
    await a.getByLabel("Node id").fill(target.nodeId);
    await a.getByRole("button", { name: "Connect", exact: true }).click();
    await a.locator(`tr[data-peer="${target.nodeId}"]`).waitFor();
    await screenshot(a, "federation");
  }

  // 2. Alice sees Bob in the directory and asks to chat.
  await a.goto(new URL("/directory", a.url()).href);
  await a.waitForSelector("html[data-hydrated]");
  const row = a.locator(`li[data-address="${bob.address}"]`);
  await row.waitFor({ timeout: 15_000 });
  await screenshot(a, "directory");
  await a.getByRole("button", { name: `Request chat with ${bob.address}` }).click();
  await row.getByText("Request sent").waitFor();

  // 3. Bob gets the modal dialog with Alice's address and key fingerprint, and accepts.
  const dialog = b.getByRole("dialog", { name: "Chat request" });
  await dialog.waitFor();
  assert.equal(await dialog.locator(".address").textContent(), alice.address);
  assert.match((await dialog.locator(".fingerprint").textContent()) ?? "", /\S/);
  await screenshot(b, "request-dialog");
  await dialog.getByRole("button", { name: "Accept" }).click();
  await dialog.waitFor({ state: "hidden" });
  await b.getByRole("heading", { name: alice.address }).waitFor();

  // 4. Both chat, both ways, with timestamps.
  await a.goto(new URL(`/?chat=${encodeURIComponent(bob.address)}`, a.url()).href);
  await a.waitForSelector("html[data-hydrated]");
  await a.getByRole("heading", { name: bob.address }).waitFor();
  await send(a, "Hello Bob, it is Alice");
  await b.locator(".msg.in", { hasText: "Hello Bob, it is Alice" }).waitFor();
  await send(b, "Hi Alice! Bob here.");
  await a.locator(".msg.in", { hasText: "Hi Alice! Bob here." }).waitFor();
  await send(a, "Shall we test the pop-out window?");
  await b.locator(".msg.in", { hasText: "pop-out" }).waitFor();
  for (const page of [a, b]) {
    const times = await page.locator(".msg time").allTextContents();
    assert.ok(times.length >= 3, "every message shows a time");
    for (const t of times) assert.match(t.trim(), TIME);
    await page.locator(".day").first().waitFor();
  }
  await a.locator(".msg.out[data-state='read'], .msg.out[data-state='delivered']").first()
    .waitFor();
  await screenshot(a, "chat-alice");
  await screenshot(b, "chat-bob");

  // 5. Alice opens the conversation in its own window.
  const [popup] = await Promise.all([
    a.context().waitForEvent("page"),
    a.getByRole("button", { name: `Open conversation with ${bob.address} in its own window` })
      .click(),
  ]);
  await popup.waitForSelector("html[data-hydrated]");
  assert.equal(new URL(popup.url()).pathname, `/chat/${encodeURIComponent(bob.address)}`);
  await popup.locator(".msg", { hasText: "Hi Alice! Bob here." }).waitFor();
  await send(popup, "Sent from the pop-out");
  await b.locator(".msg.in", { hasText: "Sent from the pop-out" }).waitFor();
  await screenshot(popup, "popout");
  await popup.close();
  return { alicePage: a, bobPage: b };
}

async function fakeWorkflow(browser: Browser): Promise<void> {
  const net = new FakeNetwork();
  const alice = net.client("alice@alice");
  const bob = net.client("bob@bob");
  net.extraUsers.push({ address: "carol@carol", node: "carol", presence: "offline" });
  const tmp = await Deno.makeTempDir({ dir: ".tmp", prefix: "ui-workflow-" });
  const uiA = await startUiServer({
    client: alice,
    port: 0,
    tokenFile: `${tmp}/a.token`,
    log: SILENT_LOGGER,
  });
  const uiB = await startUiServer({
    client: bob,
    port: 0,
    tokenFile: `${tmp}/b.token`,
    log: SILENT_LOGGER,
  });
  let uiA2: Awaited<ReturnType<typeof startUiServer>> | null = null;
  try {
    const { alicePage: a } = await chatWorkflow(
      browser,
      {
        url: uiA.url,
        address: "alice@alice",
        connectTo: { host: "127.0.0.1", port: 8444, nodeId: "bob" },
      },
      { url: uiB.url, address: "bob@bob" },
    );

    // /help lists the commands; the safety number shows digits and a QR code.
    await send(a, "/help");
    await a.getByRole("region", { name: "Commands" }).getByText("/verify [ADDRESS]").waitFor();
    await screenshot(a, "help");
    await a.getByRole("button", { name: "Close help" }).click();
    await a.getByRole("button", { name: "Safety number", exact: true }).click();
    const safety = a.getByRole("complementary", { name: "Safety number with bob@bob" });
    assert.match((await safety.locator(".digits").textContent()) ?? "", /^(\d{5} ){11}\d{5}$/);
    await safety.getByRole("img", { name: "Safety number QR code" }).waitFor();
    await screenshot(a, "safety");
    await safety.getByRole("button", { name: "Close" }).click();

    // A key change stops sending until acknowledged.
    net.rotateKey("bob@bob");
    const warning = a.getByRole("alert").filter({ hasText: "key has changed" });
    await warning.waitFor();
    assert.equal(await a.getByRole("button", { name: "Send" }).isDisabled(), true);
    await screenshot(a, "key-change");
    await warning.getByRole("button", { name: "Accept new key" }).click();
    await warning.waitFor({ state: "hidden" });
    await send(a, "Key checked");
    await a.locator(".msg.out", { hasText: "Key checked" }).waitFor();

    // Node screen: id, fingerprints, invite and its QR code.
    await a.goto(new URL("/node", a.url()).href);
    await a.waitForSelector("html[data-hydrated]");
    assert.equal(await a.getByTestId("node-id").textContent(), "alice");
    await a.getByRole("img", { name: "QR code of the invite" }).waitFor();
    await screenshot(a, "node");

    // A link waiting for approval, approved from the federation screen.
    await a.goto(new URL("/federation", a.url()).href);
    await a.waitForSelector("html[data-hydrated]");
    alice.addPendingLink("dave");
    await a.getByRole("button", { name: "Approve link from dave" }).click();
    await a.locator(`tr[data-peer="dave"]`).getByText("up").waitFor();

    // Dark theme, by the system setting and by the toggle.
    const dark = await openUi(await newContext(browser, { colorScheme: "dark" }), uiB.url);
    await dark.locator(".msg", { hasText: "Hello Bob" }).waitFor();
    await screenshot(dark, "chat-dark");
    const bg = () => dark.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const darkBg = await bg();
    await dark.getByRole("button", { name: /^Theme: system/ }).click(); // → dark
    await dark.getByRole("button", { name: /^Theme: dark/ }).click(); // → light
    await dark.waitForSelector("html[data-theme='light']");
    assert.notEqual(await bg(), darkBg);
    await dark.context().close();

    // The page survives a restart of the process: same port, same token file.
    await a.goto(new URL(`/?chat=bob@bob`, a.url()).href);
    await a.waitForSelector("html[data-hydrated]");
    await a.getByRole("status", { name: "Connection: live" }).waitFor();
    await uiA.close();
    await a.getByRole("status", { name: "Connection: offline" }).or(
      a.getByRole("status", { name: "Connection: connecting…" }),
    ).first().waitFor();
    uiA2 = await startUiServer({
      client: alice,
      port: uiA.port,
      tokenFile: `${tmp}/a.token`,
      log: SILENT_LOGGER,
    });
    await a.getByRole("status", { name: "Connection: live" }).waitFor({ timeout: 15_000 });
    await bob.send("alice@alice", "After the restart");
    await a.locator(".msg.in", { hasText: "After the restart" }).waitFor();

    // Without JavaScript the shell still paints (server rendering).
    const plain = await browser.newContext({
      javaScriptEnabled: false,
      viewport: { width: 1100, height: 720 },
    });
    const p = await plain.newPage();
    await p.goto(uiB.url);
    await p.getByRole("heading", { name: "alice@alice" }).waitFor();
    await p.locator(".msg", { hasText: "Hello Bob" }).waitFor();
    await screenshot(p, "chat-no-js");
    await plain.close();
  } finally {
    await uiA2?.close();
    await uiA.close();
    await uiB.close();
  }
}

if (import.meta.main) {
  const browser = await launchChromium();
  try {
    await fakeWorkflow(browser);
  } finally {
    await browser.close();
  }
  // deno-lint-ignore no-console -- the driver reports its verdict to the parent test
  console.log("UI_WORKFLOW_OK");
} else {
  Deno.test({
    name: "UI: the seed's workflow in two browsers, pop-out, key change, approvals, restart",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", new URL(import.meta.url).pathname],
        cwd: new URL("..", import.meta.url).pathname,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.ok(
        out.success && stdout.includes("UI_WORKFLOW_OK"),
        `driver failed:\n${stdout}\n${stderr}`,
      );
    },
  });
}
