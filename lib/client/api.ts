/**
 * What a client core offers its views (the browser UI, the CLI): commands and
 * a stream of events. The UI server talks to this interface only, so it can be
 * tested against a fake and run against the real client core.
 */

/** Longest message, in characters (UTF-16 code units, as `String.length` counts). */
export const MAX_MESSAGE_CHARS = 16_000;

/** Delivery state of one sent message, as the sender sees it. */
/** `held`: a mailbox of the recipient's node holds it while that node is away. */
export type MessageState = "sending" | "sent" | "held" | "delivered" | "read" | "failed";

/** One message in a conversation. */
export interface ChatMessage {
  /** Envelope id (hex). */
  id: string;
  /** The contact's address (`name@node`). */
  peer: string;
  direction: "in" | "out";
  text: string;
  /** Sender's clock when sent; receiver's clock when received. */
  sentAtMs: number;
  receivedAtMs: number | null;
  state: MessageState;
  /** Why a message failed, when it did. */
  reason?: string;
}

/** A contact and the state of the chat with them. */
export interface Contact {
  address: string;
  state: "requested" | "incoming" | "accepted" | "rejected" | "blocked";
  /** Short fingerprint of their identity key (`abcde-fghij-klmno-pqrst`), once known. */
  fingerprint: string | null;
  /**
   * Our request was answered by another key than the one their node published:
   * sending waits until the user compares safety numbers and confirms it
   * (`keyChange()`, `acceptKeyChange()`).
   */
  keyChanged: boolean;
  /**
   * Someone claims to be this contact with another key. A warning only: the chat
   * goes on with the pinned key. See `keyChange()`, `acceptKeyChange()`,
   * `dismissKeyChange()`.
   */
  claim: KeyClaim | null;
  unread: number;
  lastMessageAtMs: number | null;
}

/** A chat request waiting for an answer. */
export interface IncomingRequest {
  from: string;
  intro: string;
  /** Short fingerprint of the requester's identity key. */
  fingerprint: string;
  receivedAtMs: number;
  /**
   * From an accepted contact, with the key already pinned: they lost their side
   * of the chat and ask to start again. Accepting replaces the session (same key).
   */
  restart: boolean;
}

/** "Someone claims to be `address` with another key": a request made in a contact's name. */
export interface KeyClaim {
  address: string;
  /** Short fingerprint of the claimed key. */
  fingerprint: string;
  /** The claimant's intro (their words, unverified). */
  intro: string;
  receivedAtMs: number;
}

/** A key and what to compare it by. */
export interface KeyInfo {
  /** Short fingerprint (`abcde-fghij-klmno-pqrst`). */
  fingerprint: string;
  /** The safety number this key would give with ours (60 digits in groups of five). */
  digits: string;
  qr: string;
}

/** A key change waiting for the user, with both keys to compare. */
export interface KeyChange {
  address: string;
  /**
   * `claim`: someone asked for a chat in this contact's name with `claimed`; the
   * chat runs with `current`. `answer`: our request was answered by `claimed`, not
   * by `current` (the key their node published); the chat runs with `claimed` and
   * sending waits.
   */
  kind: "claim" | "answer";
  current: KeyInfo;
  claimed: KeyInfo;
  /** The claimant's intro (`claim` only). */
  intro: string | null;
  receivedAtMs: number | null;
}

/** A user in the directory. */
export interface DirectoryUser {
  address: string;
  node: string;
  presence: "online" | "offline";
}

/** A linked node as shown in the federation screen. */
export interface LinkView {
  peer: string;
  state: string;
  host: string | null;
  port: number | null;
  fingerprint: string | null;
  lastError: string | null;
}

/** One of this node's mailboxes (a node that holds our envelopes while we are away). */
export interface OwnMailboxView {
  node: string;
  /** A route to it is known now. */
  reachable: boolean;
}

/** A node this node serves as a mailbox, with what it holds for it. */
export interface ServedMailboxView {
  node: string;
  quotaBytes: number;
  heldBytes: number;
  addedAtMs: number;
}

