/**
 * What a client core offers its views (the browser UI, the CLI): commands and
 * a stream of events. The UI server talks to this interface only, so it can be
 * tested against a fake and run against the real client core.
 */

/** Longest chat message, in UTF-16 code units: the one limit for the client core and every view. */
export const MAX_MESSAGE_CHARS = 16_000;

/** Delivery state of one sent message, as the sender sees it. */
export type MessageState = "sending" | "sent" | "delivered" | "read" | "failed";

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
  /** Short fingerprint of their identity key, once known. */
  fingerprint: string | null;
  /** Their key changed since it was pinned: sending is stopped until the user accepts it. */
  keyChanged: boolean;
  unread: number;
  lastMessageAtMs: number | null;
}

/** A chat request waiting for an answer. */
export interface IncomingRequest {
  from: string;
  intro: string;
  fingerprint: string;
  receivedAtMs: number;
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

/** Something changed; views refresh what the event names. */
export type ClientEvent =
  | { kind: "request"; request: IncomingRequest }
  | { kind: "message"; message: ChatMessage }
  | { kind: "state"; peer: string; id: string; state: MessageState; reason?: string }
  | { kind: "contact"; contact: Contact }
  | { kind: "directory" }
  | { kind: "file"; transfer: FileTransfer }
  | { kind: "links" };

/** The commands and events of a client core. Errors are thrown with user-facing messages. */
export interface ClientApi {
  self(): Promise<SelfInfo>;
  links(): Promise<LinkView[]>;
  connect(
    target: { host: string; port: number; nodeId: string } | { invite: string },
  ): Promise<LinkView>;
  approveLink(nodeId: string): Promise<void>;
  rejectLink(nodeId: string): Promise<void>;
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
  acceptKeyChange(address: string): Promise<void>;
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
  /** Subscribes to events; returns the unsubscribe function. */
  subscribe(listener: (event: ClientEvent) => void): () => void;
}
