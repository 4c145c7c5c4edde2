/**
 * The node's side of the client protocol: authenticates remote clients (the
 * channel handshake with the client label, plus a one-time enrollment code on
 * first contact), attaches the in-process client, and serves each client's
 * submissions, acknowledgements, policies, bundles and directory, pushing its
 * inbox (envelopes and delivery notices) in order.
 */
import {
  AuthError,
  CLIENT_LABEL,
  type LinkSelf,
  nextChannelMessage,
  nextMessage,
  RECORD_MAX_BYTES,
  responderFinish,
  responderHello,
  SecureChannel,
} from "../channel/mod.ts";
import type { BudgetView } from "../budget.ts";
import type { Clock } from "../clock.ts";
import { constantTimeEqual } from "../e2e/base.ts";
import type { Federation } from "../federation/mod.ts";
import { type NodeId, toAddress, toUserName, type UserName } from "../ids.ts";
import type { Logger } from "../log.ts";
import {
  type ClientLink,
  type ClientMessage,
  decodeClientMessage,
  decodeEnvelope,
  encodeChunkDeliverHead,
  encodeClientMessage,
  envelopeIdHex,
} from "../protocol/mod.ts";
import type { InboxKind, InboxRecord, NodeStore } from "../store/mod.ts";
import type { Accepted } from "../wss/mod.ts";
import { enrollmentMatches } from "./accounts.ts";
import type { BundleService } from "./bundle_service.ts";
import type { Committer } from "./committer.ts";
import { type Delivery, DeliveryError, type DeliveryEvent, type SubmitResult } from "./delivery.ts";
import type { FileSpool } from "./file_spool.ts";
import type { GroupService } from "./group_service.ts";
import type { ResourceState } from "./resource_state.ts";
import { decodeKeyPackageList } from "../protocol/mod.ts";
import { decodeNotice, NOTICE_KEEP_MS, type SettledNotice } from "./notice.ts";

/** URL path of the client protocol on the node's listener. */
export const CLIENT_PATH = "/fedchat/v1/client";
const NOTICE_MARK = 0xff;
/**
 * Inbox items (envelopes, notices) pushed to a client and not yet acknowledged. At the
 * messaging bench's maximum the origin has 512 in flight: with 256, 28 % of the messages found
 * the window full and took the stored way at the destination (row written, read, deleted); with
 * 1,024, none (docs/PERF_NOTES.md, `pushwin`).
 */
const PUSH_BATCH = 1024;
/**
 * Their bytes: what a client that does not read or acknowledge can make this
 * node hold, in its link's send buffer, and for envelopes pushed before they
 * are stored, in delivery's memory until their write (delivery.ts,
 * EARLY_BYTES bounds the sum over all clients). Past it, arrivals are stored
 * and pushed once acknowledgements make room. One item is pushed whatever its
 * size when nothing is out.
 */
export const PUSH_WINDOW_BYTES = 4 * 1024 * 1024;
/**
 * Inbox id of a settled envelope's notice (its outbox row keeps it): this
 * prefix and the envelope's id. Inbox rows' ids are envelope ids (hex) or
 * "n" and one (a notice kept as an inbox row: held, kept, expired).
 */
const SETTLED_PREFIX = "s";
/** Settled notices pushed and not yet acknowledged, per client. */
const NOTICE_WINDOW = 1024;
/** Items a client has not acknowledged for this long are pushed again. */
const REPUSH_AFTER_MS = 15_000;
const REPUSH_CHECK_MS = 5_000;
const MAX_BUNDLE_BYTES = 8192;
/** File chunk bytes pushed to a client and not yet acknowledged. */
const CHUNK_WINDOW_BYTES = 4 * 1024 * 1024;
/**
 * Chunk messages kept for reuse once their link (and delivery, for a chunk pushed before it was
 * spooled) is done with them: a window's worth of chunks pushed first (24 of 256 KiB), as the
 * in-process client keeps each one until its chunk is written.
 */
const POOLED_CHUNK_MESSAGES = 24;
/**
 * File chunk bytes pushed to a client and not yet acknowledged, with those pushed before they
 * were spooled: more than a sender's window (4 MiB, file_transfers.ts), so that while the client
 * keeps up, every chunk in flight is pushed first and none waits for the spool. Chunks from the spool
 * still stop at {@linkcode CHUNK_WINDOW_BYTES}; the node's total is delivery's `earlyBytes`.
 * With 8 MiB bob's peak RSS was 1-7 MiB higher in 6 of 6 pairs at the same MB/s; with 4 MiB the
 * rate dropped ~10 % (the client acknowledges every 2 MiB) (docs/PERF_NOTES.md, `bobrss`).
 */
