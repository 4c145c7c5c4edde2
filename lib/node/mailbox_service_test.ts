import assert from "node:assert/strict";
import { join } from "node:path";
import { setImmediate } from "node:timers";
import { BudgetRegistry } from "../budget.ts";
import { SYSTEM_CLOCK } from "../clock.ts";
import { toAddress, toNodeId } from "../ids.ts";
import { SILENT_LOGGER } from "../log.ts";
import {
  type DecodedEnvelope,
  decodeEnvelope,
  decodeHeldEnvelope,
  encodeEnvelope,
  encodeHeldEnvelope,
  type Envelope,
  type NodeEnvelope,
  nodeEnvelope,
} from "../protocol/mod.ts";
import { openSqliteNodeStore } from "../store/mod.ts";
import { DEFAULT_LIMITS } from "../../tests/_helpers/faked_delivery.ts";
import { Committer } from "./committer.ts";
import { DeliveryBudgets } from "./delivery_budgets.ts";
import { MailboxService } from "./mailbox_service.ts";

const SELF = toNodeId("nm");
const SENDER = toNodeId("na");
const SERVED = toNodeId("nd");
const MIB = 1024 * 1024;

/** A mailbox serving SERVED on a disk whose flushes wait for `openGate` (a slow disk). */
async function slowDiskMailbox(
  o: { commitBytes: number; quotaBytes: number; route?: boolean },
) {
  const dir = join(new URL("../..", import.meta.url).pathname, ".tmp");
  await Deno.mkdir(dir, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir, prefix: "mailbox-" });
  const opened = openSqliteNodeStore(join(tmp, "node.db"));
  let openGate = () => {};
  const gate = new Promise<void>((r) => openGate = r);
  const store = new Proxy(opened, {
    get: (t, k) => k === "sync" ? () => gate.then(() => t.sync()) : Reflect.get(t, k, t),
  });
  const written = new Set<string>();
  const holdAdd = opened.holdAdd.bind(opened);
  opened.holdAdd = (rows) => {
    for (const r of rows) written.add(r.id);
    return holdAdd(rows);
  };
  const committer = new Committer(store, SILENT_LOGGER);
  const registry = new BudgetRegistry(SILENT_LOGGER, SYSTEM_CLOCK);
  const budgets = new DeliveryBudgets(registry, {
    ...DEFAULT_LIMITS,
    commitBytesPerOrigin: o.commitBytes,
  }, store);
  const answers = new Map<string, string>();
  const handedOver: NodeEnvelope[] = [];
  const mailbox = new MailboxService({
    self: SELF,
    store,
    committer,
    network: {
      // Proven (the provenance checks are not what these tests are about).
      verify: (bytes) => ({
        decoded: { envelope: decodeEnvelope(bytes) } as unknown as DecodedEnvelope,
        proven: true,
        verdict: {} as never,
      }),
      hasRoute: () => o.route ?? false,
      send: (e) => handedOver.push(e),
      answer: (_to, id, status) => answers.set(id.toHex(), status),
    },
    clock: SYSTEM_CLOCK,
    log: SILENT_LOGGER,
    limits: {
      perSenderBytes: 1024 * MIB,
      totalBytes: 1024 * MIB,
      defaultQuotaBytes: o.quotaBytes,
      keepMs: 60_000,
    },
    refusals: registry.budget("mailbox_refusals", { perKey: 0 }),
    commitBytes: {
      take: (s, n, now) => budgets.commitTake(s, n, now),
      release: (s, n) => budgets.commitRelease(s, n),
    },
  });
  mailbox.serve(SERVED);
  const now = Date.now();
  const depositOf = (sender: string, i: number, size = 400 * 1024) => {
    const inner = {
      id: new Uint8Array(16),
      kind: "message",
      ttl: 32,
      createdAtMs: now,
      expiresAtMs: now + 60_000,
      from: toAddress(`alice@${sender}`),
      to: toAddress("bob@nd"),
      body: new Uint8Array(size).fill(i),
    } as Envelope;
    new DataView(inner.id.buffer).setUint32(0, 1_000 + i);
    const bytes = encodeEnvelope(inner);
    const e = nodeEnvelope({
      kind: "custody",
      from: toNodeId(sender),
      to: SELF,
      body: encodeHeldEnvelope(bytes),
      nowMs: now,
      lifetimeMs: 60_000,
    });
    return { e, id: inner.id.toHex(), size: bytes.length };
  };
  const deposits = Array.from({ length: 60 }, (_, i) => depositOf(SENDER, i));
  const sent = new Set<string>();
  return {
    mailbox,
    /** What the mailbox handed over to SERVED (with `route`). */
    handedOver,
    store,
    answers,
    written,
    deposits,
    depositOf,
    sent,
    openGate,
    /** Hands `ds` over one by one (a turn of the event loop between them); `each` after each. */
    async send(ds: typeof deposits, each = () => {}) {
      for (const d of ds) {
        sent.add(d.id);
        mailbox.receiveCustody(d.e, d.e.from as typeof SENDER);
        await new Promise((r) => setImmediate(r));
        each();
      }
    },
    /** Waits (bounded) until every deposit sent has its answer. */
    async answered() {
      const deadline = Date.now() + 5_000;
      while (answers.size < sent.size && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1));
      }
    },
    async close() {
      mailbox.stop();
      committer.close();
      store.close();
      await Deno.remove(tmp, { recursive: true });
    },
  };
}

