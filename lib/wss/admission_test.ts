import assert from "node:assert/strict";
import { BudgetRegistry } from "../budget.ts";
import { FakeClock } from "../clock.ts";
import { SILENT_LOGGER } from "../log.ts";
import {
  type AdmissionInput,
  type AdmissionLimits,
  admissionLimits,
  admitConnection,
  ConnectionLedger,
  type Ticket,
} from "./admission.ts";

const LIMITS: AdmissionLimits = {
  maxConnections: 20,
  maxConnectionsPerAddress: 4,
  maxUnauthenticated: 10,
  reservedKnown: 5,
  maxPendingPerKnownAddress: 2,
};
const none: AdmissionInput = {
  total: 0,
  fromAddress: 0,
  unauthenticated: 0,
  known: false,
  knownPendingFromAddress: 0,
};

Deno.test("admitConnection(): strangers draw from their own pool, below the reserve", () => {
  assert.deepEqual(admitConnection(none, LIMITS), { kind: "admit", pool: "stranger" });
  assert.deepEqual(admitConnection({ ...none, unauthenticated: 10, total: 10 }, LIMITS), {
    kind: "refuse",
    reason: "unauthenticated",
  });
  // Authenticated connections fill the total up to the reserve: strangers wait.
  assert.deepEqual(admitConnection({ ...none, total: 15 }, LIMITS), {
    kind: "refuse",
    reason: "total",
  });
  assert.deepEqual(admitConnection({ ...none, fromAddress: 4, total: 4 }, LIMITS), {
    kind: "refuse",
    reason: "address",
  });
});

Deno.test("admitConnection(): a known address gets in while strangers fill their pool", () => {
  const flooded = { ...none, total: 15, unauthenticated: 10 };
  assert.deepEqual(admitConnection({ ...flooded, known: true }, LIMITS), {
    kind: "admit",
    pool: "known",
  });
  assert.deepEqual(admitConnection({ ...flooded, total: 20, known: true }, LIMITS), {
    kind: "refuse",
    reason: "total",
  });
  // Past its own reserve share, a known address counts as a stranger.
  assert.deepEqual(
    admitConnection({ ...flooded, known: true, knownPendingFromAddress: 2 }, LIMITS),
    { kind: "refuse", reason: "total" },
  );
  assert.deepEqual(
    admitConnection({ ...none, known: true, knownPendingFromAddress: 2 }, LIMITS),
    { kind: "admit", pool: "stranger" },
  );
  assert.deepEqual(admitConnection({ ...flooded, known: true, fromAddress: 4 }, LIMITS), {
    kind: "refuse",
    reason: "address",
  });
});

function ledger(budgets?: BudgetRegistry, known: string[] = []) {
  return new ConnectionLedger({
    limits: LIMITS,
    log: SILENT_LOGGER,
    clock: new FakeClock(),
    budgets,
    known,
  });
}

Deno.test("ConnectionLedger: a flood from many addresses holds the strangers' pool, no more", () => {
  const l = ledger();
  const held: Ticket[] = [];
  let refused = 0;
  for (let i = 0; i < 500; i++) {
    const { ticket } = l.admit(`127.0.0.${2 + (i % 50)}`);
    if (ticket) held.push(ticket);
    else refused++;
  }
  assert.equal(held.length, 10);
  assert.equal(refused, 490);
  assert.equal(l.open, 10);
  const view = l.view();
  assert.equal(view["listener.unauthenticated"].used, 10);
  assert.equal(view["listener.unauthenticated"].refusals, 490);
});

Deno.test("ConnectionLedger: authenticating makes an address known; it re-links during a flood", () => {
  const l = ledger();
  const peer = l.admit("10.0.0.1").ticket!;
  l.authenticated(peer);
  assert.ok(l.isKnown("10.0.0.1"));
  l.closed(peer);
  for (let i = 0; i < 100; i++) l.admit(`127.0.0.${2 + (i % 50)}`);
  assert.equal(l.admit("127.0.0.99").ticket, null, "a stranger waits");
  const again = l.admit("10.0.0.1");
  assert.deepEqual(again.verdict, { kind: "admit", pool: "known" });
  assert.equal(l.view()["listener.reservedKnown"].used, 1);
  l.authenticated(again.ticket!);
  assert.equal(l.view()["listener.reservedKnown"].used, 0, "authenticated: out of the pool");
  assert.equal(l.open, 11);
  l.closed(again.ticket!);
  l.closed(again.ticket!);
  assert.equal(l.open, 10, "closing twice counts once");
});

