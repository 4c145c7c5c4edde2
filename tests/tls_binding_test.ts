/**
 * The TLS channel binding between real node processes on 127.0.0.1 (handshake
 * version 4, lib/channel): a direct link runs plain records; a link through
 * anything that terminates TLS stays sealed and works; a relay that rewrites
 * the binding fields gets the link refused, never plain; a peer that proves no
 * binding gets a sealed link; a remote client's channel to its node (the same
 * handshake, label fedchat-client-v1) binds the same way. (Through nginx:
 * tests/proxy_nginx_test.ts.)
 */
import assert from "node:assert/strict";
import {
  CLIENT_LABEL,
  initiatorFinish,
  initiatorHello,
  type LinkKeys,
  nextMessage,
} from "../lib/channel/mod.ts";
import { LINK_PATH } from "../lib/federation/mod.ts";
import { toNodeId } from "../lib/ids.ts";
import { dialWss } from "../lib/wss/mod.ts";
import { history, link, startChat } from "./_helpers/chat.ts";
import { NodeProc, tempRoot, waitLink, waitUntil } from "./_helpers/node_proc.ts";
import { linkSilentReader } from "./_helpers/silent_reader.ts";
import { startRewritingRelay, startTlsRelay } from "./_helpers/tls_mitm.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** alice and bob (open, with their owners' clients) in `root`. */
async function pair(root: string, nodes: NodeProc[]): Promise<[NodeProc, NodeProc]> {
  const [a, b] = await Promise.all([
    NodeProc.create({ id: "alice", root, withClient: true }),
    NodeProc.create({ id: "bob", root, open: true, withClient: true }),
  ]);
  nodes.push(a, b);
  return [a, b];
}

/** Chats alice → bob over whatever link is up, and checks the message arrived. */
async function chat(a: NodeProc, b: NodeProc, text: string): Promise<void> {
  await startChat(a, "alice@alice", b, "bob@bob");
  await a.admin("send", { address: "bob@bob", text });
  await waitUntil(
    `"${text}" at bob`,
    async () => (await history(b, "alice@alice")).some((m) => m.text === text),
  );
}

Deno.test({
  name: "tls binding: a direct link runs plain records on both sides and carries a chat",
  ...opts,
  fn: async () => {
    const root = await tempRoot("tlsbind-direct");
    const nodes: NodeProc[] = [];
    try {
      const [a, b] = await pair(root, nodes);
      await link(a, b);
      await waitLink(b, "alice", "up");
      assert.equal((await a.link("bob"))?.records, "plain");
      assert.equal((await b.link("alice"))?.records, "plain");
      await chat(a, b, "plain hello");
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name: "tls binding: a link through a TLS-terminating relay stays sealed and carries a chat",
  ...opts,
  fn: async () => {
    const root = await tempRoot("tlsbind-mitm");
    const nodes: NodeProc[] = [];
    let relay: Awaited<ReturnType<typeof startTlsRelay>> | null = null;
    try {
      const [a, b] = await pair(root, nodes);
      relay = await startTlsRelay(b.port);
      await a.admin("connect", {
        host: "127.0.0.1",
        port: relay.port,
        nodeId: "bob",
        waitMs: 5000,
      });
      await waitLink(a, "bob", "up");
      await waitLink(b, "alice", "up");
      assert.ok(relay.relayed() >= 1, "the link went through the relay");
      // The relay holds two TLS sessions: the bindings differ, the records stay sealed.
      assert.equal((await a.link("bob"))?.records, "sealed");
      assert.equal((await b.link("alice"))?.records, "sealed");
      await chat(a, b, "sealed hello");
    } finally {
      await relay?.close();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name: "tls binding: a relay that rewrites the binding fields gets the link refused, never plain",
  ...opts,
  fn: async () => {
    const root = await tempRoot("tlsbind-rewrite");
    const nodes: NodeProc[] = [];
    let relay: Awaited<ReturnType<typeof startRewritingRelay>> | null = null;
    try {
      const [a, b] = await pair(root, nodes);
      relay = await startRewritingRelay(b.port, LINK_PATH);
      await a.admin("connect", { host: "127.0.0.1", port: relay.port, nodeId: "bob", waitMs: 5000 })
        .catch(() => {});
      await waitUntil("alice's attempt failed", async () => {
        const row = await a.link("bob");
        return row !== undefined && row.lastError !== null;
      });
      assert.ok(relay.rewritten() >= 2, "both hellos were rewritten");
      const row = await a.link("bob");
      assert.match(row?.lastError ?? "", /signature does not verify/);
      assert.notEqual(row?.state, "up");
      assert.equal(row?.records, null);
      assert.notEqual((await b.link("alice"))?.state, "up");
    } finally {
      await relay?.close();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name: "tls binding: a peer whose hello carries no binding gets a sealed link",
  ...opts,
  fn: async () => {
    const root = await tempRoot("tlsbind-none");
    const nodes: NodeProc[] = [];
    try {
      const b = await NodeProc.create({ id: "bob", root, open: true });
      nodes.push(b);
      // A hand-driven node whose HELLO_I has no binding (as a node without TLS 1.3 would send).
      const peer = await linkSilentReader({ port: b.port, nodeId: "bob", self: "mallory" });
      try {
        assert.equal(peer.status, "accepted");
        await waitLink(b, "mallory", "up");
        assert.equal((await b.link("mallory"))?.records, "sealed");
      } finally {
        peer.close();
      }
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

/** Runs a client's side of the handshake with the node behind `port`: the keys it ends with. */
async function clientHandshake(port: number, nodeId: string): Promise<LinkKeys> {
  const pair = await crypto.subtle.generateKey("Ed25519", true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const key = {
    privateKey: pair.privateKey,
    publicKey: new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)),
  };
  const ws = await dialWss({
    host: "127.0.0.1",
    port,
    path: "/fedchat/v1/client",
    timeoutMs: 5000,
    maxMessageBytes: 1 << 20,
  });
  try {
    const hello = await initiatorHello({ nodeId: toNodeId("carol"), key }, {
      expected: toNodeId(nodeId),
      endpoint: null,
      label: CLIENT_LABEL,
      binding: ws.tlsBinding,
    });
    ws.send(hello.message);
    const fin = await initiatorFinish(hello.state, await nextMessage(ws, 5000));
    return fin.keys;
  } finally {
    ws.destroy();
  }
}

Deno.test({
  name:
    "tls binding: a remote client's channel binds like a link: plain direct, sealed via a relay",
  ...opts,
  fn: async () => {
    const root = await tempRoot("tlsbind-client");
    const nodes: NodeProc[] = [];
    let relay: Awaited<ReturnType<typeof startTlsRelay>> | null = null;
    try {
      const b = await NodeProc.create({ id: "bob", root });
      nodes.push(b);
      // The node's HELLO_R carries the binding of its own socket: equal to the client's only
      // when nothing between them terminates TLS (both decide from the same signed hellos).
      assert.ok((await clientHandshake(b.port, "bob")).binding, "direct: plain");
      relay = await startTlsRelay(b.port);
      assert.equal((await clientHandshake(relay.port, "bob")).binding, null, "relayed: sealed");
    } finally {
      await relay?.close();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
