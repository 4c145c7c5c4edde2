import assert from "node:assert/strict";
import type { UiCommand, UiSnapshot } from "./api_types.ts";
import { GroupStore } from "./group_store.ts";
import type { GroupMessage, GroupView } from "./group_types.ts";

const G = `${"ab".repeat(16)}@alice`;
const SNAPSHOT = { groups: [], invitations: [] } as unknown as UiSnapshot;

function view(over: Partial<GroupView> = {}): GroupView {
  return {
    id: G,
    name: "team",
    home: "alice",
    state: "active",
    epoch: 1,
    members: 2,
    admins: ["alice@alice"],
    admin: true,
    leaving: false,
    unread: 0,
    lastMessageAtMs: 1,
    pending: null,
    ...over,
  };
}

function message(over: Partial<GroupMessage> = {}): GroupMessage {
  return {
    id: "m1",
    group: G,
    sender: "alice@alice",
    direction: "out",
    kind: "text",
    text: "hi",
    sentAtMs: 1,
    receivedAtMs: null,
    state: "sent",
    delivery: { recipients: 2, delivered: 0, read: 0, failed: 0, members: {} },
    ...over,
  };
}

function make(visible = true) {
  const ran: UiCommand[] = [];
  const notes: string[] = [];
  const store = new GroupStore({
    snapshot: SNAPSHOT,
    run: (c) => {
      ran.push(c);
      return Promise.resolve({ kind: "ok" });
    },
    isVisible: () => visible,
    notify: (title, body) => notes.push(`${title}: ${body}`),
  });
  return { store, ran, notes };
}

Deno.test("GroupStore: an invitation waits until its group arrives (accepted), then is gone", () => {
  const { store, notes } = make();
  const invitation = {
    group: G,
    name: "team",
    inviter: "alice@alice",
    fingerprint: "abcde",
    members: 2,
    receivedAtMs: 1,
  };
  assert.equal(store.apply({ kind: "invitation", invitation }), true);
  assert.equal(store.apply({ kind: "invitation", invitation }), true);
  assert.deepEqual(store.invitations.value, [invitation], "one entry per group");
  assert.equal(notes.length, 2);
  store.apply({ kind: "group", group: view() });
  assert.deepEqual(store.invitations.value, []);
  assert.equal(store.group(G)?.name, "team");
  assert.equal(store.apply({ kind: "links" }), false, "other events are not the group store's");
});

Deno.test("GroupStore: delivery moves on by event and a late command answer does not step it back", () => {
  const { store } = make();
  store.histories.value = { [G]: [] };
  store.apply({ kind: "groupMessage", message: message() });
  const delivery = { recipients: 2, delivered: 2, read: 1, failed: 0, members: {} };
  store.apply({ kind: "groupState", group: G, id: "m1", state: "delivered", delivery });
  store.applyResult({ kind: "groupMessage", message: message() });
  const [m] = store.histories.value[G];
  assert.deepEqual(m.delivery, delivery);
  assert.equal(m.state, "delivered");
  assert.equal(store.histories.value[G].length, 1, "the same message once");
});

Deno.test("GroupStore: unread messages of the open group are marked read, only while visible", async () => {
  for (const visible of [true, false]) {
    const { store, ran } = make(visible);
    store.active.value = G;
    store.apply({ kind: "group", group: view({ unread: 1 }) });
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(ran, visible ? [{ kind: "markGroupRead", group: G }] : []);
    assert.equal(store.group(G)?.unread, visible ? 0 : 1);
  }
});
