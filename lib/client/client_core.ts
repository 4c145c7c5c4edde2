/**
 * The client core: holds the user's identity, contacts, ratchet sessions and
 * history (in its own store), turns the user's actions into end-to-end
 * encrypted envelopes, and turns what the node pushes into messages, requests
 * and delivery states. State is persisted before anything is shown, sent or
 * acknowledged, so a crash at any moment neither loses nor repeats a message.
 */
import type { Clock } from "../clock.ts";
import * as e2e from "../e2e/mod.ts";
import { type Address, toAddress } from "../ids.ts";
import type { Logger } from "../log.ts";
import { decodeEnvelope, DEFAULT_TTL, encodeEnvelope, envelopeIdHex } from "../protocol/mod.ts";
import type {
  ChatMessage,
  ClientApi,
  ClientEvent,
  Contact,
  DirectoryUser,
  FileTransfer,
  IncomingRequest,
  LinkView,
  SafetyInfo,
  SelfInfo,
} from "./api.ts";
import { MAX_MESSAGE_CHARS } from "./api.ts";
import type { ClientStore, ContactRow, MessageRow } from "./client_store.ts";
import { FileTransfers } from "./file_transfers.ts";
import { NODE_AEAD } from "./node_aead.ts";
import type { NodeConnection } from "./node_connection.ts";
import {
  decodeInner,
  decodePayload,
  encodePayload,
  type FileInner,
  type Inner,
  isFileInner,
} from "./payload.ts";

/** What only a client whose node runs in the same process can do. */
export interface NodeControl {
  nodeId: string;
  nodeFingerprint: string;
  invite(): string;
  links(): Promise<LinkView[]>;
  connect(
    target: { host: string; port: number; nodeId: string } | { invite: string },
  ): Promise<LinkView>;
  approve(nodeId: string): Promise<void>;
  reject(nodeId: string): Promise<void>;
}

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
  files: { downloadsDir: string; stagingDir: string; autoAcceptBytes?: number };
}

const td = new TextDecoder();
const te = new TextEncoder();

async function shortFp(identity: e2e.PublicIdentity): Promise<string> {
  const d = new Uint8Array(
    await crypto.subtle.digest("SHA-256", identity.signingKey as BufferSource),
  );
  return Array.from(d.subarray(0, 10), (b) => b.toString(16).padStart(2, "0")).join("").match(
    /.{4}/g,
  )!
    .join(" ");
}

/** The client core; see {@linkcode ClientApi}. */
export class ClientCore implements ClientApi {
  #o: Required<Omit<ClientCoreOptions, "node">> & { node?: NodeControl };
  #listeners = new Set<(e: ClientEvent) => void>();
  #chain: Promise<void> = Promise.resolve();
  #acks: string[] = [];

  #files: FileTransfers;

