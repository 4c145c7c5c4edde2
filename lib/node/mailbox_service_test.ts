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
  encodeEnvelope,
  encodeHeldEnvelope,
  type Envelope,
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

Deno.test("Mailbox: while the disk is slow, deposits waiting for their commit stay within their sender's share of commit_bytes ('busy' past it); once the disk is back every one is held once", async () => {
  const dir = join(new URL("../..", import.meta.url).pathname, ".tmp");
  await Deno.mkdir(dir, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir, prefix: "mailbox-" });
  const opened = openSqliteNodeStore(join(tmp, "node.db"));
  let openGate = () => {};
  const gate = new Promise<void>((r) => openGate = r);
  // The disk's flushes wait for the gate (a slow disk).
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
    commitBytesPerOrigin: 8 * MIB,
  }, store);
  const answers = new Map<string, string>();
  const mailbox = new MailboxService({
    self: SELF,
    store,
    committer,
    network: {
      // Proven (the provenance checks are not what this test is about).
      verify: (bytes) => ({
        decoded: { envelope: decodeEnvelope(bytes) } as unknown as DecodedEnvelope,
        proven: true,
        verdict: {} as never,
      }),
      hasRoute: () => false,
      send: () => {},
      answer: (_to, id, status) => answers.set(id.toHex(), status),
    },
    clock: SYSTEM_CLOCK,
    log: SILENT_LOGGER,
    limits: {
      perSenderBytes: 1024 * MIB,
      totalBytes: 1024 * MIB,
      defaultQuotaBytes: 1024 * MIB,
      keepMs: 60_000,
    },
    refusals: registry.budget("mailbox_refusals", { perKey: 0 }),
    commitBytes: {
      take: (s, n, now) => budgets.commitTake(s, n, now),
      release: (s, n) => budgets.commitRelease(s, n),
    },
  });
  try {
    mailbox.serve(SERVED);
    const now = Date.now();
    const deposits = Array.from({ length: 60 }, (_, i) => {
      const inner = {
        id: new Uint8Array(16),
        kind: "message",
        ttl: 32,
        createdAtMs: now,
        expiresAtMs: now + 60_000,
        from: toAddress("alice@na"),
        to: toAddress("bob@nd"),
        body: new Uint8Array(400 * 1024).fill(i),
      } as Envelope;
      new DataView(inner.id.buffer).setUint32(0, 1_000 + i);
      const bytes = encodeEnvelope(inner);
      const e = nodeEnvelope({
        kind: "custody",
        from: SENDER,
        to: SELF,
        body: encodeHeldEnvelope(bytes),
        nowMs: now,
        lifetimeMs: 60_000,
      });
      return { e, id: inner.id.toHex(), size: bytes.length };
    });
    const sent = new Set<string>();
    const held = () => {
      let n = 0;
      for (const d of deposits) {
        if (sent.has(d.id) && !answers.has(d.id) && !written.has(d.id)) n += d.size;
      }
      return n;
    };
    let peak = 0;
    const send = async (ds: typeof deposits) => {
      for (const d of ds) {
        sent.add(d.id);
        mailbox.receiveCustody(d.e, SENDER);
        await new Promise((r) => setImmediate(r));
        peak = Math.max(peak, held());
      }
    };
    await send(deposits);
    assert.ok(peak <= 8 * MIB, `${(peak / MIB).toFixed(1)} MiB held`);
    // The disk is back: the sender sends again what was "busy" (bounded rounds).
    openGate();
    for (let round = 0; round < 50; round++) {
      const deadline = Date.now() + 5_000;
      while (answers.size < sent.size && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1));
      }
      const again = deposits.filter((d) => answers.get(d.id) === "busy");
      if (again.length === 0) break;
      for (const d of again) answers.delete(d.id);
      await send(again);
    }
    assert.deepEqual(deposits.filter((d) => answers.get(d.id) !== "held"), [], "every one held");
    assert.equal(store.heldUsage().byOrigin.get(SENDER), deposits.reduce((n, d) => n + d.size, 0));
  } finally {
    mailbox.stop();
    committer.close();
    store.close();
    await Deno.remove(tmp, { recursive: true });
  }
});
