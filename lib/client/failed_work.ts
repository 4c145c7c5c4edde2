/**
 * Work spent on one sender's messages that then failed to authenticate (keys
 * derived by a ratchet before the tag could be checked), counted in the minute
 * from the first such message. Past the budget, the caller limits how far that
 * sender's messages may move a ratchet until the minute ends. Used for 1:1
 * contacts (sessions.ts) and group members (group_engine.ts).
 */

/** Options of {@linkcode FailedWork}. */
export interface FailedWorkOptions {
  /** Work within a minute past which a sender is limited. */
  perMinute: number;
  /** Senders counted at once, at most (the oldest count goes first). */
  maxSenders?: number;
}

/** Failed work per sender, in memory. */
export class FailedWork {
  #perMinute: number;
  #maxSenders: number;
  #bySender = new Map<string, { work: number; sinceMs: number }>();
  #total = 0;
  #limitedMessages = 0;

  constructor({ perMinute, maxSenders = 1024 }: FailedWorkOptions) {
    this.#perMinute = perMinute;
    this.#maxSenders = maxSenders;
  }

  /** Whether `sender`'s next message is limited (counted as such when it is). */
  limited(sender: string, nowMs: number): boolean {
    const failed = this.#bySender.get(sender);
    if (failed && nowMs - failed.sinceMs >= 60_000) this.#bySender.delete(sender);
    else if (failed && failed.work >= this.#perMinute) {
      this.#limitedMessages++;
      return true;
    }
    return false;
  }

  /** Adds the work a failed message of `sender` cost. */
  add(sender: string, work: number, nowMs: number): void {
    if (work <= 0) return;
    this.#total += work;
    const failed = this.#bySender.get(sender);
    if (failed) {
      failed.work += work;
      return;
    }
    if (this.#bySender.size >= this.#maxSenders) {
      this.#bySender.delete(this.#bySender.keys().next().value!);
    }
    this.#bySender.set(sender, { work, sinceMs: nowMs });
  }

  /** Work counted since start, senders counted now, messages handled under the limit. */
  stats(): { work: number; senders: number; limitedMessages: number } {
    return {
      work: this.#total,
      senders: this.#bySender.size,
      limitedMessages: this.#limitedMessages,
    };
  }
}
