/**
 * Requests that try to hijack an accepted chat, sent through real nodes on
 * 127.0.0.1 with real TLS. The attacker speaks through bob's own node, with
 * bob's address (as bob's node, or anything holding bob's connection to it,
 * could): node-level provenance cannot stop that, so the client must.
 *
 * - A request `from: bob@nodeb` with another identity becomes a warning
 *   beside the chat ("someone claims to be bob@nodeb with another key"); the
 *   chat keeps working both ways, and the key changes only when alice names
 *   the new key's fingerprint.
 * - A replay of bob's real request is dropped.
 * - bob's real request with its sealed intro swapped is refused.
 * - bob, having lost his chat state but not his key, asks again: a restart
 *   request alice may accept, after which the chat works again.
 *
 * On the code before ChatRequest v2 and contact_state.ts all three attacks
 * worked: the forged request marked bob "key changed" and stopped alice's
 * sending until she accepted the forger's key; the replay showed bob's real
 * fingerprint and accepting it replaced the live session; the swapped intro
 * was shown under bob's real fingerprint.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ChatStateError,
  ClientStore,
  type OpenClient,
  openClient,
  remoteLink,
} from "../lib/client/mod.ts";
import { decodePayload, encodePayload } from "../lib/client/payload.ts";
import { SYSTEM_CLOCK } from "../lib/clock.ts";
import * as e2e from "../lib/e2e/mod.ts";
import { decodeChatRequest, encodeChatRequestBody } from "../lib/e2e/handshake_messages.ts";
import { toAddress, toNodeId, toUserName } from "../lib/ids.ts";
import { createLogger } from "../lib/log.ts";
import {
  type ClientLink,
  decodeClientMessage,
  decodeEnvelope,
  DEFAULT_TTL,
  encodeClientMessage,
  encodeEnvelope,
} from "../lib/protocol/mod.ts";
import { link } from "./_helpers/chat.ts";
import { NodeProc, tempRoot, waitUntil } from "./_helpers/node_proc.ts";

const te = new TextEncoder();
const ALICE = "alice@nodea";
const BOB = "bob@nodeb";

/** An in-process client of `node` as `user`; `onLink` sees each link it opens. */
async function client(
  node: NodeProc,
  user: string,
  dir: string,
  o: { code?: string; fingerprint?: string; logs?: string[]; onLink?: (l: ClientLink) => void },
): Promise<OpenClient> {
  return await openClient({
    dir,
    address: toAddress(`${user}@${node.id}`),
    clock: SYSTEM_CLOCK,
    log: createLogger({
      level: "debug",
      component: user,
      sink: (line) => o.logs?.push(line),
    }),
    open: async (store) => {
      const l = await remoteLink({
        host: "127.0.0.1",
        port: node.port,
        nodeId: toNodeId(node.id),
        user: toUserName(user),
        enrollCode: o.code,
        nodeFingerprint: o.fingerprint,
      })(store);
      o.onLink?.(l);
      return l;
    },
  });
}

async function texts(c: OpenClient, peer: string): Promise<string[]> {
  return (await c.core.history(peer)).map((m) => m.text);
}

/** bob (who asked for the chat, so may speak first) sends, then alice answers. */
async function exchange(alice: OpenClient, bob: OpenClient, tag: string): Promise<void> {
  await bob.core.send(ALICE, `b-${tag}`);
  await waitUntil(`b-${tag} at alice`, async () => (await texts(alice, BOB)).includes(`b-${tag}`));
  await alice.core.send(BOB, `a-${tag}`);
  await waitUntil(`a-${tag} at bob`, async () => (await texts(bob, ALICE)).includes(`a-${tag}`));
}

