/**
 * The UI's HTTP API as data: what the browser sends and gets back, and the
 * validating parsers the server runs on every body from the browser.
 */
import type {
  ChatMessage,
  Contact,
  DirectoryUser,
  FileTransfer,
  GroupInvitationView,
  GroupMessage,
  GroupView,
  IncomingRequest,
  LinkView,
  MailboxView,
  SelfInfo,
} from "../client/api.ts";
import { type GroupUiCommand, parseGroupCommand } from "./group_types.ts";

export type {
  ChatMessage,
  ClientEvent,
  Contact,
  DirectoryUser,
  FileState,
  FileTransfer,
  IncomingRequest,
  LinkView,
  MailboxView,
  MessageState,
  OwnMailboxView,
  SelfInfo,
  ServedMailboxView,
} from "../client/api.ts";

/** A QR code as one SVG path over a `size` × `size` module grid. */
export interface QrPath {
  size: number;
  d: string;
}

/** Limits the client core enforces, sent to the page so the two agree. */
export interface UiLimits {
  /** Longest chat message, in UTF-16 code units (`String.length`). */
  maxMessageChars: number;
}

/** Everything a page needs to paint, loaded in one request. */
export interface UiSnapshot {
  self: SelfInfo;
  links: LinkView[];
  directory: DirectoryUser[];
  contacts: Contact[];
  requests: IncomingRequest[];
  /** File transfers, newest first. */
  files: FileTransfer[];
  /** Our groups, and invitations waiting for an answer. */
  groups: GroupView[];
  invitations: GroupInvitationView[];
  limits: UiLimits;
}

/** A safety number with its QR code, ready to draw. */
export interface SafetyView {
  address: string;
  digits: string;
  qr: QrPath;
}

/** What `GET /api/page?path=…` answers: a page's markup and the state it was drawn from. */
export interface PageContent {
  /** The document's title. */
  title: string;
  /** A pop-out window: no navigation. */
  bare: boolean;
  /** The body's markup, rendered on the server (islands inside are hydrated). */
  html: string;
  state: PageState;
}

/** What a page was rendered from; the browser builds its store from exactly this. */
export interface PageState {
  snapshot: UiSnapshot;
  active: string | null;
  histories: Record<string, ChatMessage[]>;
  /** The group the page is about (its id), if any. */
  activeGroup?: string | null;
  /** The server's clock when it rendered (day separators must match on hydration). */
  nowMs: number;
}

/** A command the browser asks the client core to run (`POST /api/command`). */
export type UiCommand =
  | { kind: "connect"; host: string; port: number; nodeId: string }
  | { kind: "connectInvite"; invite: string }
  | { kind: "approveLink"; nodeId: string }
  | { kind: "rejectLink"; nodeId: string }
  | { kind: "request"; address: string; intro: string }
  | { kind: "accept"; address: string }
  | { kind: "reject"; address: string }
  | { kind: "block"; address: string }
  | { kind: "send"; address: string; text: string }
  | { kind: "markRead"; address: string }
  | { kind: "acceptKeyChange"; address: string }
  | { kind: "acceptFile" | "declineFile" | "cancelFile"; id: string }
  /** This node's mailboxes and the nodes it serves (answered as `mailboxes`, as are the next). */
  | { kind: "mailboxes" }
  | { kind: "addMailbox" | "removeMailbox" | "stopServing"; nodeId: string }
  /** Without `quotaBytes`, the node's default quota. */
  | { kind: "serveMailbox"; nodeId: string; quotaBytes?: number }
  | GroupUiCommand;

/** What `POST /api/command` answers. */
export type UiCommandResult =
  | { kind: "ok" }
  | { kind: "link"; link: LinkView }
  | { kind: "message"; message: ChatMessage }
  | { kind: "file"; transfer: FileTransfer }
  | { kind: "group"; group: GroupView }
  | { kind: "groupMessage"; message: GroupMessage }
  | { kind: "mailboxes"; mailboxes: MailboxView }
  | { kind: "error"; error: string };

