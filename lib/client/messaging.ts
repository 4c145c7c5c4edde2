/**
 * Messages in accepted chats: sending text (sealed, stored with the new
 * session and the message row in this turn's transaction, then handed to the
 * outbox once committed), read receipts, the file transfer's control
 * messages, delivery notices, and what an incoming ratchet message does (a
 * text shown, sent messages marked read, a file message passed to the file
 * transfers).
 */
import type { Clock } from "../clock.ts";
import * as e2e from "../e2e/mod.ts";
import { type Address, toAddress } from "../ids.ts";
import type { Logger } from "../log.ts";
import { type ChatMessage, type ClientEvent, MAX_MESSAGE_CHARS, type MessageState } from "./api.ts";
import type { ClientStore, ContactRow, MessageRow } from "./client_store.ts";
import { canSend } from "./contact_state.ts";
import type { Contacts } from "./contacts.ts";
import { ChatStateError } from "./errors.ts";
import type { Step } from "./inbox.ts";
import type { Outbox } from "./outbox.ts";
import type { NewEnvelope } from "./new_envelope.ts";
import { decodeInner, type FileInner, type Inner, isFileInner } from "./payload.ts";
import type { Sealed, SealOptions, Sessions } from "./sessions.ts";
import type { TurnCommit } from "./turn_commit.ts";

/** What an incoming file message does (lib/client/file_transfers.ts `receive`). */
export type FileReceiver = (peer: string, inner: FileInner) => { write(): void; after(): void };

/** Options of {@linkcode Messaging}. */
export interface MessagingOptions {
  store: ClientStore;
  turn: TurnCommit;
  sessions: Sessions;
  outbox: Outbox;
  contacts: Contacts;
  clock: Clock;
  log: Logger;
  emit(event: ClientEvent): void;
  /** Set once the file transfers exist (they send through this engine). */
  files?: FileReceiver;
}

/** Messages in accepted chats. */
export class Messaging {
  #o: MessagingOptions;

  constructor(options: MessagingOptions) {
    this.#o = options;
  }

  /** Where incoming file messages go. */
  set files(receiver: FileReceiver) {
    this.#o.files = receiver;
  }

  history(addressText: string, limit = 500): ChatMessage[] {
    return this.#o.store.history(toAddress(addressText), limit).map(messageView);
  }

