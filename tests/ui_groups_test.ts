/**
 * Group chats clicked through in Chromium: three real node processes on
 * 127.0.0.1 with real TLS (default mode: node, client core and UI in one
 * process each), three browser contexts, one per user on its user's UI.
 * Alice creates a group in the "New group" dialog (bob picked from the
 * directory, carol typed), bob and carol accept in the request dialog, all
 * three chat (each sees every message once, in order, with sender, time and,
 * for their own, "delivered to N of M, read by K"), the members panel shows
 * safety numbers, alice removes carol: carol's window says so and she does
 * not get what follows. Then the group in its own window. Every screen is
 * saved under .tmp/screenshots/. Playwright needs more than the test run's
 * permissions, so the test re-runs this file as a driver with --allow-all
 * (see ui_workflow_test.ts).
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { browserTest, launchChromium, newContext, openUi, screenshot } from "./_helpers/browser.ts";
import { link } from "./_helpers/chat.ts";
import { converged, groupsOf, owner, textsIn } from "./_helpers/groups.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";
import { send } from "./_helpers/ui_workflow.ts";

/** A name a peer chose: shown as text, never as markup. */
const NAME = "Weekend <b>plans</b> & more";
const TIME = /^\d{2}:\d{2}$/;
const WAIT = { timeout: 60_000 };

/** The texts of a group window's messages, in the order shown. */
async function texts(page: Page): Promise<string[]> {
  return await page.locator(".group-window .msg .text").allTextContents();
}

/** Waits until `page` shows exactly `expected` as its messages (bounded). */
async function shows(page: Page, expected: string[], who: string): Promise<void> {
  let last: string[] = [];
  await waitUntil(`${who} shows ${JSON.stringify(expected)}`, async () => {
    last = await texts(page);
    return last.length >= expected.length;
  }, 60_000).catch((e) => {
    throw new Error(`${(e as Error).message}; shows ${JSON.stringify(last)}`);
  });
  assert.deepEqual(await texts(page), expected, `${who} shows each message once, in order`);
}

