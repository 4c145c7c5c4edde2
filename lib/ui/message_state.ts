/** How the sender's side names a message's delivery state. */
import type { ChatMessage } from "./api_types.ts";

const LABEL: Record<ChatMessage["state"], string> = {
  sending: "sending…",
  sent: "✓ sent",
  held: "✓ stored at a mailbox",
  delivered: "✓✓ delivered",
  read: "✓✓ read",
  failed: "✕ failed",
};

/**
 * The reason a node gives for an envelope a mailbox holds: the mailbox's node id
 * for a message (lib/node/custody.ts), "held at mailbox M" for a file (lib/node/delivery.ts).
 */
const HELD_AT = /^(?:held at mailbox )?([a-z0-9][a-z0-9_-]{0,31})$/;

/**
 * The label of an outgoing message's state: "✓ stored at mailbox m" while a
 * mailbox of the recipient's node holds it (the node named it in the reason).
 */
export function stateLabel(m: Pick<ChatMessage, "state" | "reason">): string {
  const held = m.state === "held" ? HELD_AT.exec(m.reason ?? "") : null;
  return held ? `✓ stored at mailbox ${held[1]}` : LABEL[m.state];
}
