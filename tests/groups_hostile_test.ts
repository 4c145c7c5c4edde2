/**
 * Groups against hostile users of another node: a non-member's message,
 * relabelled with a real group's id and epoch, is refused by the destination
 * node before any client tries to decrypt it (the sender hears "refused" for
 * each user it named); a flood of invitations from one node stays within the
 * invitee node's budget of pending invitations, and what got through waits
 * in the invitee's request list.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeMls, encodeMls } from "../lib/e2e/_mls.ts";
import * as e2e from "../lib/e2e/mod.ts";
import {
  DEFAULT_TTL,
  encodeEnvelope,
  encodeGroupDelivery,
  envelopeIdHex,
  parseGroupKey,
} from "../lib/protocol/mod.ts";
import { link } from "./_helpers/chat.ts";
import { converged, inviteAndJoin, owner, textsIn } from "./_helpers/groups.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";
import { rawClient } from "./_helpers/raw_client.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name:
    "groups: a non-member's message is refused at the destination node; an invitation flood is budgeted",
  ...opts,
  fn: async () => {
    const root = await tempRoot("groups-hostile");
    const nodes: NodeProc[] = [];
    try {
      const a = await NodeProc.create({ id: "nodea", root, open: true, withClient: true });
      const b = await NodeProc.create({
        id: "nodeb",
        root,
        open: true,
        withClient: true,
        extra: "[Limits]\npending_invitations_per_user = 3\n",
      });
      const m = await NodeProc.create({ id: "nodem", root, open: true, withClient: true });
      nodes.push(a, b, m);
      await Promise.all([link(a, b), link(m, b), link(m, a)]);
      const alice = owner(a), bob = owner(b), mallory = owner(m);
      const g = (await alice.admin("group-create", { name: "private" }) as { id: string }).id;
      await inviteAndJoin(alice, g, bob);
      await converged([alice, bob], g);
      await alice.admin("group-send", { group: g, text: "members only" });
      await waitUntil("bob reads it", async () => (await textsIn(bob, g)).includes("members only"));

      // eve, a user of node M, is no member. She makes a real MLS application message in a
      // group of her own and relabels it with the group's id and epoch.
      const eveInfo = await m.addUser("eve");
      const eve = await rawClient(m, "eve", eveInfo.code, join(root, "eve"));
      const identity = await e2e.generateIdentity();
      const own = await e2e.createGroup({
        identity,
        address: "eve@nodem",
        name: "x",
        homeNode: "nodem",
        nowMs: Date.now(),
      });
      const sealed = await e2e.encryptGroupMessage({
        state: own,
        plaintext: new TextEncoder().encode("let me in"),
      });
      const ref = parseGroupKey(g);
      const epoch = (await b.admin("groups") as Array<{ id: string; epoch: number }>)
        .find((x) => x.id === g)!.epoch;
      const mm = decodeMls(sealed.message, 1 << 22, "test");
      if (mm.wireformat !== "mls_private_message") throw new Error("unexpected");
      const relabelled = encodeMls({
        ...mm,
        privateMessage: { ...mm.privateMessage, groupId: ref.groupId, epoch: BigInt(epoch) },
      });
      assert.equal(e2e.peekGroupMessage(relabelled).groupId?.toHex(), ref.groupId.toHex());
      const id = crypto.getRandomValues(new Uint8Array(16));
      const now = Date.now();
      eve.send({
        type: "submit",
        req: 1,
        envelope: encodeEnvelope({
          id,
          kind: "group",
          ttl: DEFAULT_TTL,
          createdAtMs: now,
          expiresAtMs: now + 3600_000,
          from: "eve@nodem",
          to: "nodeb",
          body: encodeGroupDelivery({ ...ref, names: ["nodeb"], message: relabelled }),
        }),
      });
      const hex = envelopeIdHex(id);
      await waitUntil(
        "eve hears the refusal",
        () => eve.got.some((x) => x.type === "notice" && x.ref === hex),
        30_000,
      );
      const notice = eve.got.find((x) => x.type === "notice" && x.ref === hex);
      assert.deepEqual(
        notice && notice.type === "notice" && [notice.state, notice.reason, notice.users],
        ["failed", "refused", { "nodeb@nodeb": "refused" }],
      );
      // The node said why; bob's client never saw it (it would have tried and dropped it).
      assert.match(b.output, /group envelope dropped .*the sender is not a member/);
      assert.doesNotMatch(b.output, /dropped a group message/);
      eve.close();

      // M floods bob with invitations to twelve groups; bob's node keeps three.
      for (let i = 0; i < 12; i++) {
        const id =
          (await mallory.admin("group-create", { name: `spam ${i}` }) as { id: string }).id;
        await waitUntil("invite sent", async () => {
          try {
            await mallory.admin("group-invite", { group: id, address: bob.address });
            return true;
          } catch (e) {
            if (/no key package|no answer|no route/.test(String(e))) return false;
            throw e;
          }
        }, 30_000);
      }
      await waitUntil(
        "three invitations at bob",
        async () => ((await bob.admin("invitations")) as unknown[]).length === 3,
        30_000,
      );
      // The last invitations may still be on their way when the third is kept: their refusals
      // are counted as they arrive.
      type Budgets = Record<string, { used: number; refusals: number }>;
      let budgets: Budgets = {};
      await waitUntil("the other nine refused", async () => {
        budgets = (await b.admin("status") as { budgets: Budgets }).budgets;
        return budgets.pending_invitations.refusals +
            budgets.invitations_per_sender.refusals >= 9;
      }, 30_000).catch(() => {});
      assert.equal(budgets.pending_invitations.used, 3);
      assert.ok(
        budgets.pending_invitations.refusals + budgets.invitations_per_sender.refusals >= 9,
        JSON.stringify(budgets.pending_invitations),
      );
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(((await bob.admin("invitations")) as unknown[]).length, 3);
      // Declining frees a place; bob's group with alice is unaffected throughout.
      const first = ((await bob.admin("invitations")) as Array<{ group: string }>)[0].group;
      await bob.admin("group-decline", { group: first });
      await waitUntil(
        "a place is free",
        async () =>
          ((await b.admin("status")) as { budgets: Record<string, { used: number }> }).budgets
            .pending_invitations.used === 2,
      );
      await alice.admin("group-send", { group: g, text: "still here" });
      await waitUntil("bob reads it", async () => (await textsIn(bob, g)).includes("still here"));
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