/** Mailboxes as the federation screen shows them (`mailbox list`, `mailbox served`). */
export interface MailboxView {
  /** The nodes we named as our mailboxes. */
  own: OwnMailboxView[];
  /** The nodes we agreed to hold envelopes for. */
  served: ServedMailboxView[];
  /** The `mailbox_held_bytes` counter of `status --json`: held for all, its limit, refusals. */
  heldBytes: number;
  totalLimitBytes: number;
  refusals: number;
}

/** A change to this node's mailboxes (the CLI's `mailbox add|remove|serve|stop`), or a look. */
export type MailboxAction =
  | { kind: "list" }
  | { kind: "add" | "remove" | "stop"; nodeId: string }
  /** Without `quotaBytes`, the node's `[Limits] mailbox_default_quota`. */
  | { kind: "serve"; nodeId: string; quotaBytes?: number };

/** About this client and its node. */
export interface SelfInfo {
  address: string;
  nodeId: string;
  /** Short fingerprint of this user's identity key. */
  fingerprint: string;
  /** The node's short fingerprint and invite line. */
  nodeFingerprint: string;
  invite: string;
  /** True when the node runs in this process (default mode): link commands are available. */
  ownsNode: boolean;
}

/** Safety number of a contact. */
export interface SafetyInfo {
  address: string;
  digits: string;
  qr: string;
}

/** States of a file transfer (docs/PROTOCOL.md §13). */
export type FileState =
  | "offered"
  | "sending"
  | "receiving"
  | "sent"
  | "complete"
  | "declined"
  | "cancelled"
  | "failed";

/** A file offered, moving, or done, as both sides see it. */
export interface FileTransfer {
  /** File id (hex). */
  id: string;
  peer: string;
  direction: "in" | "out";
  /** Sender: the name offered; receiver: the sanitised name it is (or will be) saved under. */
  name: string;
  size: number;
  /** Media type the sender gave (informative only). */
  type: string;
  state: FileState;
  /** Sender: bytes stored at the receiver's node; receiver: bytes written. */
  bytesDone: number;
  /** Recent rate in bytes per second; 0 when nothing moves. */
  rateBytesPerSec: number;
  /** Estimated time left, or null when unknown. */
  etaMs: number | null;
  /** Sender: the file sent; receiver: the saved file, once complete. */
  path: string | null;
  /** Receiver: the downloads folder. */
  folder: string | null;
  /** Why it failed or was cancelled, when it was. */
  reason?: string;
  createdAtMs: number;
  updatedAtMs: number;
}

/** A group chat, as views show it. */
export interface GroupView {
  /** The group's id, `groupIdHex@home` (commands take it, or an unambiguous name). */
  id: string;
  name: string;
  /** The home node, which orders the group's changes. */
  home: string;
  /** `left` after we left, `removed` after an admin removed us (history stays). */
  state: "active" | "left" | "removed";
  /** MLS epoch: one more with every change of membership or name. */
  epoch: number;
  /** Members, us included (invitees who have not answered yet count). */
  members: number;
  admins: string[];
  /** We are an admin (may invite, remove, rename). */
  admin: boolean;
  /** We asked to leave; a member's commit carries it out. */
  leaving: boolean;
  unread: number;
  lastMessageAtMs: number | null;
  /** A change of ours waiting for the home node ("add bob@nodeb", "rename"...), or null. */
  pending: string | null;
}

/** A group member, with what to compare their key by. */
export interface GroupMemberView {
  address: string;
  /** Short fingerprint of their identity key (the same key a 1:1 chat pins). */
  fingerprint: string;
  /** The safety number with them (60 digits in groups of five), as `safety()` shows for a contact. */
  safetyNumber: string;
  admin: boolean;
  self: boolean;
  /** False while an invitee has not accepted yet. */
  joined: boolean;
  /**
   * Their key against the one pinned by a 1:1 chat with them: `same`, `different`
   * (a warning: compare safety numbers), or null when there is no chat.
   */
  pinned: "same" | "different" | null;
}

