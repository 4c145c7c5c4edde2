/**
 * The seed's example workflow in two browser contexts, against any two UI
 * URLs (fake clients or real nodes). Used by ui_workflow_test.ts and
 * ui_real_nodes_test.ts.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { newContext, openUi, screenshot } from "./browser.ts";

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

export async function send(page: Page, text: string): Promise<void> {
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
    // The sender's own page may render its last message a moment after the receiver's.
    await page.locator(".msg", { hasText: "pop-out" }).locator("time").waitFor();
    await page.locator(".msg time").nth(2).waitFor();
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
