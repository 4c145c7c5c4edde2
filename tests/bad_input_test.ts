/**
 * Bad input from a client gets a clear error or is dropped with a log line,
 * and the node keeps serving everyone else: garbage, malformed envelopes,
 * envelopes claiming another sender, an address that does not exist, a
 * message before acceptance, oversized input.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type ClientMessage,
  DEFAULT_TTL,
  encodeEnvelope,
  envelopeIdHex,
  type EnvelopeInit,
} from "../lib/protocol/mod.ts";
import { rawClient } from "./_helpers/raw_client.ts";
import { history, link, startChat } from "./_helpers/chat.ts";
import { NodeProc, runCli, tempRoot, waitUntil } from "./_helpers/node_proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function envelope(over: Partial<EnvelopeInit>): EnvelopeInit {
  const now = Date.now();
  return {
    id: crypto.getRandomValues(new Uint8Array(16)),
    kind: "message",
    ttl: DEFAULT_TTL,
    createdAtMs: now,
    expiresAtMs: now + 60_000,
    from: "mallory@nodea",
    to: "bob@nodeb",
    body: new Uint8Array([3, 0, 0, 0, 1, 9]),
    ...over,
  };
}

/** Nodes A and B (each with its owner's client), linked; both added to `nodes` for cleanup. */
async function linkedPair(root: string, nodes: NodeProc[]): Promise<[NodeProc, NodeProc]> {
  const a = await NodeProc.create({ id: "nodea", root, open: true, withClient: true });
  const b = await NodeProc.create({ id: "nodeb", root, open: true, withClient: true });
  nodes.push(a, b);
  await link(a, b);
  return [a, b];
}

