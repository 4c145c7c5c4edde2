/**
 * Which connections the listener takes, so that a distributed flood of
 * connections that never authenticate cannot lock out the peers and clients
 * a node already knows.
 *
 * Every connection counts against `maxConnections` and, by its address key
 * (address_key.ts), against `maxConnectionsPerAddress`. Until it
 * authenticates it also draws from a pool:
 *
 * - **strangers** (addresses that never authenticated here) share at most
 *   `maxUnauthenticated` slots, at most `maxUnauthenticatedPerNetwork` of them
 *   from one network (address_key.ts `networkKey`: an IPv4 /24, an IPv6 /48),
 *   and may not take the last `reservedKnown` slots of the total;
 * - **known** addresses (ones that authenticated before: linked peers,
 *   enrolled clients) may use the whole total, up to
 *   `maxPendingPerKnownAddress` connections each at once, then count as
 *   strangers.
 *
 * A flood from addresses the node has never seen authenticate thus holds at
 * most `min(maxUnauthenticated, maxConnections - reservedKnown)` slots while
 * it lasts (from one network, at most `maxUnauthenticatedPerNetwork`: strangers
 * of other networks still get in); a known peer re-links through the reserved slots. Refusing at
 * accept costs the node no TLS handshake, which is why a full pool refuses
 * newcomers rather than evicting its oldest member (eviction would let the
 * flood buy a handshake per connection it opens, at a rate it chooses).
 *
 * New connections are also rated, before TLS: per address key
 * (`handshakesPerAddressPerMinute`) and per network (address_key.ts
 * `networkKey`: an IPv4 /24, an IPv6 /48; `handshakesPerNetworkPerMinute`),
 * so the 256 addresses of a /24 share one budget of handshakes rather than
 * having 256. The network's rate has two buckets: one for addresses that never
 * authenticated here, one for addresses known only through an open node's
 * strangers (which anyone can make known by linking); so a flood of unknown
 * connections does not lock out a stranger peer of the same network, and an
 * attacker who links strangers from many addresses of its /24 gets at most
 * twice the network's rate. Addresses the owner vouched for (its linked
 * peers, enrolled clients) are rated per address only.
 *
 * The decision is {@linkcode admitConnection}, a pure function; the
 * {@linkcode ConnectionLedger} keeps the counts and applies it.
 */
import {
  Budget,
  type BudgetRegistry,
  type BudgetView,
  networkShare,
  RateBudget,
  ThrottledLog,
} from "../budget.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { addressKey, networkKey } from "./address_key.ts";

/** The listener's caps (config `[Limits]`). */
export interface AdmissionLimits {
  /** Open connections in total (`max_connections`). */
  maxConnections: number;
  /** Open connections per address key (`max_connections_per_address`). */
  maxConnectionsPerAddress: number;
  /** Not-yet-authenticated connections from strangers (`max_unauthenticated_connections`). */
  maxUnauthenticated: number;
  /**
   * Of those, from one network key (`max_unauthenticated_connections_per_network`). Default:
   * unlimited; {@linkcode admissionLimits} gives a share of `maxUnauthenticated`.
   */
  maxUnauthenticatedPerNetwork?: number;
  /** Slots of the total strangers cannot take (`reserved_known_connections`). */
  reservedKnown: number;
  /** Not-yet-authenticated connections one known address may hold in the reserve. */
  maxPendingPerKnownAddress: number;
  /**
   * New connections (each a TLS handshake and, for a link or client, signature checks) per
   * address key and minute, with a burst of as many (`handshakes_per_address_per_minute`).
   * Default: unlimited.
   */
  handshakesPerAddressPerMinute?: number;
  /**
   * New connections from addresses that never authenticated here, per network key (an IPv4
   * /24, an IPv6 /48) and minute, with a burst of as many (`handshakes_per_network_per_minute`).
   * Default: unlimited.
   */
  handshakesPerNetworkPerMinute?: number;
}

/** Options of {@linkcode admissionLimits}: the two caps every listener has, and overrides. */
export interface AdmissionLimitOptions {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  maxUnauthenticated?: number;
  maxUnauthenticatedPerNetwork?: number;
  reservedKnown?: number;
  maxPendingPerKnownAddress?: number;
  handshakesPerAddressPerMinute?: number;
  handshakesPerNetworkPerMinute?: number;
}

/**
 * The caps with their defaults: strangers get half of the total, known
 * addresses keep an eighth (128 and 32 of the default 256), each known
 * address up to 4 connections in the reserve; one network's strangers get a
 * quarter of their pool (budget.ts `networkShare`: 32 of 128, at least one
 * address's worth).
 *
 * @throws {RangeError} when the reserve is not smaller than the total
 */
