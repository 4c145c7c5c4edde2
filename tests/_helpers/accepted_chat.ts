/**
 * Two identities with a chat already accepted, and the contact row each
 * client core keeps for the other: the starting point of the client core's
 * in-process tests (lib/client/client_core_test.ts) and its harness
 * (bench/exp_client_core.ts).
 */
import * as e2e from "../../lib/e2e/mod.ts";
import type { Address } from "../../lib/ids.ts";
import type { ContactRow } from "../../lib/client/client_store.ts";

/** A chat from `from` to `to`, accepted: each side's identity and ratchet state. */
export async function acceptedChat(from: Address, to: Address) {
  const alice = await e2e.generateIdentity();
  const bob = await e2e.generateIdentity();
  const { request, pending } = await e2e.createChatRequest({
    identity: alice,
    from,
    to,
    createdAtMs: Date.now(),
  });
  const verified = await e2e.readChatRequest(request, { localAddress: to });
  const accepted = await e2e.acceptChatRequest({ identity: bob, request: verified });
  const done = await e2e.completeChatRequest({
    identity: alice,
    pending,
    acceptance: accepted.acceptance,
  });
  return { alice, bob, aliceSession: done.session, bobSession: accepted.session };
}

/** The accepted contact row of `address`, whose identity is `peer`'s, with `session`. */
export function contactRow(
  address: string,
  peer: e2e.IdentityKeyPair,
  session: e2e.RatchetState,
): ContactRow {
  return {
    address,
    state: "accepted",
    identity: e2e.encodePublicIdentity(peer.publicIdentity),
    expectedIdentity: null,
    keyChanged: false,
    session: e2e.encodeRatchetState(session),
    pending: null,
    outSeq: 0,
    unread: 0,
    lastMessageAtMs: null,
  };
}