const ADDRESS = /^[a-z0-9][a-z0-9_-]{0,31}(@[a-z0-9][a-z0-9_-]{0,31})?$/;
const NODE_ID = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const HOST = /^[A-Za-z0-9.:\[\]-]{1,253}$/;
const FILE_ID = /^[0-9a-f]{32}$/;

/** Quotas a node may serve another with: 64 KiB (the node's floor) to 1 PiB. */
export const QUOTA_BYTES = { min: 65_536, max: 2 ** 50 } as const;

/** True when `value` looks like `name@node` (or a bare `node`). */
export function isAddress(value: unknown): value is string {
  return typeof value === "string" && ADDRESS.test(value);
}

/** True when `value` is a valid node id. */
export function isNodeId(value: unknown): value is string {
  return typeof value === "string" && NODE_ID.test(value);
}

function field(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function str(obj: Record<string, unknown>, key: string, maxChars: number): string {
  const v = field(obj, key);
  if (typeof v !== "string") throw new TypeError(`Cannot read command: "${key}" must be a string`);
  if (v.length > maxChars) {
    throw new RangeError(`Cannot read command: "${key}" is longer than ${maxChars} characters`);
  }
  return v;
}

function address(obj: Record<string, unknown>): string {
  const v = str(obj, "address", 65);
  if (!ADDRESS.test(v)) {
    throw new RangeError(`Cannot read command: bad address ${JSON.stringify(v)}`);
  }
  return v;
}

function nodeId(obj: Record<string, unknown>): string {
  const v = str(obj, "nodeId", 32);
  if (!NODE_ID.test(v)) {
    throw new RangeError(`Cannot read command: bad node id ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Parses a command sent by the browser; every field is checked, a message
 * against the client core's limit (from the snapshot the page got).
 *
 * @throws {TypeError|RangeError} naming what is wrong
 */
export function parseUiCommand(value: unknown, limits: UiLimits): UiCommand {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("Cannot read command: not an object");
  }
  const obj = value as Record<string, unknown>;
  const kind = field(obj, "kind");
  switch (kind) {
    case "connect": {
      const host = str(obj, "host", 253);
      if (!HOST.test(host)) throw new RangeError("Cannot read command: bad host");
      const port = field(obj, "port");
      if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
        throw new RangeError("Cannot read command: port must be 1 to 65535");
      }
      return { kind, host, port, nodeId: nodeId(obj) };
    }
    case "connectInvite":
      return { kind, invite: str(obj, "invite", 400).trim() };
    case "approveLink":
    case "rejectLink":
      return { kind, nodeId: nodeId(obj) };
    case "request":
      return { kind, address: address(obj), intro: str(obj, "intro", 500) };
    case "send": {
      const text = str(obj, "text", limits.maxMessageChars);
      if (text.trim() === "") throw new RangeError("Cannot read command: empty message");
      return { kind, address: address(obj), text };
    }
    case "accept":
    case "reject":
    case "block":
    case "markRead":
    case "acceptKeyChange":
      return { kind, address: address(obj) };
    case "acceptFile":
    case "declineFile":
    case "cancelFile": {
      const id = str(obj, "id", 32);
      if (!FILE_ID.test(id)) throw new RangeError("Cannot read command: bad file id");
      return { kind, id };
    }
    case "mailboxes":
      return { kind };
    case "addMailbox":
    case "removeMailbox":
    case "stopServing":
      return { kind, nodeId: nodeId(obj) };
    case "serveMailbox": {
      const quotaBytes = field(obj, "quotaBytes");
      if (quotaBytes === undefined || quotaBytes === null) return { kind, nodeId: nodeId(obj) };
      if (
        typeof quotaBytes !== "number" || !Number.isSafeInteger(quotaBytes) ||
        quotaBytes < QUOTA_BYTES.min || quotaBytes > QUOTA_BYTES.max
      ) {
        throw new RangeError(
          `Cannot read command: the quota must be a whole number of bytes from ${QUOTA_BYTES.min} ` +
            `(64K) to ${QUOTA_BYTES.max} (1024T)`,
        );
      }
      return { kind, nodeId: nodeId(obj), quotaBytes };
    }
    default:
      return parseGroupCommand(obj, limits.maxMessageChars);
  }
}
