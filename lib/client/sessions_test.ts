/**
 * The work a contact can make the client spend on messages that do not
 * decrypt: bounded per contact (FAILED_SKIP_KEYS_PER_MINUTE), without
 * limiting an honest contact's messages.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../clock.ts";
import * as e2e from "../e2e/mod.ts";
import { toAddress } from "../ids.ts";
import { acceptedChat, contactRow } from "../../tests/_helpers/accepted_chat.ts";
import { ClientStore } from "./client_store.ts";
import { NODE_AEAD } from "./node_aead.ts";
import { FAILED_SKIP_KEYS_PER_MINUTE, LIMITED_MAX_SKIP, Sessions } from "./sessions.ts";
import type { TurnCommit } from "./turn_commit.ts";

const ALICE = toAddress("alice@nodea");
const BOB = toAddress("bob@nodeb");
const AD = new Uint8Array(16).fill(7);

Deno.test("Sessions: forged messages that make the ratchet skip far cost a contact its skip window for a minute; its short skips still decrypt; a copy costs nothing", async () => {
  await Deno.mkdir(".tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: ".tmp", prefix: "sessions-" });
  const store = new ClientStore(join(dir, "bob.db"));
  try {
    const c = await acceptedChat(ALICE, BOB);
    const clock = new FakeClock();
    const sessions = new Sessions({
      self: BOB,
      store,
      turn: {} as TurnCommit,
      clock,
      lifetimeMs: 60_000,
    });
    // Alice's first 1,001 messages of one chain (n = 0 … 1000).
    const sent: Uint8Array[] = [];
    let state = c.aliceSession;
    for (let n = 0; n <= e2e.DEFAULT_MAX_SKIP; n++) {
      const r = await e2e.ratchetEncrypt({
        state,
        plaintext: new Uint8Array([n & 255]),
        ad: AD,
        aead: NODE_AEAD,
      });
      sent.push(r.message);
      state = r.newState;
    }
    const forged = sent[e2e.DEFAULT_MAX_SKIP].slice();
    forged[forged.length - 1] ^= 1;
    const bob = contactRow(ALICE, c.alice, c.bobSession);
    const attempt = async (message: Uint8Array) => {
      try {
        return (await sessions.decrypt(bob, message, AD)).plaintext[0];
      } catch (err) {
        assert.ok(err instanceof e2e.DecryptError, String(err));
        return "failed";
      }
    };
    // Each forged message skips 1,000 keys before failing; the budget is two of them.
    const rounds = FAILED_SKIP_KEYS_PER_MINUTE / e2e.DEFAULT_MAX_SKIP;
    for (let i = 0; i < rounds; i++) assert.equal(await attempt(forged), "failed");
    assert.equal(sessions.failedWork().derivedKeys, FAILED_SKIP_KEYS_PER_MINUTE);
    // Past it: the same forged message is refused before any key is derived.
    for (let i = 0; i < 5; i++) assert.equal(await attempt(forged), "failed");
    assert.equal(
      sessions.failedWork().derivedKeys,
      FAILED_SKIP_KEYS_PER_MINUTE,
      "keys derived for forged messages past the budget",
    );
    // A real message within the limited window decrypts; one past it waits for the minute.
    assert.equal(await attempt(sent[LIMITED_MAX_SKIP - 1]), (LIMITED_MAX_SKIP - 1) & 255);
    assert.equal(await attempt(sent[LIMITED_MAX_SKIP + 4]), "failed");
    clock.advance(60_000);
    const read = await sessions.decrypt(bob, sent[LIMITED_MAX_SKIP + 4], AD);
    assert.equal(read.plaintext[0], (LIMITED_MAX_SKIP + 4) & 255, "after the minute");
    // A copy of a message read already (its ack was lost) fails before deriving anything.
    sessions.settle(ALICE, read.newState);
    const before = sessions.failedWork().derivedKeys;
    assert.equal(await attempt(sent[LIMITED_MAX_SKIP + 4]), "failed");
    assert.equal(sessions.failedWork().derivedKeys, before, "a copy costs no derivation");
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
