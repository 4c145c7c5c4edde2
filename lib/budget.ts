/**
 * Budgets: everything a remote party can make a node keep (rows, memory,
 * buffers, connections, verification work) is counted against a named limit,
 * per key (a linked peer, a proven origin node, a local user, an address) and
 * in total. A refusal is counted and reported through a {@linkcode ThrottledLog},
 * so a flood cannot fill the disk with log lines. `snapshot()` is what
 * `status --json` shows under `budgets`.
 *
 * Keys are authenticated identities (a linked peer's id, a proven origin, an
 * IP address the kernel reported), never strings a peer merely claims.
 */
import type { Clock } from "./clock.ts";
import type { LogFields, Logger } from "./log.ts";

/** What `status --json` shows for one budget. */
export interface BudgetView {
  /** Limit per key (for a keyed budget) or in total. */
  limit: number;
  /** Limit over all keys together; absent when only a total exists. */
  totalLimit?: number;
  /** Units in use now, over all keys. */
  used: number;
  /** Keys with something in use (keyed budgets). */
  keys?: number;
  /** The key using most, and how much. */
  top?: { key: string; used: number };
  /** Refusals since start. */
  refusals: number;
  lastRefusal?: { key: string; atMs: number };
}

/** Logs a line about `key` at most once per interval; suppressed lines are counted in the next. */
export class ThrottledLog {
  #log: Logger;
  #clock: Clock;
  #intervalMs: number;
  #maxKeys: number;
  #seen = new Map<string, { atMs: number; suppressed: number }>();

  constructor(log: Logger, clock: Clock, options: { intervalMs?: number; maxKeys?: number } = {}) {
    this.#log = log;
    this.#clock = clock;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#maxKeys = options.maxKeys ?? 1024;
  }

