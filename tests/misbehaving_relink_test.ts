/**
 * A linked neighbour cut for misbehaviour cannot come straight back: each
 * return would buy it another handshake and another signature or proof check
 * (a bad-signature announcement costs one Ed25519 verification before it can
 * be refused). Until its penalty has run out it is refused after the
 * handshake, before any frame of it is read.
 */
import assert from "node:assert/strict";
import { toNodeId } from "../lib/ids.ts";
import { rawPeer } from "./_helpers/raw_peer.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";

Deno.test({
  name: "a neighbour cut for misbehaviour is refused when it relinks within its penalty",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await tempRoot("misbehaving-relink");
    const mallory = await rawPeer("mallory");
    let a: NodeProc | undefined;
    try {
      a = await NodeProc.create({ id: "alice", root, open: true });
      const alice = toNodeId("alice");
      const up = () => mallory.up("alice");
      assert.equal(await mallory.connect("alice", a.port), "up");
      // 10 rounds: undecodable announcement, cut; mallory's own redial dials again at once.
      let relinked = 0;
      for (let round = 0; round < 10; round++) {
        const bytes = crypto.getRandomValues(new Uint8Array(300));
        assert.ok(mallory.send(alice, { kind: "announce", bytes }));
        await waitUntil("alice drops mallory", () => !up(), 10_000);
        try {
          await waitUntil("mallory relinked", up, 3_000);
        } catch {
          break;
        }
        relinked++;
      }
      const cuts =
        a.output.match(/peer misbehaved peer=mallory why="sent a bad-encoding announcement"/g)
          ?.length ?? 0;
      // main: relinked 10 of 10 (one more handshake and one more check each time).
      assert.equal(cuts, 1, `cut ${cuts} times, relinked ${relinked} of 10 rounds`);
      assert.equal(relinked, 0, `relinked at once ${relinked} of 10 rounds`);
    } finally {
      mallory.stop();
      await a?.stop();
    }
  },
});
