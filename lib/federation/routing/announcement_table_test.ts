import assert from "node:assert/strict";
import { toNodeId } from "../../ids.ts";
import type { SignedAnnouncement } from "./announcement.ts";
import { AnnouncementTable } from "./announcement_table.ts";
import { FakeAnnouncementSigner } from "./fake_signature.ts";
import { OriginIndex } from "./origin_index.ts";
import { signAnnouncement } from "./signatures.ts";

function ann(origin: string, seq: number): SignedAnnouncement {
  const signer = FakeAnnouncementSigner.forNode(origin);
  return signAnnouncement({
    origin: toNodeId(origin),
    publicKey: signer.publicKey,
    seq,
    lifetimeMs: 60_000,
    listed: true,
    links: [],
    users: [],
  }, signer) as SignedAnnouncement;
}

Deno.test("AnnouncementTable gives ids from 1 with origin, seq and size beside them", () => {
  const index = new OriginIndex();
  const table = new AnnouncementTable(index);
  const a = ann("a", 5);
  const id = table.add(a);
  assert.ok(id >= 1);
  assert.equal(table.get(id), a);
  assert.equal(table.originAt(id), index.find("a"));
  assert.equal(table.seqAt(id), 5);
  assert.equal(table.sizeAt(id), a.bytes.length);
  assert.equal(table.live, 1);
});

Deno.test("AnnouncementTable frees an id with its last reference, and reuses it", () => {
  const table = new AnnouncementTable(new OriginIndex());
  const id = table.add(ann("a", 1));
  table.ref(id);
  table.unref(id);
  assert.equal(table.live, 1);
  table.unref(id);
  assert.equal(table.live, 0);
  table.unref(id); // a stray release changes nothing
  table.unref(0);
  const b = ann("b", 2);
  assert.equal(table.add(b), id);
  assert.equal(table.get(id), b);
  assert.equal(table.seqAt(id), 2);
  // Many ids: the columns grow.
  const ids = Array.from({ length: 100 }, (_, i) => table.add(ann(`n${i}`, i + 1)));
  assert.equal(new Set(ids).size, 100);
  assert.equal(table.seqAt(ids[99]), 100);
});