async function groupWorkflow(): Promise<void> {
  const root = await tempRoot("ui-groups");
  const nodes: NodeProc[] = [];
  const browser = await launchChromium();
  try {
    // One after another: three starting at once can miss their start deadline on a busy machine.
    for (const id of ["alice", "bob", "carol"]) {
      nodes.push(await NodeProc.create({ id, root, open: true, withClient: true }));
    }
    const [na, nb, nc] = nodes;
    await link(na, nb);
    await link(na, nc);
    await link(nb, nc);
    const alice = owner(na), bob = owner(nb), carol = owner(nc);
    await waitUntil("bob and carol in alice's directory", async () => {
      const d = await alice.admin("client-directory") as Array<{ address: string }>;
      return ["bob@bob", "carol@carol"].every((x) => d.some((u) => u.address === x));
    }, 60_000);

    const a = await openUi(await newContext(browser), na.uiUrl());
    const b = await openUi(await newContext(browser), nb.uiUrl());
    const c = await openUi(await newContext(browser), nc.uiUrl());

    // 1. Alice makes the group in the dialog: bob from the directory, carol typed.
    await a.getByRole("button", { name: "New group" }).click();
    const dialog = a.getByRole("dialog", { name: "New group" });
    await dialog.getByLabel("Group name").fill(NAME);
    await dialog.getByLabel("bob@bob").check();
    await dialog.getByLabel("Or type addresses").fill("carol@carol");
    await screenshot(a, "group-new");
    await dialog.getByRole("button", { name: "Create group" }).click();
    await dialog.waitFor({ state: "hidden" });
    const winA = a.locator(".group-window");
    await winA.getByRole("heading", { name: NAME }).waitFor(WAIT);
    const g = (await groupsOf(alice))[0].id;

    // The invitations go out once both invitees' clients have published key packages (they
    // do at start; on a slow machine the first try can come too early): retry in the panel.
    await a.getByRole("button", { name: "Members", exact: true }).click();
    const panelA = a.getByRole("complementary", { name: `Members of ${NAME}` });
    for (let attempt = 0;; attempt++) {
      const done = await waitUntil("the home node took both invitations", async () => {
        const v = (await groupsOf(alice)).find((x) => x.id === g);
        return v?.members === 3 && v.pending === null;
      }, 20_000).then(() => true, () => false);
      if (done) break;
      assert.ok(attempt < 4, "alice could invite bob and carol");
      const invited = await panelA.locator("li.member").evaluateAll((els) =>
        els.map((e) => e.getAttribute("data-address"))
      );
      const missing = ["bob@bob", "carol@carol"].filter((x) => !invited.includes(x));
      if (missing.length === 0) continue;
      await panelA.getByLabel("Address to invite").fill(missing.join(" "));
      await panelA.getByRole("button", { name: "Invite" }).click();
    }

    // 2. Bob and carol get the invitation in the request dialog, with the name as text.
    for (const [page, who] of [[b, "bob"], [c, "carol"]] as const) {
      const inv = page.getByRole("dialog", { name: "Group invitation" });
      await inv.waitFor(WAIT);
      assert.equal(await inv.locator(".address").textContent(), "alice@alice");
      assert.equal(await inv.locator(".group-name").textContent(), NAME);
      assert.equal(await inv.locator(".group-name b").count(), 0, "a peer's name is not markup");
      assert.match((await inv.locator(".fingerprint").textContent()) ?? "", /\S/);
      await screenshot(page, `group-invitation-${who}`);
      await inv.getByRole("button", { name: "Accept" }).click();
      await inv.waitFor({ state: "hidden" });
      await page.locator(".group-window").getByRole("heading", { name: NAME }).waitFor(WAIT);
    }
    await converged([alice, bob, carol], g, 90_000);

    // 3. All three chat; each sees every message once, in order.
    const m1 = "Hello team, alice here";
    const m2 = "Bob says hi <i>back</i>";
    const m3 = "Carol too";
    await send(a, m1);
    await shows(b, [m1], "bob");
    await shows(c, [m1], "carol");
    await send(b, m2);
    await shows(a, [m1, m2], "alice");
    await shows(c, [m1, m2], "carol");
    await send(c, m3);
    for (const [page, who] of [[a, "alice"], [b, "bob"], [c, "carol"]] as const) {
      await shows(page, [m1, m2, m3], who);
      const times = await page.locator(".group-window .msg time").allTextContents();
      assert.equal(times.length, 3);
      for (const t of times) assert.match(t.trim(), TIME);
    }
    assert.equal(await b.locator(".group-window .msg .text i").count(), 0, "text, not markup");
    assert.equal(
      await b.locator(".msg.in", { hasText: m1 }).locator(".sender").textContent(),
      "alice@alice",
    );
    // Alice's first message: delivered to both, then read by both (their windows are open).
    await a.locator(".msg.out", { hasText: m1 }).getByText("delivered to 2 of 2, read by 2")
      .waitFor(WAIT);
    await screenshot(a, "group-chat-alice");
    await screenshot(b, "group-chat-bob");
    await screenshot(c, "group-chat-carol");

    // 4. The members panel: roles, fingerprints, safety numbers.
    for (const who of ["alice@alice", "bob@bob", "carol@carol"]) {
      await panelA.locator(`li.member[data-address="${who}"]`).waitFor(WAIT);
    }
    await panelA.locator('li.member[data-address="bob@bob"] .badge', { hasText: "invited" })
      .waitFor({ state: "detached", ...WAIT });
    const bobRow = panelA.locator('li.member[data-address="bob@bob"]');
    assert.match((await bobRow.locator(".digits").textContent()) ?? "", /^(\d{5} ){11}\d{5}$/);
    assert.match((await bobRow.locator(".fingerprint").textContent()) ?? "", /\S/);
    assert.equal(
      await panelA.locator('li.member[data-address="alice@alice"] .badge').first().textContent(),
      "admin",
    );
    await screenshot(a, "group-members");

    // 5. Alice removes carol: carol's window says so.
    a.once("dialog", (d) => void d.accept());
    await panelA.getByRole("button", { name: "Remove carol@carol" }).click();
    await c.getByRole("status").filter({ hasText: "You were removed from this group" })
      .waitFor(WAIT);
    assert.equal(await c.locator(".group-window textarea").isDisabled(), true);
    await screenshot(c, "group-removed-carol");
    await converged([alice, bob], g, 90_000);
    await panelA.locator('li.member[data-address="carol@carol"]').waitFor({
      state: "detached",
      ...WAIT,
    });

    // 6. What follows reaches bob, not carol.
    const m4 = "Now just the two of us";
    const m5 = "Indeed";
    await send(a, m4);
    await shows(b, [m1, m2, m3, m4], "bob");
    await send(b, m5);
    await shows(a, [m1, m2, m3, m4, m5], "alice");
    assert.deepEqual(await texts(c), [m1, m2, m3], "carol's window gets nothing after removal");
    const carolHas = await textsIn(carol, g);
    assert.ok(!carolHas.includes(m4) && !carolHas.includes(m5), "carol's client has none of it");

    // 7. The group in its own window.
    const [popup] = await Promise.all([
      a.context().waitForEvent("page"),
      a.getByRole("button", { name: `Open group ${NAME} in its own window` }).click(),
    ]);
    await popup.waitForSelector("html[data-hydrated]");
    assert.equal(new URL(popup.url()).pathname, `/group/${encodeURIComponent(g)}`);
    await popup.locator(".msg", { hasText: m5 }).waitFor(WAIT);
    await send(popup, "Sent from the group's own window");
    await b.locator(".msg.in", { hasText: "Sent from the group's own window" }).waitFor(WAIT);
    await screenshot(popup, "group-popout");
    await popup.close();
  } finally {
    await browser.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

browserTest({
  name:
    "UI: groups in three browsers against three real nodes: create, invite, accept, chat, remove",
  file: import.meta.url,
  drive: groupWorkflow,
});
