/**
 * Issues this node's own announcements: on change, rate-limited and coalesced; refreshed
 * before they expire; with a seq that counts announcements, reserved in blocks through the
 * injected {@linkcode OriginPins} so it grows across restarts, and that jumps past any own
 * announcement seen coming back from an earlier run (OSPF's rule for self-originated LSAs).
 */
import type { NodeId, UserName } from "../../ids.ts";
import type { Clock } from "../../clock.ts";
import {
  type AnnouncedUser,
  type Endpoint,
  MAX_SEQ,
  type Presence,
  type SignedAnnouncement,
} from "./announcement.ts";
import type { RejectReason } from "./origin_state.ts";
import type { OriginPins } from "./origin_pins.ts";
import {
  type AnnouncementSigner,
  type AnnouncementVerifier,
  signAnnouncement,
  verifyAnnouncement,
} from "./signatures.ts";

/** One of this node's users. */
export interface LocalUser {
  readonly name: UserName;
  readonly presence: Presence;
  /** False keeps the user out of announcements and directories. Default true. */
  readonly listed?: boolean;
}

/** Options of {@linkcode OwnAnnouncer}. */
export interface OwnAnnouncerOptions {
  self: NodeId;
  signer: AnnouncementSigner;
  clock: Clock;
  users?: readonly LocalUser[];
  listed?: boolean;
  endpoint?: Endpoint;
  minAnnounceIntervalMs?: number;
  refreshMs?: number;
  lifetimeMs?: number;
  random?: () => number;
  /** Where the seq reservation is kept; none: seqs restart at 1 and are lifted by echoes. */
  pins?: OriginPins;
  /** The node's live links, sorted. */
  links(): readonly NodeId[];
  /** Called with each new own announcement. */
  publish(announcement: SignedAnnouncement): void;
  /** Called with each promise of asynchronous crypto, so the owner can wait for it. */
  track<T>(promise: Promise<T>): Promise<T>;
  /** Called when bytes claiming to be ours fail verification. */
  onForged(fromPeer: NodeId, reason: RejectReason): void;
}

/** Issues and refreshes own announcements. */
export class OwnAnnouncer {
  #o: OwnAnnouncerOptions;
  #users: readonly AnnouncedUser[] = [];
  #listed: boolean;
  #current: SignedAnnouncement | undefined;
  #seq = 0;
  #seqFloor = 0;
  #reserved = 0;
  #issuedAtMs = 0;
  #lastAtMs = -Infinity;
  #timer: number | undefined;
  #refreshTimer: number | undefined;
  #signing = false;
  #dirty = false;
  #stopped = false;

  constructor(options: OwnAnnouncerOptions) {
    this.#o = options;
    this.#listed = options.listed ?? true;
    this.#users = listedOf(options.users ?? []);
    // Seqs up to the reservation may have been used before a crash: start past it.
    this.#reserved = this.#seq = options.pins?.loadSeq() ?? 0;
    this.request();
  }

  /** The latest own announcement. */
  get current(): SignedAnnouncement | undefined {
    return this.#current;
  }

