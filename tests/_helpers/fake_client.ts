/**
 * An in-memory `ClientApi` for UI tests: several fake clients share one
 * {@linkcode FakeNetwork}, so Alice's request reaches Bob, messages go both
 * ways with sent → delivered → read, links can wait for approval, and a key
 * change can be staged.
 */
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
  SafetyInfo,
  SelfInfo,
} from "../../lib/client/api.ts";

function hex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

function fingerprintOf(seed: string): string {
  let h = 2166136261;
  for (const ch of seed) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  const parts: string[] = [];
  for (let i = 0; i < 4; i++) {
    h = Math.imul(h ^ (h >>> 13), 2246822519) >>> 0;
    parts.push((h & 0xffff).toString(16).padStart(4, "0"));
  }
  return parts.join(" ");
}

/** The shared "network" of fake clients. */
export class FakeNetwork {
  readonly clients = new Map<string, FakeClient>();
  /** Extra directory entries (users who have no fake client). */
  readonly extraUsers: DirectoryUser[] = [];
  /** When set, messages stay "sent" until {@linkcode deliverAll}. */
  holdDelivery = false;
  #held: ChatMessage[] = [];
  /** Clock, replaceable for day separators. */
  now: () => number = () => Date.now();

  /** Makes a client for `name@node`. */
  client(address: string): FakeClient {
    const c = new FakeClient(address, this);
    this.clients.set(address, c);
    return c;
  }

  /** All users of every fake node. */
  directory(): DirectoryUser[] {
    const users = [...this.clients.values()].map((c): DirectoryUser => ({
      address: c.address,
      node: c.node,
      presence: c.online ? "online" : "offline",
    }));
    return [...users, ...this.extraUsers];
  }

  /** Simulates `address` getting a new identity key: its contacts see a warning. */
  rotateKey(address: string): void {
    const who = this.clients.get(address);
    if (!who) throw new RangeError(`No fake client "${address}"`);
    who.keySeed += "'";
    for (const c of this.clients.values()) c.peerKeyChanged(address, who.fingerprint);
  }

  /** Delivers held messages. */
  deliverAll(): void {
    const held = this.#held;
    this.#held = [];
    for (const m of held) this.#deliver(m);
  }

  /** Carries a message from its sender to `m.peer`. */
  carry(from: FakeClient, m: ChatMessage): void {
    if (this.holdDelivery) {
      this.#held.push({ ...m, peer: from.address });
      return;
    }
    queueMicrotask(() => this.#deliver({ ...m, peer: from.address }, m.peer));
  }

  #deliver(m: ChatMessage, to?: string): void {
    const sender = this.clients.get(m.peer)!;
    const target = to ?? sender.outbox.get(m.id);
    const receiver = target ? this.clients.get(target) : undefined;
    if (!receiver) {
      sender.setState(target ?? "", m.id, "failed", "No route to the user");
      return;
    }
    receiver.receive({ ...m, direction: "in", receivedAtMs: this.now(), state: "delivered" });
    sender.setState(receiver.address, m.id, "delivered");
  }
}

/** One fake client core. */
export class FakeClient implements ClientApi {
  readonly address: string;
  readonly node: string;
  online = true;
  keySeed: string;
  readonly outbox = new Map<string, string>();
  #net: FakeNetwork;
  #listeners = new Set<(e: ClientEvent) => void>();
  #contacts = new Map<string, Contact>();
  #requests = new Map<string, IncomingRequest>();
  #history = new Map<string, ChatMessage[]>();
  #links: LinkView[] = [];
  #mailboxes: string[] = [];
  #served = new Map<string, { quotaBytes: number; addedAtMs: number }>();

  constructor(address: string, net: FakeNetwork) {
    this.address = address;
    this.node = address.split("@")[1] ?? address;
    this.keySeed = address;
    this.#net = net;
  }

  get fingerprint(): string {
    return fingerprintOf(this.keySeed);
  }

  #emit(e: ClientEvent): void {
    for (const l of this.#listeners) l(e);
  }

