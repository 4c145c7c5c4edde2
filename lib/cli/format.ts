/** Plain-text tables for the terminal. */
import type { LinkInfo } from "../federation/mod.ts";
import { commandToRun } from "./command_line.ts";

/** One line per link: peer, state, address, fingerprint, last error. */
export function formatLinks(links: LinkInfo[]): string {
  if (links.length === 0) {
    return `no links yet: ${commandToRun(["connect", "HOST", "PORT", "NODE_ID"])}`;
  }
  return links.map((l) => {
    const addr = l.host ? `${l.host}:${l.port}` : "(no address)";
    const err = l.lastError ? `  last error: ${l.lastError}` : "";
    return `${l.peer.padEnd(16)} ${l.state.padEnd(16)} ${addr.padEnd(24)} ${
      l.fingerprint ?? ""
    }${err}`;
  }).join("\n");
}
