/**
 * Mailboxes clicked through in Chromium against three real node processes
 * (default mode: node, client core and UI in one process each) on 127.0.0.1
 * with real TLS, linked alice–m–bob. In the federation screen bob's owner
 * names m as his mailbox and m's owner serves bob (bad input first: the error
 * is shown); bob goes offline; alice's messages show "stored at mailbox m";
 * alice goes offline; bob comes back and his window shows them once each, in
 * order; alice comes back and her window shows them delivered. The pages stay
 * open across the restarts (fixed UI ports, the token file): they reconnect.
 * Playwright needs more than the test run's permissions, so the test re-runs
 * this file as a driver with --allow-all (see tests/_helpers/browser.ts).
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { browserTest, launchChromium, newContext, openUi, screenshot } from "./_helpers/browser.ts";
import { history, link, startChat } from "./_helpers/chat.ts";
import { freePort, NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";
import { send } from "./_helpers/ui_workflow.ts";

/** Generous for a loaded machine; every wait below is bounded by it. */
const WAIT_MS = 60_000;
const TEXTS = ["first while you were away", "second while you were away", "third, and last"];

function node(id: string, root: string): Promise<NodeProc> {
  // A fixed UI port: a page stays open across a restart of its node and reconnects.
  return NodeProc.create({
    id,
    root,
    open: true,
    withClient: true,
    extra: `[UI]\nport = ${freePort()}\n`,
  });
}

async function reachable(n: NodeProc, id: string): Promise<boolean> {
  const routes = (await n.admin("routes")) as Array<{ node: string; reachable: boolean }>;
  return routes.some((r) => r.node === id && r.reachable);
}

async function goTo(page: Page, path: string): Promise<void> {
  await page.goto(new URL(path, page.url()).href);
  await page.waitForSelector("html[data-hydrated]");
}

/** The mailbox section's inline error, once it says `text`. */
async function shownError(page: Page, text: string | RegExp): Promise<void> {
  await page.getByRole("region", { name: "Mailboxes" }).getByRole("alert").filter({
    hasText: text,
  }).waitFor();
}

/** Texts of the incoming messages in the open conversation, as drawn. */
async function incoming(page: Page): Promise<string[]> {
  return (await page.locator(".msg.in .text").allTextContents()).filter((t) => TEXTS.includes(t));
}

