/**
 * Helpers for lib/e2e tests only (never imported by mod.ts): a replaying KEM for
 * frozen vectors, a ready-made session pair, and byte tampering.
 */
import {
  acceptChatRequest,
  completeChatRequest,
  createChatRequest,
  readChatRequest,
} from "./handshake.ts";
import { generateIdentity, type IdentityKeyPair } from "./identity.ts";
import type { Kem, MlKemEncapsulation } from "./mlkem.ts";
import { DeterministicRandom, type Random } from "./random.ts";
import type { RatchetState } from "./double_ratchet.ts";

/** A KEM that returns a recorded encapsulation (for frozen vectors). */
export class RecordedKem implements Kem {
  #recorded: MlKemEncapsulation;
  constructor(recorded: MlKemEncapsulation) {
    this.#recorded = recorded;
  }
  encapsulate(): Promise<MlKemEncapsulation> {
    return Promise.resolve(this.#recorded);
  }
}

/** A copy of `bytes` with bit 0 of byte `index` flipped. */
export function flip(bytes: Uint8Array, index: number): Uint8Array {
  const out = bytes.slice();
  out[index] ^= 1;
  return out;
}

/** A handshake run to completion between alice@nodea and bob@nodeb. */
export interface SessionPair {
  alice: IdentityKeyPair;
  bob: IdentityKeyPair;
  aliceSession: RatchetState;
  bobSession: RatchetState;
}

/** Runs a full handshake; `seed` makes it deterministic except for the KEM. */
export async function makeSessionPair(seed = "pair", random?: Random): Promise<SessionPair> {
  const r = random ?? new DeterministicRandom(seed);
  const alice = await generateIdentity({ random: r });
  const bob = await generateIdentity({ random: r });
  const { request, pending } = await createChatRequest({
    identity: alice,
    from: "alice@nodea",
    to: "bob@nodeb",
    createdAtMs: 1_700_000_000_000,
    random: r,
  });
  const verified = await readChatRequest(request, { localAddress: "bob@nodeb" });
  const accepted = await acceptChatRequest({ identity: bob, request: verified, random: r });
  const done = await completeChatRequest({
    identity: alice,
    pending,
    acceptance: accepted.acceptance,
    random: r,
  });
  return { alice, bob, aliceSession: done.session, bobSession: accepted.session };
}

/** UTF-8 helper for tests. */
export function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
