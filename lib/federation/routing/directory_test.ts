import assert from "node:assert/strict";
import { type NodeId, toUserName } from "../../ids.ts";
import type { SignedAnnouncement } from "./announcement.ts";
import { buildDirectoryPage, MAX_DIRECTORY_PAGE, MAX_DIRECTORY_SCAN } from "./directory.ts";

function node(users: string[]): SignedAnnouncement {
  return {
    listed: true,
    users: users.map((u) => ({ name: toUserName(u), presence: "online" })),
  } as unknown as SignedAnnouncement;
}

const NODES: Record<string, SignedAnnouncement> = {
  b: node(["ann", "bob"]),
  c: node(["carl"]),
  d: { listed: false, users: [] } as unknown as SignedAnnouncement,
};

function page(request: { after?: string; limit: number; query?: string }, extra = {}) {
  return buildDirectoryPage({
    self: "a" as NodeId,
    ownUsers: [{ name: toUserName("al"), presence: "offline" }],
    reachable: Object.keys(NODES).sort() as NodeId[],
    announcementOf: (n) => NODES[n],
    request,
    ...extra,
  });
}

Deno.test("buildDirectoryPage() pages by node then name, with a cursor to the next page", () => {
  const first = page({ limit: 2 });
  assert.deepEqual(first.entries.map((e) => e.address), ["al@a", "ann@b"]);
  assert.equal(first.next, "ann@b");
  const second = page({ after: first.next, limit: 2 });
  assert.deepEqual(second.entries.map((e) => e.address), ["bob@b", "carl@c"]);
  const last = page({ after: second.next, limit: 2 });
  assert.deepEqual(last, { entries: [] });
  assert.deepEqual(page({ limit: 10 }).next, undefined);
});

Deno.test("buildDirectoryPage() filters by query and caps the limit", () => {
  assert.deepEqual(page({ limit: 10, query: "B" }).entries.map((e) => e.address), [
    "ann@b",
    "bob@b",
  ]);
  assert.throws(() => page({ limit: 0 }), RangeError);
  assert.equal(page({ limit: 10 }, { maxLimit: 1 }).entries.length, 1);
  assert.equal(MAX_DIRECTORY_PAGE, 500);
});

Deno.test("buildDirectoryPage() stops a scan that matches little and says where to go on", () => {
  const many = node(Array.from({ length: MAX_DIRECTORY_SCAN + 10 }, (_, i) => `u${i}`).sort());
  const result = buildDirectoryPage({
    self: "a" as NodeId,
    ownUsers: [],
    reachable: ["m" as NodeId],
    announcementOf: () => many,
    request: { limit: 5, query: "nothing-matches" },
  });
  assert.deepEqual(result.entries, []);
  assert.ok(result.next?.endsWith("@m"));
  const rest = buildDirectoryPage({
    self: "a" as NodeId,
    ownUsers: [],
    reachable: ["m" as NodeId],
    announcementOf: () => many,
    request: { limit: 5, query: "nothing-matches", after: result.next },
  });
  assert.deepEqual(rest, { entries: [] });
});
