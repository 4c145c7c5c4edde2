/**
 * Two parties exchange 10,000 messages with random interleaving, drops, reordering
 * within a window, duplicates, and bursts that overrun the skip window (seeded, so
 * any failure reproduces).
 */
import assert from "node:assert/strict";
import { makeSessionPair } from "./_testing.ts";
import { ratchetDecrypt, ratchetEncrypt, type RatchetState } from "./double_ratchet.ts";
import { DecryptError } from "./errors.ts";
import { DeterministicRandom } from "./random.ts";
import { mulberry32 } from "../../bench/_prng.ts";

const TOTAL = 10_000;
const MAX_SKIP = 40;
const REORDER_WINDOW = 8;
const DROP = 0.05;
const DUPLICATE = 0.05;
const BURST = 0.002;

interface InFlight {
  id: number;
  bytes: Uint8Array;
  chain: string;
  n: number;
  duplicate: boolean;
}

interface Party {
  state: RatchetState;
  outbox: InFlight[];
  // Chains of this party that overran the receiver's skip window.
  poisoned: Map<string, number>;
}

Deno.test("10,000 messages with drops, reordering, duplicates and window overruns decrypt exactly once", async () => {
  const rand = mulberry32(0xfedc4a7);
  const pair = await makeSessionPair("random-test");
  const keys = new DeterministicRandom("random-test-ratchet");
  const parties: [Party, Party] = [
    { state: pair.aliceSession, outbox: [], poisoned: new Map() },
    { state: pair.bobSession, outbox: [], poisoned: new Map() },
  ];
  const decrypted = new Set<number>();
  let sent = 0, ok = 0, dropped = 0, duplicates = 0, refusedOutsideWindow = 0;

  async function send(from: 0 | 1): Promise<void> {
    const p = parties[from];
    const id = sent++;
    const chain = p.state.dhSelf.publicKey.toHex();
    const n = p.state.sendCount;
    const r = await ratchetEncrypt({
      state: p.state,
      plaintext: new TextEncoder().encode(`message ${id}`),
    });
    p.state = r.newState;
    if (rand() < DROP) {
      dropped++;
      return;
    }
    p.outbox.push({ id, bytes: r.message, chain, n, duplicate: false });
  }

  async function deliver(to: 0 | 1): Promise<void> {
    const sender = parties[1 - to], receiver = parties[to];
    if (sender.outbox.length === 0) return;
    const pick = Math.floor(rand() * Math.min(REORDER_WINDOW, sender.outbox.length));
    const [m] = sender.outbox.splice(pick, 1);
    // A chain that overran the window is abandoned by the receiver once the sender
    // ratchets, so any of its messages may fail; every other message must decrypt.
    const mayFail = m.duplicate || sender.poisoned.has(m.chain);
    try {
      const r = await ratchetDecrypt({
        state: receiver.state,
        message: m.bytes,
        random: keys,
        maxSkip: MAX_SKIP,
        maxSkippedKeys: 5000,
      });
      assert.ok(!m.duplicate, `duplicate of ${m.id} decrypted`);
      assert.ok(!decrypted.has(m.id), `message ${m.id} decrypted twice`);
      assert.equal(new TextDecoder().decode(r.plaintext), `message ${m.id}`);
      decrypted.add(m.id);
      receiver.state = r.newState;
      ok++;
    } catch (e) {
      assert.ok(e instanceof DecryptError, String(e));
      assert.ok(mayFail, `message ${m.id} (chain n=${m.n}) failed inside the window`);
      if (m.duplicate) duplicates++;
      else refusedOutsideWindow++;
    }
    if (!m.duplicate && rand() < DUPLICATE) {
      sender.outbox.splice(Math.floor(rand() * (sender.outbox.length + 1)), 0, {
        ...m,
        duplicate: true,
      });
    }
  }

  await send(0); // The initiator speaks first; the responder can send only after that.
  while (sent < TOTAL) {
    const x = rand();
    const who: 0 | 1 = rand() < 0.5 ? 0 : 1;
    if (x < 0.45) {
      if (parties[who].state.sendChainKey !== null) await send(who);
    } else if (x < 0.45 + BURST) {
      const p = parties[who];
      if (p.state.sendChainKey === null) continue;
      // Overrun the window: MAX_SKIP + 5 messages lost in a row, in a chain the peer has
      // already seen (so its reply makes us ratchet and the session recovers; an overrun
      // of a chain the peer never saw is covered in double_ratchet_test.ts).
      const chain = p.state.dhSelf.publicKey.toHex();
      const peerKey = parties[1 - who].state.dhPeer;
      if (peerKey === null || peerKey.toHex() !== chain) continue;
      p.poisoned.set(chain, 0);
      for (let i = 0; i <= MAX_SKIP + 5; i++) {
        await ratchetEncrypt({ state: p.state, plaintext: new Uint8Array(1) }).then((
          r,
        ) => (p.state = r.newState));
      }
    } else {
      await deliver(who);
    }
  }
  while (parties[0].outbox.length + parties[1].outbox.length > 0) {
    await deliver(parties[0].outbox.length > 0 ? 1 : 0);
  }
  assert.equal(ok + dropped + refusedOutsideWindow, sent, "every message accounted for");
  assert.ok(ok > TOTAL * 0.8, `only ${ok} decrypted`);
  assert.ok(duplicates > 100, "duplicates were exercised");
  assert.ok(refusedOutsideWindow > 0, "window overruns were exercised");
  // After all that, the session still works both ways.
  for (const [from, to] of [[0, 1], [1, 0]] as const) {
    const r = await ratchetEncrypt({ state: parties[from].state, plaintext: new Uint8Array([7]) });
    const d = await ratchetDecrypt({
      state: parties[to].state,
      message: r.message,
      random: keys,
      maxSkip: MAX_SKIP,
    });
    assert.deepEqual(d.plaintext, new Uint8Array([7]));
    parties[from].state = r.newState;
    parties[to].state = d.newState;
  }
});
