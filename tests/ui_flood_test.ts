/**
 * 5,000 hostile connections from one address against the UI port of a real
 * process, while the owner's browser uses the UI. On main every one of them
 * was held (silent, a header byte every 10 s, or an upgrade refused with 403
 * and then kept open) for as long as the attacker liked. Here each wave is
 * capped (`[UI] max_connections_per_address`, default 64), every connection
 * of it is closed by a deadline or a refusal, and meanwhile the signed-in
 * page stays live, a new browser signs in, and the API answers.
 *
 * Playwright needs more than the test run's permissions (it probes /proc),
 * so the test re-runs this file as a driver with --allow-all.
 */
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { browserTest, launchChromium, newContext, openUi } from "./_helpers/browser.ts";
import { freePort, NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";
import { type FloodMode, rssMiB, socketCount, startFlood } from "./_helpers/ui_flood.ts";

const FLOOD = 5000;
/** The default per-address cap; every flood connection comes from 127.0.0.1. */
const PER_ADDRESS = 64;
/** Short, so the test waits seconds, not minutes, for the deadline (the default is 10 s). */
const HEAD_TIMEOUT_MS = 3000;

async function floodScenario(browser: Browser): Promise<void> {
  const root = await tempRoot("ui-flood");
  const uiPort = freePort();
  const alice = await NodeProc.create({
    id: "alice",
    root,
    withClient: true,
    extra: `[UI]\nport = ${uiPort}\nhead_timeout_ms = ${HEAD_TIMEOUT_MS}\n`,
  });
  try {
    const pid = alice.pid!;
    const page = await openUi(await newContext(browser), alice.uiUrl());
    const live = page.getByRole("status", { name: "Connection: live" });
    await live.waitFor();
    const session = await page.evaluate(() => localStorage.getItem("fedchat.session"));
    const api = async () => {
      const res = await fetch(`http://127.0.0.1:${uiPort}/api/state`, {
        headers: { "x-fedchat-session": session! },
      });
      await res.body?.cancel();
      return res.status;
    };
    const before = socketCount(pid);
    for (const mode of ["silent", "slowloris", "refused-upgrade"] as FloodMode[]) {
      const flood = await startFlood({ port: uiPort, count: FLOOD, mode });
      try {
        const held = socketCount(pid) - before;
        // The owner's browser keeps working under the flood: its page, a new sign-in, the API.
        await live.waitFor();
        const fresh = await openUi(await newContext(browser), alice.uiUrl());
        await fresh.getByRole("status", { name: "Connection: live" }).waitFor();
        await fresh.context().close();
        assert.equal(await api(), 200, `${mode}: the API answers during the flood`);
        const most = Math.max(held, socketCount(pid) - before);
        const status = await alice.admin("ui-status") as { connections: { used: number } };
        // deno-lint-ignore no-console -- figures for the report
        console.log(
          `${mode}: ${flood.opened} opened; UI connections ${status.connections.used}, ` +
            `process sockets at most ${most} more than before, RSS ${rssMiB(pid)} MiB ` +
            "(measured under shared load)",
        );
        assert.ok(
          status.connections.used <= PER_ADDRESS,
          `${mode}: ${status.connections.used} held`,
        );
        // A few pushed-out ones may still be on their way out (the accept loop yields every 8).
        assert.ok(most <= PER_ADDRESS + 16, `${mode}: ${most} sockets more than before`);
        // Every flood connection is closed by the server: refused, pushed out, or by deadline.
        await waitUntil(
          `${mode}: the server to close the flood`,
          () => flood.stillOpen() === 0,
          30_000,
        );
        if (mode === "refused-upgrade") {
          const statuses = [...flood.answers.keys()].map((l) => l.slice(9, 12));
          assert.ok(statuses.every((s) => s === "401"), `answers: ${statuses.join(", ")}`);
        }
      } finally {
        flood.stop();
      }
    }
    await live.waitFor();
    assert.equal(await api(), 200);
  } finally {
    await alice.stop();
  }
}

browserTest({
  name:
    "UI flood: 5,000 connections (silent, slowloris, refused upgrade) capped and closed; the owner's browser keeps working",
  file: import.meta.url,
  drive: async () => {
    const browser = await launchChromium();
    try {
      await floodScenario(browser);
    } finally {
      await browser.close();
    }
  },
});
