/**
 * Group chats in the UI's HTTP API (docs/PROTOCOL.md §14): the commands the
 * browser may send about groups, and their validating parser, which
 * `parseUiCommand()` calls for every kind it does not know itself.
 */
import type { GroupMemberView, GroupMessage } from "../client/api.ts";

export type {
  GroupInvitationView,
  GroupMemberState,
  GroupMemberView,
  GroupMessage,
  GroupMessageDelivery,
  GroupView,
} from "../client/api.ts";

/** Longest group name the browser may give, in characters. */
export const MAX_GROUP_NAME_CHARS = 64;
/** Most addresses in one invitation command. */
export const MAX_INVITEES = 16;

/** A group command from the browser; GROUP is always the group's full id (`hex@home`). */
export type GroupUiCommand =
  | { kind: "createGroup"; name: string }
  | { kind: "inviteToGroup"; group: string; addresses: string[] }
  | { kind: "renameGroup"; group: string; name: string }
  | { kind: "removeFromGroup"; group: string; address: string }
  | { kind: "sendToGroup"; group: string; text: string }
  | {
    kind: "acceptInvitation" | "declineInvitation" | "leaveGroup" | "markGroupRead";
    group: string;
  };

/** What `GET /api/groups/GROUP` answers: a group's history and, while we are in it, its members. */
export interface GroupDetail {
  history: GroupMessage[];
  members: GroupMemberView[];
}

const GROUP_ID = /^[0-9a-f]{32}@[a-z0-9][a-z0-9_-]{0,31}$/;
const ADDRESS = /^[a-z0-9][a-z0-9_-]{0,31}@[a-z0-9][a-z0-9_-]{0,31}$/;
// C0 and C1 controls, and the bidirectional overrides that could disguise a name.
// deno-lint-ignore no-control-regex -- control characters are what it finds
const UNSAFE_NAME = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** True when `value` is a group's id (`32 hex digits@home`). */
export function isGroupId(value: unknown): value is string {
  return typeof value === "string" && GROUP_ID.test(value);
}

function str(obj: Record<string, unknown>, key: string, maxChars: number): string {
  const v = Object.hasOwn(obj, key) ? obj[key] : undefined;
  if (typeof v !== "string") throw new TypeError(`Cannot read command: "${key}" must be a string`);
  if (v.length > maxChars) {
    throw new RangeError(`Cannot read command: "${key}" is longer than ${maxChars} characters`);
  }
  return v;
}

function group(obj: Record<string, unknown>): string {
  const v = str(obj, "group", 65);
  if (!GROUP_ID.test(v)) {
    throw new RangeError(`Cannot read command: bad group id ${JSON.stringify(v)}`);
  }
  return v;
}

function member(v: string): string {
  if (!ADDRESS.test(v)) {
    throw new RangeError(
      `Cannot read command: bad address ${JSON.stringify(v)} (a member is name@node)`,
    );
  }
  return v;
}

function name(obj: Record<string, unknown>): string {
  const v = str(obj, "name", MAX_GROUP_NAME_CHARS * 2).trim();
  if (v === "") throw new RangeError("Cannot read command: give the group a name");
  if (v.length > MAX_GROUP_NAME_CHARS) {
    throw new RangeError(
      `Cannot read command: a group name is at most ${MAX_GROUP_NAME_CHARS} characters`,
    );
  }
  if (UNSAFE_NAME.test(v)) {
    throw new RangeError("Cannot read command: a group name cannot hold control characters");
  }
  return v;
}

function addresses(obj: Record<string, unknown>): string[] {
  const v = Object.hasOwn(obj, "addresses") ? obj.addresses : undefined;
  if (!Array.isArray(v)) throw new TypeError('Cannot read command: "addresses" must be a list');
  if (v.length === 0) throw new RangeError("Cannot read command: invite at least one address");
  if (v.length > MAX_INVITEES) {
    throw new RangeError(`Cannot read command: invite at most ${MAX_INVITEES} addresses at once`);
  }
  const out = v.map((a) => {
    if (typeof a !== "string" || a.length > 65) {
      throw new TypeError("Cannot read command: every address must be a string of name@node");
    }
    return member(a);
  });
  return [...new Set(out)];
}

/**
 * Parses a group command (`kind` already read); every field is checked, a
 * message against `maxMessageChars`.
 *
 * @throws {TypeError|RangeError} naming what is wrong, or an unknown kind
 */
export function parseGroupCommand(
  obj: Record<string, unknown>,
  maxMessageChars: number,
): GroupUiCommand {
  const kind = Object.hasOwn(obj, "kind") ? obj.kind : undefined;
  switch (kind) {
    case "createGroup":
      return { kind, name: name(obj) };
    case "inviteToGroup":
      return { kind, group: group(obj), addresses: addresses(obj) };
    case "renameGroup":
      return { kind, group: group(obj), name: name(obj) };
    case "removeFromGroup":
      return { kind, group: group(obj), address: member(str(obj, "address", 65)) };
    case "sendToGroup": {
      const text = str(obj, "text", maxMessageChars);
      if (text.trim() === "") throw new RangeError("Cannot read command: empty message");
      return { kind, group: group(obj), text };
    }
    case "acceptInvitation":
    case "declineInvitation":
    case "leaveGroup":
    case "markGroupRead":
      return { kind, group: group(obj) };
    default:
      throw new RangeError("Cannot read command: unknown kind");
  }
}
