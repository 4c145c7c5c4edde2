/**
 * Where a contact changes state. Every change to a contact (a request arrives,
 * we accept, they accept, a key is claimed, changed, confirmed or dismissed, an
 * address is rejected or blocked) is decided here, by pure functions over
 * plain rows: `fn({ contact, ... }) → { kind, newContact?, ... }`. They do no
 * I/O and no crypto; lib/client/contacts.ts runs the crypto (which comes first
 * or after, as each function says), stores the result in one transaction, and
 * only then shows, sends or acknowledges anything.
 *
 * The rules that keep a chat from being hijacked (docs/SECURITY.md, Layer 3):
 *
 * - A request from the address of an accepted contact never replaces or blocks
 *   that chat. With the pinned key it is a *restart* (they lost their chat
 *   state), shown as a request the user may accept. With another key it is a
 *   *claim* ("someone claims to be bob@bob with another key"), kept apart from
 *   requests; the chat goes on, sending and receiving.
 * - A contact's key changes only by a deliberate step that names the new key's
 *   fingerprint (after comparing both safety numbers).
 * - Requests are judged fresh (lib/client/request_freshness.ts) and remembered,
 *   so a replay, even of a request that really came from the contact, is dropped.
 */
import type { ContactRow, RequestRow } from "./client_store.ts";
import {
  type Freshness,
  judgeRequestFreshness,
  type RequestFreshnessLimits,
  type RequestMemory,
} from "./request_freshness.ts";

/** A contact row for an address we have no row for yet. */
export function blankContact(address: string): ContactRow {
  return {
    address,
    state: "requested",
    identity: null,
    expectedIdentity: null,
    keyChanged: false,
    session: null,
    pending: null,
    outSeq: 0,
    unread: 0,
    lastMessageAtMs: null,
  };
}

