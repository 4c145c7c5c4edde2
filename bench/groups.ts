/**
 * Group chat end to end (`deno task bench groups`): a 100-member group across
 * 10 real node processes on loopback (headless, real TLS, a star of links
 * around the home node n0), ten users per node. The 100 clients are client
 * cores in this one process, connected over the client protocol like remote
 * clients; so that one process on a shared machine is not made to do the work
 * of a hundred devices, 90 of them go offline once they have joined (their
 * nodes keep what arrives for them, as for any absent member) and one client
 * per node stays online and reads everything.
 *
 * Prints: time to add a member and to remove one (until the home node took the
 * commit, and until every online member is at the new epoch); group
 * messages/s end to end (sent, then read by every online member, then
 * "delivered to 99 of 99" back at the sender from the nodes' receipts);
 * envelopes and bytes handed to the network per message (one envelope per
 * destination node, against one per member). JSON line last. Asserts nothing.
 *
 *   deno task bench groups        (N=100 messages by default; N=... to change)
 */
// deno-lint-ignore-file no-console
import { join } from "node:path";
import { type ClientCore, type OpenClient, openClient, remoteLink } from "../lib/client/mod.ts";
import { SYSTEM_CLOCK } from "../lib/clock.ts";
import { type NodeId, toAddress, toNodeId, toUserName } from "../lib/ids.ts";
import { SILENT_LOGGER } from "../lib/log.ts";
import { decodeClientMessage, decodeEnvelope } from "../lib/protocol/mod.ts";
import { link } from "../tests/_helpers/chat.ts";
import { NodeProc, tempRoot, waitUntil } from "../tests/_helpers/node_proc.ts";

const NODES = 10;
const PER_NODE = 10;
const MESSAGES = Number(Deno.env.get("N") ?? 100);
const BATCH = 33;

interface Member {
  address: string;
  node: NodeProc;
  name: string;
  client: OpenClient | null;
  wire: { envelopes: number; bytes: number };
}

async function open(root: string, m: Member, code?: string): Promise<OpenClient> {
  return await openClient({
    dir: join(root, `${m.name}-${m.node.id}-client`),
    address: toAddress(m.address),
    clock: SYSTEM_CLOCK,
    log: SILENT_LOGGER,
    open: async (store) => {
      const l = await remoteLink({
        host: "127.0.0.1",
        port: m.node.port,
        nodeId: toNodeId(m.node.id) as NodeId,
        user: toUserName(m.name),
        enrollCode: code,
      })(store);
      // Counts the group envelopes this client hands its node.
      const send = l.send.bind(l);
      l.send = (bytes) => {
        try {
          const msg = decodeClientMessage(bytes);
          if (msg.type === "submit" && decodeEnvelope(msg.envelope).kind === "group") {
            m.wire.envelopes++;
            m.wire.bytes += msg.envelope.length;
          }
        } catch { /* not ours to judge */ }
        send(bytes);
      };
      return l;
    },
  });
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await f();
  return [v, Math.round(performance.now() - t)];
}