/** Where one recipient of a sent group message is. */
export type GroupMemberState = "sending" | "sent" | "delivered" | "read" | "failed";

/** The delivery of a sent group message: "delivered to N of M, read by K". */
export interface GroupMessageDelivery {
  recipients: number;
  delivered: number;
  read: number;
  failed: number;
  /** Per recipient. */
  members: Record<string, GroupMemberState>;
}

/** One line of a group's history. */
export interface GroupMessage {
  /** Message id (hex). */
  id: string;
  /** The group's id. */
  group: string;
  sender: string;
  direction: "in" | "out";
  /** `text`, or `event` (someone joined, left, was added or removed; a rename). */
  kind: "text" | "event";
  text: string;
  /** Sender's clock when sent; our clock when received. */
  sentAtMs: number;
  receivedAtMs: number | null;
  /** Ours: `sending` until the node took it, then sent/delivered (to all)/failed (to all). */
  state: MessageState;
  reason?: string;
  /** Ours: per-recipient delivery and read state. */
  delivery?: GroupMessageDelivery;
}

/** An invitation to a group, shown with chat requests. */
export interface GroupInvitationView {
  /** The group's id (accept or decline it by this, or by its name). */
  group: string;
  name: string;
  inviter: string;
  /** Short fingerprint of the inviter's identity key. */
  fingerprint: string;
  members: number;
  receivedAtMs: number;
}

/** Something changed; views refresh what the event names. */
export type ClientEvent =
  | { kind: "request"; request: IncomingRequest }
  | { kind: "claim"; claim: KeyClaim }
  | { kind: "message"; message: ChatMessage }
  | { kind: "state"; peer: string; id: string; state: MessageState; reason?: string }
  | { kind: "contact"; contact: Contact }
  | { kind: "directory" }
  | { kind: "file"; transfer: FileTransfer }
  | { kind: "links" }
  /** The node's resource conditions changed (a full disk started or ended). */
  | { kind: "node"; conditions: NodeConditions }
  /** A group changed (members, name, our standing, unread count, a pending change). */
  | { kind: "group"; group: GroupView }
  /** A line in a group's history (a text, or an event such as someone joining). */
  | { kind: "groupMessage"; message: GroupMessage }
  /** Delivery of one of our group messages moved on (per recipient). */
  | {
    kind: "groupState";
    group: string;
    id: string;
    state: MessageState;
    delivery: GroupMessageDelivery;
  }
  /** An invitation to a group arrived (show it with chat requests). */
  | { kind: "invitation"; invitation: GroupInvitationView };

/** The node's resource conditions, by resource ("store"): "ok" or what is wrong, with a sentence. */
export type NodeConditions = Record<string, { state: string; message?: string; sinceMs?: number }>;

