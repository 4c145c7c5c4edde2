/**
 * Group chats across real node processes on 127.0.0.1 with real TLS: three
 * member nodes joined only through a relay node, five users (three node
 * owners and two more users with their own client processes). Invitations are
 * accepted, every member's messages reach every other member once and in
 * order, delivery and read states come back per member; a removed member
 * cannot read what follows, nor a re-added one what it missed; the relay and
 * every node hold no plaintext.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import * as e2e from "../lib/e2e/mod.ts";
import { decodeEnvelope, decodeGroupDelivery } from "../lib/protocol/mod.ts";
import { canaryForms, findCanaries, link } from "./_helpers/chat.ts";
import {
  ClientProc,
  converged,
  groupOf,
  historyOf,
  inviteAndJoin,
  owner,
  textsIn,
  type User,
} from "./_helpers/groups.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A client store's row of a group (read beside the running client: WAL). */
function storedGroup(clientDb: string, key: string): { mls: Uint8Array | null; state: string } {
  const db = new DatabaseSync(clientDb, { readOnly: true });
  try {
    const r = db.prepare("SELECT mls, state FROM groups WHERE key = ?").get(key) as
      | { mls: Uint8Array | null; state: string }
      | undefined;
    if (!r) throw new Error(`no group ${key} in ${clientDb}`);
    return { mls: r.mls ? new Uint8Array(r.mls) : null, state: r.state };
  } finally {
    db.close();
  }
}

/** The MLS messages waiting in `user`'s inbox at a node (its client is stopped). */
function waitingMessages(nodeDataDir: string, user: string): Uint8Array[] {
  const db = new DatabaseSync(join(nodeDataDir, "node.db"), { readOnly: true });
  try {
    const rows = db.prepare("SELECT bytes FROM inbox WHERE owner = ? ORDER BY seq").all(
      user,
    ) as Array<
      { bytes: Uint8Array }
    >;
    const out: Uint8Array[] = [];
    for (const r of rows) {
      const bytes = new Uint8Array(r.bytes);
      if (bytes[0] === 0xff) continue; // a delivery notice
      const e = decodeEnvelope(bytes);
      if (e.kind === "group") out.push(decodeGroupDelivery(e.body).message);
    }
    return out;
  } finally {
    db.close();
  }
}