Deno.test("Mailbox: while the disk is slow, deposits waiting for their commit stay within their sender's share of commit_bytes ('busy' past it); once the disk is back every one is held once", async () => {
  const m = await slowDiskMailbox({ commitBytes: 8 * MIB, quotaBytes: 1024 * MIB });
  try {
    const held = () => {
      let n = 0;
      for (const d of m.deposits) {
        if (m.sent.has(d.id) && !m.answers.has(d.id) && !m.written.has(d.id)) n += d.size;
      }
      return n;
    };
    let peak = 0;
    await m.send(m.deposits, () => peak = Math.max(peak, held()));
    assert.ok(peak <= 8 * MIB, `${(peak / MIB).toFixed(1)} MiB held`);
    // The disk is back: the sender sends again what was "busy" (bounded rounds).
    m.openGate();
    for (let round = 0; round < 50; round++) {
      await m.answered();
      const again = m.deposits.filter((d) => m.answers.get(d.id) === "busy");
      if (again.length === 0) break;
      for (const d of again) m.answers.delete(d.id);
      await m.send(again, () => peak = Math.max(peak, held()));
    }
    assert.deepEqual(
      m.deposits.filter((d) => m.answers.get(d.id) !== "held"),
      [],
      "every one held",
    );
    assert.equal(
      m.store.heldUsage().byOrigin.get(SENDER),
      m.deposits.reduce((n, d) => n + d.size, 0),
    );
  } finally {
    await m.close();
  }
});

Deno.test("Mailbox: one sending node holds at most its share of a served node's quota; the next finds room", async () => {
  // The served node's quota: 4 MiB (`mailbox serve nd 4M`); the default share (50 %).
  const m = await slowDiskMailbox({ commitBytes: 64 * MIB, quotaBytes: 4 * MIB });
  try {
    m.openGate();
    const answered = async (ds: ReturnType<typeof m.depositOf>[]) => {
      await m.send(ds);
      await m.answered();
      return ds.filter((d) => m.answers.get(d.id) === "held").length;
    };
    // nd offline: na deposits 20 of 400 KiB (main: 10 held, the quota full, ne refused).
    assert.equal(await answered(m.deposits.slice(0, 20)), 5);
    const ne = Array.from({ length: 10 }, (_, i) => m.depositOf("ne", 100 + i));
    assert.equal(await answered(ne), 2);
    assert.equal(m.answers.get(m.deposits[5].id), "quota-full");
    assert.ok(m.mailbox.share.heldBy(SERVED, SENDER) > 0);
    assert.equal(m.mailbox.share.entries, 2);
  } finally {
    await m.close();
  }
});

Deno.test("Mailbox: deposits waiting for their commit count against the served node's quota (a slow disk does not let a sender past it)", async () => {
  const quota = 2 * MIB;
  const m = await slowDiskMailbox({ commitBytes: 16 * MIB, quotaBytes: quota });
  try {
    // 60 deposits of 400 KiB while no commit is flushed (24 MiB; the quota is 2 MiB).
    await m.send(m.deposits);
    m.openGate();
    await m.answered();
    const heldBytes = m.store.heldUsage().byNode.get(SERVED) ?? 0;
    assert.ok(heldBytes <= quota, `${(heldBytes / MIB).toFixed(1)} MiB held for a 2 MiB quota`);
    const held = m.deposits.filter((d) => m.answers.get(d.id) === "held").length;
    assert.ok(held > 0, "some held");
    assert.equal(
      m.deposits.filter((d) => m.answers.get(d.id) === "quota-full").length +
        m.deposits.filter((d) => m.answers.get(d.id) === "busy").length,
      m.deposits.length - held,
      "the others refused (quota-full) or busy",
    );
    assert.ok(m.answers.size === m.deposits.length, "every deposit answered");
  } finally {
    await m.close();
  }
});

Deno.test("Mailbox: another sender's deposit under an id already held is 'refused', not 'held' (a relay that saw the id and deposited first cannot make the mailbox take custody of what it never kept)", async () => {
  const m = await slowDiskMailbox({ commitBytes: 16 * MIB, quotaBytes: 1024 * MIB });
  try {
    m.openGate();
    const real = m.deposits[0];
    const inner = decodeHeldEnvelope(real.e.body);
    const squat = { ...decodeEnvelope(inner), from: toAddress("mallory@nm") } as Envelope;
    const nm = toNodeId("nm");
    m.mailbox.receiveCustody(
      nodeEnvelope({
        kind: "custody",
        from: nm,
        to: SELF,
        body: encodeHeldEnvelope(encodeEnvelope(squat)),
        nowMs: Date.now(),
        lifetimeMs: 60_000,
      }),
      nm,
    );
    m.sent.add(real.id);
    await m.answered();
    assert.equal(m.answers.get(real.id), "held", "mallory's deposit held");
    m.answers.clear();
    await m.send([real]);
    await m.answered();
    assert.equal(m.answers.get(real.id), "refused", "alice's deposit under mallory's id");
    assert.equal(m.store.heldUsage().byOrigin.get(SENDER) ?? 0, 0);
  } finally {
    await m.close();
  }
});

Deno.test("Mailbox: once what a sender deposited is handed over, nothing is kept about that sender or served node (no entry per sending node ever seen)", async () => {
  const m = await slowDiskMailbox({ commitBytes: 16 * MIB, quotaBytes: 1024 * MIB, route: true });
  try {
    m.openGate();
    await m.send(m.deposits.slice(0, 3));
    await m.answered();
    assert.equal(m.mailbox.view().keys, 1);
    const deadline = Date.now() + 5_000;
    while (m.handedOver.length < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    m.mailbox.settle(m.handedOver.map((e) => ({ id: e.id, status: "stored" as const })), SERVED);
    while (m.mailbox.view().used > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(m.mailbox.view().used, 0);
    assert.equal(m.mailbox.view().keys, 0, "a zero entry kept for the served node");
  } finally {
    await m.close();
  }
});
