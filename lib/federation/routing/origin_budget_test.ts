import assert from "node:assert/strict";
import type { NodeId } from "../../ids.ts";
import { admitGrowth, admitOrigin, type OriginLimits, type OriginUsage } from "./origin_budget.ts";

const LIMITS: OriginLimits = {
  maxOrigins: 10,
  maxProvisionalPerPeer: 3,
  maxProvisionalTotal: 5,
  maxProvisionalBytesPerPeer: 1000,
  maxProvisionalBytesTotal: 1500,
};

function usage(byPeer: Record<string, [number, number]>, confirmed = 0): OriginUsage {
  const entries = Object.entries(byPeer);
  return {
    origins: confirmed + entries.reduce((n, [, [c]]) => n + c, 0),
    provisional: entries.reduce((n, [, [c]]) => n + c, 0),
    provisionalBytes: entries.reduce((n, [, [, b]]) => n + b, 0),
    of: (peer) => {
      const [count, bytes] = byPeer[peer] ?? [0, 0];
      return { count, bytes };
    },
    largest: () => {
      const top = entries.sort(([, [a]], [, [b]]) => b - a)[0];
      return top && { peer: top[0] as NodeId, count: top[1][0] };
    },
  };
}

const m = "m" as NodeId;
const a = "a" as NodeId;

Deno.test("admitOrigin() refuses a neighbour past its own count or bytes", () => {
  assert.deepEqual(
    admitOrigin({ usage: usage({ m: [2, 100] }), limits: LIMITS, introducer: m, bytes: 100 }),
    { kind: "admit" },
  );
  assert.deepEqual(
    admitOrigin({ usage: usage({ m: [3, 100] }), limits: LIMITS, introducer: m, bytes: 100 }),
    { kind: "refuse", budget: "per-peer" },
  );
  assert.deepEqual(
    admitOrigin({ usage: usage({ m: [1, 950] }), limits: LIMITS, introducer: m, bytes: 100 }),
    { kind: "refuse", budget: "per-peer" },
  );
});

Deno.test("admitOrigin() at a total evicts from the neighbour holding most, never below fair share", () => {
  const full = usage({ m: [3, 300], a: [1, 100], q: [1, 10] });
  // a has fewer than m: m gives way.
  assert.deepEqual(admitOrigin({ usage: full, limits: LIMITS, introducer: a, bytes: 10 }), {
    kind: "evict",
    peer: m,
  });
  // m itself at the total is refused, not allowed to evict others.
  assert.deepEqual(
    admitOrigin({
      usage: usage({ m: [2, 300], a: [3, 200] }),
      limits: LIMITS,
      introducer: m,
      bytes: 10,
    }),
    { kind: "refuse", budget: "total" },
  );
});

Deno.test("admitOrigin() keeps confirmed origins within maxOrigins, evicting provisional ones first", () => {
  assert.deepEqual(
    admitOrigin({ usage: usage({}, 9), limits: LIMITS, introducer: undefined, bytes: 0 }),
    { kind: "admit" },
  );
  assert.deepEqual(
    admitOrigin({
      usage: usage({ m: [1, 10] }, 9),
      limits: LIMITS,
      introducer: undefined,
      bytes: 0,
    }),
    { kind: "evict", peer: m },
  );
  assert.deepEqual(
    admitOrigin({ usage: usage({}, 10), limits: LIMITS, introducer: undefined, bytes: 0 }),
    { kind: "refuse", budget: "total" },
  );
});

Deno.test("admitGrowth() lets a provisional announcement grow only within its neighbour's bytes", () => {
  const u = usage({ m: [1, 900] });
  assert.equal(
    admitGrowth({ usage: u, limits: LIMITS, introducer: m, oldBytes: 900, newBytes: 1000 }),
    true,
  );
  assert.equal(
    admitGrowth({ usage: u, limits: LIMITS, introducer: m, oldBytes: 900, newBytes: 1001 }),
    false,
  );
  assert.equal(
    admitGrowth({ usage: u, limits: LIMITS, introducer: m, oldBytes: 900, newBytes: 10 }),
    true,
  );
});
