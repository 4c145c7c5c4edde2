/**
 * Whether the user can send into a conversation now (a message or a file):
 * the one rule the composer, the Send button, the file button and a drop on
 * the conversation all follow.
 */
import type { Contact } from "./api_types.ts";

/** The answer of {@linkcode canSend}: yes, or why not (in words for the user). */
export type SendCheck =
  | { ok: true }
  | { ok: false; why: "no-chat" | "not-accepted" | "key-changed"; message: string };

/** Sending needs an accepted chat whose key change, if any, the user has accepted. */
export function canSend(contact: Contact | undefined): SendCheck {
  if (!contact) {
    return { ok: false, why: "no-chat", message: "Request a chat first (find them in Directory)" };
  }
  if (contact.keyChanged) {
    return { ok: false, why: "key-changed", message: "Accept the new key before sending" };
  }
  if (contact.state !== "accepted") {
    return { ok: false, why: "not-accepted", message: "This chat is not accepted yet" };
  }
  return { ok: true };
}