  /** Logs `message` at `level` unless the same `key` was logged within the interval. */
  write(
    level: "info" | "warn" | "error",
    key: string,
    message: string,
    fields: LogFields = {},
  ): void {
    const now = this.#clock.nowMs();
    const entry = this.#seen.get(key);
    if (entry && now - entry.atMs < this.#intervalMs) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.#seen.delete(key);
    this.#seen.set(key, { atMs: now, suppressed: 0 });
    if (this.#seen.size > this.#maxKeys) this.#seen.delete(this.#seen.keys().next().value!);
    this.#log[level](message, suppressed > 0 ? { ...fields, repeated: suppressed } : fields);
  }
}

/** How many addresses' worth of a budget one network (an IPv4 /24, an IPv6 /48) gets. */
export const NETWORK_ADDRESSES = 4;

/**
 * A network's share of a budget of `perAddress` per address and `total` in all:
 * {@linkcode NETWORK_ADDRESSES} addresses' worth, but no more than a quarter of
 * the total (so at least four networks fill it), and never less than one
 * address's worth. With the defaults (32, 1,024): 128, an eighth of the total
 * (config.ts: `open_links_per_network`, `..._per_minute`, `handshakes_per_network_per_minute`).
 */
export function networkShare(perAddress: number, total = Infinity): number {
  return Math.max(perAddress, Math.min(NETWORK_ADDRESSES * perAddress, Math.floor(total / 4)));
}

/** Options of {@linkcode Budget}. */
export interface BudgetOptions {
  /** Units one key may hold. */
  perKey: number;
  /** Units all keys together may hold (default: unlimited beyond the per-key limit). */
  total?: number;
  /** Most keys tracked; a new key beyond this is refused. Default 100,000. */
  maxKeys?: number;
}

/**
 * Counts units in use per key and in total. `take` refuses what would pass a
 * limit; `release` gives units back. A budget keeps no timers: expiry is the
 * owner's, which releases what it drops.
 */
export class Budget {
  readonly name: string;
  #o: Required<BudgetOptions>;
  #used = new Map<string, number>();
  #total = 0;
  #refusals = 0;
  #last: { key: string; atMs: number } | undefined;
  #report: (key: string, why: string) => void;

  constructor(
    name: string,
    options: BudgetOptions,
    report: (key: string, why: string) => void = () => {},
  ) {
    this.name = name;
    this.#o = { total: Infinity, maxKeys: 100_000, ...options };
    this.#report = report;
  }

  /** Units `key` holds now. */
  usedBy(key: string): number {
    return this.#used.get(key) ?? 0;
  }

  /** Units held over all keys. */
  get used(): number {
    return this.#total;
  }

  /** Whether `n` more units for `key` would fit, without taking them. */
  fits(key: string, n = 1): boolean {
    const mine = this.#used.get(key);
    if (mine === undefined && this.#used.size >= this.#o.maxKeys) return false;
    return (mine ?? 0) + n <= this.#o.perKey && this.#total + n <= this.#o.total;
  }

  /** Takes `n` units for `key`; false (counted, reported) when a limit would be passed. */
  take(key: string, n = 1, nowMs = 0): boolean {
    if (!this.fits(key, n)) {
      this.refuse(key, nowMs);
      return false;
    }
    this.#used.set(key, (this.#used.get(key) ?? 0) + n);
    this.#total += n;
    return true;
  }

  /** Records a refusal decided elsewhere (a rate, a size) against this budget. */
  refuse(key: string, nowMs = 0): void {
    this.#refusals++;
    this.#last = { key, atMs: nowMs };
    const mine = this.#used.get(key) ?? 0;
    this.#report(
      key,
      mine + 1 > this.#o.perKey
        ? `over its limit of ${this.#o.perKey}`
        : `the total of ${this.#o.total} is reached`,
    );
  }

  /** Gives back `n` units of `key` (never below zero). */
  release(key: string, n = 1): void {
    const mine = this.#used.get(key);
    if (mine === undefined) return;
    const back = Math.min(mine, n);
    this.#total -= back;
    if (mine - back <= 0) this.#used.delete(key);
    else this.#used.set(key, mine - back);
  }

  /** Sets what `key` holds (for counts recomputed from a store). */
  set(key: string, n: number): void {
    this.release(key, Infinity);
    if (n > 0) {
      this.#used.set(key, n);
      this.#total += n;
    }
  }

  /** Forgets everything `key` holds. */
  clear(key: string): void {
    this.release(key, Infinity);
  }

  /** For `status --json`. */
  view(): BudgetView {
    let top: { key: string; used: number } | undefined;
    for (const [key, used] of this.#used) if (!top || used > top.used) top = { key, used };
    return {
      limit: this.#o.perKey,
      ...(Number.isFinite(this.#o.total) ? { totalLimit: this.#o.total } : {}),
      used: this.#total,
      keys: this.#used.size,
      ...(top ? { top } : {}),
      refusals: this.#refusals,
      ...(this.#last ? { lastRefusal: this.#last } : {}),
    };
  }
}

/** How often a {@linkcode RateBudget} key in use moves to the end of the eviction order. */
const REORDER_MS = 1000;

/**
 * A token bucket per key (events per minute with a burst), for rates rather
 * than holdings. Keys beyond `maxKeys` evict the least recently used (to
 * within a second).
 */
export class RateBudget {
  readonly name: string;
  #burst: number;
  #perMinute: number;
  #maxKeys: number;
  #buckets = new Map<string, { tokens: number; atMs: number; movedAtMs: number }>();
  #refusals = 0;
  #last: { key: string; atMs: number } | undefined;
  #report: (key: string, why: string) => void;

  constructor(
    name: string,
    options: { burst: number; perMinute: number; maxKeys?: number },
    report: (key: string, why: string) => void = () => {},
  ) {
    this.name = name;
    this.#burst = options.burst;
    this.#perMinute = options.perMinute;
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#report = report;
  }

  /** Takes `n` tokens for `key` at `nowMs`; false (counted, reported) when over the rate. */
  take(key: string, nowMs: number, n = 1): boolean {
    let b = this.#buckets.get(key);
    // A key moves to the end of the eviction order at most once per REORDER_MS: a long-lived
    // Map that deletes and re-adds an entry on every call gets a fresh backing table every few
    // calls, allocated straight in V8's old generation (about 180 bytes a call with one key,
    // docs/PERF_NOTES.md, branch `gcwhy`), and this runs for every envelope. Eviction stays
    // least recently used to within REORDER_MS.
    if (!b || nowMs - b.movedAtMs >= REORDER_MS || nowMs < b.movedAtMs) {
      b ??= { tokens: this.#burst, atMs: nowMs, movedAtMs: nowMs };
      this.#buckets.delete(key);
      this.#buckets.set(key, b);
      b.movedAtMs = nowMs;
      if (this.#buckets.size > this.#maxKeys) {
        this.#buckets.delete(this.#buckets.keys().next().value!);
      }
    }
    const elapsed = Math.max(0, nowMs - b.atMs);
    b.tokens = Math.min(this.#burst, b.tokens + (elapsed * this.#perMinute) / 60_000);
    b.atMs = nowMs;
    const ok = b.tokens >= n;
    if (ok) b.tokens -= n;
    if (!ok) {
      this.#refusals++;
      this.#last = { key, atMs: nowMs };
      this.#report(key, `over ${this.#perMinute} per minute`);
    }
    return ok;
  }

  /** For `status --json`. */
  view(): BudgetView {
    return {
      limit: this.#perMinute,
      used: 0,
      keys: this.#buckets.size,
      refusals: this.#refusals,
      ...(this.#last ? { lastRefusal: this.#last } : {}),
    };
  }
}

/** Anything with a view for `status --json`. */
export interface Viewable {
  readonly name: string;
  view(): BudgetView;
}

/**
 * The node's budgets by name, with one throttled log for their refusals.
 * Parts register their budgets here; `snapshot()` is `status --json`'s `budgets`.
 */
export class BudgetRegistry {
  #items = new Map<string, Viewable>();
  #throttled: ThrottledLog;

  constructor(log: Logger, clock: Clock, options: { logIntervalMs?: number } = {}) {
    this.#throttled = new ThrottledLog(log, clock, { intervalMs: options.logIntervalMs });
  }

  /** A keyed holding budget, registered under `name`. */
  budget(name: string, options: BudgetOptions): Budget {
    return this.add(
      new Budget(name, options, (key, why) => this.report(name, key, why)),
    );
  }

  /** A keyed rate budget, registered under `name`. */
  rate(name: string, options: { burst: number; perMinute: number; maxKeys?: number }): RateBudget {
    return this.add(new RateBudget(name, options, (key, why) => this.report(name, key, why)));
  }

  /** Registers anything viewable (a listener's connection counts, say). */
  add<T extends Viewable>(item: T): T {
    if (this.#items.has(item.name)) throw new RangeError(`Budget ${item.name} exists already`);
    this.#items.set(item.name, item);
    return item;
  }

  /** Logs a refusal under `name` for `key`, at most once per interval per pair. */
  report(name: string, key: string, why: string): void {
    this.#throttled.write("warn", `${name}|${key}`, "budget reached", { budget: name, key, why });
  }

  /** Every budget's view, by name. */
  snapshot(): Record<string, BudgetView> {
    const out: Record<string, BudgetView> = {};
    for (const [name, item] of [...this.#items].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out[name] = item.view();
    }
    return out;
  }
}

/**
 * A fair share of each local user's quota among senders (proven origin nodes):
 * a sender may hold at most `percent` of the room the other senders leave
 * (`mine + n ≤ percent × (quota − others)`). A sender alone (the user offline)
 * fills at most that fraction of the quota; each later sender finds room left,
 * the same fraction of what is free. A refusal is `quota-full`/`busy`: the
 * sender keeps what it sent and tries again; nothing acknowledged is dropped.
 * Holdings are in memory (lost at a restart, when what is kept counts as the
 * others'); entries exist only while a sender holds something.
 */
export class SenderShare {
  readonly percent: number;
  #held = new Map<string, Map<string, number>>();
  refusals = 0;

  constructor(percent: number) {
    this.percent = percent;
  }

  /** Units `sender` holds of `user`'s quota. */
  heldBy(user: string, sender: string): number {
    return this.#held.get(user)?.get(sender) ?? 0;
  }

  /**
   * Whether `n` more units from `sender` fit its share of `user`'s `quota`, of
   * which `userHeld` is held now (by every sender, this one included); a refusal
   * is counted.
   */
  fits(user: string, sender: string, n: number, userHeld: number, quota: number): boolean {
    if (this.percent >= 100) return true;
    const mine = this.heldBy(user, sender);
    const others = Math.max(0, userHeld - mine);
    if ((mine + n) * 100 <= Math.max(0, quota - others) * this.percent) return true;
    this.refusals++;
    return false;
  }

  take(user: string, sender: string, n: number): void {
    let m = this.#held.get(user);
    if (!m) this.#held.set(user, m = new Map());
    m.set(sender, (m.get(sender) ?? 0) + n);
  }

  release(user: string, sender: string, n: number): void {
    const m = this.#held.get(user);
    const mine = m?.get(sender);
    if (!m || mine === undefined) return;
    if (mine - n > 0) m.set(sender, mine - n);
    else {
      m.delete(sender);
      if (m.size === 0) this.#held.delete(user);
    }
  }

  /** (user, sender) pairs holding something. */
  get entries(): number {
    let n = 0;
    for (const m of this.#held.values()) n += m.size;
    return n;
  }
}