export function admissionLimits(options: AdmissionLimitOptions): AdmissionLimits {
  const { maxConnections, maxConnectionsPerAddress } = options;
  const maxUnauthenticated = options.maxUnauthenticated ??
    Math.max(1, Math.floor(maxConnections / 2));
  const limits = {
    maxConnections,
    maxConnectionsPerAddress,
    maxUnauthenticated,
    maxUnauthenticatedPerNetwork: options.maxUnauthenticatedPerNetwork ??
      networkShare(maxConnectionsPerAddress, maxUnauthenticated),
    reservedKnown: options.reservedKnown ?? Math.floor(maxConnections / 8),
    maxPendingPerKnownAddress: options.maxPendingPerKnownAddress ?? 4,
    ...(options.handshakesPerAddressPerMinute === undefined
      ? {}
      : { handshakesPerAddressPerMinute: options.handshakesPerAddressPerMinute }),
    ...(options.handshakesPerNetworkPerMinute === undefined
      ? {}
      : { handshakesPerNetworkPerMinute: options.handshakesPerNetworkPerMinute }),
  };
  if (!(limits.reservedKnown >= 0 && limits.reservedKnown < maxConnections)) {
    throw new RangeError(
      `Cannot admit connections: the reserve (${limits.reservedKnown}) must be smaller than the total (${maxConnections})`,
    );
  }
  return limits;
}

/** What the decision looks at, for one new connection. */
export interface AdmissionInput {
  /** Open connections in total. */
  total: number;
  /** Open connections from this address key. */
  fromAddress: number;
  /** Not-yet-authenticated connections from strangers, in total. */
  unauthenticated: number;
  /** Of those, from this address's network (default 0). */
  unauthenticatedFromNetwork?: number;
  /** The address key authenticated here before. */
  known: boolean;
  /** Not-yet-authenticated connections from this known address in the reserve. */
  knownPendingFromAddress: number;
}

/** Why a connection is refused. */
export type RefusalReason =
  | "address"
  | "total"
  | "unauthenticated"
  | "network"
  | "rate"
  | "network-rate";

/** The decision for one new connection. */
export type AdmissionVerdict =
  | { kind: "admit"; pool: "stranger" | "known" }
  | { kind: "refuse"; reason: RefusalReason };

/** Decides whether to take a new connection, and from which pool. */
export function admitConnection(input: AdmissionInput, limits: AdmissionLimits): AdmissionVerdict {
  if (input.fromAddress >= limits.maxConnectionsPerAddress) {
    return { kind: "refuse", reason: "address" };
  }
  if (input.known && input.knownPendingFromAddress < limits.maxPendingPerKnownAddress) {
    return input.total < limits.maxConnections
      ? { kind: "admit", pool: "known" }
      : { kind: "refuse", reason: "total" };
  }
  if (input.total >= Math.max(0, limits.maxConnections - limits.reservedKnown)) {
    return { kind: "refuse", reason: "total" };
  }
  if (input.unauthenticated >= limits.maxUnauthenticated) {
    return { kind: "refuse", reason: "unauthenticated" };
  }
  if (
    (input.unauthenticatedFromNetwork ?? 0) >= (limits.maxUnauthenticatedPerNetwork ?? Infinity)
  ) {
    return { kind: "refuse", reason: "network" };
  }
  return { kind: "admit", pool: "stranger" };
}

/** One admitted connection, as the ledger tracks it. */
export interface Ticket {
  readonly key: string;
  /** Its network key (address_key.ts). */
  readonly network: string;
  pool: "stranger" | "known" | "authenticated" | "closed";
}

/** Options of {@linkcode ConnectionLedger}. */
export interface ConnectionLedgerOptions {
  limits: AdmissionLimits;
  log: Logger;
  clock: Clock;
  /** Where the ledger's budgets are shown (`status --json`); they are registered there. */
  budgets?: BudgetRegistry;
  /** Prefix of the budgets' names. */
  name?: string;
  /** Address keys known at start (e.g. the owner's peers' addresses from the store). */
  known?: Iterable<string>;
  /** Address keys known at start only as an open node's strangers' (from the store). */
  knownStrangers?: Iterable<string>;
  /** Most known address keys remembered; the least recently seen go first. */
  knownCapacity?: number;
}

/** Counts of the listener's connections, applying {@linkcode admitConnection}. */
export class ConnectionLedger {
  #limits: AdmissionLimits;
  #clock: Clock;
  #connections: Budget;
  #strangers: Budget;
  /** The strangers' pool by network key. */
  #strangerNetworks: Budget;
  #knownPending: Budget;
  #handshakes: RateBudget | null;
  #networkHandshakes: RateBudget | null;
  /** Known address keys: whether the owner vouched for them (not only an open node's strangers). */
  #known = new Map<string, boolean>();
  #knownCapacity: number;
  #refusals: ThrottledLog;