  /**
   * Sends a text message.
   *
   * @throws {RangeError} empty or longer than {@linkcode MAX_MESSAGE_CHARS}
   * @throws {ChatStateError} no accepted chat, or its key awaits confirmation
   */
  async send(addressText: string, text: string): Promise<ChatMessage> {
    const to = toAddress(addressText);
    if (text.length === 0 || text.length > MAX_MESSAGE_CHARS) {
      throw new RangeError(
        `Cannot send: a message is 1 to ${MAX_MESSAGE_CHARS.toLocaleString("en")} characters`,
      );
    }
    // Sealed at once in the queue (node:crypto): no await between the state read and its write.
    const { row, committed } = await this.#o.sessions.exclusive(() => {
      const c = this.#o.contacts.sendable(to, "send");
      const seq = c.outSeq + 1;
      const now = this.#o.clock.nowMs();
      let row: MessageRow | null = null;
      const sealed = this.#seal(to, c, { t: "text", seq, at: now, text }, {
        update: (c) => ({ ...c, outSeq: seq, lastMessageAtMs: now }),
        write: (envelope) => {
          row = {
            id: envelope.id,
            peer: to,
            direction: "out",
            seq,
            text,
            sentAtMs: now,
            receivedAtMs: null,
            state: "sending",
            reason: null,
            envelope: envelope.bytes,
          };
          this.#o.store.putMessage(row);
        },
      });
      // Not awaited here: the next send may join the same transaction.
      return { row: row! as MessageRow, committed: sealed.committed };
    });
    await committed;
    this.#o.emit({ kind: "message", message: messageView(row) });
    // Returned, not awaited: no frame of this function waits for the node's answer.
    return this.#o.outbox.message(row, messageView);
  }

  /**
   * Seals one of the file transfer's messages; `write` runs in the sealing
   * transaction, and the envelope is kept until the node takes it.
   *
   * @throws {ChatStateError} no accepted chat, or its key awaits confirmation
   */
  async sendControl(peer: string, inner: FileInner, write?: () => void): Promise<string> {
    const { envelope, committed } = await this.#o.sessions.exclusive(() => {
      const c = this.#o.contacts.sendable(toAddress(peer), "send");
      return this.#seal(peer, c, inner, {
        write: (envelope) => {
          write?.();
          this.#o.store.putOutgoing(envelope.id, envelope.bytes);
        },
      });
    });
    await committed;
    await this.#o.outbox.control(envelope.id, envelope.bytes);
    return envelope.id;
  }

  /** Seals through the sessions; a chat that cannot send yet is the user's error, not a crash. */
  #seal(peer: string, c: ContactRow, inner: Inner, options: SealOptions): Sealed {
    try {
      return this.#o.sessions.seal(c, inner, options);
    } catch (e) {
      if (!(e instanceof e2e.StateError)) throw e;
      throw new ChatStateError(
        `Cannot send to ${peer} yet: the chat opens with their first message, which is on its way`,
        { cause: e },
      );
    }
  }

  /** Marks a conversation read, and tells the sender which of its messages were shown. */
  async markRead(addressText: string): Promise<void> {
    const peer = toAddress(addressText);
    const store = this.#o.store;
    type Done = { envelope: NewEnvelope | null; committed: Promise<void> };
    const done = await this.#o.sessions.exclusive((): Done | null => {
      const c = store.contact(peer);
      if (!c || c.state !== "accepted" || c.unread === 0) return null;
      const upTo = store.lastInSeq(peer);
      if (upTo === 0 || canSend(c).kind !== "ok") {
        const committed = this.#o.turn.write(() => {
          store.putContact({ ...store.contact(peer)!, unread: 0 });
        });
        return { envelope: null, committed };
      }
      return this.#seal(peer, c, { t: "read", upTo }, {
        update: (c) => ({ ...c, unread: 0 }),
        write: (envelope) => store.putOutgoing(envelope.id, envelope.bytes),
      });
    });
    if (!done) return;
    await done.committed;
    if (done.envelope) await this.#o.outbox.control(done.envelope.id, done.envelope.bytes);
  }

  /** The node's word on one of our messages (`known`: its row, when the caller read it already). */
  notice(
    ref: string,
    notice: "delivered" | "failed" | "held" | "kept",
    reason?: string,
    known?: MessageRow,
  ): Step {
    const store = this.#o.store;
    const msg = known ?? store.message(ref);
    if (!msg || msg.state === "read") return {};
    // A mailbox's custody never steps a message back from delivered.
    if ((notice === "held" || notice === "kept") && msg.state === "delivered") return {};
    const state: MessageState = notice === "kept" ? "sent" : notice;
    return {
      write: () => store.setMessageState(ref, state, reason ?? null),
      // Only the event and the acknowledgement wait: the state rides the next commit.
      later: true,
      after: () =>
        this.#o.emit({
          kind: "state",
          peer: msg.peer,
          id: ref,
          state,
          ...(reason ? { reason } : {}),
        }),
    };
  }

  /** A ratchet message arrived (in the sessions' queue). @throws when it cannot be read */
  async receive(from: Address, envelopeId: Uint8Array, message: Uint8Array): Promise<Step> {
    const c = this.#o.store.contact(from);
    if (!c || c.state !== "accepted" || !c.session) {
      throw new ChatStateError("Cannot read message: no accepted chat with its sender");
    }
    const { newState, plaintext } = await this.#o.sessions.decrypt(c, message, envelopeId);
    const inner = decodeInner(plaintext);
    const store = this.#o.store;
    const sessions = this.#o.sessions;
    const now = this.#o.clock.nowMs();
    if (inner.t === "text") {
      const msg: MessageRow = {
        id: envelopeId.toHex(),
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
      let added = false;
      return {
        write: () => {
          sessions.advance(from, newState);
          // Its id is taken (by one of ours: ids are no secret): dropped, handled, nothing of ours changed.
          added = store.addMessage(msg);
          if (!added) {
            store.markProcessed(msg.id);
            this.#o.log.warn("dropped a message under an id in use", { from, id: msg.id });
            return;
          }
          const cur = store.contact(from)!;
          store.putContact({ ...cur, unread: cur.unread + 1, lastMessageAtMs: now });
        },
        // The row records the inbox item as handled when its id is the item's.
        messageId: msg.id,
        after: () => {
          if (added) this.#o.emit({ kind: "message", message: messageView(msg) });
        },
      };
    }
    let readIds: string[] = [];
    const file = isFileInner(inner) && this.#o.files ? this.#o.files(from, inner) : null;
    return {
      // A read receipt is shown and acknowledged after its commit, and nothing else waits on it.
      later: inner.t === "read",
      write: () => {
        sessions.advance(from, newState);
        if (inner.t === "read") readIds = store.markOutRead(from, inner.upTo);
        file?.write();
      },
      after: () => {
        file?.after();
        for (const id of readIds) this.#o.emit({ kind: "state", peer: from, id, state: "read" });
      },
    };
  }
}

/** A message row as views see it. */
export function messageView(m: MessageRow): ChatMessage {
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