Deno.test("ConnectionLedger: addresses given at start are known; budgets are registered", () => {
  const registry = new BudgetRegistry(SILENT_LOGGER, new FakeClock());
  const l = ledger(registry, ["::ffff:10.9.9.9"]);
  assert.ok(l.isKnown("10.9.9.9"));
  assert.deepEqual(Object.keys(registry.snapshot()), [
    "listener.connections",
    "listener.reservedKnown",
    "listener.unauthenticated",
    "listener.unauthenticated_network",
  ]);
  assert.equal(registry.snapshot()["listener.connections"].totalLimit, 20);
});

Deno.test("admissionLimits() derives the pools from the total and refuses a reserve too large", () => {
  assert.deepEqual(admissionLimits({ maxConnections: 256, maxConnectionsPerAddress: 16 }), {
    maxConnections: 256,
    maxConnectionsPerAddress: 16,
    maxUnauthenticated: 128,
    maxUnauthenticatedPerNetwork: 32,
    reservedKnown: 32,
    maxPendingPerKnownAddress: 4,
  });
  assert.equal(
    admissionLimits({ maxConnections: 8, maxConnectionsPerAddress: 8 }).reservedKnown,
    1,
  );
  assert.throws(
    () => admissionLimits({ maxConnections: 8, maxConnectionsPerAddress: 8, reservedKnown: 8 }),
    RangeError,
  );
});

Deno.test("ConnectionLedger: past its handshake rate an address is refused before TLS; others are not", () => {
  const clock = new FakeClock();
  const registry = new BudgetRegistry(SILENT_LOGGER, clock);
  const l = new ConnectionLedger({
    limits: { ...LIMITS, handshakesPerAddressPerMinute: 3 },
    log: SILENT_LOGGER,
    clock,
    budgets: registry,
  });
  // Each connection closes at once: only the rate can refuse.
  const tryOnce = (address: string) => {
    const { verdict, ticket } = l.admit(address);
    if (ticket) l.closed(ticket);
    return verdict;
  };
  for (let i = 0; i < 3; i++) assert.equal(tryOnce("10.0.0.1").kind, "admit");
  assert.deepEqual(tryOnce("10.0.0.1"), { kind: "refuse", reason: "rate" });
  assert.equal(tryOnce("10.0.0.2").kind, "admit", "another address has its own rate");
  clock.advance(20_000);
  assert.equal(tryOnce("10.0.0.1").kind, "admit", "one more every 20 s");
  assert.equal(registry.snapshot()["listener.handshakes"].refusals, 1);
  assert.equal(l.open, 0);
});

Deno.test("ConnectionLedger: the addresses of one /24 share a rate; known ones and other networks do not", () => {
  const clock = new FakeClock();
  const registry = new BudgetRegistry(SILENT_LOGGER, clock);
  const l = new ConnectionLedger({
    limits: { ...LIMITS, handshakesPerAddressPerMinute: 3, handshakesPerNetworkPerMinute: 6 },
    log: SILENT_LOGGER,
    clock,
    budgets: registry,
    known: ["10.0.0.200"],
  });
  const tryOnce = (address: string) => {
    const { verdict, ticket } = l.admit(address);
    if (ticket) l.closed(ticket);
    return verdict.kind === "admit" ? "admit" : verdict.reason;
  };
  // 10 addresses of 10.0.0.0/24, 3 each: 30 within every address's rate, 6 within the network's.
  const seen: string[] = [];
  for (let h = 1; h <= 10; h++) for (let i = 0; i < 3; i++) seen.push(tryOnce(`10.0.0.${h}`));
  assert.equal(seen.filter((v) => v === "admit").length, 6, seen.join(" "));
  assert.equal(seen.filter((v) => v === "network-rate").length, 24);
  assert.equal(tryOnce("::ffff:10.0.0.77"), "network-rate", "IPv4-mapped: the same /24");
  assert.equal(tryOnce("10.0.0.200"), "admit", "a known address of the network");
  assert.equal(tryOnce("10.0.1.1"), "admit", "another /24");
  // An IPv6 /48: its /64s (each an address key of its own) share one rate.
  const v6: string[] = [];
  for (let s = 1; s <= 8; s++) v6.push(tryOnce(`2001:db8:7:${s}::1`));
  assert.deepEqual(v6.filter((v) => v === "admit").length, 6, v6.join(" "));
  assert.equal(tryOnce("2001:db8:8::1"), "admit", "another /48");
  // 20 s later: one more for the address (3 a minute), two for the network (6 a minute).
  clock.advance(20_000);
  assert.equal(tryOnce("10.0.0.9"), "admit");
  assert.equal(tryOnce("10.0.0.9"), "rate");
  assert.equal(tryOnce("10.0.0.8"), "admit");
  assert.equal(tryOnce("10.0.0.7"), "network-rate");
  const snap = registry.snapshot();
  assert.equal(snap["listener.handshakes_network"].refusals, 28);
  assert.equal(snap["listener.handshakes_network"].limit, 6);
  assert.equal(snap["listener.handshakes"].refusals, 1);
});