/** The commands and events of a client core. Errors are thrown with user-facing messages. */
export interface ClientApi {
  self(): Promise<SelfInfo>;
  /** The home node's resource conditions (a full disk is named here). */
  nodeConditions(): Promise<NodeConditions>;
  links(): Promise<LinkView[]>;
  connect(
    target: { host: string; port: number; nodeId: string } | { invite: string },
  ): Promise<LinkView>;
  approveLink(nodeId: string): Promise<void>;
  rejectLink(nodeId: string): Promise<void>;
  /**
   * Looks at or changes this node's mailboxes and the nodes it serves (only
   * when the node runs in this process); answers the mailboxes after the change.
   */
  mailbox(action: MailboxAction): Promise<MailboxView>;
  directory(): Promise<DirectoryUser[]>;
  contacts(): Promise<Contact[]>;
  requests(): Promise<IncomingRequest[]>;
  request(address: string, intro: string): Promise<void>;
  accept(address: string): Promise<void>;
  reject(address: string): Promise<void>;
  block(address: string): Promise<void>;
  history(address: string, options?: { limit?: number }): Promise<ChatMessage[]>;
  send(address: string, text: string): Promise<ChatMessage>;
  /** Marks a conversation's messages as read (sends read receipts). */
  markRead(address: string): Promise<void>;
  safety(address: string): Promise<SafetyInfo>;
  /** The key change waiting for `address`, both keys with their safety numbers; null if none. */
  keyChange(address: string): Promise<KeyChange | null>;
  /**
   * Accepts the waiting key change. `confirm` must be the new key's fingerprint
   * (short or full, as `keyChange()` shows it): a deliberate step, refused without
   * it. For a claim this accepts the claimant's request and ends the old session.
   */
  acceptKeyChange(address: string, options?: { confirm: string }): Promise<void>;
  /** Forgets a claim; the chat goes on with the pinned key. */
  dismissKeyChange(address: string): Promise<void>;
  /**
   * Offers a file from this machine to a contact; it is sent once they accept.
   * `name` replaces the file's own name in the offer.
   */
  sendFile(
    address: string,
    file: { path: string; name?: string; type?: string },
  ): Promise<FileTransfer>;
  /** Offers a file given as a stream (the browser's upload), kept in the client's folder meanwhile. */
  uploadFile(
    address: string,
    upload: { name: string; type: string; body: ReadableStream<Uint8Array> },
  ): Promise<FileTransfer>;
  /** Every transfer, newest first. */
  files(): Promise<FileTransfer[]>;
  /** Accepts an offer, by file id or by the sender's address (their latest offer). */
  acceptFile(idOrAddress: string): Promise<FileTransfer>;
  declineFile(idOrAddress: string): Promise<FileTransfer>;
  /** Stops a transfer in either direction; the other side is told. */
  cancelFile(id: string): Promise<FileTransfer>;
  // --- groups (MLS; docs/PROTOCOL.md §14). GROUP is a group's id or its unambiguous name. ---
  /** Our groups, most recently active first (left and removed ones too). */
  groups(): Promise<GroupView[]>;
  /** Invitations waiting for an answer (show them with `requests()`). */
  invitations(): Promise<GroupInvitationView[]>;
  /** Creates a group with us as its only member and admin; our node is its home. */
  createGroup(name: string): Promise<GroupView>;
  /**
   * Invites `address` (or several, in one commit; admins only): takes one key
   * package of each, commits the addition and sends the invitations through
   * the home node. Resolves once the home node took it (or after 30 s with
   * `pending` set).
   */
  inviteToGroup(group: string, address: string | readonly string[]): Promise<GroupView>;
  /** Accepts an invitation: joins from its Welcome (opened only now). */
  acceptInvitation(group: string): Promise<GroupView>;
  /** Declines an invitation; the group's members are told (an admin then removes us). */
  declineInvitation(group: string): Promise<void>;
  /** Removes a member (admins only); they cannot read what is sent afterwards. */
  removeFromGroup(group: string, address: string): Promise<GroupView>;
  /** Asks to leave; another member's client commits it. */
  leaveGroup(group: string): Promise<void>;
  /** Renames the group (admins only). */
  renameGroup(group: string, name: string): Promise<GroupView>;
  /** Members, with fingerprints and safety numbers. */
  groupMembers(group: string): Promise<GroupMemberView[]>;
  /** Sends a text to every member (one envelope per member's node). */
  sendToGroup(group: string, text: string): Promise<GroupMessage>;
  /** A group's history, oldest first, ours with per-member delivery. */
  groupHistory(group: string, options?: { limit?: number }): Promise<GroupMessage[]>;
  /** Marks a group's messages read (a read receipt goes to the group). */
  markGroupRead(group: string): Promise<void>;
  /**
   * Offers a file from this machine to every other member: one transfer per
   * member (see `files()`), its key sent through the group; each member accepts
   * or declines as in a 1:1 chat, and chunks go to those who accept.
   */
  sendFileToGroup(
    group: string,
    file: { path: string; name?: string; type?: string },
  ): Promise<FileTransfer[]>;
  /** Subscribes to events; returns the unsubscribe function. */
  subscribe(listener: (event: ClientEvent) => void): () => void;
}
