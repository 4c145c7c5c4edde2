/**
 * The contact engine: runs the crypto of chat requests and acceptances
 * (lib/e2e), asks contact_state.ts what each event does to a contact, stores
 * the answer in one transaction (with the new session, if any), and only
 * then shows, sends and tells the node whom to let through. It decides
 * nothing itself: every rule is in contact_state.ts.
 */
import type { Clock } from "../clock.ts";
import * as e2e from "../e2e/mod.ts";
import { type Address, toAddress } from "../ids.ts";
import type { Logger } from "../log.ts";
import type { ClientEvent, Contact, IncomingRequest, KeyChange, SafetyInfo } from "./api.ts";
import type { ClientStore, ContactRow, RequestRow } from "./client_store.ts";
import * as state from "./contact_state.ts";
import {
  claimView,
  contactView,
  keyInfo,
  requestView,
  safetyNumberWith,
  type SafetyParties,
} from "./contact_views.ts";
import { ChatStateError, NodeRefusedError } from "./errors.ts";
import { identityMatches } from "./identity_fingerprint.ts";
import { NO_STEP, type Step } from "./inbox.ts";
import { type NewEnvelope, newEnvelope } from "./new_envelope.ts";
import type { NodeConnection } from "./node_connection.ts";
import type { Outbox } from "./outbox.ts";
import { encodePayload } from "./payload.ts";
import type { Sessions } from "./sessions.ts";

/** Options of {@linkcode Contacts}. */
export interface ContactsOptions {
  self: Address;
  identity: e2e.IdentityKeyPair;
  store: ClientStore;
  connection: NodeConnection;
  sessions: Sessions;
  outbox: Outbox;
  clock: Clock;
  log: Logger;
  /** Envelope lifetime. */
  lifetimeMs: number;
  emit(event: ClientEvent): void;
}

const te = new TextEncoder();
const td = new TextDecoder();

/** Contacts: requests, acceptances, key claims and changes, blocks. */
export class Contacts {
  #o: ContactsOptions;

  constructor(options: ContactsOptions) {
    this.#o = options;
  }

  // --- views -------------------------------------------------------------------------------

  view(c: ContactRow): Promise<Contact> {
    return contactView(this.#o.store, c);
  }

  async list(): Promise<Contact[]> {
    return await Promise.all(this.#o.store.contacts().map((c) => this.view(c)));
  }

  async requests(): Promise<IncomingRequest[]> {
    return await Promise.all(this.#o.store.requests().map((r) => requestView(this.#o.store, r)));
  }

  async #emitContact(address: string): Promise<void> {
    const c = this.#o.store.contact(address);
    if (c) this.#o.emit({ kind: "contact", contact: await this.view(c) });
  }

  #parties(peer: string, identity: Uint8Array): SafetyParties {
    return {
      self: this.#o.self,
      selfIdentity: this.#o.identity.publicIdentity,
      peer,
      identity,
    };
  }

  /** The safety number with `peer`'s pinned key. */
  safety(peer: Address): SafetyInfo {
    const c = this.#o.store.contact(peer);
    if (!c?.identity) {
      throw new ChatStateError(`Cannot show a safety number: no key is pinned for ${peer} yet`);
    }
    const s = safetyNumberWith(this.#parties(peer, c.identity));
    return { address: peer, digits: s.digits, qr: s.qr };
  }

  /**
   * The contact we may send to now, or a user-facing refusal.
   *
   * @throws {ChatStateError} not accepted, or an answering key not yet confirmed
   */
  sendable(peer: string, what: string): ContactRow {
    const d = state.canSend(this.#o.store.contact(peer));
    if (d.kind === "refuse") throw new ChatStateError(`Cannot ${what}: ${peer} ${d.why}`);
    return d.contact;
  }

  /** After (re)connecting: tell the node whom to let through. */
  onConnected(): void {
    for (const c of this.#o.store.contacts()) {
      if (c.state === "accepted" || c.state === "requested") this.#policy(c.address, "allow");
      if (c.state === "blocked" || c.state === "rejected") this.#policy(c.address, "block");
    }
  }

  #policy(address: string, policy: "allow" | "block"): void {
    this.#o.connection.send({ type: "policy", address, policy });
  }

  #envelope(to: string, kind: "request" | "message", body: Uint8Array): NewEnvelope {
    return newEnvelope({
      from: this.#o.self,
      to,
      kind,
      body,
      nowMs: this.#o.clock.nowMs(),
      lifetimeMs: this.#o.lifetimeMs,
    });
  }

  /** Hands an acceptance or a request to the outbox; a refusal by the node is the user's error. */
  async #send(env: NewEnvelope): Promise<void> {
    const out = await this.#o.outbox.control(env.id, env.bytes);
    if (out.kind === "refused") throw new NodeRefusedError(out.reason);
  }

