/**
 * One-line invites: `fedchat://NODE_ID@HOST:PORT?fp=FINGERPRINT`, carrying
 * what `connect` needs plus the full key fingerprint checked at first contact.
 */
import { type NodeId, toNodeId } from "../ids.ts";

/** What an invite says. */
export interface Invite {
  nodeId: NodeId;
  host: string;
  port: number;
  fingerprint: string;
}

/** Writes an invite line. */
export function formatInvite(invite: Invite): string {
  const host = invite.host.includes(":") ? `[${invite.host}]` : invite.host;
  return `fedchat://${invite.nodeId}@${host}:${invite.port}?fp=${invite.fingerprint}`;
}

/**
 * Parses an invite line.
 *
 * @throws {RangeError} with what is wrong
 */
export function parseInvite(text: string): Invite {
  const t = text.trim();
  if (!t.startsWith("fedchat://") || t.length > 400) {
    throw new RangeError("Cannot read invite: it must start with fedchat://");
  }
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    throw new RangeError("Cannot read invite: not a valid fedchat:// address");
  }
  const nodeId = toNodeId(decodeURIComponent(url.username));
  const port = Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError("Cannot read invite: missing or bad port");
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!host) throw new RangeError("Cannot read invite: missing host");
  const fingerprint = url.searchParams.get("fp") ?? "";
  if (!/^[a-z2-7]{20,52}$/.test(fingerprint)) {
    throw new RangeError("Cannot read invite: missing or bad fp= fingerprint");
  }
  return { nodeId, host, port, fingerprint };
}