  #peer(address: string): FakeClient {
    const p = this.#net.clients.get(address);
    if (!p) throw new Error(`Cannot reach "${address}": no such user in the directory`);
    return p;
  }

  #setContact(c: Contact): void {
    this.#contacts.set(c.address, c);
    this.#emit({ kind: "contact", contact: { ...c } });
  }

  #contact(address: string): Contact {
    return this.#contacts.get(address) ?? {
      address,
      state: "requested",
      fingerprint: null,
      keyChanged: false,
      claim: null,
      unread: 0,
      lastMessageAtMs: null,
    };
  }

  /** A link that waits for this node's owner (the federation screen's approvals). */
  addPendingLink(nodeId: string): void {
    this.#links.push({
      peer: nodeId,
      state: "pending",
      host: null,
      port: null,
      fingerprint: fingerprintOf(nodeId),
      lastError: null,
    });
    this.#emit({ kind: "links" });
  }

  /** Set by tests to show a node condition (a full disk). */
  conditions: Record<string, { state: string; message?: string }> = {};

  nodeConditions(): Promise<Record<string, { state: string; message?: string }>> {
    return Promise.resolve(this.conditions);
  }

  self(): Promise<SelfInfo> {
    return Promise.resolve({
      address: this.address,
      nodeId: this.node,
      fingerprint: this.fingerprint,
      nodeFingerprint: fingerprintOf(`node:${this.node}`),
      invite: `fedchat://${this.node}@127.0.0.1:8443?fp=${hex(16)}`.slice(0, 80),
      ownsNode: true,
    });
  }

  links(): Promise<LinkView[]> {
    return Promise.resolve(this.#links.map((l) => ({ ...l })));
  }

  connect(
    target: { host: string; port: number; nodeId: string } | { invite: string },
  ): Promise<LinkView> {
    let link: LinkView;
    if ("invite" in target) {
      const m = /^fedchat:\/\/([a-z0-9_-]+)@([^:]+):(\d+)/.exec(target.invite);
      if (!m) return Promise.reject(new Error("Cannot read invite: it must start with fedchat://"));
      link = {
        peer: m[1],
        state: "up",
        host: m[2],
        port: Number(m[3]),
        fingerprint: fingerprintOf(m[1]),
        lastError: null,
      };
    } else {
      link = {
        peer: target.nodeId,
        state: "up",
        host: target.host,
        port: target.port,
        fingerprint: fingerprintOf(target.nodeId),
        lastError: null,
      };
    }
    this.#links = [...this.#links.filter((l) => l.peer !== link.peer), link];
    this.#emit({ kind: "links" });
    this.#emit({ kind: "directory" });
    return Promise.resolve({ ...link });
  }

  approveLink(nodeId: string): Promise<void> {
    const l = this.#links.find((x) => x.peer === nodeId);
    if (!l) return Promise.reject(new Error(`Cannot approve "${nodeId}": no such link waiting`));
    l.state = "up";
    this.#emit({ kind: "links" });
    return Promise.resolve();
  }

  rejectLink(nodeId: string): Promise<void> {
    this.#links = this.#links.filter((x) => x.peer !== nodeId);
    this.#emit({ kind: "links" });
    return Promise.resolve();
  }

  /** Keeps the settings in memory with the node's rules (nothing is ever held). */
  mailbox(action: MailboxAction): Promise<MailboxView> {
    const refuse = (why: string) => Promise.reject(new Error(why));
    switch (action.kind) {
      case "add":
        if (action.nodeId === this.node) return refuse("Cannot add: a node is not its own mailbox");
        if (!this.#mailboxes.includes(action.nodeId)) this.#mailboxes.push(action.nodeId);
        break;
      case "remove":
        if (!this.#mailboxes.includes(action.nodeId)) {
          return refuse(`Cannot remove ${action.nodeId}: it is not one of this node's mailboxes`);
        }
        this.#mailboxes = this.#mailboxes.filter((m) => m !== action.nodeId);
        break;
      case "serve":
        if (action.nodeId === this.node) return refuse("Cannot serve: that is this node");
        this.#served.set(action.nodeId, {
          quotaBytes: action.quotaBytes ?? 64 * 1024 * 1024,
          addedAtMs: this.#net.now(),
        });
        break;
      case "stop":
        if (!this.#served.delete(action.nodeId)) {
          return refuse(`Cannot stop: this node does not serve ${action.nodeId}`);
        }
        break;
    }
    return Promise.resolve({
      own: this.#mailboxes.map((node) => ({
        node,
        reachable: this.#links.some((l) => l.peer === node && l.state === "up"),
      })),
      served: [...this.#served].map(([node, s]) => ({ node, ...s, heldBytes: 0 })),
      heldBytes: 0,
      totalLimitBytes: 1024 * 1024 * 1024,
      refusals: 0,
    });
  }

  directory(): Promise<DirectoryUser[]> {
    return Promise.resolve(this.#net.directory());
  }

  contacts(): Promise<Contact[]> {
    return Promise.resolve([...this.#contacts.values()].map((c) => ({ ...c })));
  }

  requests(): Promise<IncomingRequest[]> {
    return Promise.resolve([...this.#requests.values()]);
  }

  request(address: string, intro: string): Promise<void> {
    if (address === this.address) {
      return Promise.reject(new Error("Cannot request a chat with yourself"));
    }
    const peer = this.#peer(address);
    this.#setContact({
      ...this.#contact(address),
      state: "requested",
      fingerprint: peer.fingerprint,
    });
    queueMicrotask(() => peer.incoming(this, intro));
    return Promise.resolve();
  }

  /** Called by the network: a request from `from`. */
  incoming(from: FakeClient, intro: string): void {
    const c = this.#contacts.get(from.address);
    if (c?.state === "blocked") return;
    const request: IncomingRequest = {
      from: from.address,
      intro,
      fingerprint: from.fingerprint,
      receivedAtMs: this.#net.now(),
      restart: false,
    };
    this.#requests.set(from.address, request);
    this.#setContact({
      ...this.#contact(from.address),
      state: "incoming",
      fingerprint: from.fingerprint,
    });
    this.#emit({ kind: "request", request });
  }

  accept(address: string): Promise<void> {
    if (!this.#requests.has(address)) {
      return Promise.reject(new Error(`Cannot accept "${address}": no request from them`));
    }
    this.#requests.delete(address);
    this.#setContact({ ...this.#contact(address), state: "accepted" });
    const peer = this.#peer(address);
    queueMicrotask(() => peer.answered(this.address, "accepted"));
    return Promise.resolve();
  }

  reject(address: string): Promise<void> {
    this.#requests.delete(address);
    this.#setContact({ ...this.#contact(address), state: "rejected" });
    const peer = this.#net.clients.get(address);
    if (peer) queueMicrotask(() => peer.answered(this.address, "rejected"));
    return Promise.resolve();
  }

  /** Called by the network: the answer to our request. */
  answered(from: string, state: "accepted" | "rejected"): void {
    this.#setContact({ ...this.#contact(from), state });
  }

  block(address: string): Promise<void> {
    this.#requests.delete(address);
    this.#setContact({ ...this.#contact(address), state: "blocked" });
    return Promise.resolve();
  }

  history(address: string, options: { limit?: number } = {}): Promise<ChatMessage[]> {
    const list = this.#history.get(address) ?? [];
    return Promise.resolve(list.slice(-(options.limit ?? 1000)).map((m) => ({ ...m })));
  }

  /** Seeds history (for day separators in screenshots). */
  seed(m: ChatMessage): void {
    const list = this.#history.get(m.peer) ?? [];
    list.push(m);
    this.#history.set(m.peer, list);
  }

  send(address: string, text: string): Promise<ChatMessage> {
    const c = this.#contacts.get(address);
    if (c?.state !== "accepted") {
      return Promise.reject(new Error(`Cannot send to "${address}": the chat is not accepted`));
    }
    if (c.keyChanged) {
      return Promise.reject(
        new Error(`Cannot send to "${address}": their key changed; accept it first`),
      );
    }
    const m: ChatMessage = {
      id: hex(16),
      peer: address,
      direction: "out",
      text,
      sentAtMs: this.#net.now(),
      receivedAtMs: null,
      state: "sent",
    };
    this.seed(m);
    this.outbox.set(m.id, address);
    this.#setContact({ ...c, lastMessageAtMs: m.sentAtMs });
    this.#emit({ kind: "message", message: { ...m } });
    this.#net.carry(this, m);
    return Promise.resolve({ ...m });
  }

  /** Called by the network: an incoming message. */
  receive(m: ChatMessage): void {
    this.seed(m);
    const c = this.#contact(m.peer);
    this.#emit({ kind: "message", message: { ...m } });
    this.#setContact({ ...c, unread: c.unread + 1, lastMessageAtMs: m.receivedAtMs });
  }

  /** Called by the network: a sent message changed state. */
  setState(peer: string, id: string, state: ChatMessage["state"], reason?: string): void {
    const m = (this.#history.get(peer) ?? []).find((x) => x.id === id);
    if (m) {
      m.state = state;
      m.reason = reason;
    }
    this.#emit({ kind: "state", peer, id, state, reason });
  }

  markRead(address: string): Promise<void> {
    const c = this.#contacts.get(address);
    if (!c) return Promise.resolve();
    this.#setContact({ ...c, unread: 0 });
    const peer = this.#net.clients.get(address);
    const list = this.#history.get(address) ?? [];
    for (const m of list) {
      if (m.direction === "in" && m.state !== "read") {
        m.state = "read";
        if (peer) queueMicrotask(() => peer.setState(this.address, m.id, "read"));
      }
    }
    return Promise.resolve();
  }

  safety(address: string): Promise<SafetyInfo> {
    const peer = this.#peer(address);
    const [a, b] = [this.address + this.fingerprint, address + peer.fingerprint].sort();
    let digits = "";
    let seed = fingerprintOf(a + b);
    while (digits.length < 60) {
      seed = fingerprintOf(seed);
      for (const ch of seed.replace(/ /g, "")) digits += String(parseInt(ch, 16) % 10);
    }
    const groups = digits.slice(0, 60).match(/.{5}/g)!.join(" ");
    return Promise.resolve({
      address,
      digits: groups,
      qr: `fedchat-safety:${groups.replace(/ /g, "")}`,
    });
  }

  /** Called by the network: `address` has a new key. */
  peerKeyChanged(address: string, fingerprint: string): void {
    const c = this.#contacts.get(address);
    if (!c) return;
    this.#setContact({ ...c, keyChanged: true, fingerprint });
  }

  keyChange(address: string): Promise<KeyChange | null> {
    const c = this.#contacts.get(address);
    if (!c?.keyChanged) return Promise.resolve(null);
    const key = (fingerprint: string) => ({ fingerprint, digits: fingerprint, qr: fingerprint });
    return Promise.resolve({
      address,
      kind: "answer",
      current: key(fingerprintOf(address)),
      claimed: key(c.fingerprint ?? ""),
      intro: null,
      receivedAtMs: null,
    });
  }

  // Lenient: the fake takes the change with or without `confirm` (the real core requires it).
  acceptKeyChange(address: string, _options?: { confirm: string }): Promise<void> {
    const c = this.#contacts.get(address);
    if (c) this.#setContact({ ...c, keyChanged: false });
    return Promise.resolve();
  }

  dismissKeyChange(address: string): Promise<void> {
    const c = this.#contacts.get(address);
    if (c) this.#setContact({ ...c, claim: null });
    return Promise.resolve();
  }

  subscribe(listener: (event: ClientEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // Groups are tested against real clients (tests/groups_test.ts); the fake has none.
  groups(): Promise<GroupView[]> {
    return Promise.resolve([]);
  }
  invitations(): Promise<GroupInvitationView[]> {
    return Promise.resolve([]);
  }
  #noGroups(): Promise<never> {
    return Promise.reject(new Error("Cannot do that: the fake client has no groups"));
  }
  createGroup(_name: string): Promise<GroupView> {
    return this.#noGroups();
  }
  inviteToGroup(_group: string, _address: string | readonly string[]): Promise<GroupView> {
    return this.#noGroups();
  }
  acceptInvitation(_group: string): Promise<GroupView> {
    return this.#noGroups();
  }
  declineInvitation(_group: string): Promise<void> {
    return this.#noGroups();
  }
  removeFromGroup(_group: string, _address: string): Promise<GroupView> {
    return this.#noGroups();
  }
  leaveGroup(_group: string): Promise<void> {
    return this.#noGroups();
  }
  renameGroup(_group: string, _name: string): Promise<GroupView> {
    return this.#noGroups();
  }
  groupMembers(_group: string): Promise<GroupMemberView[]> {
    return this.#noGroups();
  }
  sendToGroup(_group: string, _text: string): Promise<GroupMessage> {
    return this.#noGroups();
  }
  groupHistory(_group: string): Promise<GroupMessage[]> {
    return this.#noGroups();
  }
  markGroupRead(_group: string): Promise<void> {
    return this.#noGroups();
  }
  sendFileToGroup(_group: string, _file: { path: string }): Promise<FileTransfer[]> {
    return this.#noGroups();
  }

  // File transfers are tested against real clients (tests/files_test.ts, tests/ui_files_test.ts).
  files(): Promise<FileTransfer[]> {
    return Promise.resolve([]);
  }
  #noFiles(): Promise<FileTransfer> {
    return Promise.reject(new Error("Cannot send files with the fake client"));
  }
  sendFile(): Promise<FileTransfer> {
    return this.#noFiles();
  }
  uploadFile(): Promise<FileTransfer> {
    return this.#noFiles();
  }
  acceptFile(): Promise<FileTransfer> {
    return this.#noFiles();
  }
  declineFile(): Promise<FileTransfer> {
    return this.#noFiles();
  }
  cancelFile(): Promise<FileTransfer> {
    return this.#noFiles();
  }
}