export const CHUNK_FIRST_WINDOW_BYTES = 6 * 1024 * 1024;

export type { ClientLink } from "../protocol/mod.ts";

/** A delivery notice's fields, as kept (JSON) in its inbox row after {@linkcode NOTICE_MARK}. */
interface InboxNoticeFields {
  ref: string;
  state: "delivered" | "failed" | "held" | "kept";
  reason?: string;
  users?: Record<string, string>;
}

/** An inbox row to push; a notice just committed comes with its fields (no JSON read back). */
type PushRow = InboxRecord & { notice?: InboxNoticeFields };

interface Session {
  user: UserName;
  link: ClientLink;
  pushedSeq: number;
  unacked: number;
  /**
   * Inbox items pushed and not acknowledged, by id, with their sizes (an id pushed twice is
   * here once): their sum is `outBytes`, at most about {@linkcode PUSH_WINDOW_BYTES}.
   */
  out: Map<string, number>;
  outBytes: number;
  /** Rows may wait in the inbox past `pushedSeq` (false once a read came back short). */
  moreInbox: boolean;
  /** When the client last acknowledged, or was last pushed to (this node's clock). */
  progressAtMs: number;
  /** Chunks pushed and not yet acknowledged, with their sizes. */
  chunksOut: Map<string, number>;
  chunkBytesOut: number;
  /** When a chunk was last pushed (from none out) or taken. */
  chunkProgressAtMs: number;
  /**
   * Settled notices (envelope ids) pushed and not yet deleted after the
   * client's acknowledgement: a read of the store skips them.
   */
  noticesOut: Set<string>;
  /**
   * Envelopes pushed before they were stored, not acknowledged: when one is
   * stored after all (its row is reported), it is not pushed again.
   */
  early: Set<string>;
  /**
   * Of those, the ones whose write failed (they will not be stored here) and
   * that the client has not acknowledged: their places in the window are
   * free again, so an acknowledgement of one of them is not counted (at most
   * {@linkcode PUSH_BATCH}; cleared at a repush, which counts anew).
   */
  dropped: Set<string>;
  /** Settled notices may wait in the store unpushed (false once a read came back short). */
  moreNotices: boolean;
}

/** Options of {@linkcode ClientHub}. */
export interface ClientHubOptions {
  self: LinkSelf;
  store: NodeStore;
  committer: Committer;
  federation: Federation;
  bundles: BundleService;
  delivery: Delivery;
  /** The node's resource conditions, told to every client. */
  resources: ResourceState;
  spool: FileSpool;
  clock: Clock;
  log: Logger;
  handshakeTimeoutMs: number;
  /** Bytes pushed to one session and not acknowledged ({@linkcode PUSH_WINDOW_BYTES} unless said). */
  pushWindowBytes?: number;
  /** Groups: key packages, and each user's standing in groups. */
  groups?: GroupService;
}

/** Serves every client of this node. */
export class ClientHub {
  #o: ClientHubOptions;
  #windowBytes: number;
  #sessions = new Map<UserName, Session>();
  /** `chunkDeliver` buffers their links are done with (#sendChunk). */
  #chunkMessages: Uint8Array[] = [];

