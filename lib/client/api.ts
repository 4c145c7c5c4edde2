/**
 * What a client core offers its views (the browser UI, the CLI): commands and
 * a stream of events. The UI server talks to this interface only, so it can be
 * tested against a fake and run against the real client core.
 */

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

/** Something changed; views refresh what the event names. */
export type ClientEvent =
  | { kind: "request"; request: IncomingRequest }
  | { kind: "message"; message: ChatMessage }
  | { kind: "state"; peer: string; id: string; state: MessageState; reason?: string }
  | { kind: "contact"; contact: Contact }
  | { kind: "directory" }
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
  /** Subscribes to events; returns the unsubscribe function. */
  subscribe(listener: (event: ClientEvent) => void): () => void;
}