  // --- the user's actions ------------------------------------------------------------------

  /** Asks `addressText` for a chat, with an intro sealed to the key their node publishes. */
  async request(addressText: string, intro: string): Promise<void> {
    const to = toAddress(addressText);
    if (to === this.#o.self) throw new ChatStateError("Cannot request a chat with yourself");
    const introBytes = te.encode(intro);
    if (introBytes.length > e2e.MAX_INTRO_BYTES) {
      throw new RangeError(`Cannot request: the intro is over ${e2e.MAX_INTRO_BYTES} bytes`);
    }
    const allowed = state.requestAllowed(this.#o.store.contact(to));
    if (allowed.kind === "refuse") throw new ChatStateError(`Cannot request ${to}: ${allowed.why}`);
    const bundle = await this.#o.connection.fetchBundle(to);
    const recipient = await e2e.importPublicIdentity(bundle);
    const sealedIntro = await e2e.sealIntro({
      recipient,
      intro: introBytes,
      ad: te.encode(`${this.#o.self}|${to}`),
    });
    const { request, pending } = await e2e.createChatRequest({
      identity: this.#o.identity,
      from: this.#o.self,
      to,
      createdAtMs: this.#o.clock.nowMs(),
      sealedIntro,
    });
    const env = this.#envelope(to, "request", encodePayload({ kind: "request", request }));
    await this.#o.sessions.exclusive(() => {
      const d = state.sendRequest({
        contact: this.#o.store.contact(to),
        address: to,
        expectedIdentity: bundle,
        pending: e2e.encodePendingChatRequest(pending),
      });
      if (d.kind === "refuse") throw new ChatStateError(`Cannot request ${to}: ${d.why}`);
      this.#o.store.transaction(() => {
        this.#o.store.putContact(d.newContact);
        this.#o.store.putOutgoing(env.id, env.bytes);
      });
      return Promise.resolve();
    });
    this.#policy(to, "allow");
    await this.#emitContact(to);
    await this.#send(env);
  }

  /** Accepts the request from `addressText` (a restart, if they are an accepted contact). */
  async accept(addressText: string): Promise<void> {
    const from = toAddress(addressText);
    const env = await this.#o.sessions.exclusive(async () => {
      const request = this.#o.store.request(from);
      const contact = this.#o.store.contact(from);
      const d = state.acceptRequest({ contact, request });
      if (d.kind === "refuse") throw new ChatStateError(`Cannot accept ${from}: ${d.why}`);
      return await this.#startSession(from, contact, request!);
    });
    this.#policy(from, "allow");
    await this.#emitContact(from);
    await this.#send(env);
  }

  /**
   * Runs the responder's side of the handshake on a stored request (or claim) and
   * stores the new session, the pinned key and the acceptance in one transaction.
   */
  async #startSession(
    address: Address,
    contact: ContactRow | undefined,
    request: RequestRow,
  ): Promise<NewEnvelope> {
    let verified: e2e.VerifiedChatRequest;
    try {
      verified = await e2e.readChatRequest(request.request, { localAddress: this.#o.self });
    } catch (cause) {
      if (!(cause instanceof e2e.E2eError)) throw cause;
      throw new ChatStateError(
        `Cannot accept ${address}: the request cannot be read any more; ask them to send it again`,
        { cause },
      );
    }
    const accepted = await e2e.acceptChatRequest({ identity: this.#o.identity, request: verified });
    const { newContact } = state.startSession({
      contact,
      address,
      identity: e2e.encodePublicIdentity(accepted.peerIdentity),
      session: e2e.encodeRatchetState(accepted.session),
    });
    const env = this.#envelope(
      address,
      "message",
      encodePayload({ kind: "acceptance", acceptance: accepted.acceptance }),
    );
    this.#o.store.transaction(() => {
      this.#o.store.putContact(newContact);
      this.#o.store.setSession(address, newContact.session!);
      this.#o.store.deleteRequest(address);
      this.#o.store.deleteClaim(address);
      this.#o.store.putOutgoing(env.id, env.bytes);
      this.#o.sessions.settle(address, accepted.session);
    });
    return env;
  }

  /** Rejects the request from `addressText`: their further requests are dropped. */
  async reject(addressText: string): Promise<void> {
    const from = toAddress(addressText);
    if (!this.#o.store.request(from)) {
      throw new ChatStateError(`Cannot reject ${from}: no request from them`);
    }
    await this.#refuse(from, "rejected");
  }

  /** Blocks an address: its requests and messages are dropped at our node. */
  async block(addressText: string): Promise<void> {
    await this.#refuse(toAddress(addressText), "blocked");
  }

  async #refuse(address: Address, to: "rejected" | "blocked"): Promise<void> {
    await this.#o.sessions.exclusive(() => {
      const { newContact } = state.refuse({
        contact: this.#o.store.contact(address),
        address,
        state: to,
      });
      this.#o.store.transaction(() => {
        this.#o.store.putContact(newContact);
        this.#o.store.deleteRequest(address);
        this.#o.store.deleteClaim(address);
      });
      return Promise.resolve();
    });
    this.#policy(address, "block");
    await this.#emitContact(address);
  }

  /** The key change waiting for `addressText`, with both keys; null when none. */
  async keyChange(addressText: string): Promise<KeyChange | null> {
    const address = toAddress(addressText);
    const change = state.pendingKeyChange({
      contact: this.#o.store.contact(address),
      claim: this.#o.store.claim(address),
    });
    if (change.kind === "none") return null;
    return {
      address,
      kind: change.kind,
      current: await keyInfo(this.#parties(address, change.current)),
      claimed: await keyInfo(this.#parties(address, change.claimed)),
      intro: change.kind === "claim" ? change.claim.intro : null,
      receivedAtMs: change.kind === "claim" ? change.claim.receivedAtMs : null,
    };
  }

  /** Accepts the waiting key change; `confirm` must name the new key. */
  async acceptKeyChange(addressText: string, confirm: string | undefined): Promise<void> {
    const address = toAddress(addressText);
    if (!confirm) {
      throw new ChatStateError(
        `Cannot accept a new key for ${address}: compare both safety numbers, then confirm ` +
          "with the new key's fingerprint",
      );
    }
    const env = await this.#o.sessions.exclusive(async () => {
      const contact = this.#o.store.contact(address);
      const claim = this.#o.store.claim(address);
      const change = state.pendingKeyChange({ contact, claim });
      const confirmed = change.kind !== "none" && await identityMatches(change.claimed, confirm);
      const d = state.acceptKeyChange({ contact, claim, confirmed });
      if (d.kind === "refuse") {
        throw new ChatStateError(`Cannot accept a new key for ${address}: ${d.why}`);
      }
      if (d.kind === "confirm") {
        this.#o.store.putContact(d.newContact);
        return null;
      }
      return await this.#startSession(address, contact, d.claim);
    });
    if (env) this.#policy(address, "allow");
    await this.#emitContact(address);
    if (env) await this.#send(env);
  }

  /** Forgets the claim on `addressText`; the chat goes on with the pinned key. */
  async dismissKeyChange(addressText: string): Promise<void> {
    const address = toAddress(addressText);
    await this.#o.sessions.exclusive(() => {
      const d = state.dismissKeyChange({
        contact: this.#o.store.contact(address),
        claim: this.#o.store.claim(address),
      });
      if (d.kind === "refuse") {
        throw new ChatStateError(`Cannot dismiss a key claim for ${address}: ${d.why}`);
      }
      this.#o.store.deleteClaim(address);
      return Promise.resolve();
    });
    await this.#emitContact(address);
  }

  // --- from the inbox ------------------------------------------------------------------------

  /** A chat request arrived: checked here, judged by contact_state.ts. */
  async receiveRequest(from: Address, bytes: Uint8Array): Promise<Step> {
    const nowMs = this.#o.clock.nowMs();
    const input = await this.#check(from, bytes, nowMs);
    const memory = input.kind === "verified"
      ? this.#o.store.requestMemory(input.hash, from, nowMs)
      : { seen: false, forSender: 0, forNode: 0, total: 0, waitingFromNode: 0, waiting: 0 };
    const out = state.receiveRequest({
      contact: this.#o.store.contact(from),
      input,
      memory,
      nowMs,
    });
    const store = this.#o.store;
    switch (out.kind) {
      case "drop":
        this.#o.log.info("request dropped", { from, reason: out.reason, why: out.why });
        return NO_STEP;
      case "request":
        return {
          write: () => {
            store.putRequest(out.request);
            store.rememberRequest(out.remember.hash, out.remember.sender, out.remember.untilMs);
          },
          after: async () => {
            this.#o.emit({ kind: "request", request: await requestView(store, out.request) });
          },
        };
      case "claim":
        this.#o.log.warn("someone claims an accepted contact's address with another key", {
          address: from,
        });
        return {
          write: () => {
            store.putClaim(out.claim);
            store.rememberRequest(out.remember.hash, out.remember.sender, out.remember.untilMs);
          },
          after: async () => {
            this.#o.emit({ kind: "claim", claim: await claimView(out.claim) });
            await this.#emitContact(from);
          },
        };
    }
  }

  /** The crypto checks of a received request: signature, recipient, sender, intro. */
  async #check(from: Address, bytes: Uint8Array, nowMs: number): Promise<state.RequestCheck> {
    const refused = (why: string): state.RequestCheck => ({ kind: "refused", why });
    let verified: e2e.VerifiedChatRequest;
    try {
      verified = await e2e.readChatRequest(bytes, { localAddress: this.#o.self });
    } catch (e) {
      if (!(e instanceof e2e.E2eError)) throw e;
      return refused(`${e.name}: ${e.message}`);
    }
    if (verified.from !== from) return refused("signed for another sender");
    let intro = "";
    if (verified.sealedIntro.length > 0) {
      try {
        intro = td.decode(
          await e2e.openIntro({
            identity: this.#o.identity,
            sealed: verified.sealedIntro,
            ad: te.encode(`${from}|${this.#o.self}`),
          }),
        );
      } catch (e) {
        if (!(e instanceof e2e.E2eError)) throw e;
        return refused("the intro cannot be opened");
      }
    }
    return {
      kind: "verified",
      hash: verified.requestHash.toHex(),
      createdAtMs: verified.createdAtMs,
      request: {
        address: from,
        intro,
        identity: e2e.encodePublicIdentity(verified.identity),
        request: bytes,
        receivedAtMs: nowMs,
      },
    };
  }

  /** The answer to our request arrived: complete it, and seal our first message with it. */
  async receiveAcceptance(from: Address, acceptance: Uint8Array): Promise<Step> {
    const contact = this.#o.store.contact(from);
    const d = state.receiveAcceptance({ contact });
    if (d.kind === "drop") {
      this.#o.log.info("acceptance dropped", { from, why: d.why });
      return NO_STEP;
    }
    let done: e2e.CompletedChat;
    try {
      done = await e2e.completeChatRequest({
        identity: this.#o.identity,
        pending: e2e.decodePendingChatRequest(d.pending),
        acceptance,
      });
    } catch (e) {
      if (!(e instanceof e2e.E2eError)) throw e;
      this.#o.log.warn("acceptance refused", { from, why: e.message });
      return NO_STEP;
    }
    const { newContact, keyChanged } = state.completeRequest({
      contact: contact!,
      identity: e2e.encodePublicIdentity(done.peerIdentity),
      session: e2e.encodeRatchetState(done.session),
    });
    if (keyChanged) {
      this.#o.log.warn("a request was answered by another key than the one published", { from });
    }
    // The responder can send only after our first ratchet message: it is sealed now and
    // stored with the session, so a crash cannot leave the chat half open.
    const hi = this.#o.sessions.encrypt(from, done.session, { t: "hi" });
    const session = e2e.encodeRatchetState(hi.newState);
    return {
      write: () => {
        this.#o.store.putContact(newContact);
        this.#o.store.setSession(from, session);
        this.#o.store.putOutgoing(hi.envelope.id, hi.envelope.bytes);
        this.#o.sessions.settle(from, hi.newState);
      },
      after: async () => {
        await this.#emitContact(from);
        this.#o.outbox.control(hi.envelope.id, hi.envelope.bytes).catch((e) =>
          this.#o.log.error("cannot send the first message", { why: String(e) })
        );
      },
    };
  }
}
