/**
 * A linked peer that sends garbage inside an authenticated link (a malformed
 * envelope, an undecodable announcement) is disconnected and the reason is
 * logged and shown; the node keeps serving everyone else.
 */
import assert from "node:assert/strict";
import { toNodeId } from "../lib/ids.ts";
import { rawPeer } from "./_helpers/raw_peer.ts";
import { link } from "./_helpers/chat.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";

Deno.test({
  name:
    "a peer sending a malformed envelope or announcement is disconnected; others are unaffected",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await tempRoot("misbehaving");
    const nodes: NodeProc[] = [];
    const mallory = await rawPeer("mallory");
    try {
      const a = await NodeProc.create({ id: "alice", root, open: true });
      const b = await NodeProc.create({ id: "bob", root, open: true });
      nodes.push(a, b);
      await link(a, b);
      const bobSince = (await a.link("bob"))!.sinceMs;
      const alice = toNodeId("alice");
      const up = () => mallory.up("alice");

      assert.equal(await mallory.connect("alice", a.port), "up");
      assert.ok(mallory.send(alice, { kind: "envelope", bytes: new Uint8Array([1, 2, 3]) }));
      await waitUntil("alice drops mallory", () => !up());
      await waitUntil(
        "alice logs why",
        () => /peer misbehaved peer=mallory why="sent a malformed envelope"/.test(a.output),
      );
      assert.match(
        (await a.link("mallory"))?.lastError ?? "",
        /disconnected: sent a malformed envelope/,
      );

      // Mallory comes back (its own redial) and sends an undecodable announcement.
      await waitUntil("mallory relinked", up, 15_000);
      assert.ok(
        mallory.send(alice, {
          kind: "announce",
          bytes: crypto.getRandomValues(new Uint8Array(300)),
        }),
      );
      await waitUntil("alice drops mallory again", () => !up());
      await waitUntil(
        "alice logs the announcement",
        () => /why="sent a bad-encoding announcement"/.test(a.output),
      );

      // Alice kept serving: bob's link never dropped, and probes still cross it.
      assert.equal((await a.link("bob"))?.sinceMs, bobSince);
      const probe = (await a.admin("ping", { nodeId: "bob" })) as { path: string[] };
      assert.deepEqual(probe.path, ["alice", "bob"]);
    } finally {
      mallory.stop();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
