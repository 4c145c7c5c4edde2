/**
 * The client core, a thin facade over its engines ({@linkcode ClientApi} for
 * views). Which file decides what:
 *
 * | file                   | decides                                                          |
 * | ---------------------- | ---------------------------------------------------------------- |
 * | `contact_state.ts`     | what a request, an acceptance, a claim, a key change or a block does to a contact (pure) |
 * | `request_freshness.ts` | whether a request is fresh or a replay (pure)                    |
 * | `file_offer.ts`        | what a file offer may ask before anything is allocated (pure)    |
 * | `outbox.ts`            | retry or fail a submission, by the error's type; keeps envelopes until taken |
 * | `contacts.ts`          | runs the handshake crypto and applies contact_state.ts           |
 * | `contact_views.ts`     | how contacts, requests, claims and keys look to views            |
 * | `messaging.ts`         | text, read receipts, notices, incoming ratchet messages          |
 * | `sessions.ts`          | the ratchet sessions: one queue, states in memory                 |
 * | `inbox.ts`             | pushed items in order: route, commit, then show, then ack         |
 * | `turn_commit.ts`       | one store transaction per event-loop turn; what follows a write waits for it |
 * | `file_transfers.ts`    | files                                                            |
 * | `groups.ts`            | group chats (MLS): commands, what arrives, views                 |
 * | `group_engine.ts`      | how a group changes: applied in the home node's order, our changes pending until it takes them |
 * | `group_rules.ts`       | admins, invitations, held order, who commits a leaving (pure)    |
 *
 * State is persisted (the turn's transaction, with the new ratchet states)
 * before anything is shown, sent or acknowledged, so a crash at any moment
 * neither loses nor repeats a message. Views read only what is committed.
 */
import type { Clock } from "../clock.ts";
import * as e2e from "../e2e/mod.ts";
import { type Address, toAddress } from "../ids.ts";
import type { Logger } from "../log.ts";
import type {
  ChatMessage,
  ClientApi,
  ClientEvent,
  Contact,
  DirectoryUser,
  FileTransfer,
  GroupInvitationView,
  GroupMemberView,
  GroupMessage,
  GroupView,
  IncomingRequest,
  KeyChange,
  LinkView,
  MailboxAction,
  MailboxView,
  NodeConditions,
  SafetyInfo,
  SelfInfo,
} from "./api.ts";
import type { ClientStore } from "./client_store.ts";
import { Contacts } from "./contacts.ts";
import { ChatStateError } from "./errors.ts";
import { FileTransfers } from "./file_transfers.ts";
import { Groups } from "./groups.ts";
import { identityFingerprint } from "./identity_fingerprint.ts";
import { Inbox, type InboxItem } from "./inbox.ts";
import { Messaging } from "./messaging.ts";
import type { NodeConnection } from "./node_connection.ts";
import type { NodeControl } from "./node_control.ts";
import { Outbox } from "./outbox.ts";
import { Sessions } from "./sessions.ts";
import { TurnCommit } from "./turn_commit.ts";

export type { NodeControl } from "./node_control.ts";

/** Default envelope lifetime: how long a message may wait for delivery before it fails. */
export const DEFAULT_MESSAGE_LIFETIME_MS = 7 * 24 * 3600_000;

/** Options of {@linkcode ClientCore}. */
export interface ClientCoreOptions {
  address: Address;
  identity: e2e.IdentityKeyPair;
  store: ClientStore;
  connection: NodeConnection;
  clock: Clock;
  log: Logger;
  /** Present in the default mode; absent for a client of a remote node. */
  node?: NodeControl;
  /** How long a message may wait for delivery before it is reported failed. */
  messageLifetimeMs?: number;
  /** File transfers: where files are saved and staged, and which offers need no question. */
  files: {
    downloadsDir: string;
    stagingDir: string;
    autoAcceptBytes?: number;
    awayAcceptBytes?: number;
  };
  /** When a turn's writes are committed (default: once the turn is over); tests step it. */
  schedule?: (flush: () => void) => void;
  /** When writes that ride a later commit are committed at the latest (TurnCommit); tests step it. */
  scheduleLater?: (flush: () => void) => () => void;
}