  constructor(options: ClientHubOptions) {
    this.#o = options;
    this.#windowBytes = options.pushWindowBytes ?? PUSH_WINDOW_BYTES;
    options.delivery.onEvent((ev) => this.#onDeliveryEvent(ev));
    options.delivery.earlyPush = {
      ready: (owner, bytes) => {
        const s = this.#sessions.get(owner);
        return s !== undefined && !s.moreInbox && this.#room(s, bytes);
      },
      // Not stored yet: no seq (the client goes by ids). Once stored, its row is past `pushedSeq`
      // and a later read may push it again; the client knows its id and acknowledges it again.
      push: (owner, id, envelope) => {
        const s = this.#sessions.get(owner);
        if (!s) return;
        s.progressAtMs = this.#o.clock.nowMs();
        s.unacked++;
        s.early.add(id);
        this.#out(s, id, envelope.length);
        // Sent again after its write failed (its origin's resend): counted again.
        if (s.dropped.size > 0) s.dropped.delete(id);
        this.#send(s, { type: "deliver", seq: 0, id, envelope });
      },
      // A client that could not store them either (a full disk) never acknowledges them: the
      // window they held (and the file chunks, which wait for an empty one) would wait for the
      // repush, and the repush finds nothing of them to push again.
      dropped: (owner, ids) => {
        const s = this.#sessions.get(owner);
        if (!s || s.early.size === 0) return;
        let freed = 0;
        for (const id of ids) {
          if (!s.early.delete(id)) continue;
          freed++;
          this.#taken(s, id);
          if (s.dropped.size < PUSH_BATCH) s.dropped.add(id);
        }
        if (freed === 0) return;
        s.unacked = Math.max(0, s.unacked - freed);
        this.#push(s, true);
        this.#pushChunks(s);
      },
      // Chunks wait for an empty inbox window, as from the spool (#pushChunks): a file's offer
      // reaches the client first.
      chunkReady: (owner, bytes) => {
        const s = this.#sessions.get(owner);
        return s !== undefined && s.unacked === 0 &&
          s.chunkBytesOut + bytes <= CHUNK_FIRST_WINDOW_BYTES;
      },
      pushChunk: (owner, id, envelope) => {
        const s = this.#sessions.get(owner);
        if (!s || s.chunksOut.has(id)) return null;
        if (s.chunksOut.size === 0) s.chunkProgressAtMs = this.#o.clock.nowMs();
        s.chunksOut.set(id, envelope.length);
        s.chunkBytesOut += envelope.length;
        return this.#sendChunk(s, id, envelope, true);
      },
    };
    options.resources.subscribe(() => {
      for (const s of this.#sessions.values()) this.#sendCondition(s);
    });
    this.#repushTimer = options.clock.setTimer(() => this.#repush(), REPUSH_CHECK_MS);
    options.groups?.onKeyPackages((e) => {
      const s = this.#sessions.get(e.owner);
      if (s) this.#send(s, { type: "keyPackageCount", count: e.count, lastResort: e.lastResort });
    });
  }

  #repushTimer: number;

  /**
   * `status --json`'s `push_window_bytes`: bytes pushed to client sessions and
   * not acknowledged yet, over all sessions (`used`) and the session holding
   * most (`top`); `limit` is one session's window.
   */
  windowView(): BudgetView {
    let used = 0;
    let keys = 0;
    let top: { key: string; used: number } | undefined;
    for (const s of this.#sessions.values()) {
      if (s.outBytes <= 0) continue;
      used += s.outBytes;
      keys++;
      if (!top || s.outBytes > top.used) top = { key: s.user, used: s.outBytes };
    }
    return { limit: this.#windowBytes, used, keys, ...(top ? { top } : {}), refusals: 0 };
  }

  /** Stops the timer (sessions close with the listener). */
  stop(): void {
    this.#o.clock.clearTimer(this.#repushTimer);
  }

  /**
   * A client that stopped acknowledging (it could not store what it got: its
   * disk was full, say) gets its unacknowledged items again, from the oldest;
   * it recognises the ones it did take by their inbox ids.
   */
  #repush(): void {
    const now = this.#o.clock.nowMs();
    for (const s of this.#sessions.values()) {
      if ((s.unacked > 0 || s.noticesOut.size > 0) && now - s.progressAtMs >= REPUSH_AFTER_MS) {
        this.#o.log.info("pushing unacknowledged items again", {
          user: s.user,
          items: s.unacked + s.noticesOut.size,
        });
        s.pushedSeq = 0;
        s.unacked = 0;
        s.out.clear();
        s.outBytes = 0;
        // Counted anew: a row stored since its push first is pushed again (the client knows its
        // id), one whose write fails is no longer in the window.
        s.early.clear();
        s.dropped.clear();
        s.noticesOut.clear();
        s.moreNotices = true;
        this.#push(s);
        this.#pushNotices(s);
        // Chunks wait for an empty window: with nothing stored to push again it is empty now.
        this.#pushChunks(s);
      }
      // Chunks the client left here (their file was not offered yet, or it could not store
      // them) go again, so a chunk that overtook its offer is not stuck.
      if (s.chunksOut.size > 0 && now - s.chunkProgressAtMs >= REPUSH_AFTER_MS) {
        s.chunksOut.clear();
        s.chunkBytesOut = 0;
        this.#pushChunks(s);
      }
    }
    this.#repushTimer = this.#o.clock.setTimer(() => this.#repush(), REPUSH_CHECK_MS);
  }

  /** Ends the session of `user` at once (the account was removed). */
  detach(user: UserName, reason: string): void {
    const s = this.#sessions.get(user);
    if (!s) return;
    this.#sessions.delete(user);
    s.link.close(reason);
    this.announceUsers();
  }

