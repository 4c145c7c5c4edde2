/**
 * Validated identifiers: node ids, user names and addresses (`name@node`).
 * Each is a branded string made only by its parser, so a value of the type
 * is known to be valid wherever it travels.
 */

/** A node id: 1 to 32 of `a-z 0-9 - _`, starting with a letter or digit. */
export type NodeId = string & { readonly __brand: "NodeId" };
/** A user name on a node, same alphabet as a node id. */
export type UserName = string & { readonly __brand: "UserName" };
/** A user address `name@node`. */
export type Address = string & { readonly __brand: "Address" };

const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** What a valid id looks like, for error messages. */
export const ID_RULE =
  "1 to 32 characters of a-z, 0-9, '-' and '_', starting with a letter or digit";

function checkId(value: unknown, what: string): string {
  if (typeof value !== "string") throw new TypeError(`Cannot parse ${what}: not a string`);
  if (!ID_PATTERN.test(value)) {
    throw new RangeError(`Cannot parse ${what} ${JSON.stringify(value)}: use ${ID_RULE}`);
  }
  return value;
}

/** Parses a node id. @throws {TypeError|RangeError} */
export function toNodeId(value: unknown): NodeId {
  return checkId(value, "node id") as NodeId;
}

/** Parses a user name. @throws {TypeError|RangeError} */
export function toUserName(value: unknown): UserName {
  return checkId(value, "user name") as UserName;
}

/** Parses `name@node`; a bare `node` means its owner `node@node`. @throws {TypeError|RangeError} */
export function toAddress(value: unknown): Address {
  if (typeof value !== "string") throw new TypeError("Cannot parse address: not a string");
  const at = value.indexOf("@");
  const name = at < 0 ? value : value.slice(0, at);
  const node = at < 0 ? value : value.slice(at + 1);
  return `${toUserName(name)}@${toNodeId(node)}` as Address;
}

/** Splits a parsed address into its user name and node id. */
export function splitAddress(address: Address): { name: UserName; node: NodeId } {
  const at = address.indexOf("@");
  return { name: address.slice(0, at) as UserName, node: address.slice(at + 1) as NodeId };
}

/**
 * A host name or address a node may be dialled at (announcements, the link
 * handshake's endpoint): letters, digits, `.`, `:`, `-` and IPv6 brackets,
 * 1–253 characters. Nothing else reaches a dialler, a terminal or a log.
 */
export const HOST_PATTERN = /^[A-Za-z0-9.:\-\[\]]{1,253}$/;