Deno.test({
  name:
    "groups: five users on three nodes through a relay: invitations, messages once and in order, a file, removal, re-adding, no plaintext at any node",
  ...opts,
  fn: async () => {
    const root = await tempRoot("groups");
    const nodes: NodeProc[] = [];
    const clients: ClientProc[] = [];
    try {
      const [a, b, c] = await Promise.all(
        ["nodea", "nodeb", "nodec"].map((id) =>
          NodeProc.create({ id, root, open: true, withClient: true })
        ),
      );
      const r = await NodeProc.create({ id: "relay", root, open: true });
      nodes.push(a, b, c, r);
      await Promise.all([link(a, r), link(b, r), link(c, r)]);
      const carol = await ClientProc.create(a, "carol", root);
      const dave = await ClientProc.create(b, "dave", root);
      clients.push(carol, dave);
      const alice = owner(a), bob = owner(b), cyril = owner(c);
      const everyone: User[] = [alice, bob, cyril, carol, dave];

      // alice makes the group at her node (its home) and invites the others; each accepts.
      const g = (await alice.admin("group-create", { name: "team" }) as { id: string }).id;
      assert.match(g, /^[0-9a-f]{32}@nodea$/);
      for (const u of [bob, cyril, carol, dave]) await inviteAndJoin(alice, g, u);
      await converged(everyone, g);
      assert.equal((await groupOf(bob, g))?.name, "team");
      assert.deepEqual((await groupOf(bob, g))?.admins, ["nodea@nodea"]);

      // Every member sends five messages; every other member gets each once, in the sender's order.
      const CANARY = "GRPCANARY";
      const sent: Record<string, string[]> = {};
      for (let i = 0; i < 5; i++) {
        for (const u of everyone) {
          const text = `${CANARY}-${u.address}-${i}-7e1f`;
          (sent[u.address] ??= []).push(text);
          await u.admin("group-send", { group: g, text });
        }
      }
      for (const u of everyone) {
        await waitUntil(
          `20 messages at ${u.address}`,
          async () => (await textsIn(u, g)).length >= 20,
          60_000,
        );
      }
      await new Promise((r) => setTimeout(r, 500)); // a duplicate would show by now
      for (const u of everyone) {
        const h = (await historyOf(u, g)).filter((m) => m.kind === "text" && m.direction === "in");
        assert.equal(h.length, 20, `${u.address} got each message once`);
        for (const s of everyone.filter((x) => x !== u)) {
          assert.deepEqual(
            h.filter((m) => m.sender === s.address).map((m) => m.text),
            sent[s.address],
            `${u.address} has ${s.address}'s messages in order`,
          );
        }
        for (const m of h) assert.ok(m.sentAtMs > 1.7e12 && (m.receivedAtMs ?? 0) > 1.7e12);
      }

      // Delivered to 4 of 4 (per member, from each node's receipt), then read by 4 of 4.
      await waitUntil(
        "alice's messages delivered to all",
        async () =>
          (await historyOf(alice, g)).filter((m) => m.direction === "out" && m.kind === "text")
            .every((m) => m.delivery?.recipients === 4 && m.delivery.delivered === 4),
        30_000,
      );
      for (const u of [bob, cyril, carol, dave]) await u.admin("group-read", { group: g });
      await waitUntil(
        "alice's messages read by all",
        async () =>
          (await historyOf(alice, g)).filter((m) => m.direction === "out" && m.kind === "text")
            .every((m) => m.delivery?.read === 4),
        30_000,
      );
      assert.equal((await groupOf(bob, g))?.unread, 0);

      // A file for the group: one transfer per member, its key through the group; bob accepts,
      // cyril declines, the others leave it waiting.
      const FILE_CANARY = "GRPFILECANARY-4c0ffee5";
      const content = new TextEncoder().encode(`${FILE_CANARY}\n`.repeat(12_000)); // ~300 KiB
      const filePath = join(root, "notes.txt");
      await Deno.writeFile(filePath, content);
      const offers = await alice.admin("group-send-file", { group: g, path: filePath }) as Array<
        { id: string; peer: string }
      >;
      assert.deepEqual(
        offers.map((o) => o.peer).sort(),
        [bob, cyril, carol, dave].map((u) => u.address).sort(),
      );
      type T = { id: string; peer: string; state: string; path: string | null };
      const filesOf = async (u: User) => await u.admin("files") as T[];
      await waitUntil(
        "the offer reaches bob and cyril",
        async () =>
          (await filesOf(bob)).some((t) => t.state === "offered") &&
          (await filesOf(cyril)).some((t) => t.state === "offered"),
      );
      await bob.admin("accept-file", { target: alice.address });
      await cyril.admin("decline-file", { target: alice.address });
      await waitUntil(
        "bob has the file",
        async () => (await filesOf(bob)).some((t) => t.state === "complete"),
        60_000,
      );
      const saved = (await filesOf(bob)).find((t) => t.state === "complete")!;
      assert.deepEqual(await Deno.readFile(saved.path!), content);
      await waitUntil("alice sees complete and declined", async () => {
        const mine = await filesOf(alice);
        return mine.some((t) => t.peer === bob.address && t.state === "complete") &&
          mine.some((t) => t.peer === cyril.address && t.state === "declined");
      }, 30_000);

      // dave is removed. carol's client is stopped, so what follows waits in her inbox at node A:
      // the bytes a removed member would need.
      const daveDb = join(dave.dir, "client.db");
      const daveBefore = storedGroup(daveDb, g).mls!;
      await carol.stop();
      await alice.admin("group-remove", { group: g, address: dave.address });
      await waitUntil(
        "dave learns he was removed",
        async () => (await groupOf(dave, g))?.state === "removed",
        30_000,
      );
      const after = `${CANARY}-after-removal-51c3`;
      await bob.admin("group-send", { group: g, text: after });
      for (const u of [alice, cyril]) {
        await waitUntil(`${u.address} reads it`, async () => (await textsIn(u, g)).includes(after));
      }
      await waitUntil(
        "it waits for carol at node A",
        () => waitingMessages(a.dataDir, "carol").length > 0,
      );
      const ciphertext = waitingMessages(a.dataDir, "carol").at(-1)!;
      // dave's store holds no group keys any more, he got none of it, and his keys from before
      // the removal cannot open it.
      assert.deepEqual(storedGroup(daveDb, g), { mls: null, state: "removed" });
      assert.ok(!(await textsIn(dave, g)).includes(after));
      await assert.rejects(
        e2e.processGroupMessage({ state: e2e.decodeGroupState(daveBefore), message: ciphertext }),
        e2e.DecryptError,
      );

      // Sent while dave is out, then dave is invited back: he cannot read what he missed.
      const missed = `${CANARY}-while-dave-was-out-9d2a`;
      await cyril.admin("group-send", { group: g, text: missed });
      await waitUntil(
        "the second one waits for carol",
        () => waitingMessages(a.dataDir, "carol").length > 1,
      );
      const missedCiphertext = waitingMessages(a.dataDir, "carol").at(-1)!;
      await inviteAndJoin(alice, g, dave);
      await waitUntil("dave is back", async () => (await groupOf(dave, g))?.state === "active");
      const daveNow = storedGroup(daveDb, g).mls!;
      await assert.rejects(
        e2e.processGroupMessage({
          state: e2e.decodeGroupState(daveNow),
          message: missedCiphertext,
        }),
        e2e.DecryptError,
      );
      const back = await textsIn(dave, g);
      assert.ok(!back.includes(after) && !back.includes(missed));

      // carol comes back and gets everything she missed; dave reads what is sent now.
      await carol.start();
      await waitUntil("carol catches up", async () => {
        const t = await textsIn(carol, g);
        return t.includes(after) && t.includes(missed);
      }, 60_000);
      await converged(everyone, g);
      const welcomeBack = `${CANARY}-welcome-back-dave-33aa`;
      await alice.admin("group-send", { group: g, text: welcomeBack });
      await waitUntil("dave reads it", async () => (await textsIn(dave, g)).includes(welcomeBack));

      // Rename (an admin's right) and leave (anyone's): every member follows.
      await alice.admin("group-rename", { group: g, name: "team two" });
      await waitUntil(
        "renamed everywhere",
        async () =>
          (await Promise.all(everyone.map((u) => groupOf(u, g)))).every((v) =>
            v?.name === "team two"
          ),
      );
      await cyril.admin("group-leave", { group: g });
      await waitUntil(
        "cyril is out",
        async () => (await groupOf(cyril, g))?.state === "left",
        60_000,
      );
      await converged([alice, bob, carol, dave], g);
      const afterLeave = `${CANARY}-after-cyril-left-0b0b`;
      await carol.admin("group-send", { group: g, text: afterLeave });
      await waitUntil("bob reads it", async () => (await textsIn(bob, g)).includes(afterLeave));
      assert.ok(!(await textsIn(cyril, g)).includes(afterLeave));

      // No node (the relay included) holds any message in any encoding, in its data or its log.
      await Promise.all(nodes.map((n) => n.stop()));
      const needles = [
        CANARY,
        after,
        missed,
        welcomeBack,
        afterLeave,
        sent[bob.address][0],
        FILE_CANARY,
      ].flatMap(canaryForms);
      const hits = await findCanaries(
        nodes.map((n) => n.dataDir),
        needles,
        nodes.map((n) => n.output),
      );
      assert.deepEqual(hits, []);
      // The clients do keep the history (the search finds what is there).
      assert.notDeepEqual(await findCanaries([`${b.dataDir}-client`], [CANARY]), []);
    } catch (e) {
      for (const n of [...nodes, ...clients]) {
        const lines = n.output.split("\n").filter((l) => /WARN|ERROR|group/.test(l));
        // deno-lint-ignore no-console -- a failed run shows what each process logged
        console.log(`--- ${"id" in n ? n.id : n.address}\n${lines.slice(-30).join("\n")}`);
      }
      throw e;
    } finally {
      await Promise.all(clients.map((c) => c.stop()));
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
