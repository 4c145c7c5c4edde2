/**
 * Delivery notices at the sender's node: a receipt settles the envelope's
 * outbox row, which keeps the notice until the client acknowledges it. The
 * notice is pushed once committed, pushed again to a client that reconnects
 * and after a restart or a kill -9 of the node, never twice to a client that
 * has it out, and deleted only by its owner's acknowledgement.
 */
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { ALICE, senderNode, settledNotices, until } from "./_helpers/sender_node.ts";
import { tempRoot } from "./_helpers/node_proc.ts";

const REPO = resolve(new URL("..", import.meta.url).pathname);

Deno.test("notices: a receipt settles the outbox row, the notice is pushed once and kept until the client acks it", async () => {
  const dir = await tempRoot("notices");
  const a = await senderNode(dir);
  try {
    const alice = a.attach();
    const ids = [await a.send(1), await a.send(2)];
    a.receipt([ids[0]]);
    a.receipt([ids[1]], "refused");
    await until("two notices", () => settledNotices(alice.got).length === 2);
    const [n1, n2] = settledNotices(alice.got);
    assert.deepEqual([n1.ref, n1.id, n1.state, n1.reason], [
      ids[0],
      `s${ids[0]}`,
      "delivered",
      undefined,
    ]);
    assert.deepEqual([n2.ref, n2.state, n2.reason], [ids[1], "failed", "refused"]);
    // Kept in the outbox rows, not as inbox rows; the rows wait no more (not resent, not expired).
    assert.deepEqual(a.store.noticesFor(ALICE, 10).map((r) => r.id), ids);
    assert.equal(a.store.inboxCount(ALICE), 0);
    assert.deepEqual(a.store.outboxDestinations(), []);
    assert.deepEqual(a.store.outboxExpired(Date.now() + 3_600_000, 10), []);
    assert.equal(a.store.outboxUsage().get(ALICE), undefined);
    // The same receipt again changes nothing and pushes nothing.
    a.receipt([ids[0]]);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(settledNotices(alice.got).length, 2);

    alice.ack([n1.id]);
    await until("the ack's delete", () => a.store.noticesFor(ALICE, 10).length === 1);
    assert.deepEqual(a.store.noticesFor(ALICE, 10).map((r) => r.id), [ids[1]]);
    assert.equal(settledNotices(alice.got).length, 2, "nothing pushed twice");
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("notices: an unacknowledged notice goes again to a client that reconnects and after a restart; only its owner's ack deletes it", async () => {
  const dir = await tempRoot("notices");
  let a = await senderNode(dir);
  try {
    const id = await a.send(3);
    a.receipt([id]);
    await until("the settled row", () => a.store.noticesFor(ALICE, 10).length === 1);
    // No client was there: the first one to attach gets it from the store.
    let alice = a.attach();
    assert.deepEqual(settledNotices(alice.got).map((n) => n.ref), [id]);
    alice.close();
    alice = a.attach();
    assert.deepEqual(settledNotices(alice.got).map((n) => n.ref), [id]);
    a.close();

    a = await senderNode(dir);
    const mallory = a.attach("mallory" as typeof ALICE);
    mallory.ack([`s${id}`]);
    alice = a.attach();
    assert.deepEqual(settledNotices(alice.got).map((n) => [n.ref, n.state]), [[id, "delivered"]]);
    assert.equal(a.store.noticesFor(ALICE, 10).length, 1, "another user's ack deletes nothing");
    alice.ack([`s${id}`]);
    await until("the ack's delete", () => a.store.noticesFor(ALICE, 10).length === 0);
    a.close();

    a = await senderNode(dir);
    alice = a.attach();
    assert.deepEqual(settledNotices(alice.got), [], "an acknowledged notice is gone");
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("notices: more than a window's worth: each pushed once while out, all of them once acknowledged", async () => {
  const dir = await tempRoot("notices");
  const a = await senderNode(dir);
  try {
    const alice = a.attach();
    const N = 1_500;
    const ids: string[] = [];
    for (let i = 0; i < N; i += 250) {
      const round = await Promise.all(Array.from({ length: 250 }, (_, j) => a.send(1_000 + i + j)));
      ids.push(...round);
      a.receipt(round);
      await until("the round settled", () => a.store.outboxDestinations().length === 0);
    }
    await new Promise((r) => setTimeout(r, 60));
    const first = settledNotices(alice.got).map((n) => n.ref);
    assert.ok(first.length >= 1_000 && first.length <= 1_024, `a window out (${first.length})`);
    assert.equal(new Set(first).size, first.length, "none twice");
    // The client takes them in batches; the rest follow, each once.
    let acked = 0;
    while (acked < N) {
      const out = settledNotices(alice.got).slice(acked);
      if (out.length > 0) {
        alice.ack(out.map((n) => n.id));
        acked += out.length;
      }
      await until(
        "more notices or the end",
        () => acked === N || settledNotices(alice.got).length > acked,
      );
    }
    const all = settledNotices(alice.got).map((n) => n.ref);
    assert.equal(all.length, N);
    assert.deepEqual(new Set(all), new Set(ids));
    await until("every row deleted", () => a.store.noticesFor(ALICE, 10).length === 0);
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "notices: a notice committed just before a kill -9 of the node is pushed after the restart",
  sanitizeResources: false,
  fn: async () => {
    const dir = await tempRoot("notices-kill");
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", join(REPO, "tests/_helpers/notice_kill_child.ts"), dir],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      const deadline = Date.now() + 30_000;
      while (!out.includes("\n") && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      const match = /^settled (\w+)$/m.exec(out);
      assert.ok(match, `the child settled a notice (said ${JSON.stringify(out)})`);
      // Right after the commit, before the lazy flush (200 ms): kill -9.
      child.kill("SIGKILL");
      await child.status;
      await reader.cancel();

      const a = await senderNode(dir);
      try {
        const alice = a.attach();
        assert.deepEqual(settledNotices(alice.got).map((n) => [n.ref, n.state]), [
          [match[1], "delivered"],
        ]);
        assert.deepEqual(a.store.outboxDestinations(), [], "the settled envelope is not resent");
      } finally {
        a.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