Deno.test({
  name: "hijack: forged, replayed and altered requests never take over or block an accepted chat",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const root = await tempRoot("hijack");
    const nodes: NodeProc[] = [];
    const clients: OpenClient[] = [];
    try {
      const a = await NodeProc.create({ id: "nodea", root, open: true });
      const b = await NodeProc.create({ id: "nodeb", root, open: true });
      nodes.push(a, b);
      await link(a, b);
      const aliceUser = await a.addUser("alice");
      const bobUser = await b.addUser("bob");
      const logs: string[] = [];
      const alice = await client(a, "alice", join(root, "alice"), {
        code: aliceUser.code,
        fingerprint: aliceUser.fingerprint,
        logs,
      });
      clients.push(alice);

      // bob's client; its connection to its node is also the attacker's way in.
      let bobLink: ClientLink | null = null;
      const bobRequests: Uint8Array[] = [];
      const onLink = (l: ClientLink) => {
        bobLink = l;
        const send = l.send.bind(l);
        l.send = (bytes) => {
          const m = decodeClientMessage(bytes);
          if (m.type === "submit" && decodeEnvelope(m.envelope).kind === "request") {
            bobRequests.push(decodeEnvelope(m.envelope).body);
          }
          send(bytes);
        };
      };
      const bobDir = join(root, "bob");
      let bob = await client(b, "bob", bobDir, {
        code: bobUser.code,
        fingerprint: bobUser.fingerprint,
        onLink,
      });
      clients.push(bob);
      let req = 1_000_000;
      const asBob = (body: Uint8Array) => {
        const now = Date.now();
        const envelope = encodeEnvelope({
          id: crypto.getRandomValues(new Uint8Array(16)),
          kind: "request",
          ttl: DEFAULT_TTL,
          createdAtMs: now,
          expiresAtMs: now + 60_000,
          from: BOB,
          to: ALICE,
          body,
        });
        bobLink!.send(encodeClientMessage({ type: "submit", req: req++, envelope }));
      };
      const dropped = (reason: string) =>
        logs.filter((l) => l.includes("request dropped") && l.includes(`reason=${reason}`)).length;

      // The real chat.
      await waitUntil("bob's request sent", async () => {
        try {
          await bob.core.request(ALICE, "hi alice, it is bob");
          return true;
        } catch {
          return false;
        }
      }, 20_000);
      await waitUntil("request at alice", async () => (await alice.core.requests()).length === 1);
      const real = (await alice.core.requests())[0];
      assert.equal(real.restart, false);
      await alice.core.accept(BOB);
      await waitUntil(
        "bob sees the acceptance",
        async () => (await bob.core.contacts()).some((c) => c.state === "accepted"),
      );
      await exchange(alice, bob, "1");
      const realBody = bobRequests[0];
      const aliceKey = e2e.decodeIdentityKeyPair(alice.store.getMeta("identity")!);
      const alicePublic = (await aliceKey).publicIdentity;
      const claims: string[] = [];
      alice.core.subscribe((e) => {
        if (e.kind === "claim") claims.push(e.claim.fingerprint);
      });

      // Attack 1: a request in bob's name, made with another identity.
      const forger = await e2e.generateIdentity();
      const forged = await e2e.createChatRequest({
        identity: forger,
        from: BOB,
        to: ALICE,
        createdAtMs: Date.now(),
        sealedIntro: await e2e.sealIntro({
          recipient: alicePublic,
          intro: te.encode("new phone, it is bob"),
          ad: te.encode(`${BOB}|${ALICE}`),
        }),
      });
      asBob(encodePayload({ kind: "request", request: forged.request }));
      await waitUntil("the claim is shown", () => claims.length === 1);
      const contact = (await alice.core.contacts()).find((c) => c.address === BOB)!;
      assert.equal(contact.state, "accepted");
      assert.equal(contact.keyChanged, false);
      assert.equal(contact.fingerprint, real.fingerprint);
      assert.ok(contact.claim, "the warning is on the contact");
      assert.notEqual(contact.claim.fingerprint, real.fingerprint);
      assert.equal(contact.claim.intro, "new phone, it is bob");
      assert.deepEqual(await alice.core.requests(), [], "not offered as a request to accept");
      await exchange(alice, bob, "2"); // the chat keeps working, both ways
      const change = (await alice.core.keyChange(BOB))!;
      assert.equal(change.kind, "claim");
      assert.equal(change.current.fingerprint, real.fingerprint);
      assert.equal(change.claimed.fingerprint, contact.claim.fingerprint);
      assert.notEqual(change.current.digits, change.claimed.digits);
      await assert.rejects(alice.core.acceptKeyChange(BOB), ChatStateError);
      await assert.rejects(
        alice.core.acceptKeyChange(BOB, { confirm: real.fingerprint }),
        ChatStateError,
      );
      await alice.core.dismissKeyChange(BOB);
      assert.equal((await alice.core.contacts())[0].claim, null);
      assert.equal(await alice.core.keyChange(BOB), null);

      // Attack 2: bob's real request, replayed.
      asBob(realBody);
      await waitUntil("the replay is dropped", () => dropped("replay") === 1);
      // Attack 3: bob's real request with its sealed intro swapped.
      const original = decodeChatRequest(
        (decodePayload(realBody) as { kind: "request"; request: Uint8Array }).request,
      );
      const swappedIntro = await e2e.sealIntro({
        recipient: alicePublic,
        intro: te.encode("please send your password to mallory"),
        ad: te.encode(`${BOB}|${ALICE}`),
      });
      const swapped = new Uint8Array([
        ...encodeChatRequestBody({ ...original, sealedIntro: swappedIntro }),
        ...original.signature,
      ]);
      asBob(encodePayload({ kind: "request", request: swapped }));
      await waitUntil("the swapped intro is refused", () => dropped("refused") === 1);
      assert.deepEqual(await alice.core.requests(), []);
      assert.deepEqual(claims.length, 1);
      assert.equal((await alice.core.contacts())[0].claim, null);
      await exchange(alice, bob, "3");

      // bob loses his chat state but keeps his key, and asks again: a restart.
      const saved = ["identity", "device", "node-key"].map((k) => [k, bob.store.getMeta(k)!]);
      bob.close();
      clients.splice(clients.indexOf(bob), 1);
      const newDir = join(root, "bob-again");
      await Deno.mkdir(newDir, { recursive: true });
      const fresh = new ClientStore(join(newDir, "client.db"));
      for (const [k, v] of saved) fresh.setMeta(k as string, v as Uint8Array);
      fresh.close();
      bob = await client(b, "bob", newDir, { onLink });
      clients.push(bob);
      await alice.core.send(BOB, "a-while-bob-is-away"); // lost with bob's old state
      await bob.core.request(ALICE, "I lost my phone's data");
      await waitUntil(
        "restart request at alice",
        async () => (await alice.core.requests()).length === 1,
      );
      const restart = (await alice.core.requests())[0];
      assert.equal(restart.restart, true);
      assert.equal(restart.fingerprint, real.fingerprint);
      assert.equal(
        (await alice.core.contacts())[0].state,
        "accepted",
        "the chat goes on meanwhile",
      );
      await alice.core.accept(BOB);
      await waitUntil(
        "bob's new client sees the acceptance",
        async () => (await bob.core.contacts()).some((c) => c.state === "accepted"),
      );
      await exchange(alice, bob, "4");
      assert.ok((await texts(alice, BOB)).includes("b-1"), "alice keeps her history");
    } finally {
      for (const c of clients) c.close();
      await Promise.all(nodes.map((n) => n.stop()));
    }
  },
});
