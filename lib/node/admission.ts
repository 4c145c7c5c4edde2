/**
 * Where an envelope is admitted: the pure decisions of delivery. The engine
 * (delivery.ts) gathers the facts (is there such a user, what is their
 * policy, was the id seen, is there room, is the origin within its rate) and
 * applies the answer; nothing here reads a store, a clock or a socket.
 *
 * - {@linkcode checkSubmission}: may a local client hand this envelope to its node?
 * - {@linkcode admit}: what the destination node does with a request or message.
 * - {@linkcode admitChunk}: the same for a file chunk, before the spool is asked.
 */
import type { UserName } from "../ids.ts";
import {
  type Envelope,
  type EnvelopeKind,
  isGroupEnvelope,
  isUserEnvelope,
} from "../protocol/mod.ts";
import type { ContactPolicy } from "../store/mod.ts";
import type { ReceiptStatus } from "./receipt.ts";

/** A refused submission, with the sentence the client shows. */
export type SubmissionCheck = { ok: true } | { ok: false; message: string };

/** Formats a duration for people: "7 days", "36 hours", "90 minutes". */
export function formatDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes % (24 * 60) === 0) return plural(minutes / (24 * 60), "day");
  if (minutes % 60 === 0) return plural(minutes / 60, "hour");
  return plural(minutes, "minute");
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/**
 * Whether `owner`'s client may submit `envelope` now: one of `kinds`, from the
 * owner's own address, with a lifetime this node allows.
 */
export function checkSubmission(input: {
  envelope: Envelope;
  owner: UserName;
  self: string;
  kinds: readonly EnvelopeKind[];
  nowMs: number;
  maxLifetimeMs: number;
}): SubmissionCheck {
  const { envelope: e, owner, self, nowMs, maxLifetimeMs } = input;
  if (!input.kinds.includes(e.kind) || !(isUserEnvelope(e) || isGroupEnvelope(e))) {
    return { ok: false, message: `Cannot send: clients may not send ${e.kind} envelopes here` };
  }
  if (e.from !== `${owner}@${self}`) {
    return {
      ok: false,
      message: `Cannot send: an envelope from ${owner} must say from ${owner}@${self}`,
    };
  }
  if (e.expiresAtMs <= nowMs || e.expiresAtMs > nowMs + maxLifetimeMs) {
    return {
      ok: false,
      message: `Cannot send: expiry must be in the future and within ${
        formatDuration(maxLifetimeMs)
      } (this node's message lifetime)`,
    };
  }
  return { ok: true };
}

/** What the destination found out about an envelope before deciding. */
export interface AdmitFacts {
  /** The envelope's expiry passed by this node's clock, beyond the clock allowance. */
  stale: boolean;
  recipientExists: boolean;
  /** The recipient's policy for the sender. */
  policy: ContactPolicy | null;
  /** The id was delivered here before. */
  alreadyDelivered: boolean;
  /** The sender (and its proven origin node) are within their rates. */
  withinRate: boolean;
  /** The recipient's inbox (or, for requests, their pending requests) and the node have room. */
  room: boolean;
}

/** What to do: keep it in the inbox or not, and what the receipt says. */
export interface Admission {
  store: boolean;
  status: ReceiptStatus;
  /** Why it was dropped, for a (throttled) log line; absent when nothing is worth logging. */
  note?: string;
}

/** Facts that let everything through: the engine checks rates and room only when needed. */
export const OPEN_FACTS: Pick<AdmitFacts, "withinRate" | "room"> = { withinRate: true, room: true };

/**
 * The destination's decision for a request or a message. Requests from
 * strangers never learn why they were dropped (blocked, over the rate, no
 * room): their receipt says "stored". A message from someone the recipient
 * has not accepted is refused; one that finds no room is "busy" (its sender
 * keeps it and tries again later).
 */
export function admit(kind: "request" | "message", f: AdmitFacts): Admission {
  if (f.stale) return { store: false, status: "expired", note: "past its expiry" };
  if (!f.recipientExists) return { store: false, status: "no-such-user" };
  // A retransmission of what was stored: the same answer again.
  if (f.alreadyDelivered) return { store: false, status: "stored" };
  if (kind === "request") {
    if (f.policy === "block") return { store: false, status: "stored" };
    if (!f.withinRate) return { store: false, status: "stored", note: "request over the rate" };
    if (!f.room) return { store: false, status: "stored", note: "too many waiting requests" };
    return { store: true, status: "stored" };
  }
  if (f.policy !== "allow") {
    return { store: false, status: "refused", note: "sender not accepted" };
  }
  if (!f.withinRate) return { store: false, status: "busy", note: "message over the rate" };
  if (!f.room) return { store: false, status: "busy", note: "inbox full" };
  return { store: true, status: "stored" };
}

/** The destination's decision for a file chunk, before its bytes reach the spool. */
export function admitChunk(
  f: Pick<AdmitFacts, "stale" | "recipientExists" | "policy" | "alreadyDelivered">,
): Admission | "spool" {
  if (f.stale) return { store: false, status: "expired", note: "past its expiry" };
  if (!f.recipientExists) return { store: false, status: "no-such-user" };
  if (f.policy !== "allow") return { store: false, status: "refused", note: "sender not accepted" };
  if (f.alreadyDelivered) return { store: false, status: "stored" };
  return "spool";
}