async function mailboxFlow(): Promise<void> {
  const root = await tempRoot("ui-mailbox");
  const nodes: NodeProc[] = [];
  const browser = await launchChromium();
  try {
    const alice = await node("alice", root);
    const m = await node("m", root);
    const bob = await node("bob", root);
    nodes.push(alice, m, bob);
    await link(alice, m);
    await link(bob, m);
    const page = async (n: NodeProc) => {
      const p = await openUi(await newContext(browser), n.uiUrl());
      p.setDefaultTimeout(WAIT_MS);
      return p;
    };
    const [a, mp, b] = [await page(alice), await page(m), await page(bob)];

    // 1. Bob's owner names m as his mailbox; what is wrong is said, in words.
    await goTo(b, "/federation");
    const mine = b.getByLabel("Mailbox", { exact: true });
    const add = b.getByRole("button", { name: "Add mailbox" });
    await mine.fill("Bad Id!");
    await add.click();
    await shownError(b, 'bad node id "Bad Id!"');
    await mine.fill("bob");
    await add.click();
    await shownError(b, "Cannot add: a node is not its own mailbox");
    await mine.fill("m");
    await add.click();
    await b.locator('li[data-mailbox="m"]').getByText("reachable", { exact: true }).waitFor();
    assert.equal(await b.getByRole("region", { name: "Mailboxes" }).getByRole("alert").count(), 0);
    await screenshot(b, "mailbox-mine");

    // 2. M's owner serves bob, with a quota (a bad one first).
    await goTo(mp, "/federation");
    await mp.getByLabel("Node to serve").fill("bob");
    await mp.getByLabel("Quota (optional)").fill("8 parsecs");
    await mp.getByRole("button", { name: "Serve", exact: true }).click();
    await shownError(mp, 'Cannot read size "8 parsecs"');
    await mp.getByLabel("Quota (optional)").fill("8M");
    await mp.getByRole("button", { name: "Serve", exact: true }).click();
    const served = mp.locator('li[data-served="bob"]');
    await served.getByText("holding 0 B of 8.39 MB").waitFor();
    await screenshot(mp, "mailbox-served");
    // The node did what the screen says (the CLI's twins read the same settings).
    assert.deepEqual(
      ((await bob.admin("mailbox-list")) as Array<{ node: string }>).map((x) => x.node),
      ["m"],
    );
    const quota = (await m.admin("mailbox-served")) as Array<{ node: string; quotaBytes: number }>;
    assert.deepEqual(quota.map((s) => [s.node, s.quotaBytes]), [["bob", 8 * 1024 * 1024]]);

    // 3. Alice and bob have an accepted chat; alice's node has heard bob name m.
    await startChat(alice, "alice@alice", bob, "bob@bob");
    await waitUntil("alice knows bob's mailbox", async () => {
      const routes = (await alice.admin("routes")) as Array<{ node: string; mailboxes?: string[] }>;
      return routes.some((r) => r.node === "bob" && r.mailboxes?.includes("m"));
    }, WAIT_MS);
    await goTo(a, "/?chat=bob@bob");
    await a.getByRole("heading", { name: "bob@bob" }).waitFor();
    await goTo(b, "/?chat=alice@alice");
    await b.getByRole("heading", { name: "alice@alice" }).waitFor();

    // 4. Bob goes offline; alice writes; her window says where the messages wait.
    await bob.stop();
    await waitUntil(
      "bob unreachable from alice",
      async () => !(await reachable(alice, "bob")),
      WAIT_MS,
    );
    for (const text of TEXTS) {
      await send(a, text);
      await a.locator(".msg.out", { hasText: text }).waitFor();
    }
    for (const text of TEXTS) {
      const msg = a.locator(".msg.out", { hasText: text });
      await a.locator(".msg.out[data-state='held']", { hasText: text }).waitFor();
      assert.equal((await msg.locator(".state").textContent())?.trim(), "✓ stored at mailbox m");
    }
    await screenshot(a, "mailbox-held");
    // M's screen counts what it holds for bob.
    await served.getByText(/^holding [1-9]/).waitFor();

    // 5. Alice goes offline; bob comes back: his window shows each message once, in order.
    await alice.stop();
    await bob.start();
    await waitUntil(
      "bob's window has the three",
      async () => (await incoming(b)).length >= 3,
      WAIT_MS,
    );
    assert.deepEqual(await incoming(b), TEXTS);
    await screenshot(b, "mailbox-delivered-bob");

    // 6. Alice comes back: her window shows them delivered (read, once bob's receipt came).
    await alice.start();
    await waitUntil(
      "alice's window shows them delivered",
      async () => {
        const states = await a.locator(".msg.out").evaluateAll((els) =>
          els.map((e) => e.getAttribute("data-state"))
        );
        return states.length === TEXTS.length &&
          states.every((s) => s === "delivered" || s === "read");
      },
      WAIT_MS,
    );
    for (const text of TEXTS) {
      const label = await a.locator(".msg.out", { hasText: text }).locator(".state").textContent();
      assert.match(label ?? "", /^✓✓ (delivered|read)$/);
    }
    await screenshot(a, "mailbox-delivered-alice");
    // Nothing was shown twice meanwhile; the client cores hold what the windows showed.
    assert.deepEqual(await incoming(b), TEXTS);
    const got = (await history(bob, "alice@alice")).filter((x) => x.direction === "in");
    assert.deepEqual(got.map((x) => x.text), TEXTS);
  } finally {
    await browser.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

browserTest({
  name: "UI: mailboxes set in the federation screen; 'stored at mailbox m'; delivery after the " +
    "sender went offline, in three browsers against three real nodes",
  file: import.meta.url,
  drive: mailboxFlow,
});
