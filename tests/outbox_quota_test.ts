/**
 * A local account cannot grow its node's outbox without bound: past
 * `[Limits] outbox_messages_per_user` a send is refused with the reason, what
 * was taken is delivered, and sending works again once the outbox drains.
 */
import assert from "node:assert/strict";
import { history, link, startChat } from "./_helpers/chat.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";
import { senderNode } from "./_helpers/sender_node.ts";
import { SYSTEM_CLOCK } from "../lib/clock.ts";

Deno.test({
  name: "outbox quota: a user's sends past outbox_messages_per_user are refused with the reason",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await tempRoot("outbox-quota");
    const nodes: NodeProc[] = [];
    try {
      const a = await NodeProc.create({
        id: "a",
        root,
        open: true,
        withClient: true,
        extra: "[Limits]\noutbox_messages_per_user = 3\n",
      });
      const b = await NodeProc.create({ id: "b", root, open: true, withClient: true });
      nodes.push(a, b);
      await link(a, b);
      await startChat(a, "a@a", b, "b@b");
      await b.stop();
      // Three rows at most: the chat's own control rows count too, so fewer messages fit.
      const sent: Array<{ text: string; state: string; reason?: string }> = [];
      for (const text of ["one", "two", "three", "four"]) {
        sent.push((await a.admin("send", { address: "b@b", text })) as (typeof sent)[number]);
      }
      const taken = sent.filter((m) => m.state !== "failed").map((m) => m.text);
      const refused = sent.filter((m) => m.state === "failed");
      assert.ok(taken.length >= 1 && taken.length <= 3, `${taken.length} taken`);
      assert.deepEqual(taken, ["one", "two", "three", "four"].slice(0, taken.length));
      assert.ok(refused.length >= 1);
      for (const m of refused) assert.match(m.reason ?? "", /outbox is full/);
      const status = (await a.admin("status")) as {
        budgets: Record<string, { refusals: number }>;
      };
      assert.ok(status.budgets.outbox_rows.refusals >= refused.length);
      await b.start();
      await waitUntil("bob has what was taken", async () => {
        const got = (await history(b, "a@a")).filter((x) => x.direction === "in");
        return got.length >= taken.length;
      }, 60_000);
      const got = (await history(b, "a@a")).filter((x) => x.direction === "in");
      assert.deepEqual(
        got.map((x) => x.text),
        taken,
        "what was taken arrives once; nothing refused",
      );
      // Drained: alice can send again.
      await waitUntil("alice can send again", async () => {
        const m = (await a.admin("send", { address: "b@b", text: "again" })) as { state: string };
        return m.state !== "failed";
      }, 60_000);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test("outbox quota: a send that would pass outbox_bytes_per_user is refused with the reason; once one is delivered there is room again", async () => {
  await Deno.mkdir(".tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: ".tmp", prefix: "outbox-bytes-" });
  // Each of sender_node's messages is 60 bytes on the wire: two fit, a third does not.
  const a = await senderNode(dir, SYSTEM_CLOCK, 0, { outboxBytesPerUser: 2 * 60 + 10 });
  try {
    const first = await a.send(1);
    await a.send(2);
    await assert.rejects(a.send(3), /outbox is full/);
    a.receipt([first]);
    await waitUntil("room again", async () => {
      try {
        await a.send(4);
        return true;
      } catch {
        return false;
      }
    }, 5_000);
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});