  constructor(options: ConnectionLedgerOptions) {
    const { limits, clock, name = "listener", knownCapacity = 4096 } = options;
    this.#limits = limits;
    this.#clock = clock;
    this.#knownCapacity = knownCapacity;
    this.#refusals = new ThrottledLog(options.log, clock, { intervalMs: 10_000 });
    this.#connections = new Budget(`${name}.connections`, {
      perKey: limits.maxConnectionsPerAddress,
      total: limits.maxConnections,
    });
    this.#strangers = new Budget(`${name}.unauthenticated`, {
      perKey: limits.maxConnectionsPerAddress,
      total: limits.maxUnauthenticated,
    });
    this.#strangerNetworks = new Budget(`${name}.unauthenticated_network`, {
      perKey: limits.maxUnauthenticatedPerNetwork ?? Infinity,
    });
    this.#knownPending = new Budget(`${name}.reservedKnown`, {
      perKey: limits.maxPendingPerKnownAddress,
    });
    const rated = (suffix: string, rate = Infinity) =>
      Number.isFinite(rate)
        ? new RateBudget(`${name}.${suffix}`, { burst: rate, perMinute: rate })
        : null;
    this.#handshakes = rated("handshakes", limits.handshakesPerAddressPerMinute);
    this.#networkHandshakes = rated("handshakes_network", limits.handshakesPerNetworkPerMinute);
    for (const b of this.#budgets()) options.budgets?.add(b);
    for (const key of options.knownStrangers ?? []) this.#remember(addressKey(key), true);
    for (const key of options.known ?? []) this.#remember(addressKey(key));
  }

  /** Decides on a connection from `address`; a ticket when admitted. */
  admit(address: string | undefined): { verdict: AdmissionVerdict; ticket: Ticket | null } {
    const key = addressKey(address);
    const network = networkKey(address);
    const vouched = this.#known.get(key);
    const known = vouched !== undefined;
    let verdict = admitConnection({
      total: this.#connections.used,
      fromAddress: this.#connections.usedBy(key),
      unauthenticated: this.#strangers.used,
      unauthenticatedFromNetwork: this.#strangerNetworks.usedBy(network),
      known,
      knownPendingFromAddress: this.#knownPending.usedBy(key),
    }, this.#limits);
    const now = this.#clock.nowMs();
    // Within the caps, a connection past its address's handshake rate is refused too (here,
    // before TLS, it costs nothing): a stranger cannot buy signature checks at will; nor, from
    // a stranger's address, past its network's rate (many addresses of one /24 or /48).
    if (verdict.kind === "admit" && this.#handshakes && !this.#handshakes.take(key, now)) {
      verdict = { kind: "refuse", reason: "rate" };
    } else if (
      verdict.kind === "admit" && !vouched && this.#networkHandshakes &&
      !this.#networkHandshakes.take(`${known ? "strangers " : ""}${network}`, now)
    ) {
      verdict = { kind: "refuse", reason: "network-rate" };
    } else if (verdict.kind === "refuse") {
      if (verdict.reason === "network") this.#strangerNetworks.refuse(network, now);
      else if (verdict.reason === "unauthenticated") this.#strangers.refuse(key, now);
      else this.#connections.refuse(key, now);
    }
    if (verdict.kind === "refuse") {
      this.#refusals.write("warn", verdict.reason, "connections refused", {
        reason: verdict.reason,
        addr: verdict.reason.startsWith("network") ? network : key,
        known,
      });
      return { verdict, ticket: null };
    }
    this.#connections.take(key, 1, now);
    if (verdict.pool === "known") this.#knownPending.take(key, 1, now);
    else {
      this.#strangers.take(key, 1, now);
      this.#strangerNetworks.take(network, 1, now);
    }
    return { verdict, ticket: { key, network, pool: verdict.pool } };
  }

  /**
   * The connection proved who it is: it leaves its pool and its address is
   * known; `stranger` when it is only an open node's stranger (not vouched for
   * by the owner: see the class's network rate).
   */
  authenticated(ticket: Ticket, stranger = false): void {
    if (ticket.pool !== "stranger" && ticket.pool !== "known") return;
    this.#leavePool(ticket);
    ticket.pool = "authenticated";
    this.#remember(ticket.key, stranger);
  }

  /** The connection is gone. */
  closed(ticket: Ticket): void {
    if (ticket.pool === "closed") return;
    if (ticket.pool !== "authenticated") this.#leavePool(ticket);
    this.#connections.release(ticket.key);
    ticket.pool = "closed";
  }

  /** Open connections now. */
  get open(): number {
    return this.#connections.used;
  }

  /** Whether `address` authenticated here before. */
  isKnown(address: string): boolean {
    return this.#known.has(addressKey(address));
  }

  /** The budgets' views, by name (also in the registry, when one was given). */
  view(): Record<string, BudgetView> {
    const out: Record<string, BudgetView> = {};
    for (const b of this.#budgets()) out[b.name] = b.view();
    return out;
  }

  #budgets(): Array<Budget | RateBudget> {
    return [
      this.#connections,
      this.#strangers,
      this.#strangerNetworks,
      this.#knownPending,
      this.#handshakes,
      this.#networkHandshakes,
    ].filter((b) => b !== null);
  }

  #leavePool(ticket: Ticket): void {
    if (ticket.pool === "known") this.#knownPending.release(ticket.key);
    else {
      this.#strangers.release(ticket.key);
      this.#strangerNetworks.release(ticket.network);
    }
  }

  #remember(key: string, stranger = false): void {
    // Once vouched for, an address stays so while it is remembered.
    const vouched = !stranger || this.#known.get(key) === true;
    this.#known.delete(key);
    this.#known.set(key, vouched);
    if (this.#known.size > this.#knownCapacity) {
      this.#known.delete(this.#known.keys().next().value!);
    }
  }
}
