/**
 * Relay backpressure between real node processes on 127.0.0.1: while the
 * relay's link to the receiver's node is not writable (a proxy stops reading
 * the relay's bytes), the relay stops reading the sender's link instead of
 * piling chunks up in its memory, and resumes once the link drains, without
 * either link dropping (a held link's heartbeats wait unread; the silence
 * detector does not count the hold). The sender's node meanwhile keeps its
 * own unsent bytes under its pause mark (its client's next chunk waits for
 * the link to drain), so it never stops reading the relay's link.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  chattingAcrossRelay,
  sendAndAccept,
  sha256File,
  transfer,
  waitTransfer,
  writeTestFile,
} from "./_helpers/files.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";
import { startStallProxy } from "./_helpers/stall_proxy.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

interface Holds {
  held: number;
  made: number;
  ranOut: number;
}

async function holds(n: NodeProc): Promise<Holds> {
  return ((await n.admin("status")) as { relayHolds: Holds }).relayHolds;
}

Deno.test({
  name:
    "relay backpressure: a relay holds the sender's link while the next hop is full, and no link drops",
  ...opts,
  fn: async () => {
    const root = await tempRoot("relay-hold");
    const nodes: NodeProc[] = [];
    const relay = await NodeProc.create({ id: "relay", root, open: true });
    nodes.push(relay);
    await using proxy = await startStallProxy(relay.port);
    try {
      // bob reaches the relay through the proxy, which can stop taking the relay's bytes.
      const [a, b] = await chattingAcrossRelay(root, relay, proxy.port, nodes);
      const toAlice = (await relay.link("alice"))!.sinceMs;
      const toBob = (await relay.link("bob"))!.sinceMs;

      const size = 120_000_000; // still moving through all three stalls on a fast machine
      const src = join(root, "file.bin");
      await writeTestFile(src, size, 7);
      const id = await sendAndAccept(a, b, "bob@bob", src);
      await waitUntil(
        "bob past 5%",
        async () => ((await transfer(b, id))?.bytesDone ?? 0) > size / 20,
      );
      for (let i = 0; i < 3; i++) {
        const before = (await holds(relay)).made;
        proxy.stall();
        // Held while the chunks still flow (the links' survival is asserted below, not a time).
        await waitUntil(
          "the relay holds alice's link",
          async () => (await holds(relay)).made > before,
          10_000,
        )
          .finally(() => proxy.resume());
        await waitUntil("the hold ends", async () => (await holds(relay)).held === 0, 5000);
      }
      const got = await waitTransfer(b, id, "complete", 60_000);
      assert.equal(await sha256File(got.path!), await sha256File(src));
      const after = await holds(relay);
      assert.ok(after.made >= 3, `holds made: ${after.made}`);
      assert.equal((await relay.link("alice"))!.sinceMs, toAlice, "the held link never dropped");
      assert.equal((await relay.link("bob"))!.sinceMs, toBob, "the slow link never dropped");
      // The sender's node waited for its link to drain before taking more chunks from alice's
      // client (the forwarder's `sent`), so its own unsent bytes never reached the pause mark:
      // it went on reading the relay's link (the receipts) through every hold.
      assert.doesNotMatch(a.output, /stopped reading a connection: unsent bytes/);
    } finally {
      for (const n of nodes) await n.stop();
    }
  },
});
