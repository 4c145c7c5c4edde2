/**
 * Groups survive `kill -9`: of the group's home node while its admin commits
 * (the admin is a client process of that node, so it survives and carries
 * on), and of a member's node (with its owner's client) while it sends. The
 * group ends with the same epoch and members everywhere, and every message
 * whose sending was acknowledged reaches every other member exactly once.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { link } from "./_helpers/chat.ts";
import {
  ClientProc,
  converged,
  groupOf,
  historyOf,
  inviteAndJoin,
  owner,
  type User,
} from "./_helpers/groups.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Every text `from` sent that `to` has, in order received. */
async function from(to: User, g: string, sender: string): Promise<string[]> {
  return (await historyOf(to, g)).filter((m) => m.kind === "text" && m.sender === sender).map(
    (m) => m.text,
  );
}

Deno.test({
  name:
    "groups: kill -9 of the home node during commits and of a member during sends: consistent, nothing acknowledged lost",
  ...opts,
  fn: async () => {
    const root = await tempRoot("groups-crash");
    const nodes: NodeProc[] = [];
    const clients: ClientProc[] = [];
    const seed = Date.now() % 1000;
    let rnd = seed;
    const random = () => (rnd = (rnd * 1103515245 + 12345) % 2147483648) / 2147483648;
    const log: string[] = [];
    try {
      const home = await NodeProc.create({ id: "home", root, open: true });
      const [b, c] = await Promise.all(
        ["nodeb", "nodec"].map((id) => NodeProc.create({ id, root, open: true, withClient: true })),
      );
      nodes.push(home, b, c);
      await Promise.all([link(b, home), link(c, home), link(b, c)]);
      const carol = await ClientProc.create(home, "carol", root);
      const dave = await ClientProc.create(b, "dave", root);
      const erin = await ClientProc.create(c, "erin", root);
      clients.push(carol, dave, erin);
      const bob = owner(b), cyril = owner(c);

      const g = (await carol.admin("group-create", { name: "crashy" }) as { id: string }).id;
      for (const u of [bob, cyril]) await inviteAndJoin(carol, g, u);
      await converged([carol, bob, cyril], g);

      // 1. The home node dies (kill -9) at a random moment of each of two invitations.
      const acked: Record<string, string[]> = { [bob.address]: [], [cyril.address]: [] };
      for (const [round, who] of [[1, dave], [2, erin]] as const) {
        const invite = carol.admin("group-invite", { group: g, address: who.address }).then(
          () => "done",
          (e) => `failed: ${e}`,
        );
        // Round 1 kills it the moment the admin's commit is pending (made, stored, submitted, not
        // yet answered), if the poll catches that moment; round 2 at a random moment.
        const started = Date.now();
        let caught = false;
        if (round === 1) {
          for (let i = 0; i < 400 && !caught; i++) {
            caught = ((await groupOf(carol, g))?.pending ?? null) !== null;
            if (!caught) await new Promise((r) => setTimeout(r, 5));
          }
        } else await new Promise((r) => setTimeout(r, Math.floor(random() * 600)));
        await home.stop(true);
        log.push(
          `round ${round}: home killed ${Date.now() - started} ms into the invitation` +
            (caught ? ", its commit pending" : ""),
        );
        // Members keep talking while the home node is down (messages go node to node).
        for (const u of [bob, cyril]) {
          const text = `home-down-${round}-${u.address}`;
          await u.admin("group-send", { group: g, text });
          acked[u.address].push(text);
        }
        await home.start();
        log.push(`round ${round}: invitation ${await invite}`);
        // Whatever the crash interrupted, the admin's client finishes or gives up; then it asks again.
        await waitUntil(
          "carol's change settles",
          async () => (await groupOf(carol, g))?.pending === null,
          60_000,
        );
        await inviteAndJoin(carol, g, who);
        await converged([carol, bob, cyril, ...(round === 1 ? [dave] : [dave, erin])], g);
      }

      // 2. bob's node (and his client in it) dies (kill -9) while he sends.
      const attempted = new Set<string>();
      let killed = false;
      const sending = (async () => {
        for (let i = 0; i < 40; i++) {
          const text = `bob-${String(i).padStart(2, "0")}`;
          attempted.add(text);
          try {
            await bob.admin("group-send", { group: g, text });
            acked[bob.address].push(text);
          } catch {
            if (!killed) throw new Error(`send ${text} failed before the kill`);
            return;
          }
        }
      })();
      await waitUntil("some sent", () => acked[bob.address].length >= 8, 30_000);
      killed = true;
      await b.stop(true);
      await sending;
      log.push(`bob killed after ${acked[bob.address].length} acknowledged sends`);
      await b.start();
      const everyone: User[] = [carol, bob, cyril, dave, erin];
      await converged(everyone, g);

      // Every acknowledged message reaches every other member, once and in order; nothing that was
      // not sent appears.
      for (const [sender, texts] of Object.entries(acked)) {
        for (const u of everyone.filter((x) => x.address !== sender)) {
          if (u.address === dave.address || u.address === erin.address) continue;
          await waitUntil(`${u.address} has ${sender}'s messages`, async () => {
            const got = await from(u, g, sender);
            return texts.every((t) => got.includes(t));
          }, 60_000);
        }
      }
      for (const u of [carol, cyril, dave, erin]) {
        await waitUntil(
          `${u.address} has bob's last acknowledged`,
          async () => (await from(u, g, bob.address)).includes(acked[bob.address].at(-1)!),
          60_000,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
      for (const u of everyone) {
        for (const s of everyone.filter((x) => x !== u)) {
          const got = await from(u, g, s.address);
          assert.equal(
            new Set(got).size,
            got.length,
            `no duplicates of ${s.address} at ${u.address}`,
          );
          if (s === bob) {
            assert.ok(got.every((t) => attempted.has(t) || t.startsWith("home-down")));
            const mine = got.filter((t) => t.startsWith("bob-"));
            assert.deepEqual(mine, [...mine].sort(), `bob's messages in order at ${u.address}`);
          }
        }
      }
      // deno-lint-ignore no-console -- what the kills interrupted, for the record
      console.log(`seed ${seed}: ${log.join("; ")}`);
      // And the stores are sound.
      await Promise.all(clients.map((x) => x.stop()));
      await Promise.all(nodes.map((n) => n.stop()));
      for (
        const f of [
          join(home.dataDir, "groups.db"),
          join(b.dataDir, "groups.db"),
          join(b.dataDir, "node.db"),
          `${b.dataDir}-client/client.db`,
          join(carol.dir, "client.db"),
        ]
      ) {
        const db = new DatabaseSync(f);
        const row = db.prepare("PRAGMA integrity_check").get() as Record<string, string>;
        db.close();
        assert.equal(Object.values(row)[0], "ok", f);
      }
    } catch (e) {
      // deno-lint-ignore no-console -- a failed run shows what happened and what each process logged
      console.error(`seed ${seed}: ${log.join("; ")}`);
      for (const n of [...nodes, ...clients]) {
        const lines = n.output.split("\n").filter((l) => /WARN|ERROR|group/.test(l));
        // deno-lint-ignore no-console -- idem
        console.error(`--- ${"id" in n ? n.id : n.address}\n${lines.slice(-30).join("\n")}`);
      }
      throw e;
    } finally {
      await Promise.all(clients.map((x) => x.stop()));
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