  constructor(options: ClientCoreOptions) {
    this.#o = { messageLifetimeMs: 7 * 24 * 3600_000, ...options };
    this.#files = new FileTransfers({
      ...options.files,
      self: options.address,
      store: options.store,
      connection: options.connection,
      clock: options.clock,
      log: options.log.child("files"),
      lifetimeMs: this.#o.messageLifetimeMs,
      checkContact: (peer) => void this.#sendable(peer, "send a file"),
      sendInner: (peer, inner, write) => this.#sendFileInner(peer, inner, write),
      emit: (event) => this.#emit(event),
    });
  }

  /** The file transfers (chunks from the node go straight to them). */
  get transfers(): FileTransfers {
    return this.#files;
  }

  /** Stops timers (the store is closed by its owner). */
  stop(): void {
    this.#files.stop();
  }

  #sendable(peer: string, what: string): ContactRow {
    const c = this.#o.store.contact(peer);
    if (!c || c.state !== "accepted" || !c.session) {
      throw new Error(`Cannot ${what}: ${peer} has not accepted a chat with you`);
    }
    if (c.keyChanged) {
      throw new Error(`Cannot ${what}: ${peer}'s key changed; verify and accept it first`);
    }
    return c;
  }

  /**
   * Seals a file transfer message through the ratchet; `write` and the sealed
   * envelope are stored in the same transaction as the new session, and the
   * envelope is kept until the node takes it (sent again after a reconnection).
   */
  async #sendFileInner(peer: string, inner: FileInner, write?: () => void): Promise<void> {
    let id = "";
    const sealed = await this.#exclusive(async () => {
      const c = this.#sendable(toAddress(peer), "send");
      return await this.#sealAndStore(c, inner, null, (hex, envelope) => {
        id = hex;
        write?.();
        this.#o.store.putOutgoing(hex, envelope);
      });
    });
    await this.#submitOutgoing(id, sealed.envelope);
  }

  async #submitOutgoing(id: string, envelope: Uint8Array): Promise<void> {
    try {
      await this.#submitEnvelope(envelope);
    } catch (e) {
      const msg = (e as Error).message;
      if (/not connected|no answer|Cannot reach the node/.test(msg)) return; // sent after reconnect
      this.#o.log.warn("an outgoing control message was refused", { why: msg });
    }
    this.#o.store.deleteOutgoing(id);
  }

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
  files(): Promise<FileTransfer[]> {
    return Promise.resolve(this.#files.list());
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

  get address(): Address {
    return this.#o.address;
  }

  /**
   * Runs `fn` after everything queued before it. Every change to a ratchet
   * session (sending, receiving, accepting) goes through this one queue, so two
   * never read the same state and one never overwrites the other's.
   */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.then(() => {}, () => {});
    return run;
  }

  /** Handles one pushed inbox item; items are handled strictly in order. */
  onPush(m: { type: "deliver" | "notice"; id: string } & Record<string, unknown>): void {
    void this.#exclusive(() => this.#handlePush(m)).catch((e) =>
      this.#o.log.warn("could not handle an inbox item", { id: m.id, why: (e as Error).message })
    );
  }

  /** After (re)connecting: publish our bundle, and hand the node what it has not taken yet. */
  onConnected(): void {
    this.#o.connection.send({
      type: "publish",
      bundle: e2e.encodePublicIdentity(this.#o.identity.publicIdentity),
    });
    for (const c of this.#o.store.contacts()) {
      if (c.state === "accepted" || c.state === "requested") this.#policy(c.address, "allow");
      if (c.state === "blocked" || c.state === "rejected") this.#policy(c.address, "block");
    }
    for (const m of this.#o.store.unsent()) void this.#submit(m);
    for (const o of this.#o.store.outgoing()) void this.#submitOutgoing(o.id, o.envelope);
    this.#files.onConnected();
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

  #policy(address: string, policy: "allow" | "block" | "none"): void {
    this.#o.connection.send({ type: "policy", address, policy });
  }

  async self(): Promise<SelfInfo> {
    return {
      address: this.#o.address,
      nodeId: this.#o.address.split("@")[1],
      fingerprint: await shortFp(this.#o.identity.publicIdentity),
      nodeFingerprint: this.#o.node?.nodeFingerprint ?? "",
      invite: this.#o.node?.invite() ?? "",
      ownsNode: this.#o.node !== undefined,
    };
  }

  #needNode(): NodeControl {
    if (!this.#o.node) throw new Error("Cannot do that here: this client's node runs elsewhere");
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

  async directory(): Promise<DirectoryUser[]> {
    const r = await this.#o.connection.request<
      Extract<import("../protocol/mod.ts").ClientMessage, { type: "entries" }>
    >(
      { type: "directory" },
    );
    return r.entries.map((e) => ({
      address: e.address,
      node: e.node,
      presence: e.presence === "online" ? "online" : "offline",
    }));
  }

  async contacts(): Promise<Contact[]> {
    return await Promise.all(this.#o.store.contacts().map((c) => this.#contactView(c)));
  }

  async #contactView(c: ContactRow): Promise<Contact> {
    return {
      address: c.address,
      state: c.state,
      fingerprint: c.identity ? await shortFp(e2e.decodePublicIdentity(c.identity)) : null,
      keyChanged: c.keyChanged,
      unread: c.unread,
      lastMessageAtMs: c.lastMessageAtMs,
    };
  }

  async requests(): Promise<IncomingRequest[]> {
    return await Promise.all(
      this.#o.store.requests().map(async (r) => ({
        from: r.address,
        intro: r.intro,
        fingerprint: await shortFp(e2e.decodePublicIdentity(r.identity)),
        receivedAtMs: r.receivedAtMs,
      })),
    );
  }

  #blankContact(address: string): ContactRow {
    return {
      address,
      state: "requested",
      identity: null,
      expectedIdentity: null,
      keyChanged: false,
      session: null,
      pending: null,
      outSeq: 0,
      unread: 0,
      lastMessageAtMs: null,
    };
  }

  async request(addressText: string, intro: string): Promise<void> {
    const to = toAddress(addressText);
    if (to === this.#o.address) throw new Error("Cannot request a chat with yourself");
    const existing = this.#o.store.contact(to);
    if (existing?.state === "accepted" && !existing.keyChanged) {
      throw new Error(`Cannot request: you already chat with ${to}`);
    }
    const bundleReply = await this.#o.connection.request<
      Extract<import("../protocol/mod.ts").ClientMessage, { type: "bundle" }>
    >({ type: "fetch", address: to });
    if (!bundleReply.bundle) throw new Error(bundleReply.error ?? `Cannot find ${to}`);
    const recipient = await e2e.importPublicIdentity(bundleReply.bundle);
    const { request, pending } = await e2e.createChatRequest({
      identity: this.#o.identity,
      from: this.#o.address,
      to,
    });
    const sealed = await e2e.sealIntro({
      recipient,
      intro: te.encode(intro),
      ad: te.encode(`${this.#o.address}|${to}`),
    });
    const row: ContactRow = {
      ...(existing ?? this.#blankContact(to)),
      state: "requested",
      expectedIdentity: bundleReply.bundle,
      pending: e2e.encodePendingChatRequest(pending),
    };
    this.#o.store.putContact(row);
    this.#policy(to, "allow");
    await this.#send(to, "request", encodePayload({ kind: "request", request, intro: sealed }));
    this.#emit({ kind: "contact", contact: await this.#contactView(row) });
  }

  async accept(addressText: string): Promise<void> {
    const from = toAddress(addressText);
    // The new session is created in the session queue, and the acceptance is kept in the
    // outgoing table until the node takes it, so a dropped connection cannot lose it.
    const { row, id, envelope } = await this.#exclusive(async () => {
      const req = this.#o.store.request(from);
      if (!req) throw new Error(`Cannot accept: no request from ${from}`);
      const verified = await e2e.readChatRequest(req.request, { localAddress: this.#o.address });
      const accepted = await e2e.acceptChatRequest({
        identity: this.#o.identity,
        request: verified,
      });
      const prev = this.#o.store.contact(from);
      const row: ContactRow = {
        ...(prev ?? this.#blankContact(from)),
        state: "accepted",
        identity: e2e.encodePublicIdentity(accepted.peerIdentity),
        keyChanged: false,
        session: e2e.encodeRatchetState(accepted.session),
        pending: null,
      };
      const { id, envelope } = this.#envelope(
        from,
        "message",
        encodePayload({ kind: "acceptance", acceptance: accepted.acceptance }),
      );
      this.#o.store.transaction(() => {
        this.#o.store.putContact(row);
        this.#o.store.deleteRequest(from);
        this.#o.store.putOutgoing(id, envelope);
      });
      return { row, id, envelope };
    });
    this.#policy(from, "allow");
    await this.#submitOutgoing(id, envelope);
    this.#emit({ kind: "contact", contact: await this.#contactView(row) });
  }

  async reject(addressText: string): Promise<void> {
    const from = toAddress(addressText);
    if (!this.#o.store.request(from)) throw new Error(`Cannot reject: no request from ${from}`);
    await this.#refuse(from, "rejected");
  }

  async block(addressText: string): Promise<void> {
    await this.#refuse(toAddress(addressText), "blocked");
  }

  async #refuse(address: Address, state: "rejected" | "blocked"): Promise<void> {
    const row = { ...(this.#o.store.contact(address) ?? this.#blankContact(address)), state };
    this.#o.store.transaction(() => {
      this.#o.store.putContact(row);
      this.#o.store.deleteRequest(address);
    });
    this.#policy(address, "block");
    this.#emit({ kind: "contact", contact: await this.#contactView(row) });
  }

  history(addressText: string, options: { limit?: number } = {}): Promise<ChatMessage[]> {
    const peer = toAddress(addressText);
    return Promise.resolve(this.#o.store.history(peer, options.limit ?? 500).map(view));
  }

  async send(addressText: string, text: string): Promise<ChatMessage> {
    const to = toAddress(addressText);
    if (text.length === 0 || text.length > MAX_MESSAGE_CHARS) {
      const most = MAX_MESSAGE_CHARS.toLocaleString("en-US");
      throw new Error(`Cannot send: a message is 1 to ${most} characters`);
    }
    const m = await this.#exclusive(async () => {
      const c = this.#o.store.contact(to);
      if (!c || c.state !== "accepted" || !c.session) {
        throw new Error(`Cannot send: ${to} has not accepted a chat with you`);
      }
      if (c.keyChanged) {
        throw new Error(`Cannot send: ${to}'s key changed; verify and accept it first`);
      }
      const seq = c.outSeq + 1;
      const now = this.#o.clock.nowMs();
      const sealed = await this.#sealAndStore(
        c,
        { t: "text", seq, at: now, text },
        (id, envelope) => ({
          id,
          peer: to,
          direction: "out",
          seq,
          text,
          sentAtMs: now,
          receivedAtMs: null,
          state: "sending",
          reason: null,
          envelope,
        }),
      );
      return sealed.row!;
    });
    this.#emit({ kind: "message", message: view(m) });
    await this.#submit(m);
    return view(this.#o.store.message(m.id) ?? m);
  }

  /**
   * Encrypts `inner` for contact `c`, and stores the new session (and the
   * message row, if any) in one transaction before anything leaves.
   */
  async #sealAndStore(
    c: ContactRow,
    inner: Inner,
    row: ((id: string, envelope: Uint8Array) => MessageRow) | null,
    also?: (id: string, envelope: Uint8Array) => void,
  ): Promise<{ row: MessageRow | null; envelope: Uint8Array }> {
    const id = crypto.getRandomValues(new Uint8Array(16));
    const state = await e2e.decodeRatchetState(c.session!);
    const { newState, message } = await e2e.ratchetEncrypt({
      aead: NODE_AEAD,
      state,
      plaintext: te.encode(JSON.stringify(inner)),
      ad: id,
    });
    const now = this.#o.clock.nowMs();
    const envelope = encodeEnvelope({
      id,
      kind: "message",
      ttl: DEFAULT_TTL,
      createdAtMs: now,
      expiresAtMs: now + this.#o.messageLifetimeMs,
      from: this.#o.address,
      to: c.address,
      body: encodePayload({ kind: "ratchet", message }),
    });
    const hex = envelopeIdHex(id);
    const m = row ? row(hex, envelope) : null;
    this.#o.store.transaction(() => {
      this.#o.store.putContact({
        ...c,
        session: e2e.encodeRatchetState(newState),
        outSeq: inner.t === "text" ? inner.seq : c.outSeq,
        lastMessageAtMs: inner.t === "text" ? now : c.lastMessageAtMs,
      });
      if (m) this.#o.store.putMessage(m);
      also?.(hex, envelope);
    });
    return { row: m, envelope };
  }

  async #submit(m: MessageRow): Promise<void> {
    if (!m.envelope) return;
    try {
      const r = await this.#submitEnvelope(m.envelope);
      const latest = this.#o.store.message(m.id) ?? m;
      const state = latest.state === "sending" || latest.state === "sent" ? r : latest.state;
      this.#o.store.putMessage({ ...latest, state, envelope: null });
      this.#emit({ kind: "state", peer: m.peer, id: m.id, state });
    } catch (e) {
      const msg = (e as Error).message;
      if (/not connected|no answer|Cannot reach the node/.test(msg)) return; // resent after reconnect
      this.#o.store.putMessage({ ...m, state: "failed", reason: msg, envelope: null });
      this.#emit({ kind: "state", peer: m.peer, id: m.id, state: "failed", reason: msg });
    }
  }

  async #submitEnvelope(envelope: Uint8Array): Promise<"sent" | "delivered"> {
    const r = await this.#o.connection.request<
      Extract<import("../protocol/mod.ts").ClientMessage, { type: "submitted" }>
    >({ type: "submit", envelope });
    if (r.error || !r.state) throw new Error(r.error ?? "Cannot send: refused by the node");
    return r.state;
  }

  async #send(to: Address, kind: "request" | "message", body: Uint8Array): Promise<void> {
    await this.#submitEnvelope(this.#envelope(to, kind, body).envelope);
  }

  /** A new envelope from us, and its id (hex). */
  #envelope(
    to: Address,
    kind: "request" | "message",
    body: Uint8Array,
  ): { id: string; envelope: Uint8Array } {
    const now = this.#o.clock.nowMs();
    const idBytes = crypto.getRandomValues(new Uint8Array(16));
    const envelope = encodeEnvelope({
      id: idBytes,
      kind,
      ttl: DEFAULT_TTL,
      createdAtMs: now,
      expiresAtMs: now + this.#o.messageLifetimeMs,
      from: this.#o.address,
      to,
      body,
    });
    return { id: envelopeIdHex(idBytes), envelope };
  }

  async markRead(addressText: string): Promise<void> {
    const peer = toAddress(addressText);
    const c = this.#o.store.contact(peer);
    if (!c || c.state !== "accepted") return;
    const upTo = this.#o.store.lastInSeq(peer);
    if (c.unread > 0) this.#o.store.putContact({ ...c, unread: 0 });
    if (upTo > 0 && c.session) {
      try {
        const sealed = await this.#exclusive(async () => {
          const fresh = this.#o.store.contact(peer)!;
          return await this.#sealAndStore({ ...fresh, unread: 0 }, { t: "read", upTo }, null);
        });
        await this.#submitEnvelope(sealed.envelope);
      } catch (e) {
        this.#o.log.debug("read receipt not sent", { peer, why: (e as Error).message });
      }
    }
  }

  safety(addressText: string): Promise<SafetyInfo> {
    const peer = toAddress(addressText);
    const c = this.#o.store.contact(peer);
    if (!c?.identity) {
      return Promise.reject(
        new Error(`Cannot show a safety number: no key is pinned for ${peer} yet`),
      );
    }
    const s = e2e.safetyNumber({
      local: { address: this.#o.address, identity: this.#o.identity.publicIdentity },
      peer: { address: peer, identity: e2e.decodePublicIdentity(c.identity) },
    });
    return Promise.resolve({ address: peer, digits: s.digits, qr: s.qr });
  }

  async acceptKeyChange(addressText: string): Promise<void> {
    const peer = toAddress(addressText);
    if (this.#o.store.request(peer)) return await this.accept(peer);
    const c = this.#o.store.contact(peer);
    if (c?.keyChanged) this.#o.store.putContact({ ...c, keyChanged: false });
  }

  #ack(id: string): void {
    this.#acks.push(id);
    if (this.#acks.length === 1) {
      queueMicrotask(() => {
        const ids = this.#acks.splice(0, 4096);
        this.#o.connection.send({ type: "ack", ids });
      });
    }
  }

  async #handlePush(
    m: { type: "deliver" | "notice"; id: string } & Record<string, unknown>,
  ): Promise<void> {
    if (m.type === "notice") {
      this.#onNotice(
        m.ref as string,
        m.state as "delivered" | "failed",
        m.reason as string | undefined,
      );
      return this.#ack(m.id);
    }
    if (this.#o.store.wasProcessed(m.id)) return this.#ack(m.id);
    try {
      await this.#onEnvelope(m.id, m.envelope as Uint8Array);
    } catch (e) {
      // Undecryptable or malformed input is dropped (and logged) so it cannot wedge the inbox.
      this.#o.log.warn("dropped an incoming envelope", { id: m.id, why: (e as Error).message });
      this.#o.store.markProcessed(m.id);
    }
    this.#ack(m.id);
  }

  #onNotice(ref: string, state: "delivered" | "failed", reason?: string): void {
    const msg = this.#o.store.message(ref);
    if (!msg || msg.state === "read") return;
    this.#o.store.putMessage({ ...msg, state, reason: reason ?? null, envelope: null });
    this.#emit({ kind: "state", peer: msg.peer, id: ref, state, reason });
  }

  async #onEnvelope(id: string, bytes: Uint8Array): Promise<void> {
    const e = decodeEnvelope(bytes);
    if (e.to !== this.#o.address) throw new Error("not addressed to us");
    const from = e.from as Address;
    const p = decodePayload(e.body);
    const now = this.#o.clock.nowMs();
    if (e.kind === "request" && p.kind === "request") {
      const verified = await e2e.readChatRequest(p.request, { localAddress: this.#o.address });
      if (verified.from !== from) throw new Error("request signed for another sender");
      const intro = td.decode(
        await e2e.openIntro({
          identity: this.#o.identity,
          sealed: p.intro,
          ad: te.encode(`${from}|${this.#o.address}`),
        }),
      );
      const c = this.#o.store.contact(from);
      if (c?.state === "blocked" || c?.state === "rejected") {
        return void this.#o.store.markProcessed(id);
      }
      const identity = e2e.encodePublicIdentity(verified.identity);
      const changed = c?.identity !== null && c?.identity !== undefined &&
        !e2e.constantTimeEqual(c.identity, identity);
      this.#o.store.transaction(() => {
        this.#o.store.putRequest({
          address: from,
          intro,
          identity,
          request: p.request,
          receivedAtMs: now,
        });
        if (changed) this.#o.store.putContact({ ...c!, keyChanged: true });
        this.#o.store.markProcessed(id);
      });
      this.#emit({
        kind: "request",
        request: { from, intro, fingerprint: await shortFp(verified.identity), receivedAtMs: now },
      });
      return;
    }
    const c = this.#o.store.contact(from);
    if (!c) throw new Error("message from a stranger");
    if (p.kind === "acceptance") {
      if (c.state !== "requested" || !c.pending) throw new Error("acceptance we did not ask for");
      const done = await e2e.completeChatRequest({
        identity: this.#o.identity,
        pending: e2e.decodePendingChatRequest(c.pending),
        acceptance: p.acceptance,
      });
      const identity = e2e.encodePublicIdentity(done.peerIdentity);
      // The intro was sealed to the identity the node published; warn if another one accepted.
      const keyChanged =
        (c.expectedIdentity !== null && !e2e.constantTimeEqual(c.expectedIdentity, identity)) ||
        (c.identity !== null && !e2e.constantTimeEqual(c.identity, identity));
      const row: ContactRow = {
        ...c,
        state: "accepted",
        identity,
        keyChanged,
        session: e2e.encodeRatchetState(done.session),
        pending: null,
      };
      this.#o.store.transaction(() => {
        this.#o.store.putContact(row);
        this.#o.store.markProcessed(id);
      });
      this.#emit({ kind: "contact", contact: await this.#contactView(row) });
      // The responder can send only after our first ratchet message.
      // It is kept in the outgoing table until the node takes it, like file messages.
      let hiId = "";
      const hi = await this.#sealAndStore(row, { t: "hi" }, null, (hex, envelope) => {
        hiId = hex;
        this.#o.store.putOutgoing(hex, envelope);
      });
      void this.#submitOutgoing(hiId, hi.envelope);
      return;
    }
    if (c.state !== "accepted" || !c.session) throw new Error("message before acceptance");
    if (p.kind !== "ratchet") throw new Error("unexpected payload");
    const state = await e2e.decodeRatchetState(c.session);
    const { newState, plaintext } = await e2e.ratchetDecrypt({
      aead: NODE_AEAD,
      state,
      message: p.message,
      ad: e.id,
    });
    const inner = decodeInner(plaintext);
    const session = e2e.encodeRatchetState(newState);
    if (inner.t === "text") {
      const msg: MessageRow = {
        id,
        peer: from,
        direction: "in",
        seq: inner.seq,
        text: inner.text,
        sentAtMs: inner.at,
        receivedAtMs: now,
        state: "delivered",
        reason: null,
        envelope: null,
      };
      this.#o.store.transaction(() => {
        this.#o.store.putContact({ ...c, session, unread: c.unread + 1, lastMessageAtMs: now });
        this.#o.store.putMessage(msg);
        this.#o.store.markProcessed(id);
      });
      this.#emit({ kind: "message", message: view(msg) });
      return;
    }
    let readIds: string[] = [];
    const file = isFileInner(inner) ? this.#files.receive(from, inner) : null;
    this.#o.store.transaction(() => {
      this.#o.store.putContact({ ...c, session });
      if (inner.t === "read") readIds = this.#o.store.markOutRead(from, inner.upTo);
      file?.write();
      this.#o.store.markProcessed(id);
    });
    file?.after();
    for (const rid of readIds) this.#emit({ kind: "state", peer: from, id: rid, state: "read" });
  }
}

function view(m: MessageRow): ChatMessage {
  return {
    id: m.id,
    peer: m.peer,
    direction: m.direction,
    text: m.text,
    sentAtMs: m.sentAtMs,
    receivedAtMs: m.receivedAtMs,
    state: m.state,
    ...(m.reason ? { reason: m.reason } : {}),
  };
}
