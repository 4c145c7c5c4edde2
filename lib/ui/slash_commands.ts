/**
 * The composer's /commands: each mirrors a button of the UI, and `/help`
 * lists them (the seed's "List Commands").
 */
import { isAddress, isNodeId, type UiCommand } from "./api_types.ts";

/** One /command as listed by `/help`. */
export interface SlashCommandHelp {
  usage: string;
  summary: string;
}

/** Every /command, in the order `/help` lists them. */
export const SLASH_COMMANDS: readonly SlashCommandHelp[] = [
  { usage: "/help", summary: "list these commands" },
  { usage: "/request ADDRESS [intro]", summary: "ask ADDRESS (name@node) to chat" },
  { usage: "/accept ADDRESS", summary: "accept a chat request" },
  { usage: "/reject ADDRESS", summary: "reject a chat request" },
  { usage: "/block ADDRESS", summary: "block ADDRESS" },
  { usage: "/verify [ADDRESS]", summary: "show the safety number of this chat or ADDRESS" },
  { usage: "/connect HOST PORT NODE_ID", summary: "link to another node" },
  { usage: "/invite [INVITE]", summary: "show this node's invite, or link with an invite" },
  { usage: "/users", summary: "refresh the directory of users" },
  { usage: "/open ADDRESS", summary: "open the chat with ADDRESS" },
  { usage: "/popout", summary: "open this chat in its own window" },
];

/** What a line typed in the composer asks for. */
export type SlashAction =
  | { kind: "text"; text: string }
  | { kind: "command"; command: UiCommand }
  | { kind: "help" }
  | { kind: "verify"; address: string }
  | { kind: "showInvite" }
  | { kind: "users" }
  | { kind: "open"; address: string }
  | { kind: "popout"; address: string }
  | { kind: "error"; error: string };

const NEEDS_ADDRESS = ["accept", "reject", "block", "open"] as const;

/**
 * Reads one composer line. `current` is the conversation the composer belongs
 * to, used when a command's address is left out.
 */
export function parseSlash(line: string, current: string | null): SlashAction {
  const text = line.trim();
  if (!text.startsWith("/")) return { kind: "text", text: line };
  if (text.startsWith("//")) return { kind: "text", text: line.trim().slice(1) };
  const [head, ...rest] = text.split(/\s+/);
  const name = head.slice(1).toLowerCase();
  const arg0 = rest[0] ?? current ?? "";
  const badAddress = (a: string): SlashAction => ({
    kind: "error",
    error: a === "" ? `/${name} needs an address (name@node)` : `Not an address: "${a}"`,
  });
  switch (name) {
    case "help":
    case "commands":
      return { kind: "help" };
    case "request": {
      const address = rest[0] ?? "";
      if (!isAddress(address)) return badAddress(address);
      return {
        kind: "command",
        command: { kind: "request", address, intro: rest.slice(1).join(" ") },
      };
    }
    case "verify":
      return isAddress(arg0) ? { kind: "verify", address: arg0 } : badAddress(arg0);
    case "connect": {
      const [host, portText, nodeId] = rest;
      const port = Number(portText);
      if (!host || !Number.isInteger(port) || port < 1 || port > 65535 || !isNodeId(nodeId)) {
        return { kind: "error", error: "Usage: /connect HOST PORT NODE_ID" };
      }
      return { kind: "command", command: { kind: "connect", host, port, nodeId } };
    }
    case "invite":
      return rest[0]
        ? { kind: "command", command: { kind: "connectInvite", invite: rest[0] } }
        : { kind: "showInvite" };
    case "users":
      return { kind: "users" };
    case "popout":
      return current ? { kind: "popout", address: current } : badAddress("");
    default:
      if ((NEEDS_ADDRESS as readonly string[]).includes(name)) {
        if (!isAddress(arg0)) return badAddress(arg0);
        if (name === "open") return { kind: "open", address: arg0 };
        return {
          kind: "command",
          command: { kind: name as "accept" | "reject" | "block", address: arg0 },
        };
      }
      return { kind: "error", error: `Unknown command /${name}: type /help for the list` };
  }
}