/** Byte equality of two encoded identities (public values: no need for constant time). */
export function sameIdentity(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Why a received request was dropped without showing anything. */
export type DropReason =
  | "refused"
  | "blocked"
  | Exclude<Freshness["kind"], "fresh">;

/**
 * What the crypto checks made of a received request: `verified` (signature over
 * everything, addressed to us, sender matching the envelope, intro opened) or
 * `refused` (the detail is for the log only).
 */
export type RequestCheck =
  | {
    kind: "verified";
    /** The request as it will be stored (and accepted later). */
    request: RequestRow;
    /** SHA-256 of the request, hex: what replays are recognised by. */
    hash: string;
    /** The request's signed time. */
    createdAtMs: number;
  }
  | { kind: "refused"; why: string };

/** What to do with a received request. */
export type RequestOutcome =
  | { kind: "drop"; reason: DropReason; why?: string }
  /** Store it with the requests and show it; `restart`: from an accepted contact, same key. */
  | { kind: "request"; request: RequestRow; restart: boolean; remember: Remember }
  /** Store it as a claim on an accepted contact and warn; the chat is untouched. */
  | { kind: "claim"; claim: RequestRow; remember: Remember };

/** A request hash to remember until `untilMs`. */
export interface Remember {
  hash: string;
  sender: string;
  untilMs: number;
}

/** Options of {@linkcode receiveRequest}. */
export interface ReceiveRequestOptions {
  /** Our contact row for the sender's address, if any. */
  contact: ContactRow | undefined;
  input: RequestCheck;
  /** What we remember of requests (`ClientStore.requestMemory`). */
  memory: RequestMemory;
  nowMs: number;
  limits?: RequestFreshnessLimits;
}

/** A chat request arrived (after the crypto checks). */
export function receiveRequest(
  { contact, input, memory, nowMs, limits }: ReceiveRequestOptions,
): RequestOutcome {
  if (input.kind === "refused") return { kind: "drop", reason: "refused", why: input.why };
  if (contact?.state === "blocked" || contact?.state === "rejected") {
    return { kind: "drop", reason: "blocked" };
  }
  const fresh = judgeRequestFreshness({ createdAtMs: input.createdAtMs, nowMs, memory, limits });
  if (fresh.kind !== "fresh") return { kind: "drop", reason: fresh.kind };
  const remember = {
    hash: input.hash,
    sender: input.request.address,
    untilMs: fresh.rememberUntilMs,
  };
  if (contact?.state === "accepted" && contact.identity !== null) {
    return sameIdentity(contact.identity, input.request.identity)
      ? { kind: "request", request: input.request, restart: true, remember }
      : { kind: "claim", claim: input.request, remember };
  }
  return { kind: "request", request: input.request, restart: false, remember };
}

/** Whether the user may accept a stored request (decided before the crypto). */
export type AcceptDecision =
  | { kind: "accept"; restart: boolean }
  | { kind: "refuse"; why: string };

/** The user accepts `request` (the caller found it in the requests). */
export function acceptRequest(
  { contact, request }: { contact: ContactRow | undefined; request: RequestRow | undefined },
): AcceptDecision {
  if (!request) return { kind: "refuse", why: "no request from them" };
  if (contact?.state === "accepted" && contact.identity !== null) {
    if (!sameIdentity(contact.identity, request.identity)) {
      // Only a request stored before claims existed can get here; accepting it
      // would replace the chat's key without the deliberate step.
      return { kind: "refuse", why: "it comes with another key; compare safety numbers first" };
    }
    return { kind: "accept", restart: true };
  }
  return { kind: "accept", restart: false };
}

/** Options of {@linkcode startSession}. */
export interface StartSessionOptions {
  contact: ContactRow | undefined;
  address: string;
  /** The identity of the request we accepted (now pinned). */
  identity: Uint8Array;
  /** Our new ratchet state, encoded. */
  session: Uint8Array;
}

/**
 * We accepted a request (or a claim, after the key-change step) and the
 * crypto made a session: the contact is accepted with that key and session.
 */
export function startSession(
  { contact, address, identity, session }: StartSessionOptions,
): { newContact: ContactRow } {
  return {
    newContact: {
      ...(contact ?? blankContact(address)),
      state: "accepted",
      identity,
      expectedIdentity: null,
      keyChanged: false,
      session,
      pending: null,
    },
  };
}

/** What to do with an acceptance that arrived (decided before the crypto). */
export type AcceptanceDecision =
  | { kind: "complete"; pending: Uint8Array }
  | { kind: "drop"; why: string };

/** An acceptance arrived from the contact's address. */
export function receiveAcceptance(
  { contact }: { contact: ContactRow | undefined },
): AcceptanceDecision {
  if (!contact) return { kind: "drop", why: "acceptance from a stranger" };
  if (contact.state !== "requested" || !contact.pending) {
    return { kind: "drop", why: "acceptance we did not ask for" };
  }
  return { kind: "complete", pending: contact.pending };
}

/**
 * Our request was accepted and the crypto completed it. The intro was sealed
 * to the key their node published (`expectedIdentity`): if another key
 * answered, or one other than a key pinned before, the chat is accepted but
 * marked `keyChanged` (sending waits for the deliberate key-change step), and
 * the key we believed in stays in `expectedIdentity` for the comparison.
 */
export function completeRequest(
  { contact, identity, session }: {
    contact: ContactRow;
    identity: Uint8Array;
    session: Uint8Array;
  },
): { newContact: ContactRow; keyChanged: boolean } {
  const believed = contact.identity ?? contact.expectedIdentity;
  const keyChanged = believed !== null && !sameIdentity(believed, identity);
  return {
    keyChanged,
    newContact: {
      ...contact,
      state: "accepted",
      identity,
      expectedIdentity: keyChanged ? believed : null,
      keyChanged,
      session,
      pending: null,
    },
  };
}

/** May we ask `contact` for a chat? Not while a chat with them runs on a confirmed key. */
export function requestAllowed(
  contact: ContactRow | undefined,
): { kind: "ok" } | { kind: "refuse"; why: string } {
  if (contact?.state === "accepted" && !contact.keyChanged) {
    return { kind: "refuse", why: "you already chat with them" };
  }
  return { kind: "ok" };
}

/** We send a request to `address`: may we, and what does the contact become? */
export function sendRequest(
  { contact, address, expectedIdentity, pending }: {
    contact: ContactRow | undefined;
    address: string;
    /** The identity their node published, which the intro is sealed to. */
    expectedIdentity: Uint8Array;
    /** Our pending request, encoded (secret). */
    pending: Uint8Array;
  },
): { kind: "send"; newContact: ContactRow } | { kind: "refuse"; why: string } {
  const allowed = requestAllowed(contact);
  if (allowed.kind === "refuse") return allowed;
  return {
    kind: "send",
    newContact: {
      ...(contact ?? blankContact(address)),
      state: "requested",
      expectedIdentity,
      pending,
    },
  };
}

/** The user rejects a request, or blocks an address. */
export function refuse(
  { contact, address, state }: {
    contact: ContactRow | undefined;
    address: string;
    state: "rejected" | "blocked";
  },
): { newContact: ContactRow } {
  return { newContact: { ...(contact ?? blankContact(address)), state } };
}

/** May we send (text, files, receipts) in this chat? `why` reads after the address. */
export function canSend(
  contact: ContactRow | undefined,
): { kind: "ok"; contact: ContactRow } | { kind: "refuse"; why: string } {
  if (!contact || contact.state !== "accepted" || !contact.session) {
    return { kind: "refuse", why: "has not accepted a chat with you" };
  }
  if (contact.keyChanged) {
    return {
      kind: "refuse",
      why: "answered with another key than the one their node published; compare safety " +
        "numbers and confirm it first",
    };
  }
  return { kind: "ok", contact };
}

/**
 * The key change waiting for the user, if any:
 * - `answer`: our request was answered by a key other than the one we believed
 *   (`current`); the chat runs with `claimed` and sending waits for confirmation.
 * - `claim`: someone asked for a chat in this contact's name with `claimed`;
 *   the chat runs with `current`, untouched.
 */
export type PendingKeyChange =
  | { kind: "none" }
  | { kind: "answer"; current: Uint8Array; claimed: Uint8Array }
  | { kind: "claim"; current: Uint8Array; claimed: Uint8Array; claim: RequestRow };

/** Which key change waits for the user (an unconfirmed answer comes first). */
export function pendingKeyChange(
  { contact, claim }: { contact: ContactRow | undefined; claim: RequestRow | undefined },
): PendingKeyChange {
  if (contact?.keyChanged && contact.identity && contact.expectedIdentity) {
    return { kind: "answer", current: contact.expectedIdentity, claimed: contact.identity };
  }
  if (contact?.state === "accepted" && contact.identity && claim) {
    return { kind: "claim", current: contact.identity, claimed: claim.identity, claim };
  }
  return { kind: "none" };
}

/** What accepting a key change does. */
export type KeyChangeDecision =
  /** The answering key is confirmed: sending resumes. */
  | { kind: "confirm"; newContact: ContactRow }
  /** Accept the claim's request (crypto next, then {@linkcode startSession}); the old session ends. */
  | { kind: "accept-claim"; claim: RequestRow }
  | { kind: "refuse"; why: string };

/**
 * The user accepts the pending key change, naming the new key's fingerprint;
 * `confirmed` tells whether what they named matches the claimed key.
 */
export function acceptKeyChange(
  { contact, claim, confirmed }: {
    contact: ContactRow | undefined;
    claim: RequestRow | undefined;
    confirmed: boolean;
  },
): KeyChangeDecision {
  const change = pendingKeyChange({ contact, claim });
  if (change.kind === "none") return { kind: "refuse", why: "no key change is waiting" };
  if (!confirmed) {
    return {
      kind: "refuse",
      why:
        "the fingerprint given is not the new key's; compare safety numbers and give the new one",
    };
  }
  if (change.kind === "answer") {
    return {
      kind: "confirm",
      newContact: { ...contact!, keyChanged: false, expectedIdentity: null },
    };
  }
  return { kind: "accept-claim", claim: change.claim };
}

/** The user dismisses a claim: it is forgotten and the chat goes on with the pinned key. */
export function dismissKeyChange(
  { contact, claim }: { contact: ContactRow | undefined; claim: RequestRow | undefined },
): { kind: "dismiss" } | { kind: "refuse"; why: string } {
  const change = pendingKeyChange({ contact, claim });
  if (change.kind === "claim") return { kind: "dismiss" };
  if (change.kind === "answer") {
    return {
      kind: "refuse",
      why: "the chat already runs with the key that answered; confirm it or block the address",
    };
  }
  return { kind: "refuse", why: "no key change is waiting" };
}