Deno.test({
  name: "bad input from a client: clear errors or logged drops, and the node keeps serving",
  ...opts,
  fn: async () => {
    const root = await tempRoot("bad-input");
    const nodes: NodeProc[] = [];
    let mallory: Awaited<ReturnType<typeof rawClient>> | null = null;
    try {
      const [a, b] = await linkedPair(root, nodes);
      const added = await a.addUser("mallory");
      mallory = await rawClient(a, "mallory", added.code, join(root, "mallory"));
      const reply = async (req: number) => {
        await waitUntil(
          `reply ${req}`,
          () => mallory!.got.some((m) => "req" in m && m.req === req),
        );
        return mallory!.got.find((m) => "req" in m && m.req === req) as Extract<
          ClientMessage,
          { type: "submitted" }
        >;
      };

      // Garbage: an error message, and the connection still answers.
      mallory.raw(new Uint8Array([1, 200, 0, 0]));
      mallory.raw(crypto.getRandomValues(new Uint8Array(300)));
      await waitUntil("errors", () => mallory!.got.filter((m) => m.type === "error").length >= 2);
      mallory.send({ type: "directory", req: 1 });
      await reply(1);

      // A malformed envelope; one that claims to be from alice.
      mallory.send({ type: "submit", req: 2, envelope: new Uint8Array([1, 2, 3]) });
      assert.match((await reply(2)).error ?? "", /Cannot read envelope/);
      mallory.send({
        type: "submit",
        req: 3,
        envelope: encodeEnvelope(envelope({ from: "nodea@nodea" })),
      });
      assert.match((await reply(3)).error ?? "", /must say from mallory@nodea/);

      // An address that does not exist: sent, then reported failed.
      const ghost = envelope({ kind: "request", to: "nobody@nodeb" });
      mallory.send({ type: "submit", req: 4, envelope: encodeEnvelope(ghost) });
      assert.equal((await reply(4)).state, "sent");
      await waitUntil(
        "no-such-user notice",
        () =>
          mallory!.got.some((m) =>
            m.type === "notice" && m.ref === envelopeIdHex(ghost.id) && m.reason === "no-such-user"
          ),
      );

      // A message before acceptance: refused by bob's node, never shown to bob.
      const early = envelope({ to: "nodeb@nodeb" });
      mallory.send({ type: "submit", req: 5, envelope: encodeEnvelope(early) });
      await reply(5);
      await waitUntil(
        "refused notice",
        () =>
          mallory!.got.some((m) =>
            m.type === "notice" && m.ref === envelopeIdHex(early.id) && m.reason === "refused"
          ),
      );
      assert.match(b.output, /message dropped: sender not accepted/);
      assert.deepEqual(await history(b, "mallory@nodea"), []);

      // Oversized: a request body over the limit gets an error; a frame over the cap closes the link.
      mallory.send({
        type: "submit",
        req: 6,
        envelope: encodeEnvelope(envelope({ kind: "request", body: new Uint8Array(100_000) })),
      });
      assert.match((await reply(6)).error ?? "", /too large/);
      mallory.raw(new Uint8Array(2 * 1024 * 1024));
      await waitUntil(
        "oversized frame closes mallory's connection",
        () => mallory!.closed() !== "",
      );

      // The CLI explains what a person can get wrong.
      const big = await runCli([
        "send",
        "nodeb@nodeb",
        "x".repeat(17_000),
        "--config",
        a.configPath,
      ]);
      assert.match(big.stdout, /a message is 1 to 16,000 characters/);
      const stranger = await runCli(["send", "nodeb@nodeb", "hi", "--config", a.configPath]);
      assert.match(stranger.stdout, /has not accepted a chat with you/);
      const nobody = await runCli(["request", "nobody@nodeb", "hi", "--config", a.configPath]);
      assert.match(nobody.stdout, /no such user/);
      const badAddr = await runCli(["request", "Not An Address", "--config", a.configPath]);
      assert.match(badAddr.stdout, /Cannot parse/);

      // Everyone else is unaffected.
      await startChat(a, "nodea@nodea", b, "nodeb@nodeb");
      await a.admin("send", { address: "nodeb@nodeb", text: "still here" });
      await waitUntil(
        "alice→bob works",
        async () => (await history(b, "nodea@nodea")).some((m) => m.text === "still here"),
      );
    } finally {
      mallory?.close();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name:
    "an envelope whose destination stays unreachable past its expiry is reported failed: expired",
  ...opts,
  fn: async () => {
    const root = await tempRoot("expiry");
    const nodes: NodeProc[] = [];
    let client: Awaited<ReturnType<typeof rawClient>> | null = null;
    try {
      const [a, b] = await linkedPair(root, nodes);
      const added = await a.addUser("erin");
      client = await rawClient(a, "erin", added.code, join(root, "erin"));
      await b.stop();
      const e = envelope({ from: "erin@nodea", to: "nodeb@nodeb", expiresAtMs: Date.now() + 1500 });
      client.send({ type: "submit", req: 1, envelope: encodeEnvelope(e) });
      await waitUntil(
        "sent",
        () => client!.got.some((m) => m.type === "submitted" && m.req === 1 && m.state === "sent"),
      );
      await waitUntil(
        "expired notice",
        () =>
          client!.got.some((m) =>
            m.type === "notice" && m.ref === envelopeIdHex(e.id) && m.state === "failed" &&
            m.reason === "expired"
          ),
        10_000,
      );
    } finally {
      client?.close();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});

Deno.test({
  name: "users remove ends that user's client session at once; a new account of the name is new",
  ...opts,
  fn: async () => {
    const root = await tempRoot("users-remove");
    const nodes: NodeProc[] = [];
    let carol: Awaited<ReturnType<typeof rawClient>> | null = null;
    try {
      const [a] = await linkedPair(root, nodes);
      const added = await a.addUser("carol");
      carol = await rawClient(a, "carol", added.code, join(root, "carol"));
      const removed = await runCli(["users", "remove", "carol", "--config", a.configPath]);
      assert.equal(removed.code, 0, removed.stdout + removed.stderr);
      await waitUntil("carol's session is closed", () => carol!.closed() !== "", 3_000);
      // A new carol enrolls with a new code; the old device's key is no one's now.
      await a.addUser("carol");
      const users = (await a.admin("users-list")) as Array<{ name: string; enrolled: boolean }>;
      assert.equal(users.find((u) => u.name === "carol")?.enrolled, false);
    } finally {
      carol?.close();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
