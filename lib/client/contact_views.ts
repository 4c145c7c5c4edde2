/**
 * How contacts, requests, key claims and keys look to views (api.ts): stored
 * rows turned into what the UI and the CLI show, fingerprints in
 * lib/fingerprint.ts's format, safety numbers from lib/e2e.
 */
import * as e2e from "../e2e/mod.ts";
import type { Contact, IncomingRequest, KeyClaim, KeyInfo } from "./api.ts";
import type { ClientStore, ContactRow, RequestRow } from "./client_store.ts";
import { sameIdentity } from "./contact_state.ts";
import { identityFingerprint } from "./identity_fingerprint.ts";

/** A contact as views see it, with the claim on it (if accepted and claimed). */
export async function contactView(store: ClientStore, c: ContactRow): Promise<Contact> {
  const claim = store.claim(c.address);
  return {
    address: c.address,
    state: c.state,
    fingerprint: c.identity ? (await identityFingerprint(c.identity)).short : null,
    keyChanged: c.keyChanged,
    claim: claim && c.state === "accepted" ? await claimView(claim) : null,
    unread: c.unread,
    lastMessageAtMs: c.lastMessageAtMs,
  };
}

/** A waiting request; `restart` when it comes from an accepted contact with the pinned key. */
export async function requestView(store: ClientStore, r: RequestRow): Promise<IncomingRequest> {
  const c = store.contact(r.address);
  return {
    from: r.address,
    intro: r.intro,
    fingerprint: (await identityFingerprint(r.identity)).short,
    receivedAtMs: r.receivedAtMs,
    restart: c?.state === "accepted" && sameIdentity(c.identity, r.identity),
  };
}

/** A claim on a contact's address. */
export async function claimView(r: RequestRow): Promise<KeyClaim> {
  return {
    address: r.address,
    fingerprint: (await identityFingerprint(r.identity)).short,
    intro: r.intro,
    receivedAtMs: r.receivedAtMs,
  };
}

/** The parties of a safety number: us, and `peer` with one of its keys. */
export interface SafetyParties {
  self: string;
  selfIdentity: e2e.PublicIdentity;
  peer: string;
  /** The peer's key, encoded. */
  identity: Uint8Array;
}

/** The safety number we would have with `peer` if its key were `identity`. */
export function safetyNumberWith(p: SafetyParties): e2e.SafetyNumber {
  return e2e.safetyNumber({
    local: { address: p.self, identity: p.selfIdentity },
    peer: { address: p.peer, identity: e2e.decodePublicIdentity(p.identity) },
  });
}

/** A key with its fingerprint and the safety number it gives. */
export async function keyInfo(p: SafetyParties): Promise<KeyInfo> {
  const s = safetyNumberWith(p);
  return { fingerprint: (await identityFingerprint(p.identity)).short, digits: s.digits, qr: s.qr };
}
