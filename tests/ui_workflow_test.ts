/**
 * The seed's example workflow clicked through in headless Chromium, two
 * browser contexts (Alice's and Bob's browsers): connect by host, port and
 * node id; see the other user in the directory; request; accept in the
 * dialog; chat both ways with timestamps; open a conversation in its own
 * window. Then what only a fake can stage: a link waiting for approval, a
 * key change that stops sending, and the page signing in again and its event
 * socket reconnecting after the process restarts (sessions die with the
 * process; the tab's token answers a new challenge). Every screen is saved
 * under .tmp/screenshots/.
 *
 * `chatWorkflow` takes two UI URLs, so the same scenario runs against real
 * nodes. Playwright needs more than the test run's permissions (it probes
 * /proc), so the test re-runs this file as a driver with --allow-all, like
 * tests/e2e_browser_test.ts.
 */
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { browserTest, launchChromium, newContext, openUi, screenshot } from "./_helpers/browser.ts";
import { chatWorkflow, send } from "./_helpers/ui_workflow.ts";
import { FakeNetwork } from "./_helpers/fake_client.ts";
import { startTestUi } from "./_helpers/ui_server.ts";

async function fakeWorkflow(browser: Browser): Promise<void> {
  const net = new FakeNetwork();
  const alice = net.client("alice@alice");
  const bob = net.client("bob@bob");
  net.extraUsers.push({ address: "carol@carol", node: "carol", presence: "offline" });
  const tmp = await Deno.makeTempDir({ dir: ".tmp", prefix: "ui-workflow-" });
  const uiA = await startTestUi({ client: alice, tokenFile: `${tmp}/a.token` });
  const uiB = await startTestUi({ client: bob, tokenFile: `${tmp}/b.token` });
  let uiA2: Awaited<ReturnType<typeof startTestUi>> | null = null;
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
    const sendButton = a.getByRole("button", { name: "Send" });
    // The warning and the disabled button come in one render, but give it a moment (bounded).
    for (let i = 0; i < 50 && !(await sendButton.isDisabled()); i++) await a.waitForTimeout(50);
    assert.equal(await sendButton.isDisabled(), true);
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
    uiA2 = await startTestUi({ client: alice, port: uiA.port, tokenFile: `${tmp}/a.token` });
    await a.getByRole("status", { name: "Connection: live" }).waitFor({ timeout: 15_000 });
    await bob.send("alice@alice", "After the restart");
    await a.locator(".msg.in", { hasText: "After the restart" }).waitFor();

    // Without JavaScript the shell paints and says why it goes no further; it holds no data.
    const plain = await browser.newContext({
      javaScriptEnabled: false,
      viewport: { width: 1100, height: 720 },
    });
    const p = await plain.newPage();
    await p.goto(uiB.url);
    await p.getByText("needs JavaScript").waitFor();
    assert.equal((await p.content()).includes("alice@alice"), false, "no data in the shell");
    await screenshot(p, "chat-no-js");
    await plain.close();
  } finally {
    await uiA2?.close();
    await uiA.close();
    await uiB.close();
  }
}

browserTest({
  name: "UI: the seed's workflow in two browsers, pop-out, key change, approvals, restart",
  file: import.meta.url,
  drive: async () => {
    const browser = await launchChromium();
    try {
      await fakeWorkflow(browser);
    } finally {
      await browser.close();
    }
  },
});