  /** Users with a client attached now. */
  online(): Set<UserName> {
    return new Set(this.#sessions.keys());
  }

  /** Re-announces the node's users with their presence. */
  announceUsers(): void {
    const online = this.online();
    this.#o.federation.setUsers(
      this.#o.store.listAccounts().map((a) => ({
        name: a.name,
        presence: online.has(a.name) ? "online" : "offline",
        listed: a.listed,
      })),
    );
  }

  /** Handles a remote client connecting on {@linkcode CLIENT_PATH}. */
  accept(accepted: Accepted): void {
    this.#acceptAsync(accepted).catch((e) => {
      this.#o.log.info("client refused", {
        addr: accepted.ws.remoteAddress,
        why: (e as Error).message,
      });
      accepted.ws.close(1008, e instanceof AuthError ? "authentication failed" : "protocol error");
    });
  }

  async #acceptAsync({ ws, authenticated }: Accepted): Promise<void> {
    const t = this.#o.handshakeTimeoutMs;
    const hello = await responderHello(this.#o.self, await nextMessage(ws, t), {
      label: CLIENT_LABEL,
      binding: ws.tlsBinding,
    });
    ws.send(hello.message);
    const { keys, peer } = await responderFinish(hello.state, await nextMessage(ws, t));
    const channel = new SecureChannel(ws, keys);
    const first = decodeClientMessage(await nextChannelMessage(channel, t));
    if (first.type !== "hello") throw new AuthError("client did not say hello");
    const user = toUserName(peer.nodeId);
    const account = this.#o.store.getAccount(user);
    if (!account) throw new AuthError(`no account ${user}`);
    if (account.publicKey) {
      if (!constantTimeEqual(account.publicKey, peer.publicKey)) {
        throw new AuthError(`wrong key for ${user}`);
      }
    } else if (!first.enrollCode || !(await enrollmentMatches(account, first.enrollCode))) {
      throw new AuthError(`${user} has not enrolled and gave no valid code`);
    } else {
      this.#o.store.putAccount({
        ...this.#o.store.getAccount(user)!,
        publicKey: peer.publicKey,
        enrollHash: null,
      });
      this.#o.log.info("client enrolled", { user });
    }
    authenticated();
    const link: ClientLink = {
      send: (b, consumed) => {
        channel.send(b);
        // A message this large is sealed before send() returns; a smaller one waits for the
        // turn's record, and its bytes are simply not reused.
        if (b.length >= RECORD_MAX_BYTES) consumed?.();
      },
      close: (r) => channel.close(r),
      onMessage: null,
      onClose: () => {},
    };
    channel.onClose = (r) => link.onClose(r);
    channel.onMessage = (b) => link.onMessage?.(b);
    this.attach(user, link);
  }

  /** Attaches an authenticated client; a newer client of the same user replaces the older. */
  attach(user: UserName, link: ClientLink): void {
    const old = this.#sessions.get(user);
    if (old) old.link.close("replaced by a newer client");
    const s: Session = {
      user,
      link,
      pushedSeq: 0,
      unacked: 0,
      out: new Map(),
      outBytes: 0,
      moreInbox: true,
      progressAtMs: this.#o.clock.nowMs(),
      chunksOut: new Map(),
      chunkBytesOut: 0,
      chunkProgressAtMs: this.#o.clock.nowMs(),
      noticesOut: new Set(),
      early: new Set(),
      dropped: new Set(),
      moreNotices: true,
    };
    this.#sessions.set(user, s);
    link.onClose = () => {
      if (this.#sessions.get(user) === s) {
        this.#sessions.delete(user);
        this.announceUsers();
      }
    };
    link.onMessage = (bytes, keep) => this.#receive(s, bytes, keep);
    this.#send(s, {
      type: "welcome",
      user,
      node: this.#o.self.nodeId,
      nowMs: this.#o.clock.nowMs(),
    });
    this.announceUsers();
    this.#sendCondition(s);
    const kp = this.#o.groups?.keyPackageCount(user);
    if (kp) this.#send(s, { type: "keyPackageCount", count: kp.count, lastResort: kp.lastResort });
    this.#push(s);
    this.#pushNotices(s);
    this.#pushChunks(s);
  }

  #sendCondition(s: Session): void {
    this.#send(s, { type: "condition", resources: this.#o.resources.snapshot() });
  }

  /** Delivery changed something for a user: record notices durably, push. */
  #onDeliveryEvent(ev: DeliveryEvent): void {
    if (ev.kind === "inbox" || ev.kind === "chunks") {
      const s = this.#sessions.get(ev.owner);
      if (s && ev.kind === "inbox") this.#push(s, false, ev.rows);
      if (s && ev.kind === "chunks") this.#pushChunks(s);
      return;
    }
    if (ev.kind === "notices") {
      const s = this.#sessions.get(ev.owner);
      if (s) this.#pushNotices(s, ev.notices);
      return;
    }
    if (ev.kind === "chunkResults") {
      // Not kept: a client that missed it retries the chunk and hears again.
      const s = this.#sessions.get(ev.owner);
      if (s) this.#send(s, { type: "chunkResult", results: ev.results });
      return;
    }
    // Held, kept, expired, and what a mailbox settled: an inbox row of its own (rare).
    const fields: InboxNoticeFields = {
      ref: ev.id,
      state: ev.state,
      reason: ev.reason,
      users: ev.users,
    };
    const notice = new TextEncoder().encode(JSON.stringify(fields));
    const bytes = new Uint8Array(notice.length + 1);
    bytes[0] = NOTICE_MARK;
    bytes.set(notice, 1);
    const now = this.#o.clock.nowMs();
    // One row per state of the envelope: an offline client may have "held" and then "delivered"
    // about one envelope waiting for it (one id for both failed the later insert, and its batch).
    const id = `n${ev.state}.${ev.id}`;
    let seq: number | undefined;
    this.#o.committer.job({
      write: () => {
        seq = this.#o.store.inboxAdd([{
          id,
          owner: ev.owner,
          bytes,
          kind: "notice",
          receivedAtMs: now,
          keepUntilMs: now + NOTICE_KEEP_MS,
          origin: null,
        }]).get(id);
      },
      // Pushed once committed, before the flush: a notice is not acknowledged to anyone. It
      // joins the next batch (the outbox delete of its receipt is in the same turn's batch).
      committed: () => {
        const s = this.#sessions.get(ev.owner);
        const rows: PushRow[] = seq === undefined
          ? []
          : [{ seq, id, owner: ev.owner, bytes, receivedAtMs: now, notice: fields }];
        if (s) this.#push(s, false, rows);
      },
      defer: true,
    });
  }

  #send(s: Session, m: ClientMessage): void {
    s.link.send(encodeClientMessage(m));
  }

  /**
   * Pushes inbox rows past `pushedSeq`, up to the window. After an ack
   * (`afterAck`) nothing new was stored, so the store is read only if the
   * last read filled the window: at 1,000 msg/s that saves one SQLite read
   * (18-27 us) per acknowledged item. Rows just committed (`fresh`, in commit
   * order) are pushed as they are when everything stored before them has been
   * pushed (the last read came back short) and they fit the window: no read
   * back of what was just written. Every path that stores inbox rows reports
   * them here once committed, so nothing stored is skipped; rows a read has
   * already pushed (seq at or below `pushedSeq`) are not pushed twice.
   */
  #push(s: Session, afterAck = false, fresh?: PushRow[]): void {
    if (this.#sessions.get(s.user) !== s) return;
    if (fresh && s.early.size > 0) {
      // Stored after this session had it pushed before: counted in the window already. With
      // nothing unpushed before it (no read pending), the next read starts after it.
      const again: PushRow[] = [];
      for (const r of fresh) {
        if (!s.early.delete(r.id)) again.push(r);
        else if (!s.moreInbox && r.seq > s.pushedSeq) s.pushedSeq = r.seq;
      }
      fresh = again;
    }
    if (fresh && !s.moreInbox) {
      // What does not fit waits in the store (the next read starts after the last one pushed).
      for (const r of fresh) {
        if (r.seq <= s.pushedSeq) continue;
        if (!this.#room(s, r.bytes.length)) {
          s.moreInbox = true;
          return;
        }
        this.#pushRow(s, r);
      }
      return;
    }
    if (!afterAck) s.moreInbox = true;
    if (!s.moreInbox || !this.#room(s, 1)) return;
    const limit = PUSH_BATCH - s.unacked;
    const maxBytes = this.#windowBytes - s.outBytes;
    const rows = this.#o.store.inboxFor(s.user, s.pushedSeq, limit, maxBytes);
    let bytes = 0;
    for (const r of rows) bytes += r.bytes.length;
    s.moreInbox = rows.length === limit || bytes >= maxBytes;
    for (const r of rows) {
      if (!this.#room(s, r.bytes.length)) return void (s.moreInbox = true);
      this.#pushRow(s, r);
    }
  }

  /**
   * Whether an item of `bytes` fits `s`'s window: fewer than {@linkcode PUSH_BATCH} items out,
   * and its bytes not passed (`pushWindowBytes`, or nothing out at all).
   */
  #room(s: Session, bytes: number): boolean {
    return s.unacked < PUSH_BATCH &&
      (s.outBytes + bytes <= this.#windowBytes || s.outBytes === 0);
  }

  /** An inbox item pushed: out until acknowledged (or given back, or pushed again). */
  #out(s: Session, id: string, bytes: number): void {
    if (s.out.has(id)) return;
    s.out.set(id, bytes);
    s.outBytes += bytes;
  }

  /** An inbox item acknowledged, or no longer waited for. */
  #taken(s: Session, id: string): void {
    const n = s.out.get(id);
    if (n === undefined) return;
    s.out.delete(id);
    s.outBytes -= n;
  }

  #pushRow(s: Session, r: PushRow): void {
    s.progressAtMs = this.#o.clock.nowMs();
    s.pushedSeq = r.seq;
    s.unacked++;
    this.#out(s, r.id, r.bytes.length);
    if (s.dropped.size > 0) s.dropped.delete(r.id);
    if (r.bytes[0] === NOTICE_MARK) {
      // A notice read from the store is parsed; one just committed comes with its fields.
      const n: InboxNoticeFields = r.notice ??
        JSON.parse(new TextDecoder().decode(r.bytes.subarray(1)));
      this.#send(s, {
        type: "notice",
        seq: r.seq,
        id: r.id,
        ref: n.ref,
        state: n.state,
        reason: n.reason,
        ...(n.users ? { users: n.users } : {}),
      });
    } else {
      this.#send(s, { type: "deliver", seq: r.seq, id: r.id, envelope: r.bytes });
    }
  }

  /**
   * Pushes settled notices, at most {@linkcode NOTICE_WINDOW} unacknowledged.
   * Notices just committed (`fresh`) go as they are when nothing older waits
   * in the store and they fit; else (and at attach, after an ack that freed
   * the window, on a repush) they are read from the store, oldest first,
   * skipping the ones out. They are not in the inbox's seq order: each is
   * about one of the user's own envelopes, and the client takes them in any
   * order (a notice never steps a message's state back).
   */
  #pushNotices(s: Session, fresh?: SettledNotice[]): void {
    if (this.#sessions.get(s.user) !== s) return;
    if (fresh && !s.moreNotices && s.noticesOut.size + fresh.length <= NOTICE_WINDOW) {
      for (const n of fresh) if (!s.noticesOut.has(n.id)) this.#pushNotice(s, n);
      return;
    }
    if (fresh) s.moreNotices = true;
    // Read again once half the window is free: one read per many acks, not one per ack.
    if (!s.moreNotices || s.noticesOut.size > NOTICE_WINDOW / 2) return;
    const limit = NOTICE_WINDOW;
    const rows = this.#o.store.noticesFor(s.user, limit);
    s.moreNotices = rows.length === limit;
    for (const r of rows) {
      if (s.noticesOut.size >= NOTICE_WINDOW) {
        s.moreNotices = true;
        return;
      }
      if (s.noticesOut.has(r.id)) continue;
      let n;
      try {
        n = decodeNotice(r.notice);
      } catch (e) {
        this.#o.log.warn("cannot read a kept notice", { id: r.id, why: (e as Error).message });
        continue;
      }
      this.#pushNotice(s, { seq: r.seq, id: r.id, ...n });
    }
  }

  #pushNotice(s: Session, n: SettledNotice): void {
    s.progressAtMs = this.#o.clock.nowMs();
    s.noticesOut.add(n.id);
    this.#send(s, {
      type: "notice",
      seq: n.seq,
      id: SETTLED_PREFIX + n.id,
      ref: n.id,
      state: n.state,
      ...(n.reason !== undefined ? { reason: n.reason } : {}),
      ...(n.users ? { users: n.users } : {}),
    });
  }

  /**
   * Pushes waiting file chunks, at most {@linkcode CHUNK_WINDOW_BYTES}
   * unacknowledged, and only once the client took its inbox: a file's offer
   * (in the inbox) reaches the client before its chunks, also when both
   * waited at a mailbox.
   */
  #pushChunks(s: Session): void {
    if (this.#sessions.get(s.user) !== s || s.unacked > 0) return;
    for (const c of this.#o.spool.pending(s.user)) {
      if (s.chunkBytesOut >= CHUNK_WINDOW_BYTES) return;
      if (s.chunksOut.has(c.id)) continue;
      if (s.chunksOut.size === 0) s.chunkProgressAtMs = this.#o.clock.nowMs();
      s.chunksOut.set(c.id, c.bytes);
      s.chunkBytesOut += c.bytes;
      // The envelope is lent for the send only: copied into a message buffer the link hands
      // back once done with it (sealed, or taken by the client in process).
      this.#o.spool.withChunk(s.user, c.id, (envelope) => {
        if (this.#sessions.get(s.user) === s) this.#sendChunk(s, c.id, envelope);
      }).catch((e) => this.#o.log.warn("cannot read a kept chunk", { why: (e as Error).message }));
    }
  }

  /**
   * Sends a `chunkDeliver` framed into a reused buffer (no fresh 256 KiB one per chunk). `keep`:
   * the envelope's copy in it is also delivery's (a chunk pushed before it was spooled): it is
   * returned, and the buffer is reused once both the link and delivery gave it back.
   */
  #sendChunk(s: Session, id: string, envelope: Uint8Array): void;
  #sendChunk(
    s: Session,
    id: string,
    envelope: Uint8Array,
    keep: true,
  ): { bytes: Uint8Array; release: () => void };
  #sendChunk(
    s: Session,
    id: string,
    envelope: Uint8Array,
    keep = false,
  ): { bytes: Uint8Array; release: () => void } | void {
    const head = encodeChunkDeliverHead(id, envelope.length);
    const n = head.length + envelope.length;
    const reused = this.#chunkMessages.pop();
    const buf = reused && reused.length >= n ? reused : new Uint8Array(n);
    buf.set(head);
    buf.set(envelope, head.length);
    let users = keep ? 2 : 1;
    const giveBack = () => {
      if (--users === 0 && this.#chunkMessages.length < POOLED_CHUNK_MESSAGES) {
        this.#chunkMessages.push(buf);
      }
    };
    s.link.send(buf.subarray(0, n), giveBack);
    if (!keep) return;
    let released = false;
    return {
      bytes: buf.subarray(head.length, n),
      release: () => {
        if (released) return;
        released = true;
        giveBack();
      },
    };
  }

  /** `keep`: the bytes are lent (see `ClientLink.onMessage`); only a chunk's forwarding keeps them. */
  #receive(s: Session, bytes: Uint8Array, keep?: () => () => void): void {
    let m: ClientMessage;
    try {
      m = decodeClientMessage(bytes);
    } catch (e) {
      this.#o.log.warn("client sent a malformed message", {
        user: s.user,
        why: (e as Error).message,
      });
      this.#send(s, { type: "error", message: (e as Error).message });
      return;
    }
    // The two messages of every chat message are served without an async frame of their own.
    try {
      if (m.type === "submit") return this.#submit(s, m);
      if (m.type === "ack") return this.#ack(s, m.ids);
    } catch (e) {
      return this.#requestFailed(s, m.type, e);
    }
    this.#handle(s, m, keep).catch((e) => this.#requestFailed(s, m.type, e));
  }

  #requestFailed(s: Session, type: ClientMessage["type"], e: unknown): void {
    this.#o.log.warn("client request failed", {
      user: s.user,
      type,
      why: (e as Error).message,
    });
    this.#send(s, { type: "error", message: (e as Error).message });
  }

  /**
   * A submission: answered `submitted` once durable, or with the refusal. It
   * waits as one callback (no promise, no frame): a client keeps hundreds
   * waiting at once.
   */
  #submit(s: Session, m: Extract<ClientMessage, { type: "submit" }>): void {
    const { req } = m;
    try {
      this.#o.delivery.submitThen(s.user, m.envelope, (r) => this.#submitted(s, req, r));
    } catch (e) {
      if (!(e instanceof DeliveryError)) throw e;
      this.#send(s, { type: "submitted", req, error: e.message });
    }
  }

  /** Delivery's answer to submission `req`: `submitted`, or what failed. */
  #submitted(s: Session, req: number, r: SubmitResult | Error): void {
    try {
      if (r instanceof DeliveryError) {
        return this.#send(s, { type: "submitted", req, error: r.message });
      }
      if (r instanceof Error) throw r;
      const { id, state, users } = r;
      this.#send(s, { type: "submitted", req, id, state, ...(users ? { users } : {}) });
    } catch (e) {
      this.#requestFailed(s, "submit", e);
    }
  }

  /** Acknowledged inbox items and settled notices: deleted in the next batch. */
  #ack(s: Session, acked: string[]): void {
    const ids: string[] = [];
    const settled: string[] = [];
    for (const id of acked) {
      if (id.startsWith(SETTLED_PREFIX)) settled.push(id.slice(SETTLED_PREFIX.length));
      else ids.push(id);
    }
    // An acknowledgement of an envelope whose place was given back (its write failed) is not
    // counted: the client stored it after all (it hears it again when its origin resends it).
    let counted = ids.length;
    if (s.dropped.size > 0) { for (const id of ids) if (s.dropped.delete(id)) counted--; }
    s.unacked = Math.max(0, s.unacked - counted);
    if (s.out.size > 0) { for (const id of ids) this.#taken(s, id); }
    if (s.early.size > 0) { for (const id of ids) s.early.delete(id); }
    s.progressAtMs = this.#o.clock.nowMs();
    // The client stored them before acknowledging: their receipts need not wait for our flush.
    // Those pushed before they were stored and not written yet will have no row to delete.
    const rows = ids.length > 0 ? this.#o.delivery.acked(s.user, ids) : ids;
    if (rows.length === 0 && settled.length === 0) {
      this.#push(s, true);
      this.#pushChunks(s);
      return;
    }
    let gone: Array<{ kind: InboxKind; bytes: number; origin: NodeId | null }> = [];
    // Nobody waits for the delete to be flushed: lost with the power, the rows are pushed
    // again and the client knows their ids. Nor for its commit: it joins the next batch
    // (deferred); what waits is pushed then, one read for all the acks of that batch. A
    // settled notice stays "out" until its row is deleted, so no read pushes it again.
    this.#o.committer.job({
      write: () => {
        if (rows.length > 0) gone = this.#o.store.inboxDelete(s.user, rows);
        if (settled.length > 0) this.#o.store.noticesDelete(s.user, settled);
      },
      committed: () => {
        if (ids.length > 0) {
          this.#o.delivery.released(s.user, gone);
          this.#push(s, true);
          this.#pushChunks(s);
        }
        if (settled.length > 0) {
          for (const id of settled) s.noticesOut.delete(id);
          if (s.moreNotices) this.#pushNotices(s);
        }
      },
      defer: true,
    });
  }

  async #handle(s: Session, m: ClientMessage, keep?: () => () => void): Promise<void> {
    // submit and ack are served by #receive without this async frame.
    switch (m.type) {
      case "chunkSubmit": {
        let result;
        try {
          // Called at once: whatever keeps the (lent) envelope past this call says so now.
          result = await this.#o.delivery.stream(s.user, m.envelope, keep);
        } catch (e) {
          if (!(e instanceof DeliveryError)) throw e;
          let id = "";
          try {
            id = envelopeIdHex(decodeEnvelope(m.envelope).id);
          } catch { /* undecodable: the client hears the error below */ }
          if (!id) throw e;
          result = { id, state: "failed" as const, reason: e.message };
        }
        if (result) this.#send(s, { type: "chunkResult", results: [result] });
        return;
      }
      case "chunkAck": {
        const taken = m.ids.filter((id) => s.chunksOut.has(id));
        for (const id of taken) {
          s.chunkBytesOut -= s.chunksOut.get(id)!;
          s.chunksOut.delete(id);
        }
        s.chunkProgressAtMs = this.#o.clock.nowMs();
        // Those pushed before they were spooled are answered now (the client has them durably).
        this.#o.delivery.chunksTaken(s.user, taken);
        await this.#o.spool.remove(s.user, taken);
        this.#pushChunks(s);
        return;
      }
      case "policy": {
        const address = toAddress(m.address);
        this.#o.store.setContactPolicy(s.user, address, m.policy === "none" ? null : m.policy);
        return;
      }
      case "publish": {
        if (m.bundle.length > MAX_BUNDLE_BYTES) {
          throw new RangeError("Cannot publish: bundle too large");
        }
        this.#o.store.putAccount({ ...this.#o.store.getAccount(s.user)!, bundle: m.bundle });
        return;
      }
      case "fetch": {
        const address = toAddress(m.address);
        try {
          const bundle = await this.#o.bundles.fetch(address);
          this.#send(s, { type: "bundle", req: m.req, bundle });
        } catch (e) {
          this.#send(s, { type: "bundle", req: m.req, error: (e as Error).message });
        }
        return;
      }
      case "keyPackages": {
        const groups = this.#need(this.#o.groups);
        const e = await groups.publishKeyPackages(s.user, decodeKeyPackageList(m.packages));
        this.#send(s, { type: "keyPackageCount", count: e.count, lastResort: e.lastResort });
        return;
      }
      case "keyPackageFetch": {
        const groups = this.#need(this.#o.groups);
        try {
          const keyPackage = await groups.fetchKeyPackage(m.address);
          this.#send(s, { type: "keyPackage", req: m.req, keyPackage });
        } catch (e) {
          this.#send(s, { type: "keyPackage", req: m.req, error: (e as Error).message });
        }
        return;
      }
      case "groupPolicy":
        this.#need(this.#o.groups).setLocalStanding(s.user, m.group, m.state);
        return;
      case "directory":
        this.#send(s, {
          type: "entries",
          req: m.req,
          entries: this.#o.federation.router.directory().map((d) => ({
            address: d.address,
            presence: d.presence,
            node: d.node,
          })),
        });
        return;
      default:
        throw new TypeError(`Cannot handle ${m.type} from a client`);
    }
  }

  #need<T>(x: T | undefined): T {
    if (x === undefined) throw new TypeError("Cannot do that: this node has no groups");
    return x;
  }
}
