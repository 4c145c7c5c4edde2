/**
 * A client's submission is answered once, in every outcome, and never before
 * the call that took it returns: `Delivery.submitThen`'s callback (lib/node/
 * delivery.ts) and the hub's `submitted` (lib/node/client_hub.ts). Answered
 * twice would tell a client two things about one envelope; answered inside
 * the call would run the caller's reaction before it has finished its own.
 */
import assert from "node:assert/strict";
import { FakeClock } from "../lib/clock.ts";
import { toAddress, type UserName } from "../lib/ids.ts";
import { type Delivery, DeliveryError, type SubmitResult } from "../lib/node/delivery.ts";
import { type ClientMessage, encodeEnvelope, type Envelope } from "../lib/protocol/mod.ts";
import { ALICE, senderNode, until } from "./_helpers/sender_node.ts";
import { tempRoot } from "./_helpers/node_proc.ts";

const MALLORY = "mallory" as UserName;

/** Every answer a submission got, and how many came before `submitThen` returned. */
function recorder() {
  const answers: Array<SubmitResult | Error> = [];
  let returned = false;
  let early = 0;
  return {
    answers,
    answer: (r: SubmitResult | Error) => {
      if (!returned) early++;
      answers.push(r);
    },
    returned: () => returned = true,
    get early() {
      return early;
    },
  };
}

/** Alice's submission of `bytes`, recorded. */
function submitted(delivery: Delivery, bytes: Uint8Array) {
  const r = recorder();
  delivery.submitThen(ALICE, bytes, r.answer);
  r.returned();
  return r;
}

/** A message from alice to `to` (on this node or another), encoded. */
function message(n: number, to: string, nowMs: number): Uint8Array {
  const e = {
    id: new Uint8Array(16).fill(9).map((v, i) => (i < 4 ? (n >>> (8 * i)) & 255 : v)),
    kind: "message",
    ttl: 32,
    createdAtMs: nowMs,
    expiresAtMs: nowMs + 600_000,
    from: toAddress("alice@na"),
    to: toAddress(to),
    body: new Uint8Array([1, 2, 3]),
  } as Envelope;
  return encodeEnvelope(e);
}

/** Lets timers, the committer and microtasks run for `ms` of real time. */
const settle = (ms = 30) => new Promise((r) => setTimeout(r, ms));

