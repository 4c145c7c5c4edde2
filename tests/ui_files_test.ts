/**
 * Sending a file in Chromium between two real node processes: Alice picks a
 * file with the Send file button, Bob accepts the offer in his conversation,
 * both progress bars move, and the file Bob's client saved has the same
 * digest. Playwright needs more than the test run's permissions, so the test
 * re-runs this file as a driver with --allow-all (see ui_workflow_test.ts).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { browserTest, launchChromium, newContext, openUi, screenshot } from "./_helpers/browser.ts";
import { link, startChat } from "./_helpers/chat.ts";
import { sha256File, writeTestFile } from "./_helpers/files.ts";
import { NodeProc, tempRoot } from "./_helpers/node_proc.ts";

/** Records every value the page's file progress bars take. */
async function watchProgress(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: number[] = [];
    (globalThis as unknown as { seen: number[] }).seen = seen;
    const record = () => {
      for (const p of document.querySelectorAll("progress")) seen.push(p.value / p.max);
    };
    new MutationObserver(record).observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ["value"],
    });
  });
}

const seen = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { seen: number[] }).seen);

async function uiFiles(): Promise<void> {
  const root = await tempRoot("ui-files");
  const nodes: NodeProc[] = [];
  const browser = await launchChromium();
  try {
    const alice = await NodeProc.create({ id: "alice", root, withClient: true });
    const bob = await NodeProc.create({ id: "bob", root, withClient: true, open: true });
    nodes.push(alice, bob);
    await link(alice, bob);
    await startChat(alice, "alice@alice", bob, "bob@bob");
    const src = join(root, "holiday photos.bin");
    await writeTestFile(src, 80_000_000, 3);

    const a = await openUi(await newContext(browser), alice.uiUrl());
    const b = await openUi(await newContext(browser), bob.uiUrl());
    await a.goto(new URL("/chat/bob%40bob", a.url()).href);
    await b.goto(new URL("/chat/alice%40alice", b.url()).href);
    await a.waitForSelector("html[data-hydrated]");
    await b.waitForSelector("html[data-hydrated]");
    await watchProgress(a);
    await watchProgress(b);

    // Alice: the Send File button ("Attach file") opens the file chooser.
    const [chooser] = await Promise.all([
      a.waitForEvent("filechooser"),
      a.getByRole("button", { name: "Attach a file for bob@bob" }).click(),
    ]);
    await chooser.setFiles(src);
    await a.locator(".file-out[data-state=offered]").waitFor({ timeout: 30_000 });

    // Bob sees the offer with its name and size, and accepts it.
    const offer = b.locator(".file-in[data-state=offered]");
    await offer.waitFor({ timeout: 15_000 });
    assert.match(await offer.innerText(), /holiday photos\.bin[\s\S]*80\.0 MB/);
    await screenshot(b, "files-offer");
    await offer.getByRole("button", { name: "Accept file" }).click();

    await b.locator(".file-in[data-state=complete]").waitFor({ timeout: 60_000 });
    await a.locator(".file-out[data-state=complete]").waitFor({ timeout: 15_000 });
    await screenshot(b, "files-complete");
    const moving = (xs: number[]) => xs.some((x) => x > 0 && x < 1);
    assert.ok(moving(await seen(b)), `bob's bar never moved: ${await seen(b)}`);
    assert.ok(moving(await seen(a)), `alice's bar never moved: ${await seen(a)}`);

    const saved = await b.locator(".file-in .file-path").innerText();
    assert.match(saved, /holiday photos\.bin$/);
    assert.equal(await sha256File(saved), await sha256File(src));
  } finally {
    await browser.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

browserTest({
  name: "UI: send a file with the button; both progress bars move; it arrives with the same digest",
  file: import.meta.url,
  drive: uiFiles,
});
