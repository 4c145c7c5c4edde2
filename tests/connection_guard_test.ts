/**
 * Input from one connection can cost at most that connection: bytes that make
 * a handler throw (here: a probe whose path does not decode, and a probe whose
 * path grows past its cap one hop later) close the connection that carried
 * them, and the node keeps its process and every other link.
 */
import assert from "node:assert/strict";
import { SYSTEM_CLOCK } from "../lib/clock.ts";
import { ByteWriter } from "../lib/codec.ts";
import { LinkManager } from "../lib/federation/mod.ts";
import { toNodeId } from "../lib/ids.ts";
import { SILENT_LOGGER } from "../lib/log.ts";
import { DEFAULT_TTL, encodeEnvelope } from "../lib/protocol/mod.ts";
import { openSqliteNodeStore } from "../lib/store/mod.ts";
import { link } from "./_helpers/chat.ts";
import { NodeProc, tempRoot, waitLink, waitUntil } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function mallory(): Promise<{ links: LinkManager; close(): void }> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const store = openSqliteNodeStore(":memory:");
  const links = new LinkManager({
    self: {
      nodeId: toNodeId("mallory"),
      key: {
        privateKey: pair.privateKey,
        publicKey: new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)),
      },
    },
    endpoint: { host: "127.0.0.1", port: 9 },
    store,
    clock: SYSTEM_CLOCK,
    log: SILENT_LOGGER,
    open: true,
    maxMessageBytes: 1 << 20,
    handshakeTimeoutMs: 5000,
  });
  return {
    links,
    close: () => {
      links.stop();
      store.close();
    },
  };
}

/** A probe envelope from mallory to `to` carrying `body` as its path. */
function probe(to: string, body: Uint8Array): Uint8Array {
  const now = Date.now();
  return encodeEnvelope({
    id: crypto.getRandomValues(new Uint8Array(16)),
    kind: "probe",
    ttl: DEFAULT_TTL,
    createdAtMs: now,
    expiresAtMs: now + 60_000,
    from: "mallory",
    to,
    body,
  });
}

Deno.test({
  name: "input that makes a handler throw closes only its connection; the node keeps running",
  ...opts,
  fn: async () => {
    const root = await tempRoot("guard");
    const nodes: NodeProc[] = [];
    const m = await mallory();
    try {
      const a = await NodeProc.create({ id: "alice", root, open: true });
      const b = await NodeProc.create({ id: "bob", root, open: true });
      const c = await NodeProc.create({ id: "carol", root, open: true });
      nodes.push(a, b, c);
      await link(a, b);
      await link(b, c);
      const alice = toNodeId("alice");
      const up = () => m.links.links().find((l) => l.peer === "alice")?.state === "up";
      assert.equal(
        (await m.links.connect({ nodeId: alice, host: "127.0.0.1", port: a.port })).state,
        "up",
      );
      const [pidA, pidB] = [a.pid, b.pid];
      const bobSince = (await a.link("bob"))!.sinceMs;

      // 1. A probe whose path does not decode (a count of 255 hops) at its first hop.
      assert.ok(
        m.links.send(alice, { kind: "envelope", bytes: probe("carol", new Uint8Array([255])) }),
      );
      await waitUntil("alice drops mallory", () => !up());
      await waitUntil("alice answers", () => a.status().then(() => true), 5000);
      assert.ok(a.running && a.pid === pidA, "alice kept its process");
      assert.match(
        a.output,
        /handler of its input failed|malformed|misbehaved/,
        "alice logged why",
      );
      assert.equal((await a.link("bob"))?.sinceMs, bobSince, "alice–bob undisturbed");

      // 2. A path of 64 hops (the cap) passes alice, who adds herself: 65 at bob.
      await waitUntil("mallory relinked", up, 20_000);
      const path = new ByteWriter().u8(64);
      for (let i = 0; i < 64; i++) path.str(`n${i}`);
      assert.ok(m.links.send(alice, { kind: "envelope", bytes: probe("carol", path.finish()) }));
      // Whoever refuses it (alice, or bob closing its link from alice), nobody exits,
      // and the links come back.
      await waitLink(a, "bob", "up");
      await waitLink(b, "carol", "up");
      await waitUntil("alice reaches carol through bob again", async () => {
        const r = (await a.admin("ping", { nodeId: "carol" })) as { path: string[] };
        return r.path.join(">") === "alice>bob>carol";
      }, 20_000);
      assert.ok(a.running && a.pid === pidA, "alice kept its process");
      assert.ok(b.running && b.pid === pidB, "bob kept its process");
    } finally {
      m.close();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
