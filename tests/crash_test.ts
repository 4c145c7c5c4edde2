/**
 * kill -9 of the sending node (with its client), the relay and the receiving
 * node at random moments during a 2,000-message run: every message the sender
 * saw as sent arrives exactly once, nothing appears that was not sent, and
 * SQLite's integrity check passes on every store afterwards.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { history, link, startChat } from "./_helpers/chat.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";

const MESSAGES = Number(Deno.env.get("CRASH_N") ?? 2000);
const KILLS = 6;

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

Deno.test({
  name:
    "crash: kill -9 of sender, relay and receiver during 2,000 messages loses and repeats nothing",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const seed = Number(Deno.env.get("CRASH_SEED") ?? Date.now() % 100000);
    const random = prng(seed);
    const root = await tempRoot("crash");
    const nodes: NodeProc[] = [];
    try {
      const a = await NodeProc.create({ id: "alice", root, open: true, withClient: true });
      const r = await NodeProc.create({ id: "relay", root, open: true });
      const b = await NodeProc.create({ id: "bob", root, open: true, withClient: true });
      nodes.push(a, r, b);
      await link(a, r);
      await link(r, b);
      await startChat(a, "alice@alice", b, "bob@bob", "crash test");

      const seenSent = new Set<string>();
      const attempted = new Set<string>();
      const killAt = new Set(Array.from({ length: KILLS }, () => Math.floor(random() * MESSAGES)));
      const victims = [a, r, b];
      const log: string[] = [];
      for (let i = 0; i < MESSAGES; i++) {
        if (killAt.has(i)) {
          const victim = victims[Math.floor(random() * victims.length)];
          log.push(`kill ${victim.id} at ${i}`);
          await victim.stop(true);
          await new Promise((res) => setTimeout(res, 100 + random() * 400));
          await victim.start();
        }
        const text = `m${i}`;
        attempted.add(text);
        try {
          const m = await a.admin("send", { address: "bob@bob", text }) as { state: string };
          if (m.state === "sent" || m.state === "delivered") seenSent.add(text);
        } catch {
          // alice's node is restarting: the outcome is unknown, not "seen as sent".
        }
      }
      await waitUntil(
        "every message seen as sent reaches bob",
        async () => {
          const got = new Set((await history(b, "alice@alice")).map((m) => m.text));
          return [...seenSent].every((t) => got.has(t));
        },
        90_000,
      );
      await new Promise((res) => setTimeout(res, 1000));
      const texts = (await history(b, "alice@alice")).map((m) => m.text);
      const dups = texts.filter((t, i) => texts.indexOf(t) !== i);
      assert.deepEqual(dups, [], `duplicates (seed ${seed}, ${log.join(", ")})`);
      assert.deepEqual(texts.filter((t) => !attempted.has(t)), [], "only sent messages appear");
      assert.ok(
        seenSent.size >= MESSAGES - KILLS * 5,
        `most sends were acknowledged (${seenSent.size})`,
      );
      // In order: each incoming message's position follows the sending order.
      const order = texts.map((t) => Number(t.slice(1)));
      assert.deepEqual(order, [...order].sort((x, y) => x - y), "in sending order");

      await Promise.all(nodes.map((n) => n.stop()));
      for (const n of nodes) {
        for (const file of [`${n.dataDir}/node.db`, `${n.dataDir}-client/client.db`]) {
          try {
            await Deno.stat(file);
          } catch {
            continue;
          }
          const db = new DatabaseSync(file);
          const row = db.prepare("PRAGMA integrity_check").get() as Record<string, string>;
          db.close();
          assert.equal(Object.values(row)[0], "ok", file);
        }
      }
    } catch (e) {
      for (const n of nodes) {
        // deno-lint-ignore no-console -- a failed run shows what each node logged
        console.error(
          `--- ${n.id}\n${
            n.output.split("\n").filter((l) => !/DEBUG/.test(l)).slice(-25).join("\n")
          }`,
        );
      }
      throw e;
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