Deno.test("ConnectionLedger: addresses known only through an open node's strangers share a second network rate", () => {
  const clock = new FakeClock();
  const l = new ConnectionLedger({
    limits: { ...LIMITS, handshakesPerAddressPerMinute: 50, handshakesPerNetworkPerMinute: 4 },
    log: SILENT_LOGGER,
    clock,
    known: ["10.0.0.200"],
    knownStrangers: ["10.0.0.100", "10.0.0.101"],
  });
  const tryOnce = (address: string, stranger?: boolean) => {
    const { verdict, ticket } = l.admit(address);
    if (ticket && stranger !== undefined) l.authenticated(ticket, stranger);
    if (ticket) l.closed(ticket);
    return verdict.kind === "admit" ? "admit" : verdict.reason;
  };
  // Unknown addresses of 10.0.0.0/24 spend their bucket; a stranger's address still gets in.
  for (let i = 0; i < 4; i++) assert.equal(tryOnce(`10.0.0.${i + 1}`), "admit");
  assert.equal(tryOnce("10.0.0.9"), "network-rate");
  assert.equal(tryOnce("10.0.0.100"), "admit");
  // Addresses known through strangers' links share the strangers' bucket (4 a minute).
  for (const a of ["10.0.0.101", "10.0.0.100", "10.0.0.101"]) assert.equal(tryOnce(a), "admit");
  assert.equal(tryOnce("10.0.0.100"), "network-rate", "the strangers' bucket is spent");
  // The owner's: rated per address only. A stranger's address the owner links is vouched for.
  for (let i = 0; i < 10; i++) assert.equal(tryOnce("10.0.0.200"), "admit");
  assert.equal(tryOnce("10.0.0.101", false), "network-rate");
  clock.advance(15_000);
  assert.equal(tryOnce("10.0.0.101", false), "admit");
  for (let i = 0; i < 5; i++) assert.equal(tryOnce("10.0.0.101"), "admit", "vouched for now");
});

Deno.test("ConnectionLedger: one network's strangers hold at most their share of the unauthenticated pool", () => {
  const clock = new FakeClock();
  const limits = admissionLimits({
    maxConnections: 64,
    maxConnectionsPerAddress: 4,
    maxUnauthenticated: 32,
  });
  assert.equal(limits.maxUnauthenticatedPerNetwork, 8, "a quarter of the pool");
  const l = new ConnectionLedger({ limits, log: SILENT_LOGGER, clock, known: ["10.0.0.200"] });
  const held: Ticket[] = [];
  const seen: string[] = [];
  for (let h = 1; h <= 10; h++) {
    for (let i = 0; i < 4; i++) {
      const { verdict, ticket } = l.admit(`10.0.0.${h}`);
      if (ticket) held.push(ticket);
      seen.push(verdict.kind === "admit" ? "admit" : verdict.reason);
    }
  }
  assert.equal(seen.filter((v) => v === "admit").length, 8, seen.join(" "));
  assert.equal(seen.filter((v) => v === "network").length, 32);
  // Other networks still find room; a known address of the flooded one uses its reserve.
  for (let n = 1; n <= 4; n++) assert.equal(l.admit(`10.0.${n}.1`).verdict.kind, "admit");
  assert.deepEqual(l.admit("10.0.0.200").verdict, { kind: "admit", pool: "known" });
  // One of the network's connections authenticates (or closes): one more may wait.
  l.authenticated(held[0]);
  assert.equal(l.admit("10.0.0.9").verdict.kind, "admit");
  assert.deepEqual(l.admit("10.0.0.9").verdict, { kind: "refuse", reason: "network" });
  l.closed(held[1]);
  assert.equal(l.admit("10.0.0.9").verdict.kind, "admit");
  assert.equal(l.view()["listener.unauthenticated_network"].used, 8 + 4 - 2 + 2 - 4 + 4);
});