const root = await tempRoot("bench-groups");
const nodes: NodeProc[] = [];
const members: Member[] = [];
try {
  const t0 = performance.now();
  for (let i = 0; i < NODES; i++) {
    nodes.push(
      await NodeProc.create({
        id: `n${i}`,
        root,
        open: true,
        // Every client and link comes from 127.0.0.1: the per-address cap would stop at 16.
        extra: "[Limits]\nmax_connections = 1024\nmax_connections_per_address = 1024\n",
      }),
    );
  }
  for (const n of nodes.slice(1)) await link(n, nodes[0]);
  for (const n of nodes) {
    for (let u = 0; u < PER_NODE; u++) {
      const name = `u${u}`;
      const added = await n.admin("users-add", { name }) as { code: string };
      const m: Member = {
        address: `${name}@${n.id}`,
        node: n,
        name,
        client: null,
        wire: { envelopes: 0, bytes: 0 },
      };
      m.client = await open(root, m, added.code);
      members.push(m);
    }
  }
  const core = (m: Member): ClientCore => m.client!.core;
  const creator = members[0];
  const online = members.filter((m) => m.name === "u0"); // one per node
  const later = members.find((m) => m.address === `u9@n9`)!; // removed, then added back
  console.log(
    `setup: ${NODES} nodes, ${members.length} clients in ${Math.round(performance.now() - t0)} ms`,
  );

  // The group: the creator invites the 99 others in batches (one commit, one Welcome each).
  const g = (await core(creator).createGroup("bench")).id;
  const others = members.filter((m) => m !== creator);
  const t1 = performance.now();
  for (let i = 0; i < others.length; i += BATCH) {
    const batch = others.slice(i, i + BATCH).map((m) => m.address);
    await waitUntil("batch invited", async () => {
      try {
        await core(creator).inviteToGroup(g, batch);
        return true;
      } catch (e) {
        if (/no key package|no answer/.test(String(e))) return false;
        throw e;
      }
    }, 300_000);
    await waitUntil(
      "the home node took it",
      async () => (await core(creator).groups()).find((x) => x.id === g)?.pending === null,
      300_000,
    );
  }
  for (const m of others) {
    await waitUntil(
      `invitation at ${m.address}`,
      async () => (await core(m).invitations()).some((i) => i.group === g),
      120_000,
    );
    await core(m).acceptInvitation(g);
    if (!online.includes(m) && m !== later) {
      m.client!.close();
      m.client = null;
    }
  }
  const epochOf = async (m: Member) =>
    (await core(m).groups()).find((x) => x.id === g)?.epoch ?? -1;
  const atEpoch = async (e: number, also: Member[] = []) => {
    for (const m of [...online, ...also].filter((x) => x.client)) {
      await waitUntil(`${m.address} at epoch ${e}`, async () => (await epochOf(m)) >= e, 300_000);
    }
  };
  await atEpoch(await epochOf(creator), [later]);
  const formMs = Math.round(performance.now() - t1);
  console.log(
    `group of ${members.length} formed in ${formMs} ms (epoch ${await epochOf(creator)})`,
  );

  // Remove one member, then add one.
  let e0 = await epochOf(creator);
  const [, removeCommitMs] = await timed(() => core(creator).removeFromGroup(g, later.address));
  const [, removeAllMs] = await timed(async () => {
    await atEpoch(e0 + 1);
    await waitUntil(
      "the removed member knows",
      async () => (await core(later).groups()).find((x) => x.id === g)?.state === "removed",
      300_000,
    );
  });
  e0 = await epochOf(creator);
  const [, addCommitMs] = await timed(() => core(creator).inviteToGroup(g, later.address));
  const [, addAllMs] = await timed(async () => {
    await atEpoch(e0 + 1);
    await waitUntil(
      "invitation back",
      async () => (await core(later).invitations()).some((i) => i.group === g),
      60_000,
    );
    await core(later).acceptInvitation(g);
  });
  console.log(
    `remove 1 of 100: home node took it in ${removeCommitMs} ms, every online member at the new epoch ${removeAllMs} ms later`,
  );
  console.log(
    `add 1 to 99: home node took it in ${addCommitMs} ms; online members followed and the invitee joined ${addAllMs} ms later`,
  );
  later.client!.close();
  later.client = null;

  // Messages: sent one after another; read by every online member; delivered (receipts) to 99.
  const readAt = new Map<string, number>();
  let read = 0;
  for (const m of online.filter((x) => x !== creator)) {
    core(m).subscribe((e) => {
      if (
        e.kind === "groupMessage" && e.message.direction === "in" &&
        e.message.text.startsWith("bench ")
      ) {
        read++;
        readAt.set(`${m.address}|${e.message.text}`, performance.now());
      }
    });
  }
  const wireBefore = { ...creator.wire };
  const ids: string[] = [];
  const t2 = performance.now();
  for (let i = 0; i < MESSAGES; i++) {
    ids.push((await core(creator).sendToGroup(g, `bench ${i} ${"x".repeat(90)}`)).id);
  }
  const sentMs = performance.now() - t2;
  const receivers = online.length - 1;
  await waitUntil(
    "every online member read every message",
    () => read >= MESSAGES * receivers,
    600_000,
  );
  const readMs = Math.max(...readAt.values()) - t2;
  await waitUntil("delivered to 99 of 99", async () => {
    const h = await core(creator).groupHistory(g, { limit: MESSAGES + 500 });
    const mine = h.filter((m) => ids.includes(m.id));
    return mine.length === MESSAGES && mine.every((m) => m.delivery?.delivered === 99);
  }, 600_000);
  const deliveredMs = performance.now() - t2;
  const envelopes = (creator.wire.envelopes - wireBefore.envelopes) / MESSAGES;
  const bytes = Math.round((creator.wire.bytes - wireBefore.bytes) / MESSAGES);
  const perMember = Math.round(bytes / envelopes);
  console.log(
    `${MESSAGES} messages of 100 characters: sent in ${Math.round(sentMs)} ms (${
      Math.round((MESSAGES * 1000) / sentMs)
    }/s), read by all ${receivers} online members after ${Math.round(readMs)} ms (${
      Math.round((MESSAGES * 1000) / readMs)
    }/s), delivered to 99 of 99 after ${Math.round(deliveredMs)} ms (${
      Math.round((MESSAGES * 1000) / deliveredMs)
    }/s)`,
  );
  console.log(
    `per message: ${envelopes} envelopes (one per destination node; one per member would be 99), ` +
      `${bytes} bytes in all (${perMember} per envelope; per member it would be ${perMember * 99})`,
  );
  console.log(JSON.stringify({
    bench: "groups",
    simulated: "10 real node processes; 100 client cores in one process, 10 online",
    members: members.length,
    nodes: NODES,
    formMs,
    removeCommitMs,
    removeAllMs,
    addCommitMs,
    addAllMs,
    messages: MESSAGES,
    sendPerSec: Math.round((MESSAGES * 1000) / sentMs),
    readPerSec: Math.round((MESSAGES * 1000) / readMs),
    deliveredPerSec: Math.round((MESSAGES * 1000) / deliveredMs),
    envelopesPerMessage: envelopes,
    bytesPerMessage: bytes,
  }));
} finally {
  for (const m of members) m.client?.close();
  await Promise.all(nodes.map((n) => n.stop()));
}