/** The client core; see {@linkcode ClientApi}. */
export class ClientCore implements ClientApi {
  #o: ClientCoreOptions;
  #listeners = new Set<(e: ClientEvent) => void>();
  #contacts: Contacts;
  #messaging: Messaging;
  #inbox: Inbox;
  #outbox: Outbox;
  #files: FileTransfers;
  #turn: TurnCommit;
  #groups: Groups;

  constructor(options: ClientCoreOptions) {
    this.#o = options;
    const { address: self, store, connection, clock, log } = options;
    const lifetimeMs = options.messageLifetimeMs ?? DEFAULT_MESSAGE_LIFETIME_MS;
    const emit = (event: ClientEvent) => this.#emit(event);
    const turn = new TurnCommit({
      store,
      log: log.child("store"),
      schedule: options.schedule,
      scheduleLater: options.scheduleLater,
    });
    this.#turn = turn;
    const sessions = new Sessions({ self, store, turn, clock, lifetimeMs });
    this.#outbox = new Outbox({ store, turn, node: connection, log: log.child("outbox"), emit });
    const outbox = this.#outbox;
    this.#contacts = new Contacts({
      self,
      identity: options.identity,
      store,
      connection,
      sessions,
      outbox,
      clock,
      log: log.child("contacts"),
      lifetimeMs,
      emit,
    });
    this.#messaging = new Messaging({
      store,
      turn,
      sessions,
      outbox,
      contacts: this.#contacts,
      clock,
      log,
      emit,
    });
    this.#files = new FileTransfers({
      ...options.files,
      self,
      store,
      connection,
      clock,
      log: log.child("files"),
      lifetimeMs,
      checkContact: (peer) => void this.#contacts.sendable(peer, "send a file"),
      // A group file's messages go through its group; the rest through the 1:1 chat.
      sendInner: (peer, inner, write, via) => {
        const group = via ?? this.#groups.fileRoute(inner.id);
        return group
          ? this.#groups.sendFileControl(group, peer, inner, write)
          : this.#messaging.sendControl(peer, inner, write);
      },
      emit,
    });
    this.#messaging.files = (peer, inner) => this.#files.receive(peer, inner);
    this.#groups = new Groups({
      self,
      identity: options.identity,
      store,
      connection,
      clock,
      log: log.child("groups"),
      lifetimeMs,
      turn,
      exclusive: (fn) => sessions.exclusive(fn),
      emit,
      files: {
        receive: (peer, inner) => this.#files.receive(peer, inner),
        offer: (peer, file, options) => this.#files.offer(toAddress(peer), file, options),
      },
    });
    const groups = this.#groups;
    this.#inbox = new Inbox({
      self,
      store,
      turn,
      log,
      exclusive: (fn) => sessions.exclusive(fn),
      ack: (ids) => connection.ack(ids),
      handlers: {
        request: (from, request) => this.#contacts.receiveRequest(from, request),
        acceptance: (from, acceptance) => this.#contacts.receiveAcceptance(from, acceptance),
        ratchet: (from, id, message) => this.#messaging.receive(from, id, message),
        notice: (ref, state, reason, users) => {
          // A 1:1 message (kept in memory until delivered) is never a group's: the group
          // tables are read only for the rest.
          const message = store.message(ref);
          const group = message ? null : groups.notice(ref, state, reason, users);
          if (group) return group;
          // Read once: past the rows kept in memory (a long backlog), each read is a SELECT.
          const step = this.#messaging.notice(ref, state, reason, message);
          if (state !== "held") return step;
          // The peer's node is away and a mailbox holds for it: offers waiting for it are pushed.
          const peer = message?.peer ?? null;
          return {
            write: step.write,
            later: step.later,
            after: () => {
              this.#files.held(ref, peer);
              return step.after?.();
            },
          };
        },
        group: (e, inboxId) => groups.receive(e, inboxId),
      },
    });
  }

  get address(): Address {
    return this.#o.address;
  }

  /** The file transfers (chunks from the node go straight to them). */
  get transfers(): FileTransfers {
    return this.#files;
  }

  /** Stops timers and commits what was written (the store is closed by its owner). */
  stop(): void {
    this.#files.stop();
    this.#groups.stop();
    this.#turn.flush();
  }

  /** Resolves once what was written so far is committed: views read only that. */
  #committed(): Promise<void> {
    return this.#turn.committed();
  }

  /** The node has `count` of our one-time group key packages left. */
  onKeyPackages(count: number, lastResort: boolean): void {
    this.#groups.onKeyPackages(count, lastResort);
  }

  /** Handles one pushed inbox item; items are handled strictly in order. */
  onPush(item: InboxItem): void {
    void this.#inbox.push(item);
  }

  /** The node told its resource conditions (at welcome, and when one starts or ends). */
  onCondition(conditions: NodeConditions): void {
    const changed = JSON.stringify(conditions) !== JSON.stringify(this.#conditions);
    this.#conditions = conditions;
    if (changed) this.#emit({ kind: "node", conditions });
  }

  #conditions: NodeConditions = {};

  nodeConditions(): Promise<NodeConditions> {
    return Promise.resolve(this.#conditions);
  }

  /** After (re)connecting: publish our bundle, and hand the node what it has not taken yet. */
  onConnected(): void {
    this.#o.connection.send({
      type: "publish",
      bundle: e2e.encodePublicIdentity(this.#o.identity.publicIdentity),
    });
    this.#contacts.onConnected();
    this.#outbox.resubmitAll();
    this.#files.onConnected();
    this.#groups.onConnected();
  }

  subscribe(listener: (event: ClientEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells views that something outside the core changed (links, the directory). */
  notify(event: Extract<ClientEvent, { kind: "links" | "directory" }>): void {
    this.#emit(event);
  }

  #emit(event: ClientEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (e) {
        this.#o.log.warn("event listener failed", { why: (e as Error).message });
      }
    }
  }

  // --- this client and its node ---------------------------------------------------------------

  async self(): Promise<SelfInfo> {
    return {
      address: this.#o.address,
      nodeId: this.#o.address.split("@")[1],
      fingerprint: (await identityFingerprint(this.#o.identity.publicIdentity)).short,
      nodeFingerprint: this.#o.node?.nodeFingerprint ?? "",
      invite: this.#o.node?.invite() ?? "",
      ownsNode: this.#o.node !== undefined,
    };
  }

  #needNode(): NodeControl {
    if (!this.#o.node) {
      throw new ChatStateError("Cannot do that here: this client's node runs elsewhere");
    }
    return this.#o.node;
  }

  links(): Promise<LinkView[]> {
    return this.#o.node ? this.#o.node.links() : Promise.resolve([]);
  }
  connect(target: Parameters<NodeControl["connect"]>[0]): Promise<LinkView> {
    return this.#needNode().connect(target);
  }
  approveLink(nodeId: string): Promise<void> {
    return this.#needNode().approve(nodeId);
  }
  rejectLink(nodeId: string): Promise<void> {
    return this.#needNode().reject(nodeId);
  }
  async mailbox(action: MailboxAction): Promise<MailboxView> {
    return await this.#needNode().mailbox(action);
  }

  async directory(): Promise<DirectoryUser[]> {
    return (await this.#o.connection.directory()).map((e) => ({
      address: e.address,
      node: e.node,
      presence: e.presence === "online" ? "online" : "offline",
    }));
  }

  // --- contacts ---------------------------------------------------------------------------------

  async contacts(): Promise<Contact[]> {
    await this.#committed();
    return await this.#contacts.list();
  }
  async requests(): Promise<IncomingRequest[]> {
    await this.#committed();
    return await this.#contacts.requests();
  }
  request(address: string, intro: string): Promise<void> {
    return this.#contacts.request(address, intro);
  }
  accept(address: string): Promise<void> {
    return this.#contacts.accept(address);
  }
  reject(address: string): Promise<void> {
    return this.#contacts.reject(address);
  }
  block(address: string): Promise<void> {
    return this.#contacts.block(address);
  }
  async safety(address: string): Promise<SafetyInfo> {
    await this.#committed();
    return this.#contacts.safety(toAddress(address));
  }
  async keyChange(address: string): Promise<KeyChange | null> {
    await this.#committed();
    return await this.#contacts.keyChange(address);
  }
  acceptKeyChange(address: string, options?: { confirm: string }): Promise<void> {
    return this.#contacts.acceptKeyChange(address, options?.confirm);
  }
  dismissKeyChange(address: string): Promise<void> {
    return this.#contacts.dismissKeyChange(address);
  }

  // --- messages ---------------------------------------------------------------------------------

  async history(address: string, options: { limit?: number } = {}): Promise<ChatMessage[]> {
    await this.#committed();
    return this.#messaging.history(address, options.limit ?? 500);
  }
  send(address: string, text: string): Promise<ChatMessage> {
    return this.#messaging.send(address, text);
  }
  markRead(address: string): Promise<void> {
    return this.#messaging.markRead(address);
  }

  // --- files ------------------------------------------------------------------------------------

  sendFile(
    address: string,
    file: { path: string; name?: string; type?: string },
  ): Promise<FileTransfer> {
    return this.#files.offer(toAddress(address), file);
  }
  uploadFile(
    address: string,
    upload: { name: string; type: string; body: ReadableStream<Uint8Array> },
  ): Promise<FileTransfer> {
    return this.#files.upload(toAddress(address), upload);
  }
  async files(): Promise<FileTransfer[]> {
    await this.#committed();
    return this.#files.list();
  }
  acceptFile(idOrAddress: string): Promise<FileTransfer> {
    return this.#files.accept(idOrAddress);
  }
  declineFile(idOrAddress: string): Promise<FileTransfer> {
    return this.#files.decline(idOrAddress);
  }
  cancelFile(id: string): Promise<FileTransfer> {
    return this.#files.cancel(id);
  }

  // --- groups -----------------------------------------------------------------------------------

  async groups(): Promise<GroupView[]> {
    await this.#committed();
    return this.#groups.list();
  }
  async invitations(): Promise<GroupInvitationView[]> {
    await this.#committed();
    return await this.#groups.invitations();
  }
  createGroup(name: string): Promise<GroupView> {
    return this.#groups.create(name);
  }
  inviteToGroup(group: string, address: string | readonly string[]): Promise<GroupView> {
    return this.#groups.invite(group, address);
  }
  acceptInvitation(group: string): Promise<GroupView> {
    return this.#groups.accept(group);
  }
  declineInvitation(group: string): Promise<void> {
    return this.#groups.decline(group);
  }
  removeFromGroup(group: string, address: string): Promise<GroupView> {
    return this.#groups.remove(group, address);
  }
  leaveGroup(group: string): Promise<void> {
    return this.#groups.leave(group);
  }
  renameGroup(group: string, name: string): Promise<GroupView> {
    return this.#groups.rename(group, name);
  }
  async groupMembers(group: string): Promise<GroupMemberView[]> {
    await this.#committed();
    return await this.#groups.members(group);
  }
  sendToGroup(group: string, text: string): Promise<GroupMessage> {
    return this.#groups.send(group, text);
  }
  async groupHistory(group: string, options: { limit?: number } = {}): Promise<GroupMessage[]> {
    await this.#committed();
    return this.#groups.history(group, options.limit ?? 500);
  }
  markGroupRead(group: string): Promise<void> {
    return this.#groups.markRead(group);
  }
  sendFileToGroup(
    group: string,
    file: { path: string; name?: string; type?: string },
  ): Promise<FileTransfer[]> {
    return this.#groups.sendFile(group, file);
  }
}
