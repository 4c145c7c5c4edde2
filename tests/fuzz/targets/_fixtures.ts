/**
 * Valid encodings for the fuzz targets, made once per process with the real
 * encoders and deterministic randomness (except ML-KEM, which draws its own).
 */
import * as e2e from "../../../lib/e2e/mod.ts";
import { encodeHandshakeConfirm } from "../../../lib/e2e/handshake_messages.ts";

/** Runs `make` once, on first use. */
export function once<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | null = null;
  return () => (value ??= make());
}

const te = new TextEncoder();

/** The intro's associated data, as the client binds it (both addresses). */
export const INTRO_AD = te.encode("alice@nodea\0bob@nodeb");

/** Alice and Bob, a finished chat handshake and a few ratchet messages between them. */
export const chat = once(async () => {
  const random = new e2e.DeterministicRandom("fedchat/fuzz");
  const alice = await e2e.generateIdentity({ random });
  const bob = await e2e.generateIdentity({ random });
  const sealedIntro = await e2e.sealIntro({
    recipient: bob.publicIdentity,
    intro: te.encode("hello, it is Alice from the conference"),
    ad: INTRO_AD,
    random,
  });
  const { request, pending } = await e2e.createChatRequest({
    identity: alice,
    from: "alice@nodea",
    to: "bob@nodeb",
    createdAtMs: 1_700_000_000_000,
    sealedIntro,
    random,
  });
  const verified = await e2e.readChatRequest(request, { localAddress: "bob@nodeb" });
  const accepted = await e2e.acceptChatRequest({ identity: bob, request: verified, random });
  const done = await e2e.completeChatRequest({
    identity: alice,
    pending,
    acceptance: accepted.acceptance,
    random,
  });
  // Alice sends three; Bob keeps the state from before any of them, so each decrypts.
  let aliceState = done.session;
  const messages: Uint8Array[] = [];
  for (const text of ["hi", "", "x".repeat(300)]) {
    const sent = await e2e.ratchetEncrypt({ state: aliceState, plaintext: te.encode(text) });
    aliceState = sent.newState;
    messages.push(sent.message);
  }
  // A Bob state with a skipped key, and one after replying (a full DH step).
  const third = await e2e.ratchetDecrypt({ state: accepted.session, message: messages[2] });
  const reply = await e2e.ratchetEncrypt({ state: third.newState, plaintext: te.encode("yo") });
  const sealedIdentity = await e2e.sealIdentity(alice, {
    passphrase: "correct horse",
    iterations: e2e.MIN_PBKDF2_ITERATIONS,
    random,
  });
  return {
    alice,
    bob,
    request,
    pending: e2e.encodePendingChatRequest(pending),
    acceptance: accepted.acceptance,
    confirm: done.confirm,
    confirmAlt: encodeHandshakeConfirm(new Uint8Array(32), new Uint8Array(32).fill(255)),
    bobSession: accepted.session,
    messages,
    reply: reply.message,
    states: [done.session, aliceState, third.newState, reply.newState].map(e2e.encodeRatchetState),
    sealedIntro,
    sealedIdentity,
  };
});