Deno.test("submitThen: answered once and never inside the call: fast lane, busy, resubmission, outbox, kept nowhere here, local inbox", async () => {
  const dir = await tempRoot("submitanswer");
  const clock = new FakeClock(Date.now());
  const a = await senderNode(dir, clock, 100);
  try {
    a.attach(MALLORY);
    const take = (bytes: Uint8Array) => submitted(a.delivery, bytes);
    // Fast lane, answered by its receipt.
    const fast = take(a.envelope(1));
    const fastId = a.forwarded[0];
    a.receipt([fastId]);
    // Fast lane, "busy": stored, answered "sent"; a resubmission meanwhile with it.
    const busy = take(a.envelope(2));
    const again = take(a.envelope(2));
    a.receipt([a.forwarded[1]], "busy");
    // The durable outbox (something of nb's waits on disk now).
    await until("busy stored", () => busy.answers.length === 1);
    const durable = take(a.envelope(3));
    // For users of this node: one that keeps no row (mallory's policy drops alice's message,
    // answered as delivered) and one stored in the inbox (alice herself: her client is away).
    const local = take(message(4, "mallory@na", clock.nowMs()));
    const stored = take(message(5, "alice@na", clock.nowMs()));
    const all = { fast, busy, again, durable, local, stored };
    await until("every answer", () => Object.values(all).every((r) => r.answers.length > 0));
    await settle();
    for (const [what, r] of Object.entries(all)) {
      assert.equal(r.early, 0, `${what}: not answered inside the call`);
      assert.equal(r.answers.length, 1, `${what}: answered once`);
      assert.ok(!(r.answers[0] instanceof Error), `${what}: ${r.answers[0]}`);
    }
    const state = (r: ReturnType<typeof recorder>) => (r.answers[0] as SubmitResult).state;
    assert.deepEqual(
      Object.fromEntries(Object.entries(all).map(([k, r]) => [k, state(r)])),
      {
        fast: "delivered",
        busy: "sent",
        again: "sent",
        durable: "sent",
        local: "delivered",
        stored: "delivered",
      },
    );
  } finally {
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("submitThen: a failed flush answers once with the error; a fast entry answered 'delivered' by its commit is not answered again when that batch's flush fails", async () => {
  const dir = await tempRoot("submitanswer");
  const clock = new FakeClock(Date.now());
  const a = await senderNode(dir, clock, 100);
  const sync = a.store.sync.bind(a.store);
  try {
    const take = (bytes: Uint8Array) => submitted(a.delivery, bytes);
    // 1. Forwarded; past its grace the engine's tick queues its row; its receipt ("stored")
    // comes before that commit: the commit answers it "delivered" and writes nothing.
    const fast = take(a.envelope(1));
    clock.advance(250);
    a.receipt([a.forwarded[0]]);
    // 2. In the same batch (nb has a commit pending: no fast lane), a row whose answer waits
    // for the flush; the flush fails.
    const durable = take(a.envelope(2));
    let syncs = 0;
    a.store.sync = () => {
      syncs++;
      return Promise.reject(new Error("EIO: flush failed"));
    };
    await until("both answered", () => fast.answers.length > 0 && durable.answers.length > 0);
    await settle();
    assert.ok(syncs > 0, "the batch was flushed");
    assert.equal(fast.answers.length, 1, "the fast entry is answered once");
    assert.deepEqual(fast.answers[0], { id: a.forwarded[0], state: "delivered" });
    assert.equal(durable.answers.length, 1, "the row is answered once");
    assert.ok(durable.answers[0] instanceof DeliveryError, String(durable.answers[0]));
    for (const r of [fast, durable]) assert.equal(r.early, 0);
  } finally {
    a.store.sync = sync;
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("client hub: each submission gets one `submitted`, after the submit is handled: refused, sent, delivered, flush failed, commit failed", async () => {
  const dir = await tempRoot("submitanswer");
  const a = await senderNode(dir);
  const sync = a.store.sync.bind(a.store);
  const transaction = a.store.transactionUnsynced.bind(a.store);
  try {
    const alice = a.attach();
    const answers = (req: number) =>
      alice.got.filter((m): m is Extract<ClientMessage, { type: "submitted" }> =>
        m.type === "submitted" && m.req === req
      );
    const submit = (req: number, envelope: Uint8Array) => {
      alice.send({ type: "submit", req, envelope });
      return answers(req).length;
    };
    const now = Date.now();
    // Refused at once (no such user here): answered inside the call, as before.
    assert.equal(submit(1, message(1, "nobody@na", now)), 1);
    const early = [
      submit(2, a.envelope(2)), // the outbox: "sent" after the flush
      submit(3, message(3, "mallory@na", now)), // kept nowhere (mallory's policy): "delivered"
    ];
    await until("answers 2–3", () => [2, 3].every((r) => answers(r).length > 0));
    a.store.sync = () => Promise.reject(new Error("EIO: flush failed"));
    early.push(submit(4, a.envelope(4)));
    await until("answer 4", () => answers(4).length > 0);
    a.store.sync = sync;
    a.store.transactionUnsynced = () => {
      throw new Error("SQLITE_IOERR: disk I/O error");
    };
    early.push(submit(5, a.envelope(5)));
    await until("answer 5", () => answers(5).length > 0);
    a.store.transactionUnsynced = transaction;
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(early, [0, 0, 0, 0], "none answered inside the call that took it");
    assert.deepEqual([1, 2, 3, 4, 5].map((r) => answers(r).length), [1, 1, 1, 1, 1]);
    const [r1, r2, r3, r4, r5] = [1, 2, 3, 4, 5].map((r) => answers(r)[0]);
    assert.match(r5.error ?? "", /store failed/);
    assert.match(r1.error ?? "", /there is no user/);
    assert.deepEqual([r2.state, r2.error], ["sent", undefined]);
    assert.deepEqual([r3.state, r3.error], ["delivered", undefined]);
    assert.match(r4.error ?? "", /store failed/);
    assert.equal(alice.got.filter((m) => m.type === "error").length, 0);
  } finally {
    a.store.sync = sync;
    a.store.transactionUnsynced = transaction;
    a.close();
    await Deno.remove(dir, { recursive: true });
  }
});
