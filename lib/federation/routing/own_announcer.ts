/**
 * Issues this node's own announcements: on change, rate-limited and coalesced; refreshed
 * before they expire; with a seq from the clock that also jumps past any own announcement
 * seen coming back from an earlier run (OSPF's rule for self-originated LSAs).
 */
import type { NodeId, UserName } from "../../ids.ts";
import type { Clock } from "../../clock.ts";
import type { AnnouncedUser, Endpoint, Presence, SignedAnnouncement } from "./announcement.ts";
import { decodeAnnouncement } from "./announcement_codec.ts";
import type { RejectReason } from "./origin_state.ts";
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
    this.request();
  }

  /** The latest own announcement. */
  get current(): SignedAnnouncement | undefined {
    return this.#current;
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

  /**
   * Handles an announcement of our own id coming back. A verified one with a seq at or
   * above ours (from before a restart) lifts our next seq above it; it is never stored.
   */
  receiveOwn(
    fromPeer: NodeId,
    bytes: Uint8Array,
    seq: number,
    verifier: AnnouncementVerifier,
  ): "stale" | "rejected" | Promise<"stale" | "rejected"> {
    if (seq <= Math.max(this.#seq, this.#seqFloor)) return "stale";
    let a: SignedAnnouncement;
    try {
      a = decodeAnnouncement(bytes);
    } catch {
      this.#o.onForged(fromPeer, "bad-encoding");
      return "rejected";
    }
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
    const { clock, lifetimeMs = 3_600_000 } = this.#o;
    const nowMs = Math.floor(clock.nowMs());
    this.#dirty = false;
    this.#lastAtMs = nowMs;
    this.#seq = Math.max(nowMs, this.#seq + 1, this.#seqFloor + 1);
    const signed = signAnnouncement({
      origin: this.#o.self,
      publicKey: this.#o.signer.publicKey,
      seq: this.#seq,
      issuedAtMs: nowMs,
      expiresAtMs: nowMs + lifetimeMs,
      listed: this.#listed,
      ...(this.#o.endpoint ? { endpoint: this.#o.endpoint } : {}),
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

function listedOf(users: readonly LocalUser[]): readonly AnnouncedUser[] {
  return Object.freeze(
    users.filter((u) => u.listed !== false)
      .map((u) => Object.freeze({ name: u.name, presence: u.presence }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  );
}