  /** The age of the current announcement at `nowMs` (this node's clock only). */
  ageAt(nowMs: number): number {
    return Math.max(0, Math.floor(nowMs - this.#issuedAtMs));
  }

  /** The users announced now (none when the node is unlisted). */
  get listedUsers(): readonly AnnouncedUser[] {
    return this.#listed ? this.#users : [];
  }

  /** Asks for a new announcement: now if the last was long enough ago, else coalesced. */
  request(): void {
    this.#dirty = true;
    if (this.#stopped || this.#timer !== undefined || this.#signing) return;
    const { minAnnounceIntervalMs = 1000, clock } = this.#o;
    const delayMs = Math.max(0, this.#lastAtMs + minAnnounceIntervalMs - clock.nowMs());
    this.#timer = clock.setTimer(() => {
      this.#timer = undefined;
      this.#announce();
    }, delayMs);
  }

  setUsers(users: readonly LocalUser[]): void {
    const next = listedOf(users);
    const same = next.length === this.#users.length &&
      next.every((u, i) =>
        u.name === this.#users[i].name && u.presence === this.#users[i].presence
      );
    this.#users = next;
    if (!same && this.#listed) this.request();
  }

  setListed(listed: boolean): void {
    if (listed === this.#listed) return;
    this.#listed = listed;
    this.request();
  }

  #mailboxes: readonly NodeId[] = [];

  /** Replaces the mailboxes this node names; an announcement follows if they changed. */
  setMailboxes(mailboxes: readonly NodeId[]): void {
    const next = [...new Set(mailboxes)].filter((m) => m !== this.#o.self).sort();
    if (next.join() === this.#mailboxes.join()) return;
    this.#mailboxes = next;
    this.request();
  }

  /**
   * Handles an announcement of our own id coming back. A verified one with a seq above ours
   * (from before a restart) lifts our next seq above it; it is never stored.
   */
  receiveOwn(
    fromPeer: NodeId,
    a: SignedAnnouncement,
    verifier: AnnouncementVerifier,
  ): "stale" | "rejected" | Promise<"stale" | "rejected"> {
    if (a.seq <= Math.max(this.#seq, this.#seqFloor) || a.seq >= MAX_SEQ) return "stale";
    const settle = (ok: boolean): "stale" | "rejected" => {
      if (!ok) {
        this.#o.onForged(fromPeer, "bad-signature");
        return "rejected";
      }
      if (a.seq > this.#seqFloor) this.#seqFloor = a.seq;
      this.request();
      return "stale";
    };
    const valid = verifyAnnouncement(a, this.#o.signer.publicKey, verifier);
    return typeof valid === "boolean" ? settle(valid) : this.#o.track(valid.then(settle));
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimer(this.#timer);
    if (this.#refreshTimer !== undefined) this.#o.clock.clearTimer(this.#refreshTimer);
    this.#timer = this.#refreshTimer = undefined;
  }

  #announce(): void {
    if (this.#stopped) return;
    const { clock, lifetimeMs = 3_600_000, pins } = this.#o;
    const nowMs = clock.nowMs();
    this.#dirty = false;
    this.#lastAtMs = nowMs;
    this.#seq = Math.min(MAX_SEQ, Math.max(this.#seq + 1, this.#seqFloor + 1));
    if (this.#seq > this.#reserved && pins !== undefined) {
      this.#reserved = Math.min(MAX_SEQ, this.#seq + SEQ_BLOCK - 1);
      pins.saveSeq(this.#reserved);
    }
    const signed = signAnnouncement({
      origin: this.#o.self,
      publicKey: this.#o.signer.publicKey,
      seq: this.#seq,
      lifetimeMs,
      listed: this.#listed,
      ...(this.#o.endpoint ? { endpoint: this.#o.endpoint } : {}),
      ...(this.#mailboxes.length > 0 ? { mailboxes: this.#mailboxes } : {}),
      links: this.#o.links(),
      users: this.listedUsers,
    }, this.#o.signer);
    if (!(signed instanceof Promise)) return this.#publish(signed);
    this.#signing = true;
    this.#o.track(signed.then((a) => {
      this.#signing = false;
      this.#publish(a);
    }));
  }

  #publish(a: SignedAnnouncement): void {
    if (this.#stopped) return;
    this.#current = a;
    this.#issuedAtMs = this.#o.clock.nowMs();
    this.#o.publish(a);
    const { clock, refreshMs = 600_000, random = Math.random } = this.#o;
    if (this.#refreshTimer !== undefined) clock.clearTimer(this.#refreshTimer);
    // Jitter keeps nodes that started together from refreshing together.
    this.#refreshTimer = clock.setTimer(() => {
      this.#refreshTimer = undefined;
      this.request();
    }, Math.round(refreshMs * (0.9 + 0.2 * random())));
    if (this.#dirty) {
      this.#dirty = false;
      this.request();
    }
  }
}

// Own seqs reserved per write: one durable write per 64 announcements, and a restart skips
// at most 64 (well within what receivers allow a seq to jump).
const SEQ_BLOCK = 64;

function listedOf(users: readonly LocalUser[]): readonly AnnouncedUser[] {
  return Object.freeze(
    users.filter((u) => u.listed !== false)
      .map((u) => Object.freeze({ name: u.name, presence: u.presence }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  );
}
