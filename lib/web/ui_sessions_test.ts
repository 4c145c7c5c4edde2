import assert from "node:assert/strict";
import { FakeClock } from "../clock.ts";
import { sessionProof } from "../ui/mod.ts";
import { UiSessions } from "./ui_sessions.ts";

const TOKEN = "t".repeat(43);
const ORIGIN = "http://127.0.0.1:4000";

async function answer(sessions: UiSessions, over: { token?: string; origin?: string } = {}) {
  const nonce = await sessions.challenge();
  const proof = await sessionProof(over.token ?? TOKEN, over.origin ?? ORIGIN, nonce);
  return { token: TOKEN, origin: ORIGIN, nonce, proof };
}

Deno.test("UiSessions.exchange() makes a session for a right proof, once per challenge", async () => {
  const sessions = new UiSessions({ clock: new FakeClock() });
  const req = await answer(sessions);
  const made = await sessions.exchange(req);
  assert.ok(made);
  assert.equal(sessions.verify(made.secret)?.id, made.id);
  assert.equal(await sessions.exchange(req), null, "the same answer twice");
});

Deno.test("UiSessions.exchange() refuses another origin, another token, a late or forged challenge", async () => {
  const clock = new FakeClock();
  const sessions = new UiSessions({ clock, challengeTtlMs: 60_000 });
  assert.equal(
    await sessions.exchange(await answer(sessions, { origin: "http://127.0.0.1:4001" })),
    null,
  );
  assert.equal(await sessions.exchange(await answer(sessions, { token: "u".repeat(43) })), null);
  const late = await answer(sessions);
  clock.advance(60_001);
  assert.equal(await sessions.exchange(late), null, "expired");
  const other = new UiSessions({ clock });
  assert.equal(await sessions.exchange(await answer(other)), null, "another process's challenge");
  const good = await answer(sessions);
  const parts = good.nonce.split(".");
  const tampered = `${(parseInt(parts[0], 36) + 1).toString(36)}.${parts[1]}.${parts[2]}`;
  const proof = await sessionProof(TOKEN, ORIGIN, tampered);
  assert.equal(await sessions.exchange({ ...good, nonce: tampered, proof }), null, "tampered");
  assert.ok(await sessions.exchange(good), "the untouched one still works");
});

Deno.test("UiSessions.revokeAll() ends every session but the one kept; a wrong secret is no session", async () => {
  const sessions = new UiSessions({ clock: new FakeClock() });
  const a = (await sessions.exchange(await answer(sessions)))!;
  const b = (await sessions.exchange(await answer(sessions)))!;
  assert.equal(sessions.verify("x".repeat(43)), null);
  assert.equal(sessions.verify(a.secret.slice(1)), null);
  assert.deepEqual(sessions.revokeAll(a.id), [b.id]);
  assert.ok(sessions.verify(a.secret));
  assert.equal(sessions.verify(b.secret), null);
  assert.deepEqual(sessions.revokeAll(), [a.id]);
  assert.equal(sessions.size, 0);
});

Deno.test("UiSessions keeps at most maxSessions, dropping the least recently used", async () => {
  const clock = new FakeClock();
  const sessions = new UiSessions({ clock, maxSessions: 2 });
  const a = (await sessions.exchange(await answer(sessions)))!;
  clock.advance(10);
  const b = (await sessions.exchange(await answer(sessions)))!;
  clock.advance(10);
  sessions.verify(a.secret);
  clock.advance(10);
  const c = (await sessions.exchange(await answer(sessions)))!;
  assert.equal(sessions.size, 2);
  assert.ok(sessions.verify(a.secret) && sessions.verify(c.secret));
  assert.equal(sessions.verify(b.secret), null);
});
